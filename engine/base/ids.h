// Strong id types: a log position is not a case version, and neither is a plain integer.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace sazesh {

template <class T, class Tag>
class named_type {
 public:
  using value_type = T;
  constexpr named_type() = default;
  constexpr explicit named_type(T v) : v_(std::move(v)) {}
  constexpr const T& value() const { return v_; }
  constexpr auto operator<=>(const named_type&) const = default;

 private:
  T v_{};
};

// Position of an event in the whole log: 0 is the first event; `end()` is one past the last.
using log_position = named_type<std::uint64_t, struct log_position_tag>;
// Number of events in one stream; the first event of a stream has sequence 1, so an empty
// stream is at version 0 and a stream's version is the sequence of its last event.
using stream_version = named_type<std::uint64_t, struct stream_version_tag>;

}  // namespace sazesh

template <class T, class Tag>
struct std::hash<sazesh::named_type<T, Tag>> {
  std::size_t operator()(const sazesh::named_type<T, Tag>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
