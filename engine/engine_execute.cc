// engine: executing a command, and the queue of decided commands that goes to the log as one
// unit (engine.h).
#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "engine/domain/decide.h"
#include "engine/domain/evolve.h"
#include "engine/engine_detail.h"
#include "engine/record/codec.h"
#include "engine/record/sealing.h"

namespace sazesh {
namespace {

using namespace engine_detail;

// The case a command acts on, if it names one.
std::optional<std::string> case_of(const command& cmd) {
  return std::visit(
      [](const auto& c) -> std::optional<std::string> {
        if constexpr (requires { c.case_id; }) return c.case_id;
        else return std::nullopt;
      },
      cmd);
}

}  // namespace

void engine::unpin(const slot& s) {
  const auto release = [&](const std::string& key) {
    if (auto it = pinned_.find(key); it != pinned_.end() && --it->second == 0) pinned_.erase(it);
  };
  release(s.stream);
  for (const auto& b : s.summaries) release("summary:" + b);
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
    if (options_.keys)
      if (auto o = open_sealed(*rec, *options_.keys); !o) return o.error();
    out.events.push_back(std::move(*rec));
  }
  return out;
}

result<engine::slot_ptr> engine::submit_locked(const actor& who, const std::string& command_id,
                                               const command& cmd, timestamp_ms now) {
  auto d = decide(state_, who, cmd, now, rules_, command_id);
  // A decision made while a row failed to load stands on nothing.
  if (auto s = store_.take_error(); !s) return s.error();
  if (!d) return d.error();
  // No stream's events go back in time, whatever the clock did (a case's floor was taken before
  // its deadlines were decided; a shop's, a party's or a credential's is taken here): decided
  // again at the time of the stream's last event.
  auto floor = not_before_last_event(d->stream, now);
  if (!floor) return floor.error();
  if (*floor > now) {
    now = *floor;
    d = decide(state_, who, cmd, now, rules_, command_id);
    if (auto s = store_.take_error(); !s) return s.error();
    if (!d) return d.error();
  }
  const stream_head head = state_.head_of(d->stream);
  if (auto s = store_.take_error(); !s) return s.error();
  if (head.version != d->expected)
    return error(errc::conflict, "expected_version", "the state moved while deciding");
  // Erasure takes the key as soon as it is decided, before its event is written: nothing decided
  // after it can be sealed under the key, and a crash before the event is written leaves the
  // data erased and the same command to be given again. A party forgotten already decides no
  // event, and its key is destroyed once more (should a copy have been left).
  if (options_.keys && std::holds_alternative<forget_party>(cmd))
    if (auto s = options_.keys->destroy(d->stream); !s) return s.error();
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
  // Whose personal data a case's events hold: its consumer's.
  std::string case_consumer;
  if (const case_state* c = state_.find_case(d->stream)) case_consumer = c->consumer_id;
  for (const auto& ev : d->events) {
    envelope_fields f{d->stream, stream_version(d->expected.value() + index + 1), who, now,
                      command_id, index, previous};
    if (ev.type == fb::Event_CaseFiled) case_consumer = ev.AsCaseFiled()->consumer_id;
    // A copy is sealed and written; the decided event keeps its plain fields for the outcome.
    std::optional<sealed_part> sealed;
    fb::EventUnion sealed_event;
    if (options_.keys && has_personal_data(ev)) {
      const std::string subject = sealing_subject(ev, d->stream, case_consumer);
      auto key = options_.keys->key_for_sealing(subject);
      if (!key) return key.error();
      sealed_event = ev;
      sealed = seal(sealed_event, subject, *key, event_id_for(command_id, index));
    }
    std::string bytes = encode(f, sealed ? sealed_event : ev, sealed ? &*sealed : nullptr);
    auto rec = decode(bytes);
    if (!rec) return rec.error();  // our own encoder produced something unreadable: a bug
    previous = rec->hash;
    s->records.push_back(std::move(*rec));
    s->request.events.push_back(std::move(bytes));
    ++index;
  }
  const auto case_before = case_copy(state_, d->stream);
  const auto party_before = case_before ? std::nullopt : party_copy(state_, d->stream);
  for (const auto& r : s->records) {
    evolve(state_, r);
    note_last_event(r);
  }
  rows_of(d->stream, case_before, party_before, s->records, s->request.state, &s->summaries);
  // The state took the records sealed (it keeps no personal data); the actor hears back what it
  // wrote, personal data included: the decided events, as they were before sealing.
  for (std::size_t i = 0; i < s->records.size(); ++i) {
    event_record& r = s->records[i];
    if (!r.sealed) continue;
    r.payload = std::move(d->events[i]);
    r.personal = personal_state::opened;
  }
  state_.score_events.clear();
  state_.deadline_index.clear();
  if (auto e = store_.take_error(); !e) {
    // The state took events its rows cannot follow: drop it once nothing is in flight.
    stale_ = true;
    return e.error();
  }
  s->request.state_included = true;
  in_flight_.insert(command_id);
  ++pinned_[d->stream];
  for (const auto& b : s->summaries) ++pinned_["summary:" + b];
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
  // A log that keeps no rows of its own gets them from the engine once the unit is written.
  std::vector<state_write> own_rows;
  for (const auto& s : unit) {
    if (own_rows_) own_rows.insert(own_rows.end(), s->request.state.begin(), s->request.state.end());
    requests.push_back(std::move(s->request));
  }
  lock.unlock();
  // The keys the unit's events were sealed with are made durable before the events are.
  auto written = [&]() -> decltype(log_.append_group(std::move(requests))) {
    if (options_.keys)
      if (auto k = options_.keys->flush(); !k) return k.error();
    return log_.append_group(std::move(requests));
  }();
  lock.lock();

  std::optional<error> failed;
  for (std::size_t i = 0; i < unit.size(); ++i) {
    slot& s = *unit[i];
    in_flight_.erase(s.command_id);
    unpin(s);
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
  if (!failed) {
    if (own_rows_) {
      if (auto s = own_rows_->write(own_rows, applied_); !s) failed = s.error();
    } else if (auto stored = rows_->positions(); !stored || *stored != applied_) {
      // The log wrote the events but not their rows (rows out of step, a read failing): the
      // rows are caught up from the log before anything else is decided.
      stale_ = true;
    }
  }
  if (failed) {
    // Everything queued meanwhile was decided on what was not written.
    for (const auto& s : queue_) {
      s->outcome = not_written_after(*failed);
      in_flight_.erase(s->command_id);
      unpin(*s);
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

void engine::note_last_event(const event_record& r) {
  if (last_event_time_.size() >= 100'000) last_event_time_.clear();  // a floor, refilled on a miss
  auto& t = last_event_time_[r.stream];
  t = std::max(t, r.time);
}

result<timestamp_ms> engine::not_before_last_event(const std::string& stream, timestamp_ms now) {
  if (auto known = last_event_time_.find(stream); known != last_event_time_.end()) return std::max(now, known->second);
  const stream_version at = state_.head_of(stream).version;
  if (auto s = store_.take_error(); !s) return s.error();
  if (at.value() == 0) return now;
  auto last = log_.read_stream(stream, at);
  if (!last) return last.error();
  if (last->empty()) return now;
  auto record = decode(last->back().bytes);
  if (!record) return error(errc::corrupt, "log", fmt::format("stream {}: {}", stream, record.error().message()));
  note_last_event(*record);
  return std::max(now, record->time);
}

result<command_outcome> engine::execute(const actor& who, const std::string& command_id,
                                        const command& cmd, std::optional<stream_version> if_version) {
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
  const auto id = case_of(cmd);
  timestamp_ms now = clock_.now();
  if (id) {
    auto floor = not_before_last_event(*id, now);
    if (!floor) return floor.error();
    now = *floor;
  }
  const actor scheduler{fb::Role_system, "scheduler"};
  slot_ptr due;
  if (if_version) {
    // Who may act comes before whether the version holds: a refused If-Match tells an actor who
    // may not act (or may not know of the case) nothing about it. Only then is the command
    // decided once more, to tell the two apart; a version that holds costs nothing extra.
    const auto refusal_for_actor = [&]() -> std::optional<error> {
      auto trial = decide(state_, who, cmd, now, rules_, command_id);
      if (auto s = store_.take_error(); !s) return s.error();
      if (!trial && (trial.error().code() == errc::unauthorized ||
                     (trial.error().code() == errc::not_found && trial.error().field() == "case_id")))
        return trial.error();
      return std::nullopt;
    };
    if (!id) {
      if (auto e = refusal_for_actor()) return *e;
      return error(errc::invalid_argument, "If-Match", "applies only to commands on a case");
    }
    const auto at = state_.head_of(*id).version;
    if (auto s = store_.take_error(); !s) return s.error();
    if (at != *if_version) {
      if (auto e = refusal_for_actor()) return *e;
      return error(errc::conflict, "If-Match",
                   fmt::format("case {} is at version {}, not {}: read it again", *id, at.value(), if_version->value()));
    }
  }
  case_state* live = nullptr;
  if (id && who.role != fb::Role_system && state_.find_case(*id) != nullptr) live = &state_.cases.at(*id);
  if (auto s = store_.take_error(); !s) return s.error();
  if (live != nullptr && due_now(*live, now)) {
    const std::string due_id = deadline_command_id(*live);
    auto deadlines = decide(state_, scheduler, apply_deadlines{*id}, now, rules_, due_id);
    if (deadlines && !deadlines->events.empty()) {
      const case_state saved = *live;
      for (const auto& ev : deadlines->events) evolve_case(*live, ev, now, fb::Role_system);
      auto trial = decide(state_, who, cmd, now, rules_, command_id);
      state_.cases.at(*id) = saved;
      if (auto s = store_.take_error(); !s) return s.error();
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

}  // namespace sazesh
