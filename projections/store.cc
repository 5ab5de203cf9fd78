#include "projections/store.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/log/storage_env.h"
#include "engine/record/hash.h"
#include "projections/rows.h"

namespace sazesh::projections {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_active = "ACTIVE";
constexpr const char* k_swap_lock = "SWAP.lock";

error from_status(const rocksdb::Status& s, const std::string& what) {
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return error(errc::unavailable, "projections", what + " is in use by another projector");
  return error(s.IsCorruption() ? errc::corrupt : errc::io, "projections", what + ": " + s.ToString());
}

class rocks_store final : public projection_store {
 public:
  rocks_store(std::unique_ptr<rocksdb::DB> db, store_mode mode, std::filesystem::path path)
      : db_(std::move(db)), mode_(mode), path_(std::move(path)) {}
  ~rocks_store() override {
    if (mode_ == store_mode::bulk_load) db_->Flush(rocksdb::FlushOptions());
  }

  result<std::optional<std::string>> get(std::string_view key) const override {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return from_status(s, "reading projections");
    return std::optional<std::string>(std::move(value));
  }

  status scan(std::string_view from, std::string_view to,
              const std::function<bool(std::string_view, std::string_view)>& each) const override {
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper(to.data(), to.size());
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
      const auto k = it->key();
      const auto v = it->value();
      if (!each(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) return ok;
    }
    // A scan that ended because a read failed is an error, not a short answer.
    if (!it->status().ok()) return from_status(it->status(), "reading projections");
    return ok;
  }

  status commit(const change_set& changes) override {
    if (mode_ == store_mode::read_only)
      return error(errc::unavailable, "projections", "opened read-only");
    rocksdb::WriteBatch batch;
    for (const auto& [k, v] : changes.changes()) {
      if (v) batch.Put(k, *v);
      else batch.Delete(k);
    }
    rocksdb::WriteOptions wo;
    wo.disableWAL = mode_ == store_mode::bulk_load;
    auto s = db_->Write(wo, &batch);
    if (!s.ok()) return from_status(s, "writing projections");
    return ok;
  }

  status flush() override {
    auto s = db_->Flush(rocksdb::FlushOptions());
    if (!s.ok()) return from_status(s, "flushing projections");
    return ok;
  }

  status compact() override {
    rocksdb::CompactRangeOptions o;
    o.change_level = true;
    auto s = db_->CompactRange(o, nullptr, nullptr);
    if (!s.ok()) return from_status(s, "compacting projections");
    return ok;
  }

  result<std::string> digest() const override {
    sha256_stream st;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      // Length-prefixed, so ("ab","c") and ("a","bc") hash differently.
      st.update(encode_u64(it->key().size()));
      st.update(std::string_view(it->key().data(), it->key().size()));
      st.update(encode_u64(it->value().size()));
      st.update(std::string_view(it->value().data(), it->value().size()));
    }
    if (!it->status().ok()) return from_status(it->status(), "reading projections");
    return to_hex(st.finish());
  }

  result<std::uint64_t> key_count() const override {
    std::uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    if (!it->status().ok()) return from_status(it->status(), "reading projections");
    return n;
  }

  const std::filesystem::path& location() const override { return path_; }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  store_mode mode_;
  std::filesystem::path path_;
};

// ---- Generations ---------------------------------------------------------------------------
//
// DATA_DIR/projections holds generations of the projections, each a RocksDB folder
// (gen-000001, gen-000002, …), and ACTIVE, a one-line file naming the one in use. A rebuild
// fills the next generation beside the live one and flips ACTIVE with one atomic rename, as
// RocksDB's own CURRENT file is flipped; SWAP.lock (flock) orders the flip against openers:
// an opener holds it shared while it resolves ACTIVE and opens that generation, a flip holds it
// exclusively. A writer opening a generation takes RocksDB's lock on it, which a rebuild also
// holds across the flip, so no projector ever writes into a generation that is being retired.

// An flock held on SWAP.lock for the life of the object.
class swap_lock {
 public:
  // Shared or exclusive; `create`: make the file if missing (writers; readers never create).
  static result<swap_lock> take(const fs::path& folder, bool exclusive, bool create) {
    const fs::path path = folder / k_swap_lock;
    const int fd = ::open(path.c_str(), (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == ENOENT) return error(errc::not_found, "projections", "there are no projections in " + folder.string() + " yet (run: sazesh project)");
      return error(errc::io, "projections", "cannot open " + path.string() + ": " + std::strerror(errno));
    }
    swap_lock l(fd);
    while (::flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno == EINTR) continue;
      return error(errc::io, "projections", "cannot lock " + path.string() + ": " + std::strerror(errno));
    }
    return l;
  }
  swap_lock(swap_lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  swap_lock& operator=(swap_lock&&) = delete;
  ~swap_lock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }

 private:
  explicit swap_lock(int fd) : fd_(fd) {}
  int fd_;
};

result<std::optional<std::string>> read_active(const fs::path& folder) {
  std::ifstream in(folder / k_active);
  if (!in) return std::optional<std::string>();
  std::string name;
  std::getline(in, name);
  if (name.rfind("gen-", 0) != 0 || name.find('/') != std::string::npos)
    return error(errc::corrupt, "projections", (folder / k_active).string() + " does not name a generation");
  return std::optional<std::string>(name);
}

status sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return error(errc::io, "projections", "cannot open " + folder.string() + ": " + std::strerror(errno));
  const int r = ::fsync(fd);
  ::close(fd);
  if (r != 0) return error(errc::io, "projections", "cannot sync " + folder.string() + ": " + std::strerror(errno));
  return ok;
}

// Points ACTIVE at `generation`: written beside, synced, renamed over, the folder synced.
status write_active(const fs::path& folder, const std::string& generation) {
  const fs::path tmp = folder / "ACTIVE.tmp";
  {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return error(errc::io, "projections", "cannot write " + tmp.string() + ": " + std::strerror(errno));
    const std::string line = generation + "\n";
    const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!written) return error(errc::io, "projections", "cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, folder / k_active, ec);
  if (ec) return error(errc::io, "projections", "cannot write " + (folder / k_active).string() + ": " + ec.message());
  return sync_folder(folder);
}

std::uint64_t generation_number(const std::string& name) {
  std::uint64_t n = 0;
  for (char c : name.substr(4)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// Projections written before generations existed: the RocksDB folder is DATA_DIR/projections
// itself. Moved, whole, to be generation 1 (under the exclusive lock).
status migrate_legacy(const fs::path& folder) {
  std::error_code ec;
  const fs::path aside = fs::path(folder.string() + ".migrating");
  fs::rename(folder, aside, ec);
  if (ec) return error(errc::io, "projections", "cannot move " + folder.string() + " aside: " + ec.message());
  fs::create_directories(folder, ec);
  if (ec) return error(errc::io, "projections", "cannot create " + folder.string() + ": " + ec.message());
  fs::rename(aside, folder / fmt_generation(1), ec);
  if (ec) return error(errc::io, "projections", "cannot move the projections into " + folder.string() + ": " + ec.message());
  return write_active(folder, fmt_generation(1));
}

bool is_legacy(const fs::path& folder) {
  std::error_code ec;
  return fs::exists(folder / "CURRENT", ec) && !fs::exists(folder / k_active, ec);
}

// What bounds the memory of an opening: store.h.
constexpr std::size_t block_cache_bytes = 64 << 20;

rocksdb::Options options_for(store_mode mode) {
  rocksdb::Options options;
  options.create_if_missing = false;
  options.max_open_files = 256;
  rocksdb::BlockBasedTableOptions table;
  // Bloom filters: most reads of a projector are of rows that may not exist yet (a new case,
  // a new shop), answered without reading a block.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  // Index and filter blocks live in the block cache, so the cache bounds them too. One cache
  // per opening: a reader sees the files as they are, not blocks another opening kept.
  table.block_cache = rocksdb::NewLRUCache(block_cache_bytes);
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // LZ4: a list reads its rows from blocks the cache does not hold, and LZ4 decompresses them
  // about twice as fast as Snappy, RocksDB's default.
  options.compression = rocksdb::kLZ4Compression;
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.05;
  if (mode == store_mode::read_only) {
    // Every table file is opened now, so a rebuild that retires this generation while the
    // query runs cannot pull a file from under it.
    options.max_open_files = -1;
    options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  }
  if (mode == store_mode::bulk_load) {
    options.create_if_missing = true;
    options.write_buffer_size = 64 << 20;
    options.max_write_buffer_number = 3;
  }
  return options;
}

result<std::unique_ptr<projection_store>> open_generation(const fs::path& path, store_mode mode, bool create) {
  rocksdb::Options options = options_for(mode);
  if (create) options.create_if_missing = true;
  use_storage(options, path);
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = mode == store_mode::read_only
                                ? rocksdb::DB::OpenForReadOnly(options, path.string(), &raw)
                                : rocksdb::DB::Open(options, path.string(), &raw);
  if (!s.ok()) return from_status(s, "opening " + path.string());
  std::unique_ptr<rocksdb::DB> db(raw);
  auto store = std::make_unique<rocks_store>(std::move(db), mode, path);
  if (mode != store_mode::read_only) {
    const auto fmt_key = keys::format();
    auto existing = store->get(fmt_key);
    if (!existing) return existing.error();
    if (*existing && decode_u64(**existing) != row_format_version)
      return error(errc::corrupt, "projections", std::string(other_row_format_rule));
    if (!*existing) {
      change_set c(*store);
      c.put(fmt_key, encode_u64(row_format_version));
      if (auto st = store->commit(c); !st) return st.error();
    }
  }
  return std::unique_ptr<projection_store>(std::move(store));
}

}  // namespace

std::string fmt_generation(std::uint64_t n) {
  std::string digits = std::to_string(n);
  if (digits.size() < 6) digits.insert(0, 6 - digits.size(), '0');
  return "gen-" + digits;
}

namespace {

class borrowed_store final : public projection_store {
 public:
  explicit borrowed_store(projection_store& target) : t_(target) {}
  result<std::optional<std::string>> get(std::string_view key) const override { return t_.get(key); }
  status scan(std::string_view from, std::string_view to,
              const std::function<bool(std::string_view, std::string_view)>& each) const override {
    return t_.scan(from, to, each);
  }
  status commit(const change_set& changes) override { return t_.commit(changes); }
  status flush() override { return t_.flush(); }
  status compact() override { return t_.compact(); }
  result<std::string> digest() const override { return t_.digest(); }
  result<std::uint64_t> key_count() const override { return t_.key_count(); }
  const std::filesystem::path& location() const override { return t_.location(); }

 private:
  projection_store& t_;
};

}  // namespace

std::unique_ptr<projection_store> borrow(projection_store& target) { return std::make_unique<borrowed_store>(target); }

result<std::unique_ptr<projection_store>> projection_store::open(const fs::path& folder, store_mode mode) {
  std::error_code ec;
  if (mode == store_mode::bulk_load) {
    fs::create_directories(folder, ec);
    if (ec) return error(errc::io, "projections", "cannot create " + folder.string() + ": " + ec.message());
    return open_generation(folder, mode, true);
  }
  if (mode == store_mode::read_only) {
    if (!fs::exists(folder / k_active, ec) && !is_legacy(folder))
      return error(errc::not_found, "projections",
                   "there are no projections in " + folder.string() + " yet (run: sazesh project)");
    if (is_legacy(folder)) return open_generation(folder, mode, false);  // read as it is; a writer migrates it
    auto lock = swap_lock::take(folder, false, false);
    if (!lock) return lock.error();
    auto active = read_active(folder);
    if (!active) return active.error();
    if (!*active) return error(errc::not_found, "projections", "there are no projections in " + folder.string() + " yet (run: sazesh project)");
    return open_generation(folder / **active, mode, false);
  }
  fs::create_directories(folder, ec);
  if (ec) return error(errc::io, "projections", "cannot create " + folder.string() + ": " + ec.message());
  {
    // First use, or a folder from before generations: set up under the exclusive lock.
    auto active = read_active(folder);
    if (!active) return active.error();
    if (!*active) {
      auto exclusive = swap_lock::take(folder, true, true);
      if (!exclusive) return exclusive.error();
      if (is_legacy(folder)) {
        if (auto s = migrate_legacy(folder); !s) return s.error();
      } else if (auto again = read_active(folder); again && !*again) {
        fs::create_directories(folder / fmt_generation(1), ec);
        if (ec) return error(errc::io, "projections", "cannot create " + folder.string() + ": " + ec.message());
        if (auto s = write_active(folder, fmt_generation(1)); !s) return s.error();
      }
    }
  }
  auto lock = swap_lock::take(folder, false, true);
  if (!lock) return lock.error();
  auto active = read_active(folder);
  if (!active) return active.error();
  if (!*active) return error(errc::corrupt, "projections", (folder / k_active).string() + " is missing");
  return open_generation(folder / **active, mode, true);
}

result<std::string> active_generation(const fs::path& folder) {
  auto active = read_active(folder);
  if (!active) return active.error();
  if (!*active) return error(errc::not_found, "projections", "there are no projections in " + folder.string() + " yet");
  return **active;
}

result<std::string> next_generation(const fs::path& folder) {
  std::uint64_t highest = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("gen-", 0) == 0) highest = std::max(highest, generation_number(name));
  }
  if (ec) return error(errc::io, "projections", "cannot list " + folder.string() + ": " + ec.message());
  return fmt_generation(highest + 1);
}

status activate_generation(const fs::path& folder, const std::string& built, const std::string& generation,
                           const std::function<void()>& before_retiring) {
  auto exclusive = swap_lock::take(folder, true, true);
  if (!exclusive) return exclusive.error();
  auto previous = read_active(folder);
  if (!previous) return previous.error();
  std::error_code ec;
  fs::rename(folder / built, folder / generation, ec);
  if (ec) return error(errc::io, "projections", "cannot name the rebuilt projections " + generation + ": " + ec.message());
  if (auto s = write_active(folder, generation); !s) return s;
  if (before_retiring) before_retiring();
  if (*previous && **previous != generation) fs::remove_all(folder / **previous, ec);
  return ok;
}

void remove_stale_generations(const fs::path& folder) {
  std::error_code ec;
  if (!fs::exists(folder / k_active, ec)) return;
  auto exclusive = swap_lock::take(folder, true, false);
  if (!exclusive) return;
  auto active = read_active(folder);
  if (!active || !*active) return;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("gen-", 0) == 0 && name != **active) {
      fs::remove_all(e.path(), ec);
    } else if (name.rfind("building-", 0) == 0) {
      // A rebuild's folder: removed once its process is gone.
      const std::string pid_text = name.substr(9);
      const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
    }
  }
}

}  // namespace sazesh::projections
