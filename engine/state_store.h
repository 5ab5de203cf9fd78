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
//   b/<business>                                "": the businesses, for the policy's sweep
//   n/<national code digest>                    the consumer's id (hex of the keyed digest; gone once forgotten)
//   w/<domain>                                  the business's seal id
//   o/<consumer>0<business>0<order digest>0<case> "": an open case for the order (one per case, so the
//                                               index never depends on the order events are folded)
//   d/<due u64><case>                           "": the case's earliest deadline (what tick reads)
//   s/<business>0<time u64><case>0<seq u64>     a score event: kind u8, value i32 (trust score)
//   q/<business>                                "": the business's score changed since its seal
//                                               policy was last evaluated (the scheduler's
//                                               bookkeeping, not derived from the log alone)
//   t/<business>                                the business's trust summary under the engine's
//                                               rule set (see trust_summary), so the seal policy
//                                               is evaluated in constant time; rebuilt from the
//                                               s/ rows when the rules change
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

inline constexpr std::uint32_t state_format_version = 3;

// What the seal policy needs of a business's score events, kept up to date event by event:
// with decay exponential, Σ weight × 0.5^(age / half-life) at any `now` after the last event is
// 0.5^((now − anchor) / half-life) × Σ weight × 0.5^((anchor − t) / half-life), so the sums are
// kept at an anchor (the latest event time) and the score is computed in constant time. Valid
// for the rule set whose fingerprint it carries.
struct trust_summary {
  std::uint64_t rules = 0;         // fingerprint of the rule set
  std::uint64_t events = 0;        // score events folded in
  timestamp_ms anchor = 0;         // the latest event time
  double weights = 0;              // Σ weight × decay to the anchor
  double complaints = 0;           // Σ (complaint) × decay to the anchor
  std::vector<timestamp_ms> unanswered;  // the latest ones, at most the policy's limit, ascending

  void add(const trust_rules& r, const score_event& e);
  // Whether it answers for `now` (no event after it).
  bool covers(timestamp_ms now) const { return now >= anchor; }
  double score(const trust_rules& r, timestamp_ms now) const;
  int unanswered_within(timestamp_ms now, int window_days) const;
};

std::uint64_t fingerprint(const trust_rules& r);

class state_store final : public state_source {
 public:
  explicit state_store(state_rows& rows) : rows_(rows) {}

  // ---- state_source: what a partial world loads ----
  std::optional<case_state> load_case(const std::string& id) override;
  std::optional<party_state> load_party(const std::string& id) override;
  std::optional<std::string> consumer_with_national_code(const std::string& code) override;
  std::optional<std::string> business_with_domain(const std::string& domain) override;
  std::vector<std::string> open_cases_for(const order_key& key) override;
  // A consumer's from the order index (o/<consumer>0…); a mediator's by reading every case row.
  std::vector<std::string> open_cases_of(const std::string& party) override;

  // The first read that failed since the last call, if any (the loads above cannot return it).
  status take_error();
  void note_error(const error& e) { remember(e); }

  // ---- queries the engine makes itself ----
  // Cases whose earliest deadline falls in [from, until], earliest first, at most `max`.
  result<std::vector<std::pair<timestamp_ms, std::string>>> due_cases(timestamp_ms from, timestamp_ms until,
                                                                      std::size_t max);
  // A business's score events, in (time, case, sequence) order.
  result<std::vector<score_event>> score_events_of(const std::string& business);
  // Businesses whose score changed since their seal policy was last evaluated.
  result<std::vector<std::string>> businesses_to_evaluate(std::size_t max);
  // Up to `max` businesses after `after` in id order (empty `after`: from the first).
  result<std::vector<std::string>> businesses_after(const std::string& after, std::size_t max);
  // The business's trust summary under `rules`: stored, or built from its score rows (and then
  // to be stored by the caller) if it was made under other rules or never.
  result<trust_summary> summary_of(const std::string& business, const trust_rules& rules, bool& rebuilt);
  static state_write summary_row(const std::string& business, const trust_summary& s);
  // Every row, for a complete world (tests, tools, digests): O(state).
  result<world> load_all();
  // SHA-256 (hex) over every row derived from the log alone (all but q/ and t/), in key order.
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
  // Where a tick's scan of the due index may start: no pending deadline is earlier. A hint kept
  // with the rows (and left out of the digest), so that a new process seeks past the deletion
  // marks of deadlines already applied instead of through them.
  static state_write due_floor_row(timestamp_ms floor);
  result<std::optional<timestamp_ms>> due_floor();

  state_rows& rows() { return rows_; }

 private:
  std::optional<std::string> get(const std::string& key);
  void remember(const error& e);

  state_rows& rows_;
  std::optional<error> error_;
};

}  // namespace sazesh
