// engine: the command handler. It keeps the state folded from the log, decides each command
// against it, and appends the resulting events to the log with the expected stream version
// and the command id, so a retried command is never applied twice.
//
//   auto log = open_embedded_log("data");
//   auto eng = engine::open(**log, clock);
//   auto out = (*eng)->execute({fb::Role_consumer, "U-…"}, "cmd-1", file_case{...});
//
// Thread safety: execute(), tick() and catch_up() may be called from several threads. Deciding
// is serialised (one mutex), but waiting for the log is not: a command is decided on the state
// every command before it left, durable or not, and is then queued; whichever waiting thread
// finds no append running sends everything queued to the log as one unit (append_group: one
// synced batch, one Kafka transaction) while the others decide the next unit. A caller hears
// of its command only once it is durable. If a unit is not written (an I/O error, or another
// writer's events got in first), every command decided on it fails too, and the state is folded
// again from the log before the next command is decided. The log may be shared with readers
// (projectors) in other threads.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/time/clock.h"
#include "engine/domain/commands.h"
#include "engine/log/event_log.h"
#include "engine/base/result.h"
#include "engine/domain/rules.h"
#include "engine/domain/state.h"

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
};

class engine {
 public:
  // Opens an engine on `log`, folding every event already in it. The log and the clock must
  // outlive the engine. Fails with errc::corrupt naming the position of a bad record.
  static result<std::unique_ptr<engine>> open(event_log& log, const clock& clk,
                                              case_rules rules = {});

  // Decides and appends one command. A refused command writes nothing. Deadlines of the case
  // that are already due are applied first (as the scheduler's own command), so the command is
  // decided on the case as it stands at the clock's time. Command ids starting "deadline:" are
  // the scheduler's; a command id already used by another actor is refused.
  result<command_outcome> execute(const actor& who, const std::string& command_id,
                                  const command& cmd);

  // Turns every deadline due at the clock's time into its events, then applies the seal policy
  // of the trust rules to every business; exactly once however often it runs, because each
  // command's id is derived from its stream and that stream's version.
  result<tick_report> tick();

  // Folds events appended to the log since the engine last looked (by another writer).
  status catch_up();

  // Events of one stream, decoded, with the hash chain checked (errc::corrupt otherwise).
  result<std::vector<event_record>> history(const std::string& stream) const;

  // The folded state. Not synchronised: read it only while no command runs.
  const world& state() const { return state_; }
  // Calls f(state) with deciding paused: safe while other threads run commands. The state may
  // include commands decided but not yet durable.
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
    append_request request;  // moved to the log when its unit is written
    std::vector<event_record> records;
    std::optional<result<append_outcome>> outcome;  // set once its unit was written (or not)
  };
  using slot_ptr = std::shared_ptr<slot>;
  using lock_type = std::unique_lock<std::mutex>;

  engine(event_log& log, const clock& clk, case_rules rules)
      : log_(log), clock_(clk), rules_(std::move(rules)) {}
  // Waits until `command_id` is not in flight and the state can be decided on (folded again
  // from the log after a failed unit; caught up with other writers when nothing is in flight).
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
  status catch_up_partition(std::uint32_t partition, std::size_t batch);

  event_log& log_;
  const clock& clock_;
  case_rules rules_;
  world state_;
  std::vector<log_position> applied_;  // next position to fold, per partition
  std::mutex mutex_;
  std::condition_variable changed_;    // a unit was written (or failed)
  std::vector<slot_ptr> queue_;        // decided, folded, not yet sent to the log
  bool committing_ = false;            // a unit is being written
  bool stale_ = false;                 // state_ holds commands that were not written
  std::set<std::string> in_flight_;    // command ids queued or being written
};

// Checks that `events` (one stream, in order) form an unbroken hash chain from sequence 1.
status verify_chain(const std::vector<event_record>& events);

}  // namespace sazesh
