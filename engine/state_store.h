// state_store: the engine's state as rows beside the log (event_log.h, state_rows), so that no
// command folds the log: decide() loads what it needs, row by row, through this store.
//
//   state_store store(*log.state());
//   world w;  w.source = &store;            // a partial world: loads on demand
//   const case_state* c = w.find_case("C-…");
//   if (auto s = store.take_error(); !s) …  // a read that failed: nothing decided on it stands
//
// Rows (keys and values are this file's; the log stores them as they are):
//
//   c/<case>                                    the case (engine/domain/state_codec.h)
//   p/<party>                                   a party of any kind, tagged with its kind
//   n/<national code>                           the consumer's id
//   w/<domain>                                  the business's seal id
//   o/<consumer>0<business>0<order>0<case>      "": an open case for the order (one per case, so the
//                                               index never depends on the order events are folded)
//   d/<due u64><case>                           "": the case's earliest deadline (what tick reads)
//   s/<business>0<time u64><case>0<seq u64>     a score event: kind u8, value i32 (trust score)
//   q/<business>                                "": the business's score changed since its seal
//                                               policy was last evaluated (the scheduler's
//                                               bookkeeping: the one row not derived from the log)
//   v                                           u32 the row format version
//
// Integers are big-endian, so keys sort numerically. Every row is derived from the log: the
// engine writes a command's rows with its events, and rebuild() writes them all again.
//
// Thread safety: none; the engine uses it under its own mutex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.h"
#include "engine/domain/state.h"
#include "engine/domain/trust.h"
#include "engine/log/event_log.h"

namespace sazesh {

inline constexpr std::uint32_t state_format_version = 1;

class state_store final : public state_source {
 public:
  explicit state_store(state_rows& rows) : rows_(rows) {}

  // ---- state_source: what a partial world loads ----
  std::optional<case_state> load_case(const std::string& id) override;
  std::optional<party_state> load_party(const std::string& id) override;
  std::optional<std::string> consumer_with_national_code(const std::string& code) override;
  std::optional<std::string> business_with_domain(const std::string& domain) override;
  std::vector<std::string> open_cases_for(const order_key& key) override;

  // The first read that failed since the last call, if any (the loads above cannot return it).
  status take_error();

  // ---- queries the engine makes itself ----
  // Cases whose earliest deadline is at or before `until`, earliest first, at most `max`.
  result<std::vector<std::string>> due_cases(timestamp_ms until, std::size_t max);
  // A business's score events, in (time, case, sequence) order.
  result<std::vector<score_event>> score_events_of(const std::string& business);
  // Businesses whose score changed since their seal policy was last evaluated.
  result<std::vector<std::string>> businesses_to_evaluate(std::size_t max);
  // Up to `max` businesses after `after` in id order (empty `after`: from the first).
  result<std::vector<std::string>> businesses_after(const std::string& after, std::size_t max);
  // Every row, for a complete world (tests, tools, digests): O(state).
  result<world> load_all();
  // SHA-256 (hex) over every row derived from the log (all but q/), in key order.
  result<std::string> digest();
  // The stored format version (0: the rows were never built).
  result<std::uint32_t> format_version();

  // ---- rows ----
  // The rows that turn `before` (nothing: a new stream) into `after`: the entity and every
  // index row derived from it.
  static void rows_for_case(const std::optional<case_state>& before, const case_state& after,
                            std::vector<state_write>& out);
  static void rows_for_party(const std::optional<party_state>& before, const party_state& after,
                             std::vector<state_write>& out);
  // The score rows of a case event (and the mark that its business's policy is due).
  static void rows_for_score(const std::string& business, const score_event& e, std::vector<state_write>& out);
  static state_write policy_evaluated(const std::string& business);
  static state_write format_row();

  state_rows& rows() { return rows_; }

 private:
  std::optional<std::string> get(const std::string& key);
  void remember(const error& e);

  state_rows& rows_;
  std::optional<error> error_;
};

}  // namespace sazesh
