// embedded_format: the on-disk format of the embedded log (engine/log/embedded_log.cc) and the
// helpers that read and write it. Internal to engine/log: RocksDB's types appear here, so no
// header outside this folder includes it.
//
// On-disk format (format version 1)
// =================================
//
// One RocksDB database, default column family only. Every key starts with a one-byte kind, so
// the kinds occupy disjoint key ranges and each can be scanned with tight iterator bounds.
// Integers are unsigned big-endian, so byte order of keys equals numeric order.
//
//   kind  key                                        value
//   ----  -----------------------------------------  -------------------------------------------
//   'm'   'm' "format_version"                       u32 format version (1)
//   'e'   'e' u64 position                           u64 sequence, u32 stream length, stream,
//                                                    event bytes (the rest of the value)
//   's'   's' stream 0x00 u64 sequence               u64 position
//   'c'   'c' command id                             u64 first sequence, u64 count,
//                                                    u64 first position, stream (the rest)
//   'x'   'x' key                                    the engine's state row `key` (opaque here)
//   'm'   'm' "state_position"                       u64 the position after the last event whose
//                                                    state rows are stored
//
//  - 'e' is the log itself: read_all() is one forward scan. The value repeats the stream name and
//    sequence so that a scan of the log needs no second lookup.
//  - 's' is the stream index. Stream names never contain 0x00 (append refuses them), so the
//    separator ends the name unambiguously: the keys of stream "a" cannot be confused with those
//    of stream "a\x01...". A stream's version is the sequence of its last index key, found by
//    one reverse seek.
//  - 'c' records every accepted command, including commands with no events (count 0; first
//    sequence is then the version the stream was at plus one, first position the log end then).
//  - 'm' "format_version" is written when the folder is created; a folder with keys but no
//    format version, or another version, is refused rather than misread.
//  - 'x' rows are the engine's state (event_log.h, state_rows): written in the same WriteBatch
//    as the events that change them, and only while they are in step with the log (the state
//    position is the group's first position); otherwise the engine folds the events past the
//    state position and writes their rows itself. A folder from before state rows has none and
//    a state position of 0: the engine builds them at its first open.
//
// All keys of one append group are written in one WriteBatch, which RocksDB applies atomically
// (one WAL record), so after a crash a group is either wholly present or wholly absent. Nothing
// of the log ('e', 's', 'c') is ever overwritten or deleted; only the engine's state rows ('x')
// and the state position change.
//
// Why one column family: the kinds are read together (a stream read goes index -> events) and
// always written together; one column family keeps a single memtable/WAL sequence, needs no
// column-family handles or per-family options to manage, and lets tools open the folder with
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "engine/log/event_log.h"

namespace sazesh::embedded_format {

inline constexpr char k_meta_kind = 'm';
inline constexpr char k_event_kind = 'e';
inline constexpr char k_stream_kind = 's';
inline constexpr char k_command_kind = 'c';
inline constexpr char k_state_kind = 'x';
inline constexpr std::uint32_t k_format_version = 1;

// ---- encoding ----------------------------------------------------------------------------

void put_u64(std::string& out, std::uint64_t v);
void put_u32(std::string& out, std::uint32_t v);

// Reads a big-endian integer of N bytes at `at`; the caller has checked the length.
template <class T>
T get_uint(std::string_view in, std::size_t at) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    v = static_cast<T>((v << 8) | static_cast<unsigned char>(in[at + i]));
  }
  return v;
}

std::string format_key();
std::string event_key(std::uint64_t position);
// The prefix shared by every index key of one stream.
std::string stream_prefix(std::string_view stream);
std::string stream_key(std::string_view stream, std::uint64_t sequence);
std::string command_key(std::string_view command_id);
// The engine's state row `key`, and the position its rows reach.
std::string state_key(std::string_view key);
std::string state_position_key();
// The smallest key greater than every key starting with `prefix` (empty: there is none).
std::string prefix_end(std::string prefix);
// The sequence of a stream's last index key (stream_key), 0 if it has none: one reverse seek
// within the stream's range. Errors name `field`.
result<std::uint64_t> last_stream_sequence(rocksdb::DB& db, std::string_view stream, const std::string& field);
std::string encode_event(std::string_view stream, std::uint64_t sequence, std::string_view bytes);
result<stored_event> decode_event(std::string_view key, std::string_view value);
std::string encode_command(const append_outcome& outcome);
result<append_outcome> decode_command(std::string_view value);
inline std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// ---- errors ------------------------------------------------------------------------------

error from_status(const rocksdb::Status& s, std::string field);
// RocksDB reports a held LOCK file as a plain IOError; its message is the only way to tell it
// from a failing disk.
bool is_lock_error(const rocksdb::Status& s);
status check_stream_name(std::string_view stream);
std::string version_rule(std::uint64_t current, std::uint64_t expected);

// ---- the folder --------------------------------------------------------------------------

// Reads the format version of an opened folder: true if it is this build's, false if there is
// none and the database is empty; any other folder is not ours.
result<bool> read_format(rocksdb::DB& db);
// Checks the format version of a folder opened for writing, writing it into a new one.
status check_format(rocksdb::DB& db);
// The position after the last stored event: one reverse seek over the event range.
// As of `snapshot` if given (an audit reading everything under one snapshot), else now.
result<std::uint64_t> recover_next_position(rocksdb::DB& db, const rocksdb::Snapshot* snapshot = nullptr);
// Where the engine's state rows stand (0 if the folder has none).
result<std::uint64_t> read_state_position(rocksdb::DB& db);
// Options shared by the writer and its followers.
rocksdb::Options database_options();

// Releases a snapshot when a read ends, so every return path gives it back (RocksDB asserts on
// snapshots outliving the database).
class snapshot_guard {
 public:
  explicit snapshot_guard(rocksdb::DB& db) : db_(db), snapshot_(db.GetSnapshot()) {}
  ~snapshot_guard() { db_.ReleaseSnapshot(snapshot_); }
  snapshot_guard(const snapshot_guard&) = delete;
  snapshot_guard& operator=(const snapshot_guard&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB& db_;
  const rocksdb::Snapshot* snapshot_;
};

// A follower's private folder for the secondary instance's own files; removed with everything
// in it when dropped.
class scratch_folder {
 public:
  scratch_folder() = default;
  explicit scratch_folder(std::filesystem::path path) : path_(std::move(path)) {}
  scratch_folder(scratch_folder&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  scratch_folder& operator=(scratch_folder&& other) noexcept {
    if (this != &other) {
      remove();
      path_ = std::exchange(other.path_, {});
    }
    return *this;
  }
  ~scratch_folder() { remove(); }
  const std::filesystem::path& path() const { return path_; }

  static result<scratch_folder> make();

 private:
  void remove() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    path_.clear();
  }
  std::filesystem::path path_;
};

}  // namespace sazesh::embedded_format
