#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "engine/domain/decide.h"
#include "engine/domain/evolve.h"
#include "engine/engine_detail.h"
#include "engine/log/memory_state.h"
#include "engine/record/codec.h"
#include "engine/record/sealing.h"

namespace sazesh {

status verify_chain(const std::vector<event_record>& events, std::uint64_t first) {
  std::string previous;
  std::uint64_t expected = first;
  for (const auto& e : events) {
    if (e.stream != events.front().stream)
      return error(errc::corrupt, "stream", fmt::format("an event of stream {} among those of {}", e.stream, events.front().stream));
    if (e.sequence.value() != expected)
      return error(errc::corrupt, "sequence",
                   fmt::format("stream {} jumps from {} to {}", e.stream, expected - 1,
                               e.sequence.value()));
    // A piece that starts later than 1 has no previous event here to chain its first one to.
    if ((expected > first || first == 1) && e.previous_hash != previous)
      return error(errc::corrupt, "previous_hash",
                   fmt::format("event {} of stream {} does not chain to the event before it",
                               e.sequence.value(), e.stream));
    previous = e.hash;
    ++expected;
  }
  return ok;
}

namespace {

using namespace engine_detail;

constexpr std::size_t k_catch_up_batch = 4096;

}  // namespace

namespace {

// The log's state rows, or (for a log that keeps none) rows in memory that `own` holds.
state_rows& rows_of_log(event_log& log, std::unique_ptr<state_rows>& own) {
  if (state_rows* rows = log.state()) return *rows;
  own = std::make_unique<memory_state>(log.partitions());
  return *own;
}

}  // namespace

engine::engine(event_log& log, const clock& clk, case_rules rules, engine_options options)
    : log_(log),
      clock_(clk),
      rules_(std::move(rules)),
      options_(options),
      rows_(&rows_of_log(log, own_rows_)),
      store_(*rows_) {
  reset_working_set();
}

result<std::unique_ptr<engine>> engine::open(event_log& log, const clock& clk, case_rules rules,
                                             engine_options options) {
  std::unique_ptr<engine> e(new engine(log, clk, std::move(rules), options));
  if (options.keys) {
    // The digest key, made on first use where the store makes it (on Kafka, its topic).
    auto digest = options.keys->digest_key();
    if (!digest) return digest.error();
    e->digest_key_ = std::move(*digest);
    e->state_.digest_key = e->digest_key_;
  }
  // Rows written by another version of the engine are rebuilt, not misread.
  auto version = e->store_.format_version();
  if (!version) return version.error();
  auto positions = e->rows_->positions();
  if (!positions) return positions.error();
  const bool any = std::any_of(positions->begin(), positions->end(), [](log_position p) { return p.value() > 0; });
  if (*version != state_format_version && (any || *version != 0)) {
    if (auto rebuilt = e->rebuild_state(); !rebuilt) return rebuilt.error();
  } else if (*version == 0) {
    if (auto s = e->rows_->write({state_store::format_row()}, *positions); !s) return s.error();
  }
  // The tick's scan resumes where the last tick left it (a lower bound of every pending
  // deadline), not at the index's beginning.
  auto floor = e->store_.due_floor();
  if (!floor) return floor.error();
  if (*floor) e->due_floor_ = e->stored_floor_ = **floor;
  if (auto s = e->catch_up(); !s) return s.error();
  return e;
}

void engine::reset_working_set() {
  state_ = world{};
  state_.source = &store_;
  state_.digest_key = digest_key_;
  summaries_.clear();
  (void)store_.take_error();
}

status engine::catch_up() {
  lock_type lock(mutex_);
  return ready_locked(lock, {});
}

status engine::ready_locked(lock_type& lock, const std::string& command_id) {
  // A command id in flight is waited for: once written, the log answers it as a repeat.
  changed_.wait(lock, [&] { return (command_id.empty() || !in_flight_.count(command_id)) && (!stale_ || idle()); });
  if (!idle()) return ok;  // the state is ahead of the log; other writers show up as conflicts
  if (stale_) {
    // A unit failed: the log settles first (whatever it may have written is in its reads),
    // then the rows catch up with it; nothing is decided on what the failure left unknown.
    if (auto s = log_.settle(); !s) return s;
    reset_working_set();
    stale_ = false;
  }
  trim_working_set();
  return catch_up_locked();
}

status engine::catch_up_locked() {
  auto positions = rows_->positions();
  if (!positions) return positions.error();
  if (positions->size() != log_.partitions())
    return error(errc::corrupt, "state", "the state rows name another number of partitions than the log");
  for (std::uint32_t p = 0; p < positions->size(); ++p)
    if (auto n = catch_up_partition(p, *positions); !n) {
      reset_working_set();
      return n.error();
    }
  applied_ = *positions;
  return ok;
}

result<std::uint64_t> engine::catch_up_partition(std::uint32_t partition, std::vector<log_position>& positions) {
  std::uint64_t folded = 0;
  for (;;) {
    auto events = log_.read_partition(partition, positions[partition], k_catch_up_batch);
    if (!events) return events.error();
    if (events->empty()) return folded;
    // The batch is folded into the working set, each stream's state before it remembered, and
    // written as rows with the position it reaches, in one write.
    std::map<std::string, std::pair<std::optional<case_state>, std::optional<party_state>>> before;
    std::map<std::string, std::vector<event_record>> records;
    for (const auto& stored : *events) {
      auto rec = decode(stored.bytes);
      if (!rec)
        return error(errc::corrupt, "log",
                     fmt::format("the event at position {} is unreadable: {}", stored.position.value(),
                                 rec.error().message()));
      const stream_head head = state_.head_of(rec->stream);
      if (auto s = store_.take_error(); !s) return s.error();
      if (rec->sequence.value() != head.version.value() + 1 || rec->previous_hash != head.last_hash)
        return error(errc::corrupt, "log",
                     fmt::format("the event at position {} breaks the hash chain of stream {}",
                                 stored.position.value(), rec->stream));
      if (!before.count(rec->stream))
        before[rec->stream] = {case_copy(state_, rec->stream), party_copy(state_, rec->stream)};
      evolve(state_, *rec);
      note_last_event(*rec);
      records[rec->stream].push_back(std::move(*rec));
      positions[partition] = log_position(stored.position.value() + 1);
    }
    std::vector<state_write> rows{state_store::format_row()};
    for (const auto& [stream, was] : before) rows_of(stream, was.first, was.second, records[stream], rows);
    if (auto s = store_.take_error(); !s) return s.error();
    if (auto s = rows_->write(rows, positions); !s) return s.error();
    folded += events->size();
    state_.score_events.clear();
    state_.deadline_index.clear();
    trim_working_set();
    if (events->size() < k_catch_up_batch) return folded;
  }
}

result<std::uint64_t> engine::rebuild_state() {
  lock_type lock(mutex_);
  changed_.wait(lock, [&] { return idle(); });
  if (auto s = rows_->clear(); !s) return s.error();
  reset_working_set();
  due_floor_ = stored_floor_ = std::numeric_limits<timestamp_ms>::min();
  if (auto s = rows_->write({state_store::format_row()}, std::vector<log_position>(log_.partitions(), log_position(0))); !s)
    return s.error();
  std::uint64_t folded = 0;
  std::vector<log_position> positions(log_.partitions(), log_position(0));
  for (std::uint32_t p = 0; p < positions.size(); ++p) {
    auto n = catch_up_partition(p, positions);
    if (!n) {
      reset_working_set();
      return n.error();
    }
    folded += *n;
  }
  applied_ = positions;
  return folded;
}

result<trust_summary*> engine::summary_locked(const std::string& business) {
  if (auto it = summaries_.find(business); it != summaries_.end()) return &it->second;
  bool rebuilt = false;
  auto s = store_.summary_of(business, rules_.trust, rebuilt);
  if (!s) return s.error();
  return &summaries_.emplace(business, std::move(*s)).first->second;
}

void engine::rows_of(const std::string& stream, const std::optional<case_state>& case_before,
                     const std::optional<party_state>& party_before, const std::vector<event_record>& records,
                     std::vector<state_write>& out, std::set<std::string>* touched) {
  if (records.empty()) return;
  if (is_case_event(records.front().payload.type)) {
    const case_state* after = state_.find_case(stream);
    if (after == nullptr) return;
    state_store::rows_for_case(case_before, *after, out);
    // A deadline earlier than where the tick starts scanning moves its start back.
    bool lowered = false;
    for (const auto& d : after->deadlines)
      if (d.due < due_floor_) {
        due_floor_ = d.due;
        lowered = true;
      }
    if (lowered) {
      out.push_back(state_store::due_floor_row(due_floor_));
      stored_floor_ = due_floor_;
    }
    std::vector<score_event> scored;
    for (const auto& r : records)
      if (auto kind = score_kind_of(r.payload)) {
        // As evolve() weighs it: a case's second rating (written before the rule) counts nothing.
        if (*kind == score_kind::rating && case_before && case_before->rating != 0) continue;
        const int value = r.payload.type == fb::Event_CaseRated ? r.payload.AsCaseRated()->stars : 0;
        scored.push_back(score_event{r.time, stream, r.sequence.value(), *kind, value});
        state_store::rows_for_score(after->business_id, scored.back(), out);
      }
    if (!scored.empty() && rules_.trust.version > 0) {
      // The running summary the seal policy reads, folded event by event (loaded, or built
      // from the rows, before this command's events are added).
      auto summary = summary_locked(after->business_id);
      if (!summary) {
        store_.note_error(summary.error());
        return;
      }
      for (const auto& e : scored) (*summary)->add(rules_.trust, e);
      out.push_back(state_store::summary_row(after->business_id, **summary));
      if (touched) touched->insert(after->business_id);
    }
    return;
  }
  if (auto after = party_copy(state_, stream)) state_store::rows_for_party(party_before, *after, out);
}

void engine::trim_working_set() {
  const std::size_t held = state_.cases.size() + state_.consumers.size() + state_.businesses.size() +
                           state_.agencies.size() + state_.mediators.size() +
                           state_.credentials.size() + summaries_.size();
  if (held <= options_.cache_entries && state_.absent_cases.size() + state_.absent_parties.size() <= options_.cache_entries)
    return;
  // Everything a queued command needs stays; the rest is reloaded from its rows when asked for.
  const auto keep = [&](const std::string& stream) { return pinned_.count(stream) != 0; };
  const auto drop_unpinned = [&](auto& m) { std::erase_if(m, [&](const auto& kv) { return !keep(kv.first); }); };
  drop_unpinned(state_.cases);
  drop_unpinned(state_.consumers);
  drop_unpinned(state_.businesses);
  drop_unpinned(state_.agencies);
  drop_unpinned(state_.mediators);
  drop_unpinned(state_.credentials);
  std::erase_if(state_.consumer_by_national_code, [&](const auto& kv) { return !keep(kv.second); });
  std::erase_if(state_.business_by_domain, [&](const auto& kv) { return !keep(kv.second); });
  std::erase_if(state_.open_case_by_order, [&](const auto& kv) { return !keep(kv.second); });
  state_.absent_cases.clear();
  state_.absent_parties.clear();
  std::erase_if(summaries_, [&](const auto& kv) { return !keep("summary:" + kv.first); });
}

status engine::evaluate_policy_locked(timestamp_ms now, std::vector<slot_ptr>& slots, tick_report& report) {
  const actor scheduler{fb::Role_system, "scheduler"};
  // Businesses whose score changed, then the next few of the rolling sweep.
  auto changed = store_.businesses_to_evaluate(256);
  if (!changed) return changed.error();
  std::vector<std::string> candidates = *changed;
  auto sweep = store_.businesses_after(sweep_cursor_, options_.policy_sweep_per_tick);
  if (!sweep) return sweep.error();
  sweep_cursor_ = sweep->size() < options_.policy_sweep_per_tick ? std::string() : sweep->back();
  for (auto& b : *sweep)
    if (std::find(candidates.begin(), candidates.end(), b) == candidates.end()) candidates.push_back(std::move(b));
  std::vector<state_write> evaluated;
  for (const auto& id : candidates) {
    const business_state* b = state_.find_business(id);
    if (auto s = store_.take_error(); !s) return s;
    if (b == nullptr) continue;
    ++report.businesses_evaluated;
    std::optional<policy_action> action;
    auto summary = summary_locked(id);
    if (!summary) return summary.error();
    if ((*summary)->covers(now)) {
      // Constant time: the score and the window's unanswered complaints from the summary.
      action = evaluate_seal_policy(rules_.trust, (*summary)->score(rules_.trust, now),
                                    rules_.trust.unanswered_limit > 0
                                        ? (*summary)->unanswered_within(now, rules_.trust.unanswered_window_days)
                                        : 0,
                                    b->restricted, b->restriction_rule);
    } else {
      // The clock stands before the business's latest event: the whole history, as of now.
      auto events = store_.score_events_of(id);
      if (!events) return events.error();
      action = evaluate_seal_policy(rules_.trust, *events, b->restricted, b->restriction_rule, now);
    }
    if (std::find(changed->begin(), changed->end(), id) != changed->end())
      evaluated.push_back(state_store::policy_evaluated(id));
    if (!action) continue;
    const std::string command_id = fmt::format("policy:{}:{}", id, b->head.version.value());
    auto earlier = log_.find_command(command_id);
    if (!earlier) return earlier.error();
    if (*earlier) continue;  // written by another scheduler since this one caught up
    const std::string reason = fmt::format("{} (trust rules v{})", action->reason, rules_.trust.version);
    command cmd = action->restrict ? command(restrict_seal{id, reason, action->rule})
                                   : command(reinstate_seal{id, reason, action->rule});
    auto s = submit_locked(scheduler, command_id, cmd, now);
    if (!s) return s.error();
    if (!(*s)->records.empty()) slots.push_back(std::move(*s));
  }
  // The marks of businesses just evaluated go with the rows, when the rows are in step (a
  // mark left behind only means one more evaluation).
  if (!evaluated.empty() && slots.empty() && idle()) {
    auto positions = rows_->positions();
    if (positions && *positions == applied_)
      if (auto s = rows_->write(evaluated, applied_); !s) return s;
  }
  return ok;
}

result<std::size_t> engine::deadlines_due(std::size_t max) {
  lock_type lock(mutex_);
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  auto due = store_.due_cases(due_floor_, clock_.now(), max);
  if (!due) return due.error();
  return due->size();
}

result<tick_report> engine::tick() {
  lock_type lock(mutex_);
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  const timestamp_ms now = clock_.now();
  const actor scheduler{fb::Role_system, "scheduler"};
  tick_report report;
  auto due = store_.due_cases(due_floor_, now, options_.due_per_tick);
  if (!due) return due.error();
  report.due_rows_read = due->size();
  // Next time the scan starts at the first row left (too many for one tick), or after now.
  due_floor_ = due->size() == options_.due_per_tick ? due->back().first : now + 1;
  // The deadline commands, then the seal actions (from deadline_count on).
  std::vector<slot_ptr> slots;
  std::size_t deadline_count = 0;
  // What was queued before a failure is written (or fails) like any queued command before the
  // error is returned: nothing may stay queued with nobody waiting for it.
  const auto abandon = [&](error e) -> result<tick_report> {
    await_locked(lock, slots);
    return e;
  };
  const auto collect = [&]() -> result<tick_report> {
    for (std::size_t i = 0; i < slots.size(); ++i) {
      auto o = outcome_of(*slots[i]);
      if (!o) return o.error();
      (i < deadline_count ? report.applied : report.seal_actions).push_back(std::move(*o));
    }
    return report;
  };
  for (const auto& [due_at, case_id] : *due) {
    const case_state* c = state_.find_case(case_id);
    if (auto s = store_.take_error(); !s) return abandon(s.error());
    if (c == nullptr || !due_now(*c, now)) continue;
    ++report.cases_due;
    const std::string id = deadline_command_id(*c);
    auto earlier = log_.find_command(id);
    if (!earlier) return abandon(earlier.error());
    if (*earlier) continue;  // written by another scheduler since this one caught up
    auto at = not_before_last_event(case_id, now);
    if (!at) return abandon(at.error());
    auto s = submit_locked(scheduler, id, apply_deadlines{case_id}, *at);
    if (!s) return abandon(s.error());
    if (!(*s)->records.empty()) slots.push_back(std::move(*s));
  }
  deadline_count = slots.size();
  if (rules_.trust.version > 0) {
    // The deadlines' events first, so the policy weighs them (the third unanswered complaint
    // restricts the seal in the tick that wrote it).
    await_locked(lock, slots);
    if (std::any_of(slots.begin(), slots.end(), [](const slot_ptr& s) { return !*s->outcome; })) return collect();
    if (auto s = evaluate_policy_locked(now, slots, report); !s) return abandon(s.error());
  }
  await_locked(lock, slots);
  // Keep where the next scan starts, when the rows are in step (kept or not, the floor is only
  // ever a lower bound, so a new process at worst scans further than it needs).
  if (due_floor_ != stored_floor_ && idle()) {
    auto positions = rows_->positions();
    if (positions && *positions == applied_) {
      if (auto s = rows_->write({state_store::due_floor_row(due_floor_)}, applied_); !s) return s.error();
      stored_floor_ = due_floor_;
    }
  }
  return collect();
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
  if (options_.keys)
    for (auto& r : out)
      if (auto s = open_sealed(r, *options_.keys); !s) return s.error();
  return out;
}

result<std::optional<case_state>> engine::find_case(const std::string& id) {
  lock_type lock(mutex_);
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  auto c = case_copy(state_, id);
  if (auto s = store_.take_error(); !s) return s.error();
  return c;
}

result<std::optional<business_state>> engine::find_business(const std::string& id) {
  lock_type lock(mutex_);
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  std::optional<business_state> out;
  if (const business_state* b = state_.find_business(id)) out = *b;
  if (auto s = store_.take_error(); !s) return s.error();
  return out;
}

result<std::vector<score_event>> engine::score_events_of(const std::string& business) {
  lock_type lock(mutex_);
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  return store_.score_events_of(business);
}

result<std::vector<std::string>> engine::businesses() {
  lock_type lock(mutex_);
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  std::vector<std::string> out;
  std::string after;
  for (;;) {
    auto some = store_.businesses_after(after, 4096);
    if (!some) return some.error();
    out.insert(out.end(), some->begin(), some->end());
    if (some->size() < 4096) return out;
    after = some->back();
  }
}

result<world> engine::snapshot() {
  lock_type lock(mutex_);
  changed_.wait(lock, [&] { return idle(); });
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  auto w = store_.load_all();
  if (w) w->digest_key = state_.digest_key;
  return w;
}

result<std::string> engine::state_digest() {
  lock_type lock(mutex_);
  changed_.wait(lock, [&] { return idle(); });
  if (auto s = ready_locked(lock, {}); !s) return s.error();
  return store_.digest();
}

namespace {

// The same log with its state rows hidden, so an engine on it folds rows of its own.
class stateless_view final : public event_log {
 public:
  explicit stateless_view(event_log& inner) : inner_(inner) {}
  result<append_outcome> append(append_request) override {
    return error(errc::unavailable, "log", "a view for folding only");
  }
  result<std::optional<append_outcome>> find_command(std::string_view id) override { return inner_.find_command(id); }
  result<stream_version> version(std::string_view s) override { return inner_.version(s); }
  result<std::vector<stored_event>> read_stream(std::string_view s, stream_version from) override {
    return inner_.read_stream(s, from);
  }
  result<std::vector<stored_event>> read_all(log_position from, std::size_t max) override {
    return inner_.read_all(from, max);
  }
  result<log_position> end() override { return inner_.end(); }
  std::uint32_t partitions() const override { return inner_.partitions(); }
  result<std::vector<stored_event>> read_partition(std::uint32_t partition, log_position from,
                                                   std::size_t max) override {
    return inner_.read_partition(partition, from, max);
  }
  result<log_position> partition_end(std::uint32_t partition) override { return inner_.partition_end(partition); }

 private:
  event_log& inner_;
};

}  // namespace

result<std::string> fold_state_digest(event_log& log, key_store* keys) {
  stateless_view view(log);
  const fixed_clock unused(0);
  engine_options options;
  options.keys = keys;  // its digest key, for events written before sealing (they carry no digest)
  auto e = engine::open(view, unused, {}, options);
  if (!e) return e.error();
  return (*e)->state_digest();
}

}  // namespace sazesh
