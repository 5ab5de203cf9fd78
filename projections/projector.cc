#include "projections/projector.h"

#include <fmt/format.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "engine/record/codec.h"
#include "projections/apply.h"
#include "projections/queries.h"
#include "projections/rows.h"

namespace sazesh::projections {
namespace {

// A case event must continue its case's hash chain as the projections know it.
status check_chain(row_batch& rows, const event_record& e) {
  auto row = rows.find_case(e.stream);
  if (!row) return row.error();
  if (e.payload.type == fb::Event_CaseFiled) {
    if (e.sequence.value() != 1 || !e.previous_hash.empty() || *row)
      return error(errc::corrupt, "log", fmt::format("a filing must be the first event of case {}", e.stream));
    return ok;
  }
  if (!*row) return ok;  // party streams are not chained in the projections
  if ((*row)->state.head.version.value() + 1 != e.sequence.value() || (*row)->state.head.last_hash != e.previous_hash)
    return error(errc::corrupt, "log", fmt::format("breaks the hash chain of case {}", e.stream));
  return ok;
}

}  // namespace

projector::run_outcome projector::run(std::uint32_t partition, const fetched& batch, std::size_t upto, change_set& changes,
                                      run_outcome out) {
  row_batch rows(changes, !bulk_load_);
  for (std::size_t i = 0; i < upto; ++i) {
    const auto& stored = (*batch.events)[i];
    const auto& rec = batch.records[i];
    if (!rec) {
      out.failed.emplace(i, rec.error());
      return out;
    }
    // A case that broke its chain stays frozen at its last good event, as the writer's log
    // keeps it: its later events are left out, and every other case goes on.
    bool left_out = damaged_.count(rec->stream) > 0;
    if (!left_out) {
      if (auto s = check_chain(rows, *rec); !s) {
        if (s.error().code() != errc::corrupt) {
          out.failed.emplace(i, s.error());
          return out;
        }
        // Two writers forked the case (or a record came from outside): contained, not fatal.
        changes.put(keys::damaged(rec->stream),
                    fmt::format("position {} of partition {}: event {} {}", stored.position.value(), partition,
                                rec->sequence.value(), s.error().rule()));
        damaged_.insert(rec->stream);
        left_out = true;
      } else if (auto a = rows.apply(*rec); !a) {
        out.failed.emplace(i, a.error());
        return out;
      }
    }
    ++(left_out ? out.left_out : out.applied);
    out.next = log_position(stored.position.value() + 1);
    out.last = applied_event{stored.position, rec->hash};
  }
  if (auto s = rows.flush(); !s) out.failed.emplace(upto, s.error());
  return out;
}

projector::fetched projector::fetch(std::uint32_t partition, log_position from) {
  fetched f{log_.read_partition(partition, from, batch_size_), {}};
  if (f.events) {
    f.records.reserve(f.events->size());
    for (const auto& stored : *f.events) f.records.push_back(decode(stored.bytes));
  }
  return f;
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

status projector::project_partition(std::uint32_t partition, std::optional<log_position> end,
                                    const progress_fn& on_progress, std::uint64_t& total) {
  auto stored = stored_position(store_, partition);
  if (!stored) return stored.error();
  // Also when there is nothing to apply: a new process, or a group reset, then shows where
  // the projections stand (the log sends only what changed).
  if (reports_progress_) log_.report_progress(partition, *stored);
  // The last event applied or left out (stored with the position).
  auto last_before = last_applied(store_, partition);
  if (!last_before) return last_before.error();
  if (!damaged_loaded_) {
    const std::string from_key = keys::damaged_prefix();
    auto scanned = store_.scan(from_key, keys::prefix_end(from_key), [&](std::string_view k, std::string_view) {
      damaged_.insert(std::string(k.substr(from_key.size())));
      return true;
    });
    if (!scanned) return scanned.error();
    damaged_loaded_ = true;
  }
  // Where the projections stand, committed or being committed.
  run_outcome at{0, 0, *stored, *last_before, std::nullopt};

  // Three stages on their own threads: the next batch is read from the log and each record
  // verified and decoded while this one is applied, and the batch before is being written to
  // the projections. A batch reads through the changes of the one being written (layered
  // over them), and is written only once that one is: in order, each with its position.
  std::future<fetched> ahead;
  log_position ahead_from;
  std::unique_ptr<change_set> pending;  // the last batch's changes, being written
  std::future<status> writing;
  log_position written_to = *stored;
  const auto written = [&] {  // a batch is written: the log and the caller learn where it ends
    if (reports_progress_) log_.report_progress(partition, written_to);
    if (on_progress) on_progress({written_to, end.value_or(written_to), total, partition});
  };
  const auto settle = [&]() -> status {  // waits for the batch being written
    if (!writing.valid()) return ok;
    if (auto s = writing.get(); !s) return s;
    written();
    return ok;
  };
  for (;;) {
    const log_position from = at.next;
    if (end && from >= *end) break;
    fetched batch = ahead.valid() && ahead_from == from ? ahead.get() : fetch(partition, from);
    if (!batch.events) {
      if (auto s = settle(); !s) return s;
      return batch.events.error();
    }
    const bool reached_end = batch.events->size() < batch_size_;
    if (!reached_end) {
      ahead_from = log_position(batch.events->back().position.value() + 1);
      if (!end || ahead_from < *end)
        ahead = std::async(std::launch::async, [this, partition, next = ahead_from] { return fetch(partition, next); });
    }
    const auto& events = *batch.events;
    const std::set<std::string> damaged_before = damaged_;
    auto changes = pending ? std::make_unique<change_set>(*pending) : std::make_unique<change_set>(store_);
    run_outcome start = at;
    start.applied = start.left_out = 0;
    run_outcome out = run(partition, batch, events.size(), *changes, start);
    // The batch before must be written before this one is.
    if (auto s = settle(); !s) return s;
    if (out.failed) {
      changes.reset();
      pending.reset();
      const auto& [index, why] = *out.failed;
      const log_position bad = index < events.size() ? events[index].position : from;
      const auto where = fmt::format("the event at position {}{}", bad.value(),
                                     partition == 0 ? std::string() : fmt::format(" of partition {}", partition));
      damaged_ = damaged_before;
      // A read that failed is not the event's fault: nothing of this batch is written, and the
      // error is the storage's.
      if (why.code() != errc::corrupt || index >= events.size())
        return error(why.code(), why.field(), fmt::format("{} cannot be projected: {}", where, why.rule()));
      // Keep what came before the bad record (the batch applied again up to it: the event that
      // failed may have changed the rows held in part); apply nothing of it or after it.
      change_set kept_changes(store_);
      run_outcome kept = run(partition, batch, index, kept_changes, start);
      if (kept.failed) return kept.failed->second;
      store_position(kept_changes, bad, partition, kept.last);
      if (auto s = store_.commit(kept_changes); !s) return s;
      total += kept.applied;
      if (reports_progress_) log_.report_progress(partition, bad);
      return error(errc::corrupt, "log", fmt::format("{} cannot be projected: {}", where, why.message()));
    }
    if (out.applied == 0 && out.left_out == 0) {
      // Nothing new: the position stands, and the log learned where the partition ends (a Kafka
      // follower reports a reader there past the transaction markers).
      if (reports_progress_) log_.report_progress(partition, from);
      break;
    }
    changes->rebase(store_);  // the batch it was layered over is written
    pending = std::move(changes);
    store_position(*pending, out.next, partition, out.last);
    total += out.applied;
    at = out;
    written_to = out.next;
    if (reached_end) {
      // The last batch (often the only one, of a few events): written here, no thread started.
      if (auto st = store_.commit(*pending); !st) return st;
      written();
      return ok;
    }
    writing = std::async(std::launch::async, [this, c = pending.get()] { return store_.commit(*c); });
  }
  return settle();
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
    if (auto s = project_partition(p, end, on_progress, total); !s) return s.error();
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

namespace {

// The rankings of every business, for projections built without them (a bulk load).
status write_rankings(projection_store& store) {
  change_set changes(store);
  std::size_t held = 0;
  auto s = for_each_scorecard(store, [&](scorecard&& sc) -> status {
    put_rankings(changes, sc);
    if (++held < 4096) return ok;
    held = 0;
    auto written = store.commit(changes);
    changes.clear();
    return written;
  });
  if (!s) return s;
  return store.commit(changes);
}

}  // namespace

void recover_interrupted_swap(const std::filesystem::path& folder) { remove_stale_generations(folder); }

result<rebuild_report> rebuild(event_log& log, const std::filesystem::path& folder,
                               const progress_fn& on_progress, bool digest) {
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
    projector p(log, **fresh, 16384);
    p.set_reports_progress(false);
    p.set_bulk_load(true);
    auto n = p.catch_up(on_progress);
    if (n) {
      if (auto s = write_rankings(**fresh); !s) n = s.error();
    }
    if (!n) {
      fresh->reset();
      std::filesystem::remove_all(folder / building, ec);
      return n.error();
    }
    report.events = *n;
    if (auto s = (*fresh)->flush(); !s) return s.error();
    if (auto s = (*fresh)->compact(); !s) return s.error();
    if (digest) {
      auto d = (*fresh)->digest();
      if (!d) return d.error();
      report.digest = *d;
    }
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
