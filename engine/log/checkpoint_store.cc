#include "engine/log/checkpoint_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "engine/base/text_file.h"
#include "engine/log/embedded_format.h"
#include "engine/log/storage_env.h"
#include "engine/record/merkle.h"

namespace sazesh {
namespace {

using namespace embedded_format;

constexpr std::uint32_t k_store_format = 1;
constexpr std::size_t k_read_batch = 4096;
constexpr std::uint64_t k_max_key_file = 4096;

std::string meta_format_key() { return "mformat_version"; }
std::string edge_key() { return "r"; }
std::string verifier_key_row() { return "mverifier_key"; }
std::string node_key(unsigned level, std::uint64_t index) {
  std::string k(1, 'n');
  k += static_cast<char>(level);
  put_u64(k, index);
  return k;
}
std::string checkpoint_key(std::uint64_t size) {
  std::string k(1, 'k');
  put_u64(k, size);
  return k;
}

class rocks_checkpoint_store final : public checkpoint_store {
 public:
  rocks_checkpoint_store(std::unique_ptr<rocksdb::DB> db, bool writable, merkle::compact_range tree, scratch_folder scratch)
      : scratch_(std::move(scratch)), db_(std::move(db)), writable_(writable), tree_(std::move(tree)) {}

  result<std::uint64_t> extend(event_log& log) override {
    std::lock_guard lock(mu_);
    if (!writable_) return error(errc::unavailable, "checkpoints", "opened for reading");
    auto end = log.end();
    if (!end) return end.error();
    if (end->value() < tree_.size())
      return error(errc::corrupt, "log",
                   fmt::format("the log holds {} events but its Merkle tree {}: events were removed from the log",
                               end->value(), tree_.size()));
    for (;;) {
      auto batch = log.read_all(log_position(tree_.size()), k_read_batch);
      if (!batch) return batch.error();
      if (batch->empty()) break;
      // Grown on a copy, kept only once its hashes are written.
      merkle::compact_range grown = tree_;
      rocksdb::WriteBatch wb;
      for (const auto& e : *batch) {
        if (e.position.value() != grown.size())
          return error(errc::corrupt, "log",
                       fmt::format("position {} follows {}: the log's positions have a gap", e.position.value(), grown.size()));
        grown.push(merkle::leaf_hash(e.bytes), [&](unsigned level, std::uint64_t index, const std::string& h) {
          if (kept_level(level)) wb.Put(node_key(level, index), h);
        });
      }
      wb.Put(edge_key(), encode_edge(grown));
      if (auto s = db_->Write(rocksdb::WriteOptions(), &wb); !s.ok()) return from_status(s, "checkpoints");
      tree_ = std::move(grown);
      if (batch->size() < k_read_batch) break;
    }
    return tree_.size();
  }

  std::uint64_t size() const override {
    std::lock_guard lock(mu_);
    return tree_.size();
  }
  std::string root() const override {
    std::lock_guard lock(mu_);
    return tree_.root();
  }

  result<std::optional<std::string>> sign(const signing_key& key) override {
    std::lock_guard lock(mu_);
    if (!writable_) return error(errc::unavailable, "checkpoints", "opened for reading");
    auto last = latest_locked();
    if (!last) return last;
    if (tree_.size() == 0 || latest_size_ == tree_.size()) return last;
    std::string note = sign_note(checkpoint_text({key.name, tree_.size(), tree_.root()}), key);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    rocksdb::WriteBatch wb;
    wb.Put(checkpoint_key(tree_.size()), note);
    wb.Put(verifier_key_row(), verifier_key_text(key.verifier()));
    if (auto s = db_->Write(sync, &wb); !s.ok()) return from_status(s, "checkpoints");
    latest_size_ = tree_.size();
    return std::optional<std::string>(std::move(note));
  }

  result<std::optional<std::string>> latest() override {
    std::lock_guard lock(mu_);
    return latest_locked();
  }

  result<std::vector<std::pair<std::uint64_t, std::string>>> checkpoints() override {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    auto it = checkpoint_iterator();
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const auto k = view(it->key());
      if (k.size() != 9) return error(errc::corrupt, "checkpoints", "malformed checkpoint key");
      out.emplace_back(get_uint<std::uint64_t>(k, 1), std::string(view(it->value())));
    }
    if (!it->status().ok()) return from_status(it->status(), "checkpoints");
    return out;
  }

  result<std::optional<verifier_key>> signer() override {
    std::string v;
    const auto s = db_->Get(rocksdb::ReadOptions(), verifier_key_row(), &v);
    if (s.IsNotFound()) return std::optional<verifier_key>();
    if (!s.ok()) return from_status(s, "checkpoints");
    auto k = parse_verifier_key(v, "checkpoints");
    if (!k) return k.error();
    return std::optional<verifier_key>(*k);
  }

  result<std::optional<std::string>> kept_subtree(unsigned level, std::uint64_t index) override {
    std::string v;
    const auto s = db_->Get(rocksdb::ReadOptions(), node_key(level, index), &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return from_status(s, "checkpoints");
    if (v.size() != 32) return error(errc::corrupt, "checkpoints", fmt::format("subtree {}/{} is not a hash", level, index));
    return std::optional<std::string>(std::move(v));
  }

  result<std::string> root_at(std::uint64_t tree_size, event_log& log) override {
    if (auto s = check_size(tree_size); !s) return s.error();
    return merkle::root(tree_size, subtree_of(log));
  }

  result<std::vector<std::string>> inclusion_proof(std::uint64_t index, std::uint64_t tree_size, event_log& log) override {
    if (auto s = check_size(tree_size); !s) return s.error();
    if (index >= tree_size) return error(errc::invalid_argument, "position", fmt::format("must be below the tree size {}", tree_size));
    return merkle::inclusion_proof(index, tree_size, subtree_of(log));
  }

  result<std::vector<std::string>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size, event_log& log) override {
    if (auto s = check_size(new_size); !s) return s.error();
    if (old_size == 0 || old_size > new_size)
      return error(errc::invalid_argument, "size", fmt::format("the older tree must hold 1 to {} events", new_size));
    return merkle::consistency_proof(old_size, new_size, subtree_of(log));
  }

 private:
  static std::string encode_edge(const merkle::compact_range& tree) {
    std::string v;
    put_u64(v, tree.size());
    for (const auto& h : tree.edge()) v += h;
    return v;
  }

  // An iterator over the checkpoint rows ('k') only.
  std::unique_ptr<rocksdb::Iterator> checkpoint_iterator() {
    static const rocksdb::Slice lower("k"), upper("l");  // static: the iterator keeps pointers to them
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower;
    ro.iterate_upper_bound = &upper;
    return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro));
  }

  result<std::optional<std::string>> latest_locked() {
    auto it = checkpoint_iterator();
    it->SeekToLast();
    if (!it->Valid()) {
      if (!it->status().ok()) return from_status(it->status(), "checkpoints");
      latest_size_ = 0;
      return std::optional<std::string>();
    }
    const auto k = view(it->key());
    if (k.size() != 9) return error(errc::corrupt, "checkpoints", "malformed checkpoint key");
    latest_size_ = get_uint<std::uint64_t>(k, 1);
    return std::optional<std::string>(std::string(view(it->value())));
  }

  status check_size(std::uint64_t tree_size) const {
    std::lock_guard lock(mu_);
    if (tree_size > tree_.size())
      return error(errc::invalid_argument, "size", fmt::format("the tree holds {} events", tree_.size()));
    return ok;
  }

  // The perfect subtree (level, index): kept, or computed from the kept level below it, or from
  // its envelopes in the log.
  merkle::subtree_fn subtree_of(event_log& log) {
    return [this, &log](unsigned level, std::uint64_t index) { return subtree(level, index, log); };
  }
  result<std::string> subtree(unsigned level, std::uint64_t index, event_log& log) {
    if (kept_level(level)) {
      auto kept = kept_subtree(level, index);
      if (!kept) return kept.error();
      if (*kept) return std::move(**kept);
    }
    if (level < 4) {
      const std::uint64_t first = index << level;
      const std::uint64_t count = std::uint64_t{1} << level;
      auto events = log.read_all(log_position(first), count);
      if (!events) return events.error();
      if (events->size() != count)
        return error(errc::corrupt, "log", fmt::format("the log ends before position {}", first + count - 1));
      merkle::compact_range r;
      for (std::uint64_t i = 0; i < count; ++i) {
        if ((*events)[i].position.value() != first + i)
          return error(errc::corrupt, "log", fmt::format("position {} is missing: the log's positions have a gap", first + i));
        r.push(merkle::leaf_hash((*events)[i].bytes));
      }
      return r.root();
    }
    auto left = subtree(level - 1, index * 2, log);
    if (!left) return left;
    auto right = subtree(level - 1, index * 2 + 1, log);
    if (!right) return right;
    return merkle::node_hash(*left, *right);
  }

  scratch_folder scratch_;  // a reader's diagnostics log; outlives the database
  std::unique_ptr<rocksdb::DB> db_;
  bool writable_;
  mutable std::mutex mu_;
  merkle::compact_range tree_;
  std::uint64_t latest_size_ = 0;
};

result<merkle::compact_range> read_edge(rocksdb::DB& db) {
  std::string v;
  const auto s = db.Get(rocksdb::ReadOptions(), edge_key(), &v);
  if (s.IsNotFound()) return merkle::compact_range();
  if (!s.ok()) return from_status(s, "checkpoints");
  if (v.size() < 8 || (v.size() - 8) % 32 != 0) return error(errc::corrupt, "checkpoints", "malformed tree edge");
  std::vector<std::string> edge;
  for (std::size_t at = 8; at < v.size(); at += 32) edge.push_back(v.substr(at, 32));
  auto r = merkle::compact_range::resume(get_uint<std::uint64_t>(v, 0), std::move(edge));
  if (!r) return error(errc::corrupt, "checkpoints", r.error().rule());
  return r;
}

}  // namespace

result<std::unique_ptr<checkpoint_store>> checkpoint_store::open(const std::filesystem::path& folder, access mode) {
  rocksdb::Options options = database_options();
  options.write_buffer_size = 4u << 20;
  rocksdb::DB* raw = nullptr;
  scratch_folder scratch;
  if (mode == access::write) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) return error(errc::io, "checkpoints", fmt::format("cannot create {}: {}", folder.string(), ec.message()));
    options.create_if_missing = true;
    use_storage(options, folder);
    const auto s = rocksdb::DB::Open(options, folder.string(), &raw);
    if (!s.ok()) {
      if (is_lock_error(s)) return error(errc::unavailable, "checkpoints", fmt::format("{} is held by another process", folder.string()));
      return from_status(s, "checkpoints");
    }
  } else {
    if (!std::filesystem::exists(folder / "CURRENT"))
      return error(errc::not_found, "checkpoints", fmt::format("no checkpoints in {}: the log has not been checkpointed yet", folder.string()));
    options.create_if_missing = false;
    options.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
    auto made = scratch_folder::make();  // its diagnostics, never in the writer's folder
    if (!made) return made.error();
    scratch = std::move(*made);
    use_storage(options, scratch.path());
    const auto s = rocksdb::DB::OpenForReadOnly(options, folder.string(), &raw);
    if (!s.ok()) return from_status(s, "checkpoints");
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string format;
  const auto fs = db->Get(rocksdb::ReadOptions(), meta_format_key(), &format);
  if (fs.IsNotFound()) {
    if (mode == access::write) {
      std::string v;
      put_u32(v, k_store_format);
      if (auto s = db->Put(rocksdb::WriteOptions(), meta_format_key(), v); !s.ok()) return from_status(s, "checkpoints");
    }
  } else if (!fs.ok()) {
    return from_status(fs, "checkpoints");
  } else if (format.size() != 4 || get_uint<std::uint32_t>(format, 0) != k_store_format) {
    return error(errc::corrupt, "checkpoints", fmt::format("{} is not a checkpoint store of format {}", folder.string(), k_store_format));
  }
  auto edge = read_edge(*db);
  if (!edge) return edge.error();
  auto store = std::make_unique<rocks_checkpoint_store>(std::move(db), mode == access::write, std::move(*edge), std::move(scratch));
  if (auto l = store->latest(); !l) return l.error();
  return std::unique_ptr<checkpoint_store>(std::move(store));
}

result<signing_key> read_signing_key_file(const std::filesystem::path& file) {
  auto text = read_text_file(file, "signing_key", k_max_key_file);
  if (!text && text.error().code() == errc::not_found)
    return error(errc::not_found, "signing_key", fmt::format("no signing key at {} (sazesh keys generate makes one)", file.string()));
  if (!text) return text.error();
  return parse_signer_key(*text, "signing_key");
}

result<signing_key> create_signing_key_file(const std::filesystem::path& file, std::string_view origin) {
  auto key = generate_signing_key(origin);
  if (!key) return key.error();
  std::error_code ec;
  if (file.has_parent_path()) {
    const bool made = std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) return error(errc::io, "signing_key", fmt::format("cannot create {}: {}", file.parent_path().string(), ec.message()));
    if (made) ::chmod(file.parent_path().c_str(), 0700);
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return error(errc::conflict, "signing_key", fmt::format("{} already exists: a log keeps its key (remove it first to replace it)", file.string()));
    return error(errc::io, "signing_key", fmt::format("cannot create {}: {}", file.string(), std::strerror(errno)));
  }
  const std::string text = signer_key_text(*key) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    std::filesystem::remove(file, ec);
    return error(errc::io, "signing_key", fmt::format("cannot write {}", file.string()));
  }
  return key;
}

}  // namespace sazesh
