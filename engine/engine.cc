#include "engine/engine.h"

#include <fmt/format.h>

#include "engine/agency_feed.h"
#include "engine/record/codec.h"
#include "engine/domain/decide.h"
#include "engine/domain/evolve.h"

#include <algorithm>
#include <optional>

namespace sazesh {

status verify_chain(const std::vector<event_record>& events) {
  std::string previous;
  std::uint64_t expected = 1;
  for (const auto& e : events) {
    if (e.sequence.value() != expected)
      return error(errc::corrupt, "sequence",
                   fmt::format("stream {} jumps from {} to {}", e.stream, expected - 1,
                               e.sequence.value()));
    if (e.previous_hash != previous)
      return error(errc::corrupt, "previous_hash",
                   fmt::format("event {} of stream {} does not chain to the event before it",
                               e.sequence.value(), e.stream));
    previous = e.hash;
    ++expected;
  }
  return ok;
}

result<std::unique_ptr<engine>> engine::open(event_log& log, const clock& clk, case_rules rules) {
  std::unique_ptr<engine> e(new engine(log, clk, std::move(rules)));
  if (auto s = e->catch_up(); !s) return s.error();
  return e;
}

status engine::catch_up() {
  lock_type lock(mutex_);
  return ready_locked(lock, {});
}

status engine::catch_up_locked() {
  constexpr std::size_t batch = 4096;
  if (applied_.size() != log_.partitions()) applied_.resize(log_.partitions(), log_position(0));
  for (std::uint32_t p = 0; p < applied_.size(); ++p)
    if (auto s = catch_up_partition(p, batch); !s) return s;
  return ok;
}

status engine::ready_locked(lock_type& lock, const std::string& command_id) {
  // A command id in flight is waited for: once written, the log answers it as a repeat.
  changed_.wait(lock, [&] { return (command_id.empty() || !in_flight_.count(command_id)) && (!stale_ || idle()); });
  if (!idle()) return ok;  // the state is ahead of the log; other writers show up as conflicts
  if (stale_) {
    state_ = world{};
    applied_.clear();
    stale_ = false;
  }
  return catch_up_locked();
}

status engine::catch_up_partition(std::uint32_t partition, std::size_t batch) {
  log_position& applied = applied_[partition];
  for (;;) {
    auto events = log_.read_partition(partition, applied, batch);
    if (!events) return events.error();
    for (const auto& stored : *events) {
      auto rec = decode(stored.bytes);
      if (!rec)
        return error(errc::corrupt, "log",
                     fmt::format("the event at position {} is unreadable: {}",
                                 stored.position.value(), rec.error().message()));
      const stream_head head = state_.head_of(rec->stream);
      if (rec->sequence.value() != head.version.value() + 1 || rec->previous_hash != head.last_hash)
        return error(errc::corrupt, "log",
                     fmt::format("the event at position {} breaks the hash chain of stream {}",
                                 stored.position.value(), rec->stream));
      evolve(state_, *rec);
      applied = log_position(stored.position.value() + 1);
    }
    if (events->size() < batch) return ok;
  }
}

result<command_outcome> engine::replay_outcome(const append_outcome& first) const {
  command_outcome out;
  out.stream = first.stream;
  out.repeated = true;
  auto stored = log_.read_stream(first.stream, first.first_sequence);
  if (!stored) return stored.error();
  for (std::size_t i = 0; i < first.count && i < stored->size(); ++i) {
    auto rec = decode((*stored)[i].bytes);
    if (!rec) return rec.error();
    out.events.push_back(std::move(*rec));
  }
  return out;
}


result<engine::slot_ptr> engine::submit_locked(const actor& who, const std::string& command_id,
                                               const command& cmd, timestamp_ms now) {
  auto d = decide(state_, who, cmd, now, rules_, command_id);
  if (!d) return d.error();
  const stream_head head = state_.head_of(d->stream);
  if (head.version != d->expected)
    return error(errc::conflict, "expected_version", "the state moved while deciding");
  auto s = std::make_shared<slot>();
  s->stream = d->stream;
  s->command_id = command_id;
  s->request = append_request{d->stream, d->expected, command_id, {}};
  if (d->events.empty()) {
    // Nothing to write: done at once (and never queued).
    s->outcome = append_outcome{d->stream, stream_version(d->expected.value() + 1), 0, 0, log_position(0), false};
    return s;
  }
  std::string previous = head.last_hash;
  std::uint32_t index = 0;
  for (const auto& ev : d->events) {
    envelope_fields f{d->stream, stream_version(d->expected.value() + index + 1), who, now,
                      command_id, index, previous};
    std::string bytes = encode(f, ev);
    auto rec = decode(bytes);
    if (!rec) return rec.error();  // our own encoder produced something unreadable: a bug
    previous = rec->hash;
    s->records.push_back(std::move(*rec));
    s->request.events.push_back(std::move(bytes));
    ++index;
  }
  // Agencies' referral feeds are published with the events, atomically, by a log that has
  // topics for them (Kafka); the embedded log has none, so nothing is built for it.
  if (log_.publishes_side_records()) {
    auto sides = agency_side_records(log_, s->records, s->request.events);
    if (!sides) return sides.error();
    s->request.side_records = std::move(*sides);
  }
  for (const auto& r : s->records) evolve(state_, r);
  in_flight_.insert(command_id);
  queue_.push_back(s);
  return s;
}

void engine::await_locked(lock_type& lock, const std::vector<slot_ptr>& slots) {
  const auto done = [&] {
    return std::all_of(slots.begin(), slots.end(), [](const slot_ptr& s) { return !s || s->outcome; });
  };
  while (!done()) {
    if (!committing_ && !queue_.empty()) write_queue_locked(lock);
    else changed_.wait(lock);
  }
}

bool engine::advance_applied(const append_outcome& o) {
  if (o.partition >= applied_.size()) return false;
  log_position& applied = applied_[o.partition];
  if (applied != o.first_position) {
    // Kafka's positions have gaps (transaction markers): only events in between are foreign.
    auto next = log_.read_partition(o.partition, applied, 1);
    if (!next || next->empty() || next->front().position != o.first_position) return false;
  }
  applied = log_position(o.first_position.value() + o.count);
  return true;
}

void engine::write_queue_locked(lock_type& lock) {
  committing_ = true;
  std::vector<slot_ptr> unit;
  unit.swap(queue_);
  std::vector<append_request> requests;
  requests.reserve(unit.size());
  for (const auto& s : unit) requests.push_back(std::move(s->request));
  lock.unlock();
  auto written = log_.append_group(std::move(requests));
  lock.lock();

  std::optional<error> failed;
  for (std::size_t i = 0; i < unit.size(); ++i) {
    slot& s = *unit[i];
    in_flight_.erase(s.command_id);
    if (!written) {
      s.outcome = written.error();
      failed = written.error();
      continue;
    }
    result<append_outcome>& o = (*written)[i];
    if (!o || o->repeated) {
      if (!failed) failed = o ? error(errc::conflict, "command_id", "was appended before") : o.error();
    } else if (!failed && !advance_applied(*o)) {
      failed = error(errc::conflict, "log", "another writer appended meanwhile");
    }
    s.outcome = std::move(o);
  }
  if (failed) {
    // Everything queued meanwhile was decided on what was not written.
    for (const auto& s : queue_) {
      s->outcome = not_written_after(*failed);
      in_flight_.erase(s->command_id);
    }
    queue_.clear();
    stale_ = true;
  }
  committing_ = false;
  changed_.notify_all();
}

result<command_outcome> engine::outcome_of(const slot& s) const {
  if (!*s.outcome) return s.outcome->error();
  if ((*s.outcome)->repeated) return replay_outcome(**s.outcome);
  return command_outcome{s.stream, s.records, false, {}};
}

namespace {

constexpr std::string_view deadline_prefix = "deadline:";

// The case a command acts on, if it names one.
std::optional<std::string> case_of(const command& cmd) {
  return std::visit(
      [](const auto& c) -> std::optional<std::string> {
        if constexpr (requires { c.case_id; }) return c.case_id;
        else return std::nullopt;
      },
      cmd);
}

std::string deadline_command_id(const case_state& c) {
  return fmt::format("{}{}:{}", deadline_prefix, c.id, c.head.version.value());
}

bool due_now(const case_state& c, timestamp_ms now) {
  return std::any_of(c.deadlines.begin(), c.deadlines.end(), [&](const deadline& d) { return d.due <= now; });
}

}  // namespace

result<command_outcome> engine::execute(const actor& who, const std::string& command_id,
                                        const command& cmd) {
  if ((command_id.rfind(deadline_prefix, 0) == 0 || command_id.rfind("policy:", 0) == 0) &&
      who.role != fb::Role_system)
    return error(errc::invalid_argument, "command_id", "ids starting with deadline: or policy: are the scheduler's");
  lock_type lock(mutex_);
  if (auto s = ready_locked(lock, command_id); !s) return s.error();
  // A repeated command returns what it did the first time, before deciding anything: deciding
  // again could refuse it (a second filing of the same order is a duplicate).
  auto earlier = log_.find_command(command_id);
  if (!earlier) return earlier.error();
  if (*earlier) {
    auto first = replay_outcome(**earlier);
    if (first && !first->events.empty() &&
        (first->events.front().by.role != who.role || first->events.front().by.id != who.id))
      return error(errc::conflict, "command_id", "was already used by another actor");
    return first;
  }

  // Deadlines are facts of time: a command is decided on its case as the clock sees it, so what
  // it may do (and how timely it is) never depends on when the scheduler last ran. The due
  // deadline events are written (as the scheduler's own command, just before this one) only if
  // the command itself is accepted: a refused command writes nothing.
  const timestamp_ms now = clock_.now();
  const actor scheduler{fb::Role_system, "scheduler"};
  slot_ptr due;
  const auto id = case_of(cmd);
  case_state* live = nullptr;
  if (auto it = id ? state_.cases.find(*id) : state_.cases.end(); it != state_.cases.end() && who.role != fb::Role_system)
    live = &it->second;
  if (live != nullptr && due_now(*live, now)) {
    const std::string due_id = deadline_command_id(*live);
    auto deadlines = decide(state_, scheduler, apply_deadlines{*id}, now, rules_, due_id);
    if (deadlines && !deadlines->events.empty()) {
      const case_state saved = *live;
      for (const auto& ev : deadlines->events) evolve_case(*live, ev, now, fb::Role_system);
      auto trial = decide(state_, who, cmd, now, rules_, command_id);
      *live = saved;
      if (!trial) return trial.error();
      auto submitted = submit_locked(scheduler, due_id, apply_deadlines{*id}, now);
      if (!submitted) return submitted.error();
      due = std::move(*submitted);
    }
  }
  auto mine = submit_locked(who, command_id, cmd, now);
  if (!mine) {
    // The trial above decided the same command on the same state, so this is not expected;
    // the deadlines are facts of time and are written all the same.
    if (due) await_locked(lock, {due});
    return mine.error();
  }
  await_locked(lock, {due, *mine});
  auto out = outcome_of(**mine);
  if (!out) return out.error();
  if (due) {
    if (!*due->outcome) return due->outcome->error();
    out->deadlines_first = due->records;
  }
  return out;
}

result<tick_report> engine::tick() {
  lock_type lock(mutex_);
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  const timestamp_ms now = clock_.now();
  const actor scheduler{fb::Role_system, "scheduler"};
  std::vector<std::string> due;
  for (const auto& [when, case_id] : state_.deadline_index) {
    if (when > now) break;
    due.push_back(case_id);
  }
  tick_report report;
  report.cases_due = due.size();
  // The deadline commands, then the seal actions (from deadline_count on).
  std::vector<slot_ptr> slots;
  std::size_t deadline_count = 0;
  // What was queued before a failure is written (or fails) like any queued command before the
  // error is returned: nothing may stay queued with nobody waiting for it.
  const auto abandon = [&](error e) -> result<tick_report> {
    await_locked(lock, slots);
    return e;
  };
  const auto submit = [&](const std::string& id, const command& cmd) -> status {
    auto earlier = log_.find_command(id);
    if (!earlier) return earlier.error();
    if (*earlier) return ok;  // written by another scheduler since this one caught up
    auto s = submit_locked(scheduler, id, cmd, now);
    if (!s) return s.error();
    if (!(*s)->records.empty()) slots.push_back(std::move(*s));
    return ok;
  };
  for (const auto& case_id : due) {
    const case_state* c = state_.find_case(case_id);
    if (c == nullptr || !due_now(*c, now)) continue;
    if (auto s = submit(deadline_command_id(*c), apply_deadlines{case_id}); !s) return abandon(s.error());
  }
  deadline_count = slots.size();
  if (rules_.trust.version > 0) {
    static const std::vector<score_event> none;
    std::vector<std::pair<std::string, policy_action>> actions;
    for (const auto& [id, b] : state_.businesses) {
      auto it = state_.score_events.find(id);
      auto action = evaluate_seal_policy(rules_.trust, it == state_.score_events.end() ? none : it->second,
                                         b.restricted, b.restriction_rule, now);
      if (action) actions.emplace_back(id, std::move(*action));
    }
    for (auto& [id, action] : actions) {
      const std::string command_id = fmt::format("policy:{}:{}", id, state_.businesses.at(id).head.version.value());
      const std::string reason = fmt::format("{} (trust rules v{})", action.reason, rules_.trust.version);
      command cmd = action.restrict ? command(restrict_seal{id, reason, action.rule})
                                    : command(reinstate_seal{id, reason, action.rule});
      if (auto s = submit(command_id, cmd); !s) return abandon(s.error());
    }
  }
  await_locked(lock, slots);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    auto o = outcome_of(*slots[i]);
    if (!o) return o.error();
    (i < deadline_count ? report.applied : report.seal_actions).push_back(std::move(*o));
  }
  return report;
}

result<std::vector<event_record>> engine::history(const std::string& stream) const {
  auto stored = log_.read_stream(stream, stream_version(1));
  if (!stored) return stored.error();
  std::vector<event_record> out;
  out.reserve(stored->size());
  for (const auto& s : *stored) {
    auto rec = decode(s.bytes);
    if (!rec)
      return error(errc::corrupt, "log",
                   fmt::format("event {} of stream {} (position {}) is unreadable: {}",
                               s.sequence.value(), stream, s.position.value(), rec.error().message()));
    out.push_back(std::move(*rec));
  }
  if (auto s = verify_chain(out); !s) return s.error();
  return out;
}

}  // namespace sazesh
