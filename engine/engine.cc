#include "engine/engine.h"

#include <fmt/format.h>

#include "engine/agency_feed.h"
#include "engine/codec.h"
#include "engine/decide.h"
#include "engine/evolve.h"

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
  std::lock_guard lock(mutex_);
  return catch_up_locked();
}

status engine::catch_up_locked() {
  constexpr std::size_t batch = 4096;
  if (applied_.size() != log_.partitions()) applied_.resize(log_.partitions(), log_position(0));
  for (std::uint32_t p = 0; p < applied_.size(); ++p)
    if (auto s = catch_up_partition(p, batch); !s) return s;
  return ok;
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

}  // namespace

result<std::optional<command_outcome>> engine::apply_due_locked(const std::string& case_id) {
  const case_state* c = state_.find_case(case_id);
  if (c == nullptr) return std::optional<command_outcome>();
  const timestamp_ms now = clock_.now();
  const bool due = std::any_of(c->deadlines.begin(), c->deadlines.end(),
                               [&](const deadline& d) { return d.due <= now; });
  if (!due) return std::optional<command_outcome>();
  // The id depends only on the case and its version: two schedulers racing (or one run twice)
  // produce the same command, and the log keeps the first.
  auto out = execute_locked({fb::Role_system, "scheduler"}, deadline_command_id(*c), apply_deadlines{case_id});
  if (!out) return out.error();
  return std::optional<command_outcome>(std::move(*out));
}

result<command_outcome> engine::execute_locked(const actor& who, const std::string& command_id,
                                               const command& cmd) {
  if (auto s = catch_up_locked(); !s) return s.error();
  if ((command_id.rfind(deadline_prefix, 0) == 0 || command_id.rfind("policy:", 0) == 0) &&
      who.role != fb::Role_system)
    return error(errc::invalid_argument, "command_id", "ids starting with deadline: or policy: are the scheduler's");
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
  // deadline events are written (as the scheduler's own command) only if the command itself is
  // accepted: a refused command writes nothing.
  std::vector<event_record> applied_first;
  if (who.role != fb::Role_system) {
    if (auto id = case_of(cmd); id && state_.find_case(*id) != nullptr) {
      const timestamp_ms now = clock_.now();
      auto due = decide(state_, {fb::Role_system, "scheduler"}, apply_deadlines{*id}, now, rules_,
                        deadline_command_id(*state_.find_case(*id)));
      if (due && !due->events.empty()) {
        case_state& live = state_.cases.at(*id);
        const case_state saved = live;
        for (const auto& ev : due->events) evolve_case(live, ev, now, fb::Role_system);
        auto trial = decide(state_, who, cmd, now, rules_, command_id);
        live = saved;
        if (!trial) return trial.error();
        auto applied = apply_due_locked(*id);
        if (!applied) return applied.error();
        if (*applied) applied_first = std::move((*applied)->events);
      }
    }
  }

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
  if (request.events.empty()) return command_outcome{d->stream, {}, false, std::move(applied_first)};
  // Agencies' referral feeds are published with the events, atomically, by a log that has
  // topics for them (Kafka); the embedded log has none, so nothing is built for it.
  if (log_.publishes_side_records()) {
    auto sides = agency_side_records(log_, records, request.events);
    if (!sides) return sides.error();
    request.side_records = std::move(*sides);
  }

  auto appended = log_.append(std::move(request));
  if (!appended) return appended.error();
  if (appended->repeated) return replay_outcome(*appended);
  if (appended->partition < applied_.size() && appended->first_position == applied_[appended->partition]) {
    for (const auto& r : records) evolve(state_, r);
    applied_[appended->partition] = log_position(appended->first_position.value() + appended->count);
  } else if (auto s = catch_up_locked(); !s) {
    // Another writer appended in between: fold everything in log order, ours included.
    return s.error();
  }
  return command_outcome{d->stream, std::move(records), false, std::move(applied_first)};
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
  for (const auto& case_id : due) {
    auto out = apply_due_locked(case_id);
    if (!out) return out.error();
    if (*out && !(*out)->events.empty()) report.applied.push_back(std::move(**out));
  }
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
      auto out = execute_locked({fb::Role_system, "scheduler"}, command_id, cmd);
      if (!out) return out.error();
      if (!out->events.empty()) report.seal_actions.push_back(std::move(*out));
    }
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
