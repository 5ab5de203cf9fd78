#include "engine/engine.h"

#include <fmt/format.h>

#include "engine/codec.h"
#include "engine/decide.h"
#include "engine/evolve.h"

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
  std::lock_guard lock(mutex_);
  return catch_up_locked();
}

status engine::catch_up_locked() {
  constexpr std::size_t batch = 4096;
  for (;;) {
    auto events = log_.read_all(applied_, batch);
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
      applied_ = log_position(stored.position.value() + 1);
    }
    if (events->size() < batch) return ok;
  }
}

result<command_outcome> engine::execute(const actor& who, const std::string& command_id,
                                        const command& cmd) {
  std::lock_guard lock(mutex_);
  return execute_locked(who, command_id, cmd);
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

result<command_outcome> engine::execute_locked(const actor& who, const std::string& command_id,
                                               const command& cmd) {
  if (auto s = catch_up_locked(); !s) return s.error();
  // A repeated command returns what it did the first time, before deciding anything: deciding
  // again could refuse it (a second filing of the same order is a duplicate).
  auto earlier = log_.find_command(command_id);
  if (!earlier) return earlier.error();
  if (*earlier) return replay_outcome(**earlier);

  const timestamp_ms now = clock_.now();
  auto d = decide(state_, who, cmd, now, rules_, command_id);
  if (!d) return d.error();

  const stream_head head = state_.head_of(d->stream);
  if (head.version != d->expected)
    return error(errc::conflict, "expected_version", "the state moved while deciding");
  append_request request{d->stream, d->expected, command_id, {}};
  std::string previous = head.last_hash;
  std::uint32_t index = 0;
  std::vector<event_record> records;
  for (const auto& ev : d->events) {
    envelope_fields f{d->stream, stream_version(d->expected.value() + index + 1), who, now,
                      command_id, index, previous};
    std::string bytes = encode(f, ev);
    auto rec = decode(bytes);
    if (!rec) return rec.error();  // our own encoder produced something unreadable: a bug
    previous = rec->hash;
    records.push_back(std::move(*rec));
    request.events.push_back(std::move(bytes));
    ++index;
  }
  if (request.events.empty()) return command_outcome{d->stream, {}, false};

  auto appended = log_.append(std::move(request));
  if (!appended) return appended.error();
  if (appended->repeated) return replay_outcome(*appended);
  for (const auto& r : records) evolve(state_, r);
  applied_ = log_position(appended->first_position.value() + appended->count);
  return command_outcome{d->stream, std::move(records), false};
}

result<tick_report> engine::tick() {
  std::lock_guard lock(mutex_);
  if (auto s = catch_up_locked(); !s) return s.error();
  const timestamp_ms now = clock_.now();
  std::vector<std::string> due;
  for (const auto& [when, case_id] : state_.deadline_index) {
    if (when > now) break;
    due.push_back(case_id);
  }
  tick_report report;
  report.cases_due = due.size();
  const actor scheduler{fb::Role_system, "scheduler"};
  for (const auto& case_id : due) {
    const case_state* c = state_.find_case(case_id);
    if (c == nullptr) continue;
    // The id depends only on the case and its version: two schedulers racing (or one run
    // twice) produce the same command, and the log keeps the first.
    const std::string command_id = fmt::format("deadline:{}:{}", case_id, c->head.version.value());
    auto out = execute_locked(scheduler, command_id, apply_deadlines{case_id});
    if (!out) return out.error();
    if (!out->events.empty()) report.applied.push_back(std::move(*out));
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
