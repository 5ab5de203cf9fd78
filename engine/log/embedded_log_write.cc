// embedded_log's writer: the group commit of appends, and the engine's state rows (see "Writes:
// group commit" at the top of embedded_log.cc).
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/log/embedded_format.h"
#include "engine/log/embedded_log_detail.h"
#include "engine/log/event_log.h"

namespace sazesh {
namespace {

// A group's batch stops growing past this many bytes of payload (one request is always taken,
// however big), so one huge burst of appends does not become one huge WAL record.
constexpr std::size_t k_max_group_bytes = 4u << 20;

// Bound on cached stream versions; past it arbitrary entries are dropped. A dropped stream is
// reloaded with one reverse seek, so the bound only trades memory for seeks.
constexpr std::size_t k_version_cache_capacity = 1u << 17;

}  // namespace

namespace embedded_log_detail {

result<append_outcome> embedded_log::append(append_request request) {
  if (follower_) return error{errc::unavailable, "data_dir", "opened read-only as a follower"};
  if (auto checked = check_request(request); !checked) return checked.error();
  std::vector<pending> mine{pending{&request}};
  enqueue(mine);
  return std::move(mine.front().outcome);
}

result<std::vector<result<append_outcome>>> embedded_log::append_group(std::vector<append_request> requests) {
  if (follower_) return error{errc::unavailable, "data_dir", "opened read-only as a follower"};
  std::vector<result<append_outcome>> outcomes;
  if (requests.empty()) return outcomes;
  if (auto refused = refuse_invalid_unit(requests, check_request)) return std::move(*refused);
  std::vector<pending> mine;
  mine.reserve(requests.size());
  for (const auto& r : requests) mine.push_back(pending{&r});
  enqueue(mine);
  for (auto& p : mine) outcomes.push_back(std::move(p.outcome));
  return outcomes;
}

// ---- state rows ----

state_rows* embedded_log::state() { return follower_ ? nullptr : this; }

result<std::optional<std::string>> embedded_log::get(std::string_view key) {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions{}, state_key(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return from_status(s, "state");
  return std::optional<std::string>(std::move(value));
}

status embedded_log::scan(std::string_view from, std::string_view to,
                          const std::function<bool(std::string_view, std::string_view)>& each) {
  const std::string lower = state_key(from), upper = state_key(to);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    const std::string_view key = view(it->key()).substr(1);
    if (!each(key, view(it->value()))) return ok;
  }
  if (!it->status().ok()) return from_status(it->status(), "state");
  return ok;
}

result<std::vector<log_position>> embedded_log::positions() {
  std::lock_guard lock(state_mutex_);
  return std::vector<log_position>{log_position{state_position_}};
}

status embedded_log::write(const std::vector<state_write>& writes, const std::vector<log_position>& positions) {
  if (follower_) return error{errc::unavailable, "data_dir", "opened read-only as a follower"};
  if (positions.size() != 1) return error{errc::invalid_argument, "partition", "this log has one partition"};
  rocksdb::WriteBatch batch;
  for (const auto& w : writes) {
    const rocksdb::Status s = w.value ? batch.Put(state_key(w.key), *w.value) : batch.Delete(state_key(w.key));
    if (!s.ok()) return from_status(s, "state");
  }
  std::string position;
  put_u64(position, positions.front().value());
  if (auto s = batch.Put(state_position_key(), position); !s.ok()) return from_status(s, "state");
  return write_state_batch(batch, positions.front().value());
}

status embedded_log::clear() {
  if (follower_) return error{errc::unavailable, "data_dir", "opened read-only as a follower"};
  rocksdb::WriteBatch batch;
  const std::string lower(1, k_state_kind), upper(1, static_cast<char>(k_state_kind + 1));
  if (auto s = batch.DeleteRange(lower, upper); !s.ok()) return from_status(s, "state");
  std::string position;
  put_u64(position, 0);
  if (auto s = batch.Put(state_position_key(), position); !s.ok()) return from_status(s, "state");
  return write_state_batch(batch, 0);
}

status embedded_log::settle() {
  if (follower_) return refresh();
  std::lock_guard write_lock(write_mutex_);
  return settle_locked();
}

// A write that failed may have reached the disk after all (RocksDB recovering by itself):
// the end and the versions are read again, so the next group never reuses a position.
// With write_mutex_ held.
status embedded_log::settle_locked() {
  // A failed write (a disk error, a full disk) stops RocksDB's writes until it is told to resume;
  // resuming checks the disk again (it flushes what the memtables hold) and fails while the
  // disk does, so the next group is refused with the disk's own error.
  // A full disk is checked again by RocksDB itself every few seconds (its own recovery, during
  // which Resume answers Busy).
  if (const rocksdb::Status resumed = db_->Resume(); !resumed.ok()) {
    if (resumed.IsBusy())
      return error{errc::unavailable, "data_dir",
                   "the last write failed (" + write_failure_ + ") and the disk is being checked again: retry in a few seconds"};
    // An error RocksDB cannot resume from (a failed write-ahead log write) keeps it from writing
    // until the folder is opened again.
    return error{errc::unavailable, "data_dir",
                 "the last write failed (" + write_failure_ + ") and the database stopped writing (" +
                     resumed.ToString() + "): open the data folder again (restart) once the disk is sound"};
  }
  auto next = recover_next_position(*db_);
  if (!next) return next.error();
  auto state = read_state_position(*db_);
  if (!state) return state.error();
  std::lock_guard lock(state_mutex_);
  next_position_ = *next;
  state_position_ = *state;
  versions_.clear();
  unsettled_ = false;
  return ok;
}

// Writes a batch of state rows that brings them to `position`, never between a group's
// decision and its write.
status embedded_log::write_state_batch(rocksdb::WriteBatch& batch, std::uint64_t position) {
  std::lock_guard write_lock(write_mutex_);
  if (unsettled_) {
    if (auto s = settle_locked(); !s) return s;
  }
  wrote_ = true;
  const rocksdb::Status s = db_->Write(write_options_, &batch);
  if (!s.ok()) {
    // As for a group of appends: RocksDB stops writing, and the next write settles first.
    unsettled_ = true;
    write_failure_ = s.ToString();
    return from_status(s, "state");
  }
  std::lock_guard lock(state_mutex_);
  state_position_ = position;
  return ok;
}

// Queues one unit and returns once a leader (maybe this thread) committed it.
void embedded_log::enqueue(std::vector<pending>& mine) {
  queue_.run(mine, k_max_group_bytes, payload_size, [this](const std::vector<pending*>& group) { commit_group(group); });
}

status embedded_log::check_request(const append_request& request) {
  if (auto checked = check_stream_name(request.stream); !checked) return checked;
  if (request.command_id.empty()) {
    return error{errc::invalid_argument, "command_id", "must not be empty"};
  }
  return ok;
}

// Roughly the bytes a request adds to a batch: each event is stored with its stream name
// twice (event value and index key) plus about 40 bytes of keys and integers.
std::size_t embedded_log::payload_size(const append_request& request) {
  std::size_t size = request.stream.size() + request.command_id.size() + 24;
  for (const std::string& e : request.events) size += e.size() + 2 * request.stream.size() + 40;
  return size;
}

// Decides, writes and publishes one group. noexcept on purpose: an exception (only
// std::bad_alloc is possible) between the write and the in-memory update would leave memory
// disagreeing with disk, and later appends would reuse positions; terminating is safer.
void embedded_log::commit_group(const std::vector<pending*>& group) noexcept {
  std::lock_guard write_lock(write_mutex_);
  if (unsettled_) {
    // The last write failed, and may have reached the disk all the same: the end and the
    // versions are read again, so this group never reuses its positions.
    if (auto s = settle_locked(); !s) {
      for (pending* p : group) p->outcome = s.error();
      return;
    }
  }
  group_state state;
  {
    std::lock_guard lock(state_mutex_);
    state.next_position = next_position_;
    // The state rows are written with the events only while they are in step with the log.
    state.state_in_step = state_position_ == next_position_;
  }
  rocksdb::WriteBatch batch;
  // A refused or repeated request stops the rest of its unit (append_group writes a prefix).
  std::uint64_t stopped_unit = 0;
  std::optional<error> stop_reason;
  for (pending* p : group) {
    if (stop_reason && p->unit == stopped_unit) {
      p->outcome = not_written_after(*stop_reason);
      continue;
    }
    p->outcome = decide(*p->request, state, batch);
    if (!p->outcome || p->outcome->repeated) {
      stopped_unit = p->unit;
      stop_reason = p->outcome ? error(errc::conflict, "command_id", "was appended before") : p->outcome.error();
    }
  }
  if (batch.Count() == 0) return;  // only refusals and repeats: nothing to write
  wrote_ = true;

  rocksdb::Status s = db_->Write(write_options_, &batch);
  if (s.ok() && lose_write_outcome_ && lose_write_outcome_())
    s = rocksdb::Status::IOError("injected: the write's outcome was lost");
  if (!s.ok()) {
    // Decisions inside the group depend on each other (a conflict may be due to an earlier
    // request that is now not written), so no outcome of the group stands.
    const error failed = from_status(s, "data_dir");
    for (pending* p : group) p->outcome = failed;
    unsettled_ = true;
    write_failure_ = s.ToString();
    return;
  }

  std::lock_guard lock(state_mutex_);
  next_position_ = state.next_position;
  if (state.state_in_step) state_position_ = state.next_position;
  for (auto& [stream, version] : state.versions) versions_.insert_or_assign(stream, version);
  while (versions_.size() > k_version_cache_capacity) versions_.erase(versions_.begin());
}

// Decides one request of a group; an accepted request adds its keys to `batch` and its effect
// to `state`, a refused one changes neither.
result<append_outcome> embedded_log::decide(const append_request& request, group_state& state,
                                            rocksdb::WriteBatch& batch) {
  if (auto it = state.commands.find(request.command_id); it != state.commands.end()) {
    append_outcome first = it->second;
    first.repeated = true;
    return first;
  }
  auto stored = lookup_command(request.command_id);
  if (!stored) return stored.error();
  if (stored->has_value()) {
    append_outcome first = std::move(**stored);
    first.repeated = true;
    return first;
  }

  auto current = group_version(request.stream, state);
  if (!current) return current.error();
  if (request.expected.value() != *current) {
    return error{errc::conflict, "expected_version",
                 version_rule(*current, request.expected.value())};
  }

  append_outcome outcome;
  outcome.stream = request.stream;
  outcome.first_sequence = stream_version{*current + 1};
  outcome.count = request.events.size();
  outcome.first_position = log_position{state.next_position};

  // A Put can refuse an oversized record; roll the batch back so a refused request leaves
  // none of its keys behind for the others to carry.
  batch.SetSavePoint();
  rocksdb::Status s;
  for (std::size_t i = 0; i < request.events.size() && s.ok(); ++i) {
    const std::uint64_t position = state.next_position + i;
    const std::uint64_t sequence = *current + 1 + i;
    s = batch.Put(event_key(position), encode_event(request.stream, sequence, request.events[i]));
    if (s.ok()) {
      std::string index_value;
      put_u64(index_value, position);
      s = batch.Put(stream_key(request.stream, sequence), index_value);
    }
  }
  if (s.ok()) s = batch.Put(command_key(request.command_id), encode_command(outcome));
  // The engine's state rows go with the events while they are in step; a request without
  // them leaves the rows (and every later request's) for the engine to fold.
  const bool rows_here = state.state_in_step && request.state_included;
  for (std::size_t i = 0; rows_here && i < request.state.size() && s.ok(); ++i) {
    const state_write& w = request.state[i];
    s = w.value ? batch.Put(state_key(w.key), *w.value) : batch.Delete(state_key(w.key));
  }
  if (s.ok() && rows_here) {
    std::string position;
    put_u64(position, state.next_position + request.events.size());
    s = batch.Put(state_position_key(), position);
  }
  if (!s.ok()) {
    const rocksdb::Status rolled_back = batch.RollbackToSavePoint();
    (void)rolled_back;  // the save point was set just above, so the rollback cannot miss
    return error{errc::invalid_argument, "events", "rocksdb: " + s.ToString()};
  }
  const rocksdb::Status popped = batch.PopSavePoint();
  (void)popped;  // likewise set just above

  state.next_position += request.events.size();
  state.state_in_step = rows_here;
  state.versions.insert_or_assign(request.stream, *current + request.events.size());
  state.commands.emplace(request.command_id, outcome);
  return outcome;
}

// The stream's version as the group sees it: decided in this group, else cached, else stored.
result<std::uint64_t> embedded_log::group_version(const std::string& stream, group_state& state) {
  if (auto it = state.versions.find(stream); it != state.versions.end()) return it->second;
  {
    std::lock_guard lock(state_mutex_);
    if (auto it = versions_.find(stream); it != versions_.end()) return it->second;
  }
  auto loaded = load_version(stream);
  if (!loaded) return loaded.error();
  // Remembered in the group so the cache learns it after the commit; only the leader writes,
  // so the stored value is current.
  state.versions.emplace(stream, *loaded);
  return *loaded;
}

}  // namespace embedded_log_detail
}  // namespace sazesh
