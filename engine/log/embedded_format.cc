// The embedded log's on-disk format: keys, values and the folder (see embedded_format.h).
#include "engine/log/embedded_format.h"

#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/table.h>

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>
#include <system_error>


namespace sazesh::embedded_format {

// --- encoding -----------------------------------------------------------------------------

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string format_key() { return std::string(1, k_meta_kind) + "format_version"; }

std::string event_key(std::uint64_t position) {
  std::string key(1, k_event_kind);
  put_u64(key, position);
  return key;
}

// The prefix shared by every index key of one stream.
std::string stream_prefix(std::string_view stream) {
  std::string key(1, k_stream_kind);
  key.append(stream);
  key.push_back('\0');
  return key;
}

std::string stream_key(std::string_view stream, std::uint64_t sequence) {
  std::string key = stream_prefix(stream);
  put_u64(key, sequence);
  return key;
}

std::string state_key(std::string_view key) {
  std::string out(1, k_state_kind);
  out.append(key);
  return out;
}

std::string state_position_key() { return std::string(1, k_meta_kind) + "state_position"; }

std::string command_key(std::string_view command_id) {
  std::string key(1, k_command_kind);
  key.append(command_id);
  return key;
}

// The smallest key greater than every key starting with `prefix` (prefixes here never end in
// 0xff: they end in a kind byte or in the 0x00 separator).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

result<std::uint64_t> last_stream_sequence(rocksdb::DB& db, std::string_view stream, const std::string& field) {
  const std::string lower = stream_prefix(stream);
  const std::string upper = prefix_end(lower);
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_slice;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options));
  it->SeekForPrev(stream_key(stream, std::numeric_limits<std::uint64_t>::max()));
  if (!it->Valid()) {
    if (!it->status().ok()) return from_status(it->status(), field);
    return std::uint64_t{0};
  }
  const std::string_view key = view(it->key());
  if (key.size() != lower.size() + 8) return error{errc::corrupt, field, "malformed stream index key"};
  return get_uint<std::uint64_t>(key, lower.size());
}

std::string encode_event(std::string_view stream, std::uint64_t sequence, std::string_view bytes) {
  std::string value;
  value.reserve(12 + stream.size() + bytes.size());
  put_u64(value, sequence);
  put_u32(value, static_cast<std::uint32_t>(stream.size()));
  value.append(stream);
  value.append(bytes);
  return value;
}

result<stored_event> decode_event(std::string_view key, std::string_view value) {
  if (key.size() != 9 || key[0] != k_event_kind || value.size() < 12) {
    return error{errc::corrupt, "event", "malformed event record"};
  }
  const auto stream_size = get_uint<std::uint32_t>(value, 8);
  if (value.size() - 12 < stream_size) {
    return error{errc::corrupt, "event", "event record shorter than its stream name"};
  }
  stored_event event;
  event.position = log_position{get_uint<std::uint64_t>(key, 1)};
  event.sequence = stream_version{get_uint<std::uint64_t>(value, 0)};
  event.stream.assign(value.substr(12, stream_size));
  event.bytes.assign(value.substr(12 + stream_size));
  return event;
}

std::string encode_command(const append_outcome& outcome) {
  std::string value;
  value.reserve(24 + outcome.stream.size());
  put_u64(value, outcome.first_sequence.value());
  put_u64(value, outcome.count);
  put_u64(value, outcome.first_position.value());
  value.append(outcome.stream);
  return value;
}

result<append_outcome> decode_command(std::string_view value) {
  if (value.size() < 24) return error{errc::corrupt, "command", "malformed command record"};
  append_outcome outcome;
  outcome.first_sequence = stream_version{get_uint<std::uint64_t>(value, 0)};
  outcome.count = get_uint<std::uint64_t>(value, 8);
  outcome.first_position = log_position{get_uint<std::uint64_t>(value, 16)};
  outcome.stream.assign(value.substr(24));
  return outcome;
}

// --- errors -------------------------------------------------------------------------------

error from_status(const rocksdb::Status& s, std::string field) {
  return error{s.IsCorruption() ? errc::corrupt : errc::io, std::move(field),
               "rocksdb: " + s.ToString()};
}

// RocksDB reports a held LOCK file as a plain IOError; its message is the only way to tell it
// from a failing disk. Both the cross-process (fcntl) and the same-process wording are matched.
bool is_lock_error(const rocksdb::Status& s) {
  if (!s.IsIOError()) return false;
  const std::string text = s.ToString();
  return text.find("lock file") != std::string::npos ||
         text.find("lock hold by current process") != std::string::npos;
}

status check_stream_name(std::string_view stream) {
  if (stream.empty()) return error{errc::invalid_argument, "stream", "must not be empty"};
  if (stream.find('\0') != std::string_view::npos) {
    return error{errc::invalid_argument, "stream", "must not contain a NUL character"};
  }
  return ok;
}

std::string version_rule(std::uint64_t current, std::uint64_t expected) {
  std::string rule = "the stream is at version " + std::to_string(current) +
                     ", the command was decided at " + std::to_string(expected);
  return current > expected ? "stale: " + rule : rule + ", which the stream has not reached";
}

result<scratch_folder> scratch_folder::make() {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string pattern = (base / "sazesh-follower-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    const std::error_code failure(errno, std::generic_category());
    return error{errc::io, "data_dir",
                 "cannot create a follower folder under " + base.string() + ": " +
                     failure.message()};
  }
  return scratch_folder(std::filesystem::path(pattern));
}

// Reads the format version of an opened folder: true if it is this build's, false if there is
// none and the database is empty (a new folder, or one whose first open stopped before writing
// it); any other folder is not ours.
result<bool> read_format(rocksdb::DB& db) {
  std::string value;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions{}, format_key(), &value);
  if (s.ok()) {
    if (value.size() != 4) return error{errc::corrupt, "format_version", "malformed"};
    const auto found = get_uint<std::uint32_t>(value, 0);
    if (found != k_format_version) {
      return error{errc::corrupt, "format_version",
                   "the folder has format version " + std::to_string(found) + ", this build reads " +
                       std::to_string(k_format_version)};
    }
    return true;
  }
  if (!s.IsNotFound()) return from_status(s, "format_version");
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions{}));
  it->SeekToFirst();
  if (it->Valid()) {
    return error{errc::corrupt, "format_version", "the folder holds data but no format version"};
  }
  if (!it->status().ok()) return from_status(it->status(), "data_dir");
  return false;
}

// Checks the format version of a folder opened for writing, writing it into a new one.
status check_format(rocksdb::DB& db) {
  auto known = read_format(db);
  if (!known) return known.error();
  if (*known) return ok;
  std::string version;
  put_u32(version, k_format_version);
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  const rocksdb::Status s = db.Put(write_options, format_key(), version);
  if (!s.ok()) return from_status(s, "format_version");
  return ok;
}

// The position after the last stored event: one reverse seek over the event range.
result<std::uint64_t> recover_next_position(rocksdb::DB& db, const rocksdb::Snapshot* snapshot) {
  const std::string lower(1, k_event_kind);
  const std::string upper(1, static_cast<char>(k_event_kind + 1));
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  options.iterate_lower_bound = &lower_slice;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options));
  it->SeekForPrev(event_key(std::numeric_limits<std::uint64_t>::max()));
  if (!it->Valid()) {
    if (!it->status().ok()) return from_status(it->status(), "event");
    return std::uint64_t{0};
  }
  const std::string_view key = view(it->key());
  if (key.size() != 9) return error{errc::corrupt, "event", "malformed event key"};
  return get_uint<std::uint64_t>(key, 1) + 1;
}

result<std::uint64_t> read_state_position(rocksdb::DB& db) {
  std::string value;
  const rocksdb::Status s = db.Get(rocksdb::ReadOptions{}, state_position_key(), &value);
  if (s.IsNotFound()) return std::uint64_t{0};
  if (!s.ok()) return from_status(s, "state");
  if (value.size() != 8) return error{errc::corrupt, "state", "malformed state position"};
  return get_uint<std::uint64_t>(value, 0);
}

// Options shared by the writer and its followers.
rocksdb::Options database_options() {
  rocksdb::Options db_options;
  // Envelopes are small records written once and read in order; 16 MiB memtables keep flushes
  // infrequent without holding much memory.
  db_options.write_buffer_size = 16u << 20;
  db_options.keep_log_file_num = 4;
  // Every append looks up its command id, and a new one is in no file: a Bloom filter per file
  // (about 1% false positives) answers that without reading the file's index and blocks.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // The same in the memtable, where the newest ids are.
  db_options.memtable_prefix_bloom_size_ratio = 0.02;
  db_options.memtable_whole_key_filtering = true;
  // LZ4 is cheap enough to leave on for text-heavy events; fall back if this build lacks it.
  const auto supported = rocksdb::GetSupportedCompressions();
  db_options.compression =
      std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end()
          ? rocksdb::kLZ4Compression
          : rocksdb::kNoCompression;
  return db_options;
}


}  // namespace sazesh::embedded_format
