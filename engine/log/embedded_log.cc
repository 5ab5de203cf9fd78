// embedded_log: the event_log on RocksDB in one local folder. Its on-disk format is documented
// in embedded_format.h.
//
// plain default options. The prefix byte gives the separation column families would.
//
// Writes: group commit
// ====================
//
// Appends queue up; whichever waiting thread finds no leader becomes the leader, takes the queue
// (up to a byte budget), decides every request in order against the stored state plus the
// requests decided before it in the same group, writes the accepted ones in one synced
// WriteBatch, updates the in-memory state, and wakes the others. Only the leader writes to
// RocksDB, so what it reads from RocksDB is never stale with respect to other writers.
//
// Followers: RocksDB secondary instances
// ======================================
//
// A follower opens the folder with rocksdb::DB::OpenAsSecondary, which takes no lock and writes
// nothing in the folder: it reads the writer's MANIFEST and WAL files, and keeps its own info
// log in a private folder (mkdtemp under the temp directory, removed on close). Its view moves
// only in TryCatchUpWithPrimary(), which replays the MANIFEST (flushes and compactions: which
// table files hold the data) and then the tail of the WALs (unflushed appends). Consequences:
//  - max_open_files = -1: the follower keeps every table file of its view open, so a file the
//    writer's compaction deletes stays readable until the follower's next catch-up drops it;
//  - the follower needs the writer's WALs, which hold every append not yet flushed; it reads
//    each group's WAL record as one unit, so a group is seen whole or not at all;
//  - secondaries support no snapshots: read_stream reads without one, which is safe because
//    nothing is ever overwritten or deleted and an index entry and its event share a group;
//  - a catch-up can race a flush: if the writer flushes and deletes a WAL between the
//    catch-up's MANIFEST read and its WAL listing, the unread tail of that WAL is missing from
//    the view (it sits in a table file the follower learns of at its next catch-up) while
//    later groups are present. Positions and sequences are dense, so the reads check density
//    and catch up again on a hole; a catch-up failing on a vanished file is retried likewise;
//  - stream versions are never cached (the cache is filled only by a writer's commits);
//  - a catch-up that finds nothing new costs about 30 us (a directory listing and a few small
//    reads), once max_file_opening_threads is 1 (see open_follower); read_all catches up only
//    when asked from the end, and callers waiting at the end at once share one catch-up;
//  - what RocksDB reports about secondaries' stale values after a flush or a writer's reopen
//    concerns overwritten keys; this log never overwrites a key.

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include <stdlib.h>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/log/embedded_format.h"
#include "engine/log/embedded_log_detail.h"
#include "engine/log/event_log.h"
#include "engine/log/group_commit.h"
#include "engine/log/storage_env.h"

namespace sazesh {
namespace {

using namespace embedded_format;
using embedded_log_detail::embedded_log;

// How often a follower tries to catch up before reporting a failure, and how often a read that
// meets a hole in its view catches up and reads again (see "Followers" above: one more catch-up
// always fills a hole left by a racing flush).
constexpr int k_catch_up_attempts = 4;

}  // namespace

namespace embedded_log_detail {

embedded_log::embedded_log(std::unique_ptr<rocksdb::DB> db, embedded_log_options options,
                           std::filesystem::path folder, std::uint64_t next_position,
                           std::uint64_t state_position, scratch_folder scratch, bool format_known)
    : follower_(options.follower),
      lose_write_outcome_(std::move(options.lose_write_outcome)),
      scratch_(std::move(scratch)),
      db_(std::move(db)),
      format_known_(format_known),
      next_position_(next_position),
      state_position_(state_position),
      folder_(std::move(folder)) {
  write_options_.sync = options.sync;
}

// The database goes first: a secondary instance writes its info log into the scratch folder
// until it is closed. A writer that wrote nothing removes the empty write-ahead log its
// opening created, so a refused or read-only command leaves no file behind (RocksDB starts
// a new one at every open and keeps empty ones until a flush).
embedded_log::~embedded_log() {
  std::string empty_wal;
  if (!follower_ && !wrote_.load()) {
    std::unique_ptr<rocksdb::LogFile> wal;
    if (db_->GetCurrentWalFile(&wal).ok() && wal && wal->SizeFileBytes() == 0) empty_wal = wal->PathName();
  }
  db_.reset();
  if (!empty_wal.empty()) {
    std::error_code ec;
    const auto path = folder_ / std::filesystem::path(empty_wal).relative_path();
    if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0)
      std::filesystem::remove(path, ec);
  }
}

result<std::optional<append_outcome>> embedded_log::find_command(std::string_view command_id) {
  if (command_id.empty()) {
    return error{errc::invalid_argument, "command_id", "must not be empty"};
  }
  return lookup_command(command_id);
}

result<stream_version> embedded_log::version(std::string_view stream) {
  if (auto checked = check_stream_name(stream); !checked) return checked.error();
  if (!follower_) {  // a follower's cache would go stale: it always reads
    std::lock_guard lock(state_mutex_);
    if (auto it = versions_.find(std::string(stream)); it != versions_.end()) {
      return stream_version{it->second};
    }
  }
  // Not cached: read it, but do not cache it. Only the leader fills the cache, so a value read
  // here just before a commit can never overwrite the committed version.
  auto loaded = load_version(stream);
  if (!loaded) return loaded.error();
  return stream_version{*loaded};
}

result<std::vector<stored_event>> embedded_log::read_stream(std::string_view stream,
                                                            stream_version from) {
  if (auto checked = check_stream_name(stream); !checked) return checked.error();
  if (!follower_) return scan_stream(stream, from);
  // A follower's view can have a hole (see "Followers"): sequences must follow each other.
  const std::uint64_t first = std::max<std::uint64_t>(from.value(), 1);
  for (int attempt = 1;; ++attempt) {
    auto events = scan_stream(stream, from);
    if (!events) return events;
    std::size_t dense = 0;
    while (dense < events->size() && (*events)[dense].sequence.value() == first + dense) ++dense;
    if (dense == events->size()) return events;
    if (attempt == k_catch_up_attempts) {
      return error{errc::corrupt, "stream_index",
                   "stream " + std::string(stream) + " has no event " +
                       std::to_string(first + dense) + " but has later ones"};
    }
    if (auto caught_up = catch_up(); !caught_up) return caught_up.error();
  }
}

result<std::vector<stored_event>> embedded_log::read_all(log_position from, std::size_t max) {
  if (max == 0) return std::vector<stored_event>{};
  if (!follower_) return scan_log(from, max);
  // A caller at (or past) the end is waiting for new events: catch up first, unless a catch-up
  // that started after this call (in another thread) has succeeded meanwhile.
  if (from.value() >= known_end()) {
    if (auto caught_up = catch_up(catch_ups_started_.load()); !caught_up) {
      return caught_up.error();
    }
  }
  // The log is dense from position 0, so events at or after `from` start exactly at `from`
  // and follow each other; a hole is the view's, and a catch-up fills it.
  for (int attempt = 1;; ++attempt) {
    auto events = scan_log(from, max);
    if (!events) return events;
    std::size_t dense = 0;
    while (dense < events->size() && (*events)[dense].position.value() == from.value() + dense) {
      ++dense;
    }
    if (dense == events->size()) return events;
    if (attempt == k_catch_up_attempts) {
      return error{errc::corrupt, "event",
                   "the log has no event at position " + std::to_string(from.value() + dense) +
                       " but has later ones"};
    }
    if (auto caught_up = catch_up(); !caught_up) return caught_up.error();
  }
}

result<log_position> embedded_log::end() { return log_position{known_end()}; }

status embedded_log::refresh() {
  if (!follower_) return ok;
  return catch_up();
}

// Events of one stream with sequence >= from, in order, as stored.
result<std::vector<stored_event>> embedded_log::scan_stream(std::string_view stream, stream_version from) {
  // One snapshot for the index scan and the event lookups, so both see the same groups. A
  // secondary instance has none; it needs none either (see "Followers").
  std::optional<snapshot_guard> snapshot;
  if (!follower_) snapshot.emplace(*db_);
  const std::string lower = stream_key(stream, std::max<std::uint64_t>(from.value(), 1));
  const std::string upper = prefix_end(stream_prefix(stream));
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  if (snapshot) options.snapshot = snapshot->get();
  options.iterate_upper_bound = &upper_slice;

  const std::size_t index_key_size = upper.size() + 8;
  std::vector<stored_event> events;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  std::string value;
  for (it->Seek(lower); it->Valid(); it->Next()) {
    const std::string_view index_key = view(it->key());
    const std::string_view index_value = view(it->value());
    if (index_key.size() != index_key_size || index_value.size() != 8) {
      return error{errc::corrupt, "stream_index", "malformed stream index entry"};
    }
    const std::string key = event_key(get_uint<std::uint64_t>(index_value, 0));
    const rocksdb::Status s = db_->Get(options, key, &value);
    if (!s.ok()) {
      // The index entry and its event were written in one batch: a missing event is damage.
      if (s.IsNotFound()) {
        return error{errc::corrupt, "event", "stream index points at a missing event"};
      }
      return from_status(s, "event");
    }
    auto event = decode_event(key, value);
    if (!event) return event.error();
    if (event->stream != stream ||
        event->sequence.value() != get_uint<std::uint64_t>(index_key, upper.size())) {
      return error{errc::corrupt, "event", "event does not match its stream index entry"};
    }
    events.push_back(std::move(*event));
  }
  if (!it->status().ok()) return from_status(it->status(), "stream_index");
  return events;
}

// Up to `max` events at positions >= from, in log order, as stored.
result<std::vector<stored_event>> embedded_log::scan_log(log_position from, std::size_t max) {
  std::vector<stored_event> events;
  const std::string upper(1, static_cast<char>(k_event_kind + 1));
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
  for (it->Seek(event_key(from.value())); it->Valid() && events.size() < max; it->Next()) {
    auto event = decode_event(view(it->key()), view(it->value()));
    if (!event) return event.error();
    events.push_back(std::move(*event));
  }
  if (!it->status().ok()) return from_status(it->status(), "event");
  return events;
}

std::uint64_t embedded_log::known_end() {
  std::lock_guard lock(state_mutex_);
  return next_position_;
}

// A follower's catch-up with the writer. Catch-ups take turns. Given `started`, the number of
// catch-ups started when the caller asked, it is skipped if one started since has succeeded:
// that one already saw everything durable when the caller asked. A failed attempt is retried:
// the writer may have deleted a file the attempt was about to read (a flushed WAL, a MANIFEST
// replaced on reopen), and the next attempt reads the newer state that replaced it.
status embedded_log::catch_up(std::optional<std::uint64_t> started) {
  std::lock_guard lock(catch_up_mutex_);
  if (started && last_good_catch_up_ > *started) return ok;
  const std::uint64_t number = catch_ups_started_.fetch_add(1) + 1;
  rocksdb::Status s;
  for (int attempt = 1; attempt <= k_catch_up_attempts; ++attempt) {
    s = db_->TryCatchUpWithPrimary();
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
  }
  if (!s.ok()) return from_status(s, "data_dir");
  if (!format_known_) {
    // Opened on a log so new that its format version was not written yet.
    auto format = read_format(*db_);
    if (!format) return format.error();
    format_known_ = *format;
  }
  auto next = recover_next_position(*db_);
  if (!next) return next.error();
  {
    std::lock_guard state_lock(state_mutex_);
    next_position_ = *next;
  }
  last_good_catch_up_ = number;
  return ok;
}

// The sequence of the stream's last index key: one reverse seek within the stream's range.
result<std::uint64_t> embedded_log::load_version(std::string_view stream) {
  return last_stream_sequence(*db_, stream, "stream_index");
}

result<std::optional<append_outcome>> embedded_log::lookup_command(std::string_view command_id) {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions{}, command_key(command_id), &value);
  if (s.IsNotFound()) return std::optional<append_outcome>{};
  if (!s.ok()) return from_status(s, "command");
  auto outcome = decode_command(value);
  if (!outcome) return outcome.error();
  return std::optional<append_outcome>{std::move(*outcome)};
}

}  // namespace embedded_log_detail

namespace {

result<std::unique_ptr<event_log>> open_follower(const std::filesystem::path& folder,
                                                 embedded_log_options options) {
  // A RocksDB folder has a CURRENT file from its creation on (written last, by rename); without
  // one there is no log to follow, and nothing is created to wait for one.
  std::error_code ec;
  const bool exists = std::filesystem::is_regular_file(folder / "CURRENT", ec);
  if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
    return error{errc::io, "data_dir", "cannot read " + folder.string() + ": " + ec.message()};
  }
  if (!exists) return error{errc::not_found, "data_dir", "no event log in " + folder.string()};

  auto scratch = scratch_folder::make();
  if (!scratch) return scratch.error();
  rocksdb::Options db_options = database_options();
  db_options.create_if_missing = false;
  // Keep every table file open, so files the writer's compactions delete stay readable until
  // the next catch-up moves past them.
  db_options.max_open_files = -1;
  // With max_open_files = -1 every catch-up loads table handles with this many threads, started
  // and joined on each call even when nothing changed: 16 (the default) made a catch-up that
  // found nothing new cost about 1 ms, one makes it about 30 us.
  db_options.max_file_opening_threads = 1;
  // Every catch-up logs a line at INFO level; a follower polling for days would fill its
  // scratch folder with them.
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  use_storage(db_options, scratch->path());
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s =
      rocksdb::DB::OpenAsSecondary(db_options, folder.string(), scratch->path().string(), &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!s.ok()) return from_status(s, "data_dir");

  auto format_known = read_format(*db);
  if (!format_known) return format_known.error();
  auto next_position = recover_next_position(*db);
  if (!next_position) return next_position.error();
  return std::unique_ptr<event_log>(std::make_unique<embedded_log>(
      std::move(db), options, folder, *next_position, 0, std::move(*scratch), *format_known));
}

}  // namespace

result<std::unique_ptr<event_log>> open_embedded_log(const std::filesystem::path& folder,
                                                     embedded_log_options options) {
  if (options.follower) return open_follower(folder, options);
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    return error{errc::io, "data_dir", "cannot create " + folder.string() + ": " + ec.message()};
  }

  rocksdb::Options db_options = database_options();
  db_options.create_if_missing = true;
  // The writer opens its table files as it needs them (a bounded cache that holds them all at
  // ten million events) instead of every one at open, and reads no per-file statistics then:
  // opening a large log costs a few files, not all of them.
  db_options.max_open_files = 4096;
  db_options.skip_stats_update_on_db_open = true;
  use_storage(db_options, folder);

  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(db_options, folder.string(), &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!s.ok()) {
    if (is_lock_error(s)) {
      return error{errc::unavailable, "data_dir",
                   folder.string() + " is already open (" + s.ToString() + ")"};
    }
    return from_status(s, "data_dir");
  }

  if (auto checked = check_format(*db); !checked) return checked.error();
  auto next_position = recover_next_position(*db);
  if (!next_position) return next_position.error();
  auto state_position = read_state_position(*db);
  if (!state_position) return state_position.error();

  return std::unique_ptr<event_log>(
      std::make_unique<embedded_log>(std::move(db), options, folder, *next_position, *state_position));
}

}  // namespace sazesh
