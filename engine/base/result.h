// result<T>: the value of an operation that can fail in an expected way.
//
// Errors are values in Sazesh. A failed command returns an `error` naming the field and the
// rule it broke; exceptions are kept for programmer errors and start-up failures. Vendor errors
// (RocksDB, librdkafka) are translated into an `error` where they are caught and go no further.
//
//   result<case_view> r = engine.execute(cmd);
//   if (!r) std::cerr << r.error().message() << '\n';
//
// Thread safety: like any value type; no internal synchronisation.
#pragma once

#include <cassert>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace sazesh {

// What kind of failure it was; callers branch on this, people read the message.
enum class errc {
  invalid_argument,     // a field breaks a validation rule
  not_found,            // a named case, party or event does not exist
  unauthorized,         // the actor's role or relationship does not allow the command
  wrong_state,          // the command does not fit the case's current state
  missing_documents,    // required documents are not attached
  duplicate,            // a second open case for the same order, or a second registration
  conflict,             // the expected version is stale
  already_exists,       // an id is taken
  deadline_passed,      // the window for the action has closed
  corrupt,              // stored bytes failed verification
  io,                   // the storage could not be read or written
  unavailable,          // a remote service could not be reached
};

const char* to_string(errc code);

class error {
 public:
  error(errc code, std::string field, std::string rule)
      : code_(code), field_(std::move(field)), rule_(std::move(rule)) {}

  errc code() const { return code_; }
  // The input field (or storage object) concerned, e.g. "national_code"; may be empty.
  const std::string& field() const { return field_; }
  // The rule that was broken, in words, e.g. "must have a valid check digit".
  const std::string& rule() const { return rule_; }
  // One line for people: "national_code: must have a valid check digit".
  std::string message() const { return field_.empty() ? rule_ : field_ + ": " + rule_; }

 private:
  errc code_;
  std::string field_;
  std::string rule_;
};

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  // Any value T can be made from (a command struct into the command variant, say).
  template <class U>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, result> && !std::is_same_v<std::decay_t<U>, sazesh::error>)
  result(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}
  result(sazesh::error e) : v_(std::in_place_index<1>, std::move(e)) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  // By value, so `const auto& x = f().value();` holds its own copy, not a reference into a
  // temporary result.
  T value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const sazesh::error& error() const { assert(!has_value()); return std::get<1>(v_); }

 private:
  std::variant<T, sazesh::error> v_;
};

// result<void>: success carries nothing.
struct ok_t {};
inline constexpr ok_t ok{};
using status = result<ok_t>;

}  // namespace sazesh
