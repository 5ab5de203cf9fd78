// engine: the command handler. It decides each command on the state the log's state rows hold
// (engine/state_store.h, loaded entity by entity into a bounded working set), appends the
// resulting events with the expected stream version and the command id, so a retried command is
// never applied twice, and writes the command's state rows with its events.
//
//   auto log = open_embedded_log("data");
//   auto eng = engine::open(**log, clock);
//   auto out = (*eng)->execute({fb::Role_consumer, "U-…"}, "cmd-1", file_case{...});
//
// Nothing folds the whole log to answer a command: opening costs the events the rows have not
// reached yet (none, on the embedded log, whose rows are written in the events' own batch), and
// memory holds the entities in use plus a bounded cache of others. A log that keeps no state
// rows (event_log::state() null) gets rows in memory, folded from the whole log at open.
//
// Thread safety: execute(), tick() and catch_up() may be called from several threads. Deciding
// is serialised (one mutex), but waiting for the log is not: a command is decided on the state
// every command before it left, durable or not, and is then queued; whichever waiting thread
// finds no append running sends everything queued to the log as one unit (append_group: one
// synced batch, one Kafka transaction) while the others decide the next unit. A caller hears
// of its command only once it is durable. If a unit is not written (an I/O error, or another
// writer's events got in first), every command decided on it fails too, the working set is
// dropped, and the rows are caught up with the log before the next command is decided. The log
// may be shared with readers (projectors) in other threads.
#pragma once

#include <condition_variable>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/base/result.h"
#include "engine/domain/commands.h"
#include "engine/domain/rules.h"
#include "engine/domain/state.h"
#include "engine/log/event_log.h"
#include "engine/log/key_store.h"
#include "engine/state_store.h"
#include "engine/time/clock.h"

namespace sazesh {

struct command_outcome {
  std::string stream;                // the case or party the command acted on (or created)
  std::vector<event_record> events;  // the events the command wrote (its first run, if repeated)
  bool repeated = false;             // the command id had been executed before; nothing new
  // Deadline events of the case that were due when the command came, written just before it
  // (as the scheduler's command) so that the command acted on the case as the clock saw it.
  std::vector<event_record> deadlines_first;
};

struct tick_report {
  std::size_t cases_due = 0;                // cases that had a deadline due
  std::vector<command_outcome> applied;     // one per case whose deadlines produced events
  std::vector<command_outcome> seal_actions;  // restrictions and reinstatements by the policy
  // What the tick read: rows of the due-deadline index, and businesses whose seal policy it
  // evaluated (those whose score changed, and a few more of a rolling sweep).
  std::size_t due_rows_read = 0;
  std::size_t businesses_evaluated = 0;
};

struct engine_options {
  // Entities (cases, parties) the working set keeps between commands; past it, those no queued
  // command needs are dropped (and reloaded from their rows when asked for again).
  std::size_t cache_entries = 50'000;
  // Deadlines one tick applies at most (the rest wait for the next tick).
  std::size_t due_per_tick = 10'000;
  // Businesses whose seal policy one tick re-evaluates besides those whose score changed: a
  // rolling sweep, so that decay lifts or imposes restrictions without new events.
  std::size_t policy_sweep_per_tick = 32;
  // The keys that seal personal data (engine/log/key_store.h): each event's personal fields are
  // written sealed under the key of the person they concern, and digests are keyed with its
  // digest key. Without one (tests of the domain alone), personal data is written in the clear.
  // Must outlive the engine.
  key_store* keys = nullptr;
};

class engine {
 public:
  // Opens an engine on `log`, catching its state rows up with the log (building them, for a
  // log that has none yet). The log and the clock must outlive the engine. Fails with
  // errc::corrupt naming the position of a bad record.
  static result<std::unique_ptr<engine>> open(event_log& log, const clock& clk, case_rules rules = {},
                                              engine_options options = {});

  // Decides and appends one command. A refused command writes nothing. Deadlines of the case
  // that are already due are applied first (as the scheduler's own command), so the command is
  // decided on the case as it stands at the clock's time. Command ids starting "deadline:" are
  // the scheduler's; a command id already used by another actor is refused.
  //
  // With `if_version`, a command on a case is refused (errc::conflict, field "If-Match") unless
  // the case is at that version when the command is decided: optimistic concurrency for clients
  // that decided on what they read.
  result<command_outcome> execute(const actor& who, const std::string& command_id,
                                  const command& cmd, std::optional<stream_version> if_version = std::nullopt);

  // Turns every deadline due at the clock's time into its events, then applies the seal policy
  // of the trust rules to the businesses whose score changed (and a rolling share of the
  // others); exactly once however often it runs, because each command's id is derived from its
  // stream and that stream's version.
  result<tick_report> tick();
  // How many cases have a deadline that is due now and not yet applied (what the next tick
  // would take up), counting at most `max`.
  result<std::size_t> deadlines_due(std::size_t max);

  // Folds events appended to the log since the engine last looked (by another writer) into the
  // state rows.
  status catch_up();

  // Events of one stream, decoded, with the hash chain checked (errc::corrupt otherwise), and
  // their personal data opened with the engine's keys ("erased" where a key was destroyed).
  result<std::vector<event_record>> history(const std::string& stream) const;

  // One case as the engine holds it (its last durable or queued command included).
  result<std::optional<case_state>> find_case(const std::string& id);
  // One business as the engine holds it.
  result<std::optional<business_state>> find_business(const std::string& id);
  // A business's score events, in (time, case, sequence) order (durable ones).
  result<std::vector<score_event>> score_events_of(const std::string& business);
  // Every business's id.
  result<std::vector<std::string>> businesses();

  // The whole state, loaded from every row: O(state), for tests, tools and digests. Waits for
  // queued commands to be written first.
  result<world> snapshot();
  // SHA-256 of every state row (equal digests, equal state).
  result<std::string> state_digest();
  // Drops every state row and builds them again from the log; returns how many events it
  // folded. For `rebuild`, and for rows written by an older version.
  result<std::uint64_t> rebuild_state();

  // Calls f(state) with deciding paused: safe while other threads run commands. The state is
  // the working set: look entities up with world's accessors (find_case, find_business…),
  // which load them; it includes commands decided but not yet durable.
  template <class F>
  auto inspect(F&& f) {
    std::lock_guard lock(mutex_);
    return f(static_cast<const world&>(state_));
  }
  const case_rules& rules() const { return rules_; }
  const clock& time_source() const { return clock_; }

 private:
  // One command's append: decided, folded into state_, queued or being written.
  struct slot {
    std::string stream, command_id;
    std::set<std::string> summaries;  // businesses whose trust summary it changed (pinned)
    append_request request;  // moved to the log when its unit is written
    std::vector<event_record> records;
    std::optional<result<append_outcome>> outcome;  // set once its unit was written (or not)
  };
  using slot_ptr = std::shared_ptr<slot>;
  using lock_type = std::unique_lock<std::mutex>;

  engine(event_log& log, const clock& clk, case_rules rules, engine_options options);
  // Waits until `command_id` is not in flight and the state can be decided on (caught up
  // again after a failed unit; caught up with other writers when nothing is in flight).
  status ready_locked(lock_type& lock, const std::string& command_id);
  bool idle() const { return !committing_ && queue_.empty(); }
  // Decides `cmd` on the state; queues its events, folded at once. Null: no events.
  result<slot_ptr> submit_locked(const actor& who, const std::string& command_id, const command& cmd,
                                 timestamp_ms now);
  // Waits until every slot's unit was written, writing queued units itself when nobody does.
  void await_locked(lock_type& lock, const std::vector<slot_ptr>& slots);
  void write_queue_locked(lock_type& lock);
  bool advance_applied(const append_outcome& o);
  result<command_outcome> outcome_of(const slot& s) const;
  result<command_outcome> replay_outcome(const append_outcome& first) const;
  status catch_up_locked();
  // Folds the partition's events past positions[partition] into rows; how many it folded.
  result<std::uint64_t> catch_up_partition(std::uint32_t partition, std::vector<log_position>& positions);
  // The working set, empty, loading from the rows.
  void reset_working_set();
  // Drops cached entities no queued command needs, once there are more than the options allow.
  void trim_working_set();
  // The rows of the stream `stream` changed by `records` (folded into state_ already), given
  // its state before them.
  // The businesses whose summaries it changed are added to `touched`.
  void rows_of(const std::string& stream, const std::optional<case_state>& case_before,
               const std::optional<party_state>& party_before, const std::vector<event_record>& records,
               std::vector<state_write>& out, std::set<std::string>* touched = nullptr);
  void unpin(const slot& s);
  // A business's trust summary under the engine's rules, from the cache or the rows.
  result<trust_summary*> summary_locked(const std::string& business);
  // The seal policy's commands for the businesses due for evaluation.
  status evaluate_policy_locked(timestamp_ms now, std::vector<slot_ptr>& slots, tick_report& report);
  // `now`, or the time of the stream's last event if that is later: a clock stepped back (an
  // NTP correction, a scripted --now) never writes a stream's events out of order.
  result<timestamp_ms> not_before_last_event(const std::string& stream, timestamp_ms now);
  // The time of each stream's last event this engine decided or read (a floor: a bounded cache,
  // refilled from the log on a miss).
  std::unordered_map<std::string, timestamp_ms> last_event_time_;
  void note_last_event(const event_record& r);

  event_log& log_;
  const clock& clock_;
  case_rules rules_;
  engine_options options_;
  std::string digest_key_;  // the keys' digest key, read once at open
  std::unique_ptr<state_rows> own_rows_;  // for a log that keeps none
  state_rows* rows_ = nullptr;
  state_store store_;
  world state_;                         // the working set (partial: loads through store_)
  std::vector<log_position> applied_;   // per partition: where the rows stand, queued units included
  std::mutex mutex_;
  std::condition_variable changed_;     // a unit was written (or failed)
  std::vector<slot_ptr> queue_;         // decided, folded, not yet sent to the log
  bool committing_ = false;             // a unit is being written
  bool stale_ = false;                  // state_ holds commands that were not written
  std::set<std::string> in_flight_;     // command ids queued or being written
  std::map<std::string, int> pinned_;   // streams (and businesses, for summaries) of queued commands
  std::string sweep_cursor_;            // the last business the policy sweep evaluated
  // Trust summaries (state_store.h) in use, queued commands' included; only with trust rules.
  std::map<std::string, trust_summary> summaries_;
  // No due-index row is earlier than this: a tick scans from here, not past the tombstones of
  // every deadline ever applied.
  timestamp_ms due_floor_ = std::numeric_limits<timestamp_ms>::min();
  timestamp_ms stored_floor_ = std::numeric_limits<timestamp_ms>::min();  // as the rows keep it
};

// The digest of the state rows a fresh fold of the whole log makes (in memory, beside whatever
// rows the log keeps): what engine::state_digest() must equal. O(log).
result<std::string> fold_state_digest(event_log& log, key_store* keys = nullptr);

// Checks that `events` are one stream's, in order, and an unbroken hash chain: from sequence 1,
// or a piece of it from sequence `first` (whose first event's link is then not checked).
status verify_chain(const std::vector<event_record>& events, std::uint64_t first = 1);

}  // namespace sazesh
