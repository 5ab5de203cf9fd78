#include "projections/projector.h"

#include <fmt/format.h>
#include <unistd.h>

#include <thread>

#include "engine/record/codec.h"
#include "projections/apply.h"
#include "projections/rows.h"

namespace sazesh::projections {
namespace {

// A case event must continue its case's hash chain as the projections know it.
status check_chain(const change_set& kv, const event_record& e) {
  auto raw = kv.get(keys::case_row(e.stream));
  if (!raw) return raw.error();
  if (e.payload.type == fb::Event_CaseFiled) {
    if (e.sequence.value() != 1 || !e.previous_hash.empty() || *raw)
      return error(errc::corrupt, "log", fmt::format("a filing must be the first event of case {}", e.stream));
    return ok;
  }
  if (!*raw) return ok;  // party streams are not chained in the projections
  auto row = decode_case_row(**raw);
  if (!row) return row.error();
  if (row->state.head.version.value() + 1 != e.sequence.value() || row->state.head.last_hash != e.previous_hash)
    return error(errc::corrupt, "log", fmt::format("breaks the hash chain of case {}", e.stream));
  return ok;
}

}  // namespace

result<std::uint64_t> projector::apply_batch(std::uint32_t partition, log_position from, bool& reached_end) {
  auto events = log_.read_partition(partition, from, batch_size_);
  if (!events) return events.error();
  reached_end = events->size() < batch_size_;
  change_set changes(store_);
  std::uint64_t applied = 0;
  log_position next = from;
  // The last event this batch applied or left out (stored with the position), else the one
  // stored before.
  auto last_before = last_applied(store_, partition);
  if (!last_before) return last_before.error();
  std::optional<applied_event> last = *last_before;
  const auto fail = [&](log_position at, const error& why) -> result<std::uint64_t> {
    const auto where = fmt::format("the event at position {}{}", at.value(),
                                   partition == 0 ? std::string() : fmt::format(" of partition {}", partition));
    // A read that failed is not the event's fault: nothing of this batch is committed, and the
    // error is the storage's.
    if (why.code() == errc::io || why.code() == errc::unavailable)
      return error(why.code(), why.field(), fmt::format("{} cannot be projected: {}", where, why.rule()));
    // Keep what came before the bad record; apply nothing of it or after it.
    store_position(changes, at, partition, last);
    if (auto s = store_.commit(changes); !s) return s.error();
    if (reports_progress_) log_.report_progress(partition, at);
    return error(errc::corrupt, "log", fmt::format("{} cannot be projected: {}", where, why.message()));
  };
  if (!damaged_loaded_) {
    const std::string from_key = keys::damaged_prefix();
    auto scanned = store_.scan(from_key, keys::prefix_end(from_key), [&](std::string_view k, std::string_view) {
      damaged_.insert(std::string(k.substr(from_key.size())));
      return true;
    });
    if (!scanned) return scanned.error();
    damaged_loaded_ = true;
  }
  std::uint64_t left_out = 0;
  for (const auto& stored : *events) {
    auto rec = decode(stored.bytes);
    if (!rec) return fail(stored.position, rec.error());
    // A case that broke its chain stays frozen at its last good event, as the writer's log
    // keeps it: its later events are left out, and every other case goes on.
    if (damaged_.count(rec->stream)) {
      next = log_position(stored.position.value() + 1);
      last = applied_event{stored.position, rec->hash};
      ++left_out;
      continue;
    }
    // One event's changes go in whole or not at all: they are staged on their own and taken
    // into the batch only once the event applied completely.
    change_set event_changes(changes);
    if (auto s = check_chain(event_changes, *rec); !s) {
      if (s.error().code() != errc::corrupt) return fail(stored.position, s.error());
      // Two writers forked the case (or a record came from outside): contained, not fatal.
      changes.put(keys::damaged(rec->stream),
                  fmt::format("position {} of partition {}: event {} {}", stored.position.value(), partition,
                              rec->sequence.value(), s.error().rule()));
      damaged_.insert(rec->stream);
      next = log_position(stored.position.value() + 1);
      last = applied_event{stored.position, rec->hash};
      ++left_out;
      continue;
    }
    if (auto s = apply_event(event_changes, *rec, stored.bytes); !s) return fail(stored.position, s.error());
    if (before_absorb_) {
      if (auto s = before_absorb_(*rec); !s) return fail(stored.position, s.error());
    }
    changes.absorb(std::move(event_changes));
    next = log_position(stored.position.value() + 1);
    last = applied_event{stored.position, rec->hash};
    ++applied;
  }
  if (applied == 0 && left_out == 0) {
    // Nothing new: the position stands, and the log learned where the partition ends (a Kafka
    // follower reports a reader there past the transaction markers).
    if (reports_progress_) log_.report_progress(partition, from);
    return std::uint64_t{0};
  }
  store_position(changes, next, partition, last);
  if (auto s = store_.commit(changes); !s) return s.error();
  if (reports_progress_) log_.report_progress(partition, next);
  return applied;
}

status projector::check_log_holds_applied(std::uint32_t partition) {
  auto last = last_applied(store_, partition);
  if (!last) return last.error();
  if (!*last) return ok;
  const auto where = fmt::format("position {}{}", (*last)->position.value(),
                                 partition == 0 ? std::string() : fmt::format(" of partition {}", partition));
  auto at = log_.read_partition(partition, (*last)->position, 1);
  if (!at) return at.error();
  std::optional<std::string> found;
  if (!at->empty() && at->front().position == (*last)->position) {
    auto rec = decode(at->front().bytes);
    found = rec ? rec->hash : std::string();
  }
  if (found != (*last)->hash)
    return error(errc::corrupt, "projections",
                 fmt::format("the projections applied the event at {}, which the log {}: the log lost events "
                             "(after an OS crash, or a cluster that lost data) or is another log; `sazesh rebuild` "
                             "projects it again",
                             where, found ? "now holds another event at" : "no longer holds"));
  return ok;
}

result<std::uint64_t> projector::catch_up(const progress_fn& on_progress) {
  // The end is known up front only for a single-partition log; it bounds the run, so a
  // projector racing a writer still returns.
  std::optional<log_position> end;
  if (log_.partitions() == 1) {
    auto e = log_.end();
    if (!e) return e.error();
    end = *e;
  }
  std::uint64_t total = 0;
  for (std::uint32_t p = 0; p < log_.partitions(); ++p) {
    // Once per projector: the log must still hold the last event the projections applied.
    if (checked_.insert(p).second) {
      if (auto s = check_log_holds_applied(p); !s) {
        checked_.erase(p);
        return s.error();
      }
    }
    auto stored = stored_position(store_, p);
    if (!stored) return stored.error();
    // Also when there is nothing to apply: a new process, or a group reset, then shows where
    // the projections stand (the log sends only what changed).
    if (reports_progress_) log_.report_progress(p, *stored);
    for (;;) {
      auto from = stored_position(store_, p);
      if (!from) return from.error();
      if (end && *from >= *end) break;
      bool reached_end = false;
      auto n = apply_batch(p, *from, reached_end);
      if (!n) return n.error();
      total += *n;
      if (on_progress) {
        auto now_at = stored_position(store_, p);
        if (!now_at) return now_at.error();
        on_progress({*now_at, end.value_or(*now_at), total, p});
      }
      if (*n == 0 || reached_end) break;
    }
  }
  return total;
}

status projector::follow(const std::function<bool()>& stop, std::chrono::milliseconds interval,
                         const progress_fn& on_progress) {
  while (!stop()) {
    if (auto r = log_.refresh(); !r) return r.error();
    auto n = catch_up(on_progress);
    if (!n) return n.error();
    if (*n == 0) std::this_thread::sleep_for(interval);
  }
  return ok;
}

void recover_interrupted_swap(const std::filesystem::path& folder) { remove_stale_generations(folder); }

result<rebuild_report> rebuild(event_log& log, const std::filesystem::path& folder,
                               const progress_fn& on_progress) {
  const auto started = std::chrono::steady_clock::now();
  std::error_code ec;
  // The live generation's lock, held until the flip: a running projector makes the rebuild
  // refuse, and no projector can start writing into the generation being retired.
  auto live = projection_store::open(folder, store_mode::read_write);
  if (!live) return live.error();
  remove_stale_generations(folder);
  const std::string building = "building-" + std::to_string(::getpid());
  std::filesystem::remove_all(folder / building, ec);
  rebuild_report report;
  std::vector<log_position> positions;  // the rebuilt projections', reported once swapped in
  {
    auto fresh = projection_store::open(folder / building, store_mode::bulk_load);
    if (!fresh) return fresh.error();
    projector p(log, **fresh, 8192);
    p.set_reports_progress(false);
    auto n = p.catch_up(on_progress);
    if (!n) {
      fresh->reset();
      std::filesystem::remove_all(folder / building, ec);
      return n.error();
    }
    report.events = *n;
    if (auto s = (*fresh)->flush(); !s) return s.error();
    if (auto s = (*fresh)->compact(); !s) return s.error();
    auto d = (*fresh)->digest();
    if (!d) return d.error();
    report.digest = *d;
    for (std::uint32_t part = 0; part < log.partitions(); ++part) {
      auto at = stored_position(**fresh, part);
      if (!at) return at.error();
      positions.push_back(*at);
    }
  }
  auto generation = next_generation(folder);
  if (!generation) return generation.error();
  if (auto s = activate_generation(folder, building, *generation, [&] { live->reset(); }); !s) return s.error();
  for (std::uint32_t part = 0; part < positions.size(); ++part) log.report_progress(part, positions[part]);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace sazesh::projections
