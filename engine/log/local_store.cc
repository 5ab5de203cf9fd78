#include "engine/log/local_store.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <limits>
#include <mutex>
#include <set>
#include <unordered_map>

#include "engine/log/embedded_format.h"
#include "engine/log/storage_env.h"

namespace sazesh {
namespace {

using namespace embedded_format;

constexpr std::uint32_t k_local_format = 1;
constexpr std::size_t k_version_cache = 1u << 16;

std::string meta_key(std::string_view name) { return "m" + std::string(name); }

std::string partition_key(char kind, std::uint32_t partition) {
  std::string k(1, kind);
  put_u32(k, partition);
  return k;
}

std::string event_key(std::uint32_t partition, std::uint64_t offset) {
  std::string k = partition_key('e', partition);
  put_u64(k, offset);
  return k;
}

std::string order_key(std::uint64_t n) {
  std::string k(1, 'o');
  put_u64(k, n);
  return k;
}

std::string encode_location(std::uint32_t partition, std::uint64_t offset) {
  std::string v;
  put_u32(v, partition);
  put_u64(v, offset);
  return v;
}

std::string encode_event_value(const stored_event& e, std::string_view command) {
  std::string v;
  put_u64(v, e.sequence.value());
  put_u32(v, static_cast<std::uint32_t>(e.stream.size()));
  v.append(e.stream);
  put_u32(v, static_cast<std::uint32_t>(command.size()));
  v.append(command);
  v.append(e.bytes);
  return v;
}

result<stored_event> decode_event_value(std::uint32_t partition, std::uint64_t offset, std::string_view v) {
  const auto bad = error(errc::corrupt, "kafka_state", "a local copy of an event does not decode");
  if (v.size() < 16) return bad;
  stored_event e;
  e.partition = partition;
  e.position = log_position(offset);
  e.sequence = stream_version(get_uint<std::uint64_t>(v, 0));
  const auto stream_size = get_uint<std::uint32_t>(v, 8);
  if (v.size() < 12 + std::size_t{stream_size} + 4) return bad;
  e.stream.assign(v.substr(12, stream_size));
  const auto command_size = get_uint<std::uint32_t>(v, 12 + stream_size);
  const std::size_t bytes_at = 16 + std::size_t{stream_size} + command_size;
  if (v.size() < bytes_at) return bad;
  e.bytes.assign(v.substr(bytes_at));
  return e;
}

std::string encode_outcome(const append_outcome& o) {
  std::string v;
  put_u64(v, o.first_sequence.value());
  put_u64(v, o.count);
  put_u32(v, o.partition);
  put_u64(v, o.first_position.value());
  v.append(o.stream);
  return v;
}

result<append_outcome> decode_outcome(std::string_view v) {
  if (v.size() < 28) return error(errc::corrupt, "kafka_state", "a command's outcome does not decode");
  append_outcome o;
  o.first_sequence = stream_version(get_uint<std::uint64_t>(v, 0));
  o.count = get_uint<std::uint64_t>(v, 8);
  o.partition = get_uint<std::uint32_t>(v, 16);
  o.first_position = log_position(get_uint<std::uint64_t>(v, 20));
  o.stream.assign(v.substr(28));
  return o;
}

// The rows that get a memtable insert hint, by their first five bytes: a partition's events ('e'
// and the partition) and the order rows ('o' and the high half of their number), written in key
// order; and the stream rows ('s' and the stream id's first four bytes: a few hundred prefixes,
// each stream's rows in order; a 1M copy took 21.6–22.2 s with their hints, 24.2 s without).
// Not the command rows, whose ids are random: a hint costs the memtable about 250 bytes per
// prefix, and random keys gain nothing from it.
class ordered_rows final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "sazesh.ordered_rows"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return rocksdb::Slice(key.data(), 5); }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 5 && (key[0] == 'e' || key[0] == 'o' || key[0] == 's');
  }
};

class rocks_local_store final : public local_store {
 public:
  rocks_local_store(std::unique_ptr<rocksdb::DB> db, std::uint32_t partitions, scratch_folder scratch)
      : scratch_(std::move(scratch)),
        db_(std::move(db)),
        partitions_(partitions),
        indexed_(partitions),
        state_positions_(partitions, log_position(0)) {
    write_options_.sync = false;  // the topic is the log: a lost local write costs a re-read
    // A store for this process alone (removed at close) is never recovered: it needs no journal.
    write_options_.disableWAL = !scratch_.path().empty();
  }
  ~rocks_local_store() override { db_.reset(); }

  status load() {
    for (std::uint32_t p = 0; p < partitions_; ++p) {
      auto indexed = read_u64(partition_key('p', p));
      if (!indexed) return indexed.error();
      indexed_[p].store(*indexed);
      auto state = read_u64(partition_key('q', p));
      if (!state) return state.error();
      state_positions_[p] = log_position(*state);
    }
    auto order = read_u64(meta_key("order"));
    if (!order) return order.error();
    next_order_ = *order;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}));
    for (it->Seek("f"); it->Valid() && it->key().starts_with("f"); it->Next())
      damaged_streams_.insert(it->key().ToString().substr(1));
    if (!it->status().ok()) return from_status(it->status(), "kafka_state");
    return ok;
  }

  bool is_damaged(std::string_view stream) const override {
    std::lock_guard lock(damage_mutex_);
    return damaged_streams_.count(std::string(stream)) > 0;
  }

  result<std::vector<std::pair<std::string, std::string>>> damaged() override {
    std::vector<std::pair<std::string, std::string>> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}));
    for (it->Seek("f"); it->Valid() && it->key().starts_with("f"); it->Next())
      out.emplace_back(it->key().ToString().substr(1), it->value().ToString());
    for (it->Seek("g"); it->Valid() && it->key().starts_with("g"); it->Next()) out.emplace_back("", it->value().ToString());
    if (!it->status().ok()) return from_status(it->status(), "kafka_state");
    return out;
  }

  // ---- the index ----
  std::uint32_t partitions() const override { return partitions_; }

  result<std::uint64_t> version(std::string_view stream) override {
    {
      std::lock_guard lock(cache_mutex_);
      if (auto it = versions_.find(std::string(stream)); it != versions_.end()) return it->second;
    }
    return last_stream_sequence(*db_, stream, "kafka_state");
  }

  result<std::optional<append_outcome>> find_command(std::string_view command_id) override {
    std::string value;
    const auto s = db_->Get(rocksdb::ReadOptions{}, "c" + std::string(command_id), &value);
    if (s.IsNotFound()) return std::optional<append_outcome>();
    if (!s.ok()) return from_status(s, "kafka_state");
    auto o = decode_outcome(value);
    if (!o) return o.error();
    return std::optional<append_outcome>(std::move(*o));
  }

  result<std::vector<stored_event>> read_stream(std::string_view stream, stream_version from) override {
    std::vector<stored_event> out;
    const std::string lower = stream_key(stream, std::max<std::uint64_t>(from.value(), 1));
    const std::string upper = prefix_end(stream_prefix(stream));
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      const std::string_view loc = view(it->value());
      if (loc.size() != 12) return error(errc::corrupt, "kafka_state", "malformed stream index entry");
      const auto partition = get_uint<std::uint32_t>(loc, 0);
      const auto offset = get_uint<std::uint64_t>(loc, 4);
      std::string value;
      const auto s = db_->Get(rocksdb::ReadOptions{}, event_key(partition, offset), &value);
      if (!s.ok()) return s.IsNotFound() ? error(errc::corrupt, "kafka_state", "the stream index names a missing event")
                                         : from_status(s, "kafka_state");
      auto e = decode_event_value(partition, offset, value);
      if (!e) return e.error();
      out.push_back(std::move(*e));
    }
    if (!it->status().ok()) return from_status(it->status(), "kafka_state");
    return out;
  }

  result<std::vector<stored_event>> read_partition(std::uint32_t partition, log_position from,
                                                   std::size_t max) override {
    std::vector<stored_event> out;
    const std::string upper = prefix_end(partition_key('e', partition));
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(event_key(partition, from.value())); it->Valid() && out.size() < max; it->Next()) {
      const std::string_view key = view(it->key());
      if (key.size() != 13) return error(errc::corrupt, "kafka_state", "malformed event key");
      auto e = decode_event_value(partition, get_uint<std::uint64_t>(key, 5), view(it->value()));
      if (!e) return e.error();
      out.push_back(std::move(*e));
    }
    if (!it->status().ok()) return from_status(it->status(), "kafka_state");
    return out;
  }

  result<std::vector<stored_event>> read_in_index_order(std::uint64_t from, std::size_t max) override {
    std::vector<stored_event> out;
    const std::string upper(1, 'p');
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(order_key(from)); it->Valid() && out.size() < max; it->Next()) {
      const std::string_view key = view(it->key()), loc = view(it->value());
      if (key.size() != 9 || loc.size() != 12) return error(errc::corrupt, "kafka_state", "malformed order entry");
      const auto partition = get_uint<std::uint32_t>(loc, 0);
      const auto offset = get_uint<std::uint64_t>(loc, 4);
      std::string value;
      const auto s = db_->Get(rocksdb::ReadOptions{}, event_key(partition, offset), &value);
      if (!s.ok()) return from_status(s, "kafka_state");
      auto e = decode_event_value(partition, offset, value);
      if (!e) return e.error();
      e->position = log_position(get_uint<std::uint64_t>(key, 1));
      out.push_back(std::move(*e));
    }
    if (!it->status().ok()) return from_status(it->status(), "kafka_state");
    return out;
  }

  std::uint64_t indexed_events() const override { return next_order_.load(); }
  std::uint64_t indexed_through(std::uint32_t partition) const override { return indexed_.at(partition).load(); }

  result<std::uint64_t> events_end(std::uint32_t partition) override {
    const std::string lower = partition_key('e', partition), upper = prefix_end(lower);
    const rocksdb::Slice lower_slice(lower), upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_lower_bound = &lower_slice;
    if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    it->SeekForPrev(event_key(partition, std::numeric_limits<std::uint64_t>::max()));
    if (!it->Valid()) {
      if (!it->status().ok()) return from_status(it->status(), "kafka_state");
      return std::uint64_t{0};
    }
    const std::string_view key = view(it->key());
    if (key.size() != 13) return error(errc::corrupt, "kafka_state", "malformed event key");
    return get_uint<std::uint64_t>(key, 5) + 1;
  }

  result<bool> has_event_in(std::uint32_t partition, std::uint64_t from, std::uint64_t to) override {
    auto some = read_partition(partition, log_position(from), 1);
    if (!some) return some.error();
    return !some->empty() && some->front().position.value() < to;
  }

  status commit(const batch& b) override {
    std::lock_guard write_lock(write_mutex_);
    rocksdb::WriteBatch wb;
    std::uint64_t order = next_order_.load();
    std::unordered_map<std::string, std::uint64_t> versions;
    for (const auto& [e, command] : b.events) {
      wb.Put(event_key(e.partition, e.position.value()), encode_event_value(e, command));
      wb.Put(stream_key(e.stream, e.sequence.value()), encode_location(e.partition, e.position.value()));
      wb.Put(order_key(order++), encode_location(e.partition, e.position.value()));
      versions[e.stream] = e.sequence.value();
    }
    for (const auto& [id, outcome] : b.commands) {
      // The first outcome recorded for an id stands; only its count may grow (a command's
      // events read in two batches).
      std::string existing;
      const auto got = db_->Get(rocksdb::ReadOptions{}, "c" + id, &existing);
      if (got.IsNotFound()) {
        wb.Put("c" + id, encode_outcome(outcome));
      } else if (got.ok()) {
        auto first = decode_outcome(existing);
        if (first && first->stream == outcome.stream && first->first_sequence == outcome.first_sequence &&
            outcome.count > first->count)
          wb.Put("c" + id, encode_outcome(outcome));
      } else {
        return from_status(got, "kafka_state");
      }
    }
    std::vector<std::uint64_t> indexed(partitions_);
    for (std::uint32_t p = 0; p < partitions_; ++p) indexed[p] = indexed_[p].load();
    for (const auto& [p, offset] : b.indexed_through) {
      if (p >= partitions_) return error(errc::invalid_argument, "partition", "out of range");
      indexed[p] = std::max(indexed[p], offset);
      std::string v;
      put_u64(v, indexed[p]);
      wb.Put(partition_key('p', p), v);
    }
    std::string order_value;
    put_u64(order_value, order);
    wb.Put(meta_key("order"), order_value);
    for (const auto& [stream, what] : b.damaged_streams) wb.Put("f" + stream, what);
    for (const auto& f : b.foreign_records) {
      std::string k = partition_key('g', f.partition);
      put_u64(k, f.offset);
      wb.Put(k, f.what);
    }
    // The state rows and their positions. A partition's rows are in step where its state
    // position is where it was indexed. The batch's rows go in only if every partition it adds
    // events to is in step; then every partition in step moves with the index. A batch without
    // rows moves only the partitions it adds no events to (transaction markers, nothing else).
    std::vector<bool> has_events(partitions_, false);
    for (const auto& [e, command] : b.events) has_events[e.partition] = true;
    std::vector<log_position> new_positions;
    bool rows_in = false;
    {
      std::lock_guard lock(state_mutex_);
      new_positions = state_positions_;
      std::vector<bool> in_step(partitions_);
      for (std::uint32_t p = 0; p < partitions_; ++p) in_step[p] = state_positions_[p].value() == indexed_[p].load();
      rows_in = b.state_included;
      for (std::uint32_t p = 0; p < partitions_ && rows_in; ++p)
        if (has_events[p] && !in_step[p]) rows_in = false;
      for (std::uint32_t p = 0; p < partitions_; ++p)
        if (in_step[p] && (rows_in || !has_events[p])) new_positions[p] = log_position(indexed[p]);
    }
    if (rows_in)
      for (const auto& w : b.state) {
        if (w.value) wb.Put("x" + w.key, *w.value);
        else wb.Delete("x" + w.key);
      }
    for (std::uint32_t p = 0; p < partitions_; ++p) {
      std::string v;
      put_u64(v, new_positions[p].value());
      wb.Put(partition_key('q', p), v);
    }
    const auto s = db_->Write(write_options_, &wb);
    if (!s.ok()) return from_status(s, "kafka_state");
    for (std::uint32_t p = 0; p < partitions_; ++p) indexed_[p].store(indexed[p]);
    next_order_.store(order);
    {
      std::lock_guard lock(cache_mutex_);
      for (auto& [stream, v] : versions) versions_[stream] = v;
      if (versions_.size() > k_version_cache) versions_.clear();
    }
    {
      std::lock_guard lock(state_mutex_);
      state_positions_ = new_positions;
    }
    {
      std::lock_guard lock(damage_mutex_);
      for (const auto& [stream, what] : b.damaged_streams) damaged_streams_.insert(stream);
    }
    return ok;
  }

  // ---- state_rows ----
  result<std::optional<std::string>> get(std::string_view key) override {
    std::string value;
    const auto s = db_->Get(rocksdb::ReadOptions{}, "x" + std::string(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return from_status(s, "state");
    return std::optional<std::string>(std::move(value));
  }

  status scan(std::string_view from, std::string_view to,
              const std::function<bool(std::string_view, std::string_view)>& each) override {
    const std::string lower = "x" + std::string(from), upper = "x" + std::string(to);
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(lower); it->Valid(); it->Next())
      if (!each(view(it->key()).substr(1), view(it->value()))) return ok;
    if (!it->status().ok()) return from_status(it->status(), "state");
    return ok;
  }

  result<std::vector<log_position>> positions() override {
    std::lock_guard lock(state_mutex_);
    return state_positions_;
  }

  status write(const std::vector<state_write>& writes, const std::vector<log_position>& positions) override {
    if (positions.size() != partitions_)
      return error(errc::invalid_argument, "partition", "positions name another number of partitions");
    std::lock_guard write_lock(write_mutex_);
    rocksdb::WriteBatch wb;
    for (const auto& w : writes) {
      if (w.value) wb.Put("x" + w.key, *w.value);
      else wb.Delete("x" + w.key);
    }
    for (std::uint32_t p = 0; p < partitions_; ++p) {
      std::string v;
      put_u64(v, positions[p].value());
      wb.Put(partition_key('q', p), v);
    }
    const auto s = db_->Write(write_options_, &wb);
    if (!s.ok()) return from_status(s, "state");
    std::lock_guard lock(state_mutex_);
    state_positions_ = positions;
    return ok;
  }

  status clear() override {
    std::lock_guard write_lock(write_mutex_);
    rocksdb::WriteBatch wb;
    wb.DeleteRange("x", "y");
    for (std::uint32_t p = 0; p < partitions_; ++p) {
      std::string v;
      put_u64(v, 0);
      wb.Put(partition_key('q', p), v);
    }
    const auto s = db_->Write(write_options_, &wb);
    if (!s.ok()) return from_status(s, "state");
    std::lock_guard lock(state_mutex_);
    for (auto& p : state_positions_) p = log_position(0);
    return ok;
  }

 private:
  result<std::uint64_t> read_u64(const std::string& key) {
    std::string value;
    const auto s = db_->Get(rocksdb::ReadOptions{}, key, &value);
    if (s.IsNotFound()) return std::uint64_t{0};
    if (!s.ok()) return from_status(s, "kafka_state");
    if (value.size() != 8) return error(errc::corrupt, "kafka_state", "malformed position");
    return get_uint<std::uint64_t>(value, 0);
  }

  scratch_folder scratch_;  // a temporary store's folder; declared before db_
  std::unique_ptr<rocksdb::DB> db_;
  const std::uint32_t partitions_;
  rocksdb::WriteOptions write_options_;
  std::mutex write_mutex_;
  std::vector<std::atomic<std::uint64_t>> indexed_;
  std::atomic<std::uint64_t> next_order_{0};
  std::mutex state_mutex_;
  std::vector<log_position> state_positions_;
  std::mutex cache_mutex_;
  std::unordered_map<std::string, std::uint64_t> versions_;
  mutable std::mutex damage_mutex_;
  std::set<std::string> damaged_streams_;  // few: a damaged stream is an incident
};

}  // namespace

result<std::unique_ptr<local_store>> local_store::open(const std::filesystem::path& folder, std::string_view name,
                                                       std::uint32_t partitions) {
  scratch_folder scratch;
  std::filesystem::path path = folder;
  if (path.empty()) {
    auto made = scratch_folder::make();
    if (!made) return made.error();
    scratch = std::move(*made);
    path = scratch.path() / "store";
  }
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return error(errc::io, "kafka_state", "cannot create " + path.string() + ": " + ec.message());
  rocksdb::Options options = database_options();
  options.create_if_missing = true;
  // Rows mostly written in key order: the memtable remembers where each prefix's last row went
  // and starts there. RocksDB takes such hints only from one inserting thread at a time (the
  // store has one writer at a time).
  options.memtable_insert_with_hint_prefix_extractor = std::make_shared<ordered_rows>();
  options.allow_concurrent_memtable_write = false;
  // Levels 0 and 1 are rewritten by compaction soon and often: compressing them is wasted work
  // (a store small enough to sit in level 1, under about 256 MiB, stays uncompressed).
  options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression};
  for (int level = 2; level < options.num_levels; ++level) options.compression_per_level.push_back(options.compression);
  if (folder.empty()) {
    // A store for this process alone: larger memtables, so fewer files to flush and merge.
    options.write_buffer_size = std::size_t{64} << 20;
    options.avoid_flush_during_shutdown = true;
  }
  use_storage(options, path);
  rocksdb::DB* raw = nullptr;
  const auto s = rocksdb::DB::Open(options, path.string(), &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!s.ok()) {
    if (is_lock_error(s))
      return error(errc::unavailable, "kafka_state", path.string() + " is in use by another writer of this log");
    return from_status(s, "kafka_state");
  }
  // The folder is this log's, of this shape, in this format.
  std::string identity(name);
  identity.push_back('\0');
  put_u32(identity, partitions);
  std::string format;
  put_u32(format, k_local_format);
  std::string stored;
  auto got = db->Get(rocksdb::ReadOptions{}, meta_key("log"), &stored);
  if (got.IsNotFound()) {
    rocksdb::WriteBatch wb;
    wb.Put(meta_key("log"), identity);
    wb.Put(meta_key("format"), format);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (auto w = db->Write(wo, &wb); !w.ok()) return from_status(w, "kafka_state");
  } else if (!got.ok()) {
    return from_status(got, "kafka_state");
  } else if (stored != identity) {
    return error(errc::invalid_argument, "kafka_state",
                 path.string() + " holds the local state of another log (another topic or partition count)");
  } else {
    std::string f;
    if (auto g = db->Get(rocksdb::ReadOptions{}, meta_key("format"), &f); !g.ok() || f != format)
      return error(errc::corrupt, "kafka_state", path.string() + " is in another format; remove it to read the topic again");
  }
  auto store = std::make_unique<rocks_local_store>(std::move(db), partitions, std::move(scratch));
  if (auto l = store->load(); !l) return l.error();
  return std::unique_ptr<local_store>(std::move(store));
}

}  // namespace sazesh
