// projector: keeps the projections up to date with the log.
//
// It reads the log from the position stored in the projections, verifies and decodes each
// record, applies it (apply.h), and commits each batch of changes together with the new
// position in one write. Killed at any moment, it restarts from the last committed position:
// no event is applied twice or missed. A record that fails verification stops it with an
// error naming the position; everything before it is committed, nothing after it is applied.
// With each position it stores the last event applied (its position and hash), and at its
// first catch-up checks that the log still holds that event there: projections ahead of their
// log (a log that lost its last appends in an OS crash, a Kafka cluster that lost data, another
// log) are an error, never a silent gap.
// A case event that breaks its case's hash chain (two writers forked the case, or a record
// from outside) is contained instead: the case is frozen at its last good event
// (keys::damaged says where and why), its later events are left out, and every other case
// goes on, as the Kafka writer keeps the stream.
//
// A catch-up runs on three threads: the next batch is read and its records verified while
// this one is applied (row_batch: each row decoded once, written once per batch), and the one
// before is being written; batches are written in order, each with its position, so a crash
// leaves the projections at the end of some batch.
//
//   projector p(log, *store);
//   auto applied = p.catch_up();           // up to the end of the log
//   p.follow([&] { return stopping; });    // then new events as they come
//
// Thread safety: one projector per store; the log may be shared (it is read from a second
// thread during a catch-up).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>

#include "engine/log/event_log.h"
#include "engine/record/record.h"
#include "projections/apply.h"
#include "projections/store.h"

namespace sazesh::projections {

struct progress {
  log_position position;  // next event to apply
  log_position end;       // the log's end when the run started
  std::uint64_t applied = 0;
  std::uint32_t partition = 0;  // the partition `position` is in
};
using progress_fn = std::function<void(const progress&)>;

class projector {
 public:
  projector(event_log& log, projection_store& store, std::size_t batch_size = 4096)
      : log_(log), store_(store), batch_size_(batch_size) {}

  // Applies every event from the stored position to the log's end; returns how many.
  result<std::uint64_t> catch_up(const progress_fn& on_progress = {});

  // Catches up, then keeps applying new events until `stop()` is true, checking every
  // `interval` when idle.
  status follow(const std::function<bool()>& stop, std::chrono::milliseconds interval,
                const progress_fn& on_progress = {});

  // Whether each position committed is also reported to the log (event_log::report_progress,
  // which Kafka shows as a consumer group's lag). On by default; a rebuild turns it off, its
  // positions being nobody's until the rebuilt projections are swapped in.
  void set_reports_progress(bool on) { reports_progress_ = on; }

  // For a rebuild into an empty store: the rankings of businesses (keys::top) are left to
  // write_rankings() once every event is applied, instead of being moved at every batch.
  void set_bulk_load(bool on) { bulk_load_ = on; }

 private:
  // A batch read from the log, each record verified and decoded.
  struct fetched {
    result<std::vector<stored_event>> events;
    std::vector<result<event_record>> records;
  };
  fetched fetch(std::uint32_t partition, log_position from);
  // Applies the partition's events from the stored position to `end` (or the partition's end).
  status project_partition(std::uint32_t partition, std::optional<log_position> end, const progress_fn& on_progress,
                           std::uint64_t& total);
  // What applying the first `upto` events of a batch came to.
  struct run_outcome {
    std::uint64_t applied = 0, left_out = 0;
    log_position next;                          // the position after the last event taken
    std::optional<applied_event> last;          // that event
    std::optional<std::pair<std::size_t, error>> failed;  // the event (index) that failed, and why
  };
  // Applies the first `upto` events of a batch of `partition` into `changes`, from `from`.
  run_outcome run(std::uint32_t partition, const fetched& batch, std::size_t upto, change_set& changes,
                  run_outcome from);
  // errc::corrupt unless the log holds, where the projections say they applied their last event
  // of the partition, that same event.
  status check_log_holds_applied(std::uint32_t partition);

  event_log& log_;
  projection_store& store_;
  std::size_t batch_size_;
  bool reports_progress_ = true;
  bool bulk_load_ = false;
  // Cases whose chain broke (keys::damaged), read from the store at the first batch.
  std::set<std::string> damaged_;
  bool damaged_loaded_ = false;
  std::set<std::uint32_t> checked_;  // partitions whose last applied event was found in the log
};

struct rebuild_report {
  std::uint64_t events = 0;
  std::string digest;  // of the new projections (empty when none was asked for)
  double seconds = 0;
};

// Drops and rebuilds every projection from the log: builds the next generation beside the live
// one (store.h) and makes it the active one only when complete, with one atomic flip under the
// live generation's lock, so readers see the old projections until then, a crash mid-way leaves
// them untouched, and no projector writes into the retired generation. Fails with
// errc::unavailable if a projector holds the live projections.
// `digest`: also compute the new projections' digest (a read of every key and value).
result<rebuild_report> rebuild(event_log& log, const std::filesystem::path& folder,
                               const progress_fn& on_progress = {}, bool digest = true);

// Removes what a crash left behind: generations no longer active and the folders of rebuilds
// whose process is gone (called by every writer of the projections).
void recover_interrupted_swap(const std::filesystem::path& folder);

}  // namespace sazesh::projections
