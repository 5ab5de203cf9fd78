#include "engine/log_copy.h"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/record/codec.h"

namespace sazesh {
namespace {

constexpr std::size_t k_read_batch = 4096;
// Commands waiting per worker before the reader waits for it: bounds memory on huge logs.
constexpr std::size_t k_max_queued = 2048;
// Commands appended as one unit.
constexpr std::size_t k_max_unit = 1024;

// One partition of the source, read in batches, with its next event decoded (for its time and
// command id; a decode verifies the buffer and hashes it, so it is done once per event).
class partition_cursor {
 public:
  partition_cursor(event_log& log, std::uint32_t partition) : log_(log), partition_(partition) {}

  // The next event and its decoded record, or nothing at the end of the partition.
  result<const event_record*> peek() {
    if (head_) return &*head_;
    if (at_ == batch_.size()) {
      if (exhausted_) return static_cast<const event_record*>(nullptr);
      auto next = log_.read_partition(partition_, from_, k_read_batch);
      if (!next) return next.error();
      batch_ = std::move(*next);
      at_ = 0;
      if (batch_.size() < k_read_batch) exhausted_ = true;
      if (batch_.empty()) return static_cast<const event_record*>(nullptr);
      from_ = log_position{batch_.back().position.value() + 1};
    }
    const stored_event& e = batch_[at_];
    auto rec = decode(e.bytes);
    if (!rec)
      return error(errc::corrupt, "log",
                   fmt::format("the event at position {} of partition {} is unreadable: {}", e.position.value(),
                               e.partition, rec.error().message()));
    head_ = std::move(*rec);
    return &*head_;
  }
  // The event peek() showed.
  stored_event take() {
    head_.reset();
    return std::move(batch_[at_++]);
  }

 private:
  event_log& log_;
  std::uint32_t partition_;
  log_position from_{0};
  std::vector<stored_event> batch_;
  std::size_t at_ = 0;
  bool exhausted_ = false;
  std::optional<event_record> head_;
};

// A thread appending the commands of its streams, in the order it is given them.
class copy_worker {
 public:
  explicit copy_worker(event_log& target) : target_(target), thread_([this] { run(); }) {}
  ~copy_worker() { finish(); }
  copy_worker(const copy_worker&) = delete;
  copy_worker& operator=(const copy_worker&) = delete;

  void push(append_request r) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return queue_.size() < k_max_queued || failed_; });
    queue_.push_back(std::move(r));
    ready_.notify_one();
  }

  // Waits for the queue to drain; the first error, if any.
  std::optional<error> finish() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
      ready_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    return failure_;
  }

  bool failed() {
    std::lock_guard lock(mutex_);
    return failed_;
  }
  std::uint64_t events() const { return events_; }

 private:
  // Appends what is queued as one unit (one synced batch, one Kafka transaction): a copy is
  // bounded by the target's per-unit cost, so the bigger the units the faster it goes.
  void run() {
    for (;;) {
      std::vector<append_request> unit;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !queue_.empty() || closing_; });
        if (queue_.empty()) return;
        while (!queue_.empty() && unit.size() < k_max_unit) {
          unit.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        space_.notify_one();
        if (failed_) continue;  // drain without appending
      }
      std::vector<std::string> command_ids;
      std::vector<std::size_t> counts;
      for (const auto& r : unit) {
        command_ids.push_back(r.command_id);
        counts.push_back(r.events.size());
      }
      auto appended = target_.append_group(std::move(unit));
      std::lock_guard lock(mutex_);
      if (!appended) {
        fail(appended.error());
        continue;
      }
      for (std::size_t i = 0; i < appended->size() && !failed_; ++i) {
        const auto& one = (*appended)[i];
        if (!one) {
          fail(one.error());
        } else if (one->repeated) {
          fail(error(errc::corrupt, "command_id",
                     fmt::format("command {} was already in the target; the copy stops", command_ids[i])));
        } else {
          events_ += counts[i];
        }
      }
    }
  }

  void fail(error e) {
    if (!failed_) failure_ = std::move(e);
    failed_ = true;
    space_.notify_all();
  }

  event_log& target_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<append_request> queue_;
  bool closing_ = false;
  bool failed_ = false;
  std::optional<error> failure_;
  std::atomic<std::uint64_t> events_{0};
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace

status check_empty_target(event_log& target) {
  for (std::uint32_t p = 0; p < target.partitions(); ++p) {
    auto any = target.read_partition(p, log_position{0}, 1);
    if (!any) return any.error();
    if (!any->empty())
      return error(errc::already_exists, "target", "the target log already has events; copy only into an empty log");
  }
  return ok;
}


result<copy_report> copy_log(event_log& source, event_log& target, unsigned workers,
                             const copy_progress_fn& on_progress, const copy_transform_fn& transform) {
  if (auto s = check_empty_target(target); !s) return s.error();
  if (workers == 0) workers = 1;
  std::vector<partition_cursor> cursors;
  for (std::uint32_t p = 0; p < source.partitions(); ++p) cursors.emplace_back(source, p);
  std::vector<std::unique_ptr<copy_worker>> pool;
  for (unsigned i = 0; i < workers; ++i) pool.push_back(std::make_unique<copy_worker>(target));

  copy_report report;
  std::unordered_map<std::string, std::uint64_t> versions;  // in the target, as sent
  const auto stop = [&](error e) -> result<copy_report> {
    for (auto& w : pool) (void)w->finish();
    return e;
  };

  for (;;) {
    // The partition whose next event is the earliest (ties: the lower partition).
    std::optional<std::size_t> best;
    timestamp_ms best_time = 0;
    for (std::size_t p = 0; p < cursors.size(); ++p) {
      auto head = cursors[p].peek();
      if (!head) return stop(head.error());
      if (*head == nullptr) continue;
      if (!best || (*head)->time < best_time) {
        best = p;
        best_time = (*head)->time;
      }
    }
    if (!best) break;

    // One command: this event and the partition's next ones of the same stream and command id.
    partition_cursor& from = cursors[*best];
    append_request r;
    r.command_id = (*from.peek())->command_id;
    stored_event first = from.take();
    r.stream = first.stream;
    std::uint64_t& version = versions[r.stream];
    if (first.sequence.value() != version + 1)
      return stop(error(errc::corrupt, "log",
                        fmt::format("stream {} jumps from {} to {} in the source", r.stream, version,
                                    first.sequence.value())));
    r.expected = stream_version{version};
    r.events.push_back(std::move(first.bytes));
    for (;;) {
      auto next = from.peek();
      if (!next) return stop(next.error());
      if (*next == nullptr || (*next)->stream != r.stream || (*next)->command_id != r.command_id) break;
      r.events.push_back(from.take().bytes);
    }
    version += r.events.size();
    if (transform)
      if (auto t = transform(r); !t) return stop(t.error());
    report.events += r.events.size();
    report.commands += 1;

    copy_worker& worker = *pool[std::hash<std::string>{}(r.stream) % pool.size()];
    if (worker.failed()) break;
    worker.push(std::move(r));
    if (on_progress && report.commands % 1024 == 0) on_progress(report);
  }

  std::optional<error> failure;
  for (auto& w : pool)
    if (auto e = w->finish(); e && !failure) failure = std::move(e);
  if (failure) return *failure;
  report.streams = versions.size();
  if (on_progress) on_progress(report);
  return report;
}

}  // namespace sazesh
