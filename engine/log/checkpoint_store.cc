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
#include <charconv>
#include <cstring>
#include <map>
#include <mutex>

#include "engine/base/text_file.h"
#include "engine/log/embedded_format.h"
#include "engine/log/storage_env.h"
#include "engine/record/merkle.h"

namespace sazesh {
namespace {

using namespace embedded_format;

constexpr std::uint32_t k_store_format = 2;
constexpr std::size_t k_read_batch = 4096;
constexpr std::uint64_t k_max_key_file = 4096;
constexpr std::uint64_t k_chunk = 16;  // leaves per position row
constexpr std::uint32_t k_max_partitions = 1u << 16;

std::string meta_format_key() { return "mformat_version"; }
std::string meta_partitions_key() { return "mpartitions"; }
std::string verifier_key_row() { return "mverifier_key"; }
std::string with_partition(char kind, std::uint32_t partition) {
  std::string k(1, kind);
  put_u32(k, partition);
  return k;
}
std::string edge_key(std::uint32_t partition) { return with_partition('r', partition); }
std::string node_key(std::uint32_t partition, unsigned level, std::uint64_t index) {
  std::string k = with_partition('n', partition);
  k += static_cast<char>(level);
  put_u64(k, index);
  return k;
}
std::string chunk_key(std::uint32_t partition, std::uint64_t chunk) {
  std::string k = with_partition('o', partition);
  put_u64(k, chunk);
  return k;
}
std::string checkpoint_key(std::uint32_t partition, std::uint64_t size) {
  std::string k = with_partition('k', partition);
  put_u64(k, size);
  return k;
}
std::string u64_value(std::uint64_t v) {
  std::string out;
  put_u64(out, v);
  return out;
}
std::string u32_value(std::uint32_t v) {
  std::string out;
  put_u32(out, v);
  return out;
}

// One partition's tree: its compact range and the position after its last leaf.
struct tree_state {
  merkle::compact_range tree;
  std::uint64_t next = 0;
  std::uint64_t signed_size = 0;  // the latest checkpoint's size
};

std::string encode_edge(const tree_state& t) {
  std::string v;
  put_u64(v, t.tree.size());
  put_u64(v, t.next);
  for (const auto& h : t.tree.edge()) v += h;
  return v;
}

result<tree_state> decode_edge(std::string_view v, std::size_t header) {
  if (v.size() < header || (v.size() - header) % 32 != 0) return error(errc::corrupt, "checkpoints", "malformed tree edge");
  std::vector<std::string> edge;
  for (std::size_t at = header; at < v.size(); at += 32) edge.emplace_back(v.substr(at, 32));
  const std::uint64_t size = get_uint<std::uint64_t>(v, 0);
  auto r = merkle::compact_range::resume(size, std::move(edge));
  if (!r) return error(errc::corrupt, "checkpoints", r.error().rule());
  tree_state t;
  t.tree = std::move(*r);
  t.next = header == 16 ? get_uint<std::uint64_t>(v, 8) : size;  // format 1: dense positions
  return t;
}

class rocks_checkpoint_store final : public checkpoint_store {
 public:
  rocks_checkpoint_store(std::unique_ptr<rocksdb::DB> db, bool writable, std::vector<tree_state> trees, scratch_folder scratch)
      : scratch_(std::move(scratch)), db_(std::move(db)), writable_(writable), trees_(std::move(trees)) {}

  result<std::uint64_t> extend(event_log& log) override {
    std::lock_guard lock(mu_);
    if (!writable_) return error(errc::unavailable, "checkpoints", "opened for reading");
    const std::uint32_t partitions = log.partitions();
    if (partitions < trees_.size())
      return error(errc::corrupt, "log", fmt::format("the log has {} partitions but its Merkle trees {}", partitions, trees_.size()));
    if (partitions > k_max_partitions) return error(errc::invalid_argument, "log", "has too many partitions for its trees");
    if (partitions > trees_.size()) {
      if (auto s = db_->Put(rocksdb::WriteOptions(), meta_partitions_key(), u32_value(partitions)); !s.ok())
        return from_status(s, "checkpoints");
      trees_.resize(partitions);
    }
    const bool dense = log.positions_dense();
    std::uint64_t leaves = 0;
    for (std::uint32_t p = 0; p < partitions; ++p) {
      tree_state& t = trees_[p];
      auto end = log.partition_end(p);
      if (!end) return end.error();
      if (end->value() < t.next)
        return error(errc::corrupt, "log",
                     fmt::format("{} ends at position {} but its Merkle tree took events up to {}: events were removed "
                                 "from the log",
                                 partition_name(p, partitions), end->value(), t.next));
      for (;;) {
        auto batch = log.read_partition(p, log_position(t.next), k_read_batch);
        if (!batch) return batch.error();
        if (batch->empty()) break;
        // Grown on a copy, kept only once its hashes are written.
        tree_state grown = t;
        rocksdb::WriteBatch wb;
        for (const auto& e : *batch) {
          if (dense && e.position.value() != grown.tree.size())
            return error(errc::corrupt, "log",
                         fmt::format("position {} follows {}: the log's positions have a gap", e.position.value(),
                                     grown.tree.size()));
          if (grown.tree.size() % k_chunk == 0) wb.Put(chunk_key(p, grown.tree.size() / k_chunk), u64_value(e.position.value()));
          grown.tree.push(merkle::leaf_hash(e.bytes), [&](unsigned level, std::uint64_t index, const std::string& h) {
            if (kept_level(level)) wb.Put(node_key(p, level, index), h);
          });
          grown.next = e.position.value() + 1;
        }
        wb.Put(edge_key(p), encode_edge(grown));
        if (auto s = db_->Write(rocksdb::WriteOptions(), &wb); !s.ok()) return from_status(s, "checkpoints");
        t = std::move(grown);
        if (batch->size() < k_read_batch) break;
      }
      leaves += t.tree.size();
    }
    return leaves;
  }

  std::uint32_t partitions() const override {
    std::lock_guard lock(mu_);
    return static_cast<std::uint32_t>(trees_.size());
  }
  std::uint64_t size(std::uint32_t partition) const override {
    std::lock_guard lock(mu_);
    return partition < trees_.size() ? trees_[partition].tree.size() : 0;
  }
  std::string root(std::uint32_t partition) const override {
    std::lock_guard lock(mu_);
    return partition < trees_.size() ? trees_[partition].tree.root() : merkle::compact_range().root();
  }

  result<std::vector<signed_checkpoint>> sign(const signing_key& key) override {
    std::lock_guard lock(mu_);
    if (!writable_) return error(errc::unavailable, "checkpoints", "opened for reading");
    const auto partitions = static_cast<std::uint32_t>(trees_.size());
    std::vector<signed_checkpoint> made;
    rocksdb::WriteBatch wb;
    for (std::uint32_t p = 0; p < partitions; ++p) {
      const tree_state& t = trees_[p];
      if (t.tree.size() == 0 || t.signed_size == t.tree.size()) continue;
      std::string note =
          sign_note(checkpoint_text({checkpoint_origin(key.name, p, partitions), t.tree.size(), t.tree.root()}), key);
      wb.Put(checkpoint_key(p, t.tree.size()), note);
      made.push_back({p, t.tree.size(), std::move(note)});
    }
    if (made.empty()) return made;
    wb.Put(verifier_key_row(), verifier_key_text(key.verifier()));
    rocksdb::WriteOptions sync;
    sync.sync = true;
    if (auto s = db_->Write(sync, &wb); !s.ok()) return from_status(s, "checkpoints");
    for (const auto& c : made) trees_[c.partition].signed_size = c.size;
    return made;
  }

  result<signed_checkpoint> sign_at(const signing_key& key, std::uint32_t partition, std::uint64_t tree_size,
                                    event_log& log) override {
    if (!writable_) return error(errc::unavailable, "checkpoints", "opened for reading");
    if (auto s = check_size(partition, tree_size); !s) return s.error();
    if (tree_size == 0) return error(errc::invalid_argument, "size", "an empty tree is not signed");
    const auto partitions_now = [&] {
      std::lock_guard lock(mu_);
      return static_cast<std::uint32_t>(trees_.size());
    };
    std::string kept;
    const auto found = db_->Get(rocksdb::ReadOptions(), checkpoint_key(partition, tree_size), &kept);
    if (!found.ok() && !found.IsNotFound()) return from_status(found, "checkpoints");
    // One kept already is returned if this key signed it for this tree (else signed again).
    if (found.ok() && open_checkpoint(kept, key.verifier(), "checkpoints", checkpoint_origin(key.name, partition, partitions_now())))
      return signed_checkpoint{partition, tree_size, std::move(kept)};
    auto root = root_at(partition, tree_size, log);
    if (!root) return root.error();
    std::lock_guard lock(mu_);
    const auto partitions = static_cast<std::uint32_t>(trees_.size());
    std::string note = sign_note(checkpoint_text({checkpoint_origin(key.name, partition, partitions), tree_size, *root}), key);
    rocksdb::WriteBatch wb;
    wb.Put(checkpoint_key(partition, tree_size), note);
    wb.Put(verifier_key_row(), verifier_key_text(key.verifier()));
    rocksdb::WriteOptions sync;
    sync.sync = true;
    if (auto s = db_->Write(sync, &wb); !s.ok()) return from_status(s, "checkpoints");
    trees_[partition].signed_size = std::max(trees_[partition].signed_size, tree_size);
    return signed_checkpoint{partition, tree_size, std::move(note)};
  }

  result<std::vector<stored_event>> leaves(std::uint32_t partition, std::uint64_t first, std::size_t count,
                                           event_log& log) override {
    const std::uint64_t held = size(partition);
    if (first >= held || count == 0) return std::vector<stored_event>();
    const std::uint64_t want = std::min<std::uint64_t>(count, held - first);
    auto start = chunk_start(partition, first / k_chunk);
    if (!start) return start.error();
    const std::uint64_t skip = first % k_chunk;
    auto events = log.read_partition(partition, log_position(*start), skip + want);
    if (!events) return events;
    if (events->size() != skip + want || events->front().position.value() != *start)
      return error(errc::corrupt, "log",
                   fmt::format("events of the Merkle tree's leaves {} to {} are missing from the log", first, first + want - 1));
    events->erase(events->begin(), events->begin() + static_cast<std::ptrdiff_t>(skip));
    return events;
  }

  result<std::optional<signed_checkpoint>> latest(std::uint32_t partition) override {
    auto last = read_checkpoints(partition, true);
    if (!last) return last.error();
    if (last->empty()) return std::optional<signed_checkpoint>();
    return std::optional<signed_checkpoint>(std::move(last->front()));
  }

  result<std::vector<signed_checkpoint>> checkpoints(std::uint32_t partition) override { return read_checkpoints(partition, false); }
  result<std::vector<signed_checkpoint>> all_checkpoints() override { return read_checkpoints(std::nullopt, false); }

  result<std::optional<verifier_key>> signer() override {
    std::string v;
    const auto s = db_->Get(rocksdb::ReadOptions(), verifier_key_row(), &v);
    if (s.IsNotFound()) return std::optional<verifier_key>();
    if (!s.ok()) return from_status(s, "checkpoints");
    auto k = parse_verifier_key(v, "checkpoints");
    if (!k) return k.error();
    return std::optional<verifier_key>(*k);
  }

  result<std::optional<std::string>> kept_subtree(std::uint32_t partition, unsigned level, std::uint64_t index) override {
    std::string v;
    const auto s = db_->Get(rocksdb::ReadOptions(), node_key(partition, level, index), &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return from_status(s, "checkpoints");
    if (v.size() != 32) return error(errc::corrupt, "checkpoints", fmt::format("subtree {}/{} is not a hash", level, index));
    return std::optional<std::string>(std::move(v));
  }

  result<std::uint64_t> leaf_at(std::uint32_t partition, log_position position, event_log& log) override {
    const std::uint64_t leaves = size(partition);
    const auto missing = [&] {
      return error(errc::not_found, "position", fmt::format("the Merkle tree holds no event at position {}", position.value()));
    };
    if (leaves == 0) return missing();
    // The last chunk starting at or before the position (chunk starts rise with the chunk).
    std::uint64_t lo = 0, hi = (leaves - 1) / k_chunk;
    while (lo < hi) {
      const std::uint64_t mid = lo + (hi - lo + 1) / 2;
      auto at = chunk_start(partition, mid);
      if (!at) return at.error();
      if (*at <= position.value()) lo = mid;
      else hi = mid - 1;
    }
    auto events = chunk_events(partition, lo, leaves, log);
    if (!events) return events.error();
    for (std::size_t i = 0; i < events->size(); ++i)
      if ((*events)[i].position == position) return lo * k_chunk + i;
    return missing();
  }

  result<std::string> root_at(std::uint32_t partition, std::uint64_t tree_size, event_log& log) override {
    if (auto s = check_size(partition, tree_size); !s) return s.error();
    return merkle::root(tree_size, subtree_of(partition, log));
  }

  result<std::vector<std::string>> inclusion_proof(std::uint32_t partition, std::uint64_t index, std::uint64_t tree_size,
                                                   event_log& log) override {
    auto proofs = inclusion_proofs(partition, {index}, tree_size, log);
    if (!proofs) return proofs.error();
    return std::move(proofs->front());
  }

  result<std::vector<std::vector<std::string>>> inclusion_proofs(std::uint32_t partition,
                                                                 const std::vector<std::uint64_t>& indices,
                                                                 std::uint64_t tree_size, event_log& log) override {
    if (auto s = check_size(partition, tree_size); !s) return s.error();
    const merkle::subtree_fn subtree = subtree_of(partition, log);  // one memo for them all
    std::vector<std::vector<std::string>> out;
    out.reserve(indices.size());
    for (const std::uint64_t index : indices) {
      if (index >= tree_size) return error(errc::invalid_argument, "position", fmt::format("must be below the tree size {}", tree_size));
      auto proof = merkle::inclusion_proof(index, tree_size, subtree);
      if (!proof) return proof.error();
      out.push_back(std::move(*proof));
    }
    return out;
  }

  result<std::vector<std::string>> consistency_proof(std::uint32_t partition, std::uint64_t old_size, std::uint64_t new_size,
                                                     event_log& log) override {
    if (auto s = check_size(partition, new_size); !s) return s.error();
    if (old_size == 0 || old_size > new_size)
      return error(errc::invalid_argument, "size", fmt::format("the older tree must hold 1 to {} events", new_size));
    return merkle::consistency_proof(old_size, new_size, subtree_of(partition, log));
  }

  // Reads the latest checkpoint's size of every tree (at open).
  status load_signed_sizes() {
    for (std::uint32_t p = 0; p < trees_.size(); ++p) {
      auto l = latest(p);
      if (!l) return l.error();
      trees_[p].signed_size = *l ? (*l)->size : 0;
    }
    return ok;
  }

 private:
  static std::string partition_name(std::uint32_t p, std::uint32_t partitions) {
    return partitions == 1 ? std::string("the log") : fmt::format("partition {}", p);
  }

  // The checkpoint rows ('k') of one partition, or of all; only the last if `last_only`.
  result<std::vector<signed_checkpoint>> read_checkpoints(std::optional<std::uint32_t> partition, bool last_only) {
    const std::string lower = partition ? with_partition('k', *partition) : std::string("k");
    const std::string upper = partition && *partition + 1 != 0 ? with_partition('k', *partition + 1) : std::string("l");
    const rocksdb::Slice lower_slice(lower), upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    std::vector<signed_checkpoint> out;
    for (last_only ? it->SeekToLast() : it->SeekToFirst(); it->Valid(); it->Next()) {
      const auto k = view(it->key());
      if (k.size() != 13) return error(errc::corrupt, "checkpoints", "malformed checkpoint key");
      out.push_back({get_uint<std::uint32_t>(k, 1), get_uint<std::uint64_t>(k, 5), std::string(view(it->value()))});
      if (last_only) break;
    }
    if (!it->status().ok()) return from_status(it->status(), "checkpoints");
    return out;
  }

  status check_size(std::uint32_t partition, std::uint64_t tree_size) const {
    const std::uint64_t held = size(partition);
    if (tree_size > held) return error(errc::invalid_argument, "size", fmt::format("the tree holds {} events", held));
    return ok;
  }

  // The position of leaf 16 × chunk.
  result<std::uint64_t> chunk_start(std::uint32_t partition, std::uint64_t chunk) {
    std::string v;
    const auto s = db_->Get(rocksdb::ReadOptions(), chunk_key(partition, chunk), &v);
    if (s.IsNotFound() || (s.ok() && v.size() != 8))
      return error(errc::corrupt, "checkpoints", fmt::format("the position of leaf {} is not kept", chunk * k_chunk));
    if (!s.ok()) return from_status(s, "checkpoints");
    return get_uint<std::uint64_t>(v, 0);
  }

  // The events of leaves 16 × chunk to 16 × chunk + 15 (fewer at the tree's end), read from
  // the log; the first must be where the tree took it.
  result<std::vector<stored_event>> chunk_events(std::uint32_t partition, std::uint64_t chunk, std::uint64_t leaves,
                                                 event_log& log) {
    auto start = chunk_start(partition, chunk);
    if (!start) return start.error();
    const std::uint64_t want = std::min<std::uint64_t>(k_chunk, leaves - chunk * k_chunk);
    auto events = log.read_partition(partition, log_position(*start), want);
    if (!events) return events;
    if (events->size() != want || events->front().position.value() != *start)
      return error(errc::corrupt, "log",
                   fmt::format("events of the Merkle tree's leaves {} to {} are missing from the log", chunk * k_chunk,
                               chunk * k_chunk + want - 1));
    return events;
  }

  // What one root or proof (or one batch of proofs) has read and computed: the runs of 16
  // envelopes its subtrees below the first kept level lie in (the leaf's, the tree's last), and
  // every perfect subtree above them. A perfect subtree's hash never changes, whatever the size.
  struct proof_reads {
    std::map<std::uint64_t, std::vector<stored_event>> runs;
    std::map<std::pair<unsigned, std::uint64_t>, std::string> subtrees;
  };

  // The perfect subtree (level, index): kept, or computed from the kept level below it, or from
  // its envelopes in the log.
  merkle::subtree_fn subtree_of(std::uint32_t partition, event_log& log) {
    auto reads = std::make_shared<proof_reads>();
    return [this, partition, &log, reads](unsigned level, std::uint64_t index) -> result<std::string> {
      if (level < 4) return subtree(partition, level, index, log, *reads);
      const auto key = std::make_pair(level, index);
      if (auto known = reads->subtrees.find(key); known != reads->subtrees.end()) return known->second;
      auto hash = subtree(partition, level, index, log, *reads);
      if (hash) reads->subtrees.emplace(key, *hash);
      return hash;
    };
  }
  result<std::string> subtree(std::uint32_t partition, unsigned level, std::uint64_t index, event_log& log,
                              proof_reads& reads) {
    auto& runs = reads.runs;
    if (kept_level(level)) {
      auto kept = kept_subtree(partition, level, index);
      if (!kept) return kept.error();
      if (*kept) return std::move(**kept);
    }
    if (level < 4) {
      const std::uint64_t first = index << level;
      const std::uint64_t count = std::uint64_t{1} << level;
      auto run = runs.find(first / k_chunk);
      if (run == runs.end()) {
        auto read = chunk_events(partition, first / k_chunk, size(partition), log);
        if (!read) return read.error();
        run = runs.emplace(first / k_chunk, std::move(*read)).first;
      }
      const std::vector<stored_event>* events = &run->second;
      const std::uint64_t skip = first % k_chunk;
      if (events->size() < skip + count)
        return error(errc::corrupt, "log", fmt::format("the log ends before leaf {}", first + count - 1));
      const bool dense = log.positions_dense();
      merkle::compact_range r;
      for (std::uint64_t i = 0; i < count; ++i) {
        const stored_event& e = (*events)[skip + i];
        if (dense && e.position.value() != first + i)
          return error(errc::corrupt, "log", fmt::format("position {} is missing: the log's positions have a gap", first + i));
        r.push(merkle::leaf_hash(e.bytes));
      }
      return r.root();
    }
    auto left = subtree(partition, level - 1, index * 2, log, reads);
    if (!left) return left;
    auto right = subtree(partition, level - 1, index * 2 + 1, log, reads);
    if (!right) return right;
    return merkle::node_hash(*left, *right);
  }

  scratch_folder scratch_;  // a reader's diagnostics log; outlives the database
  std::unique_ptr<rocksdb::DB> db_;
  bool writable_;
  mutable std::mutex mu_;
  std::vector<tree_state> trees_;
};

result<std::uint32_t> read_u32_row(rocksdb::DB& db, const std::string& key, const char* what) {
  std::string v;
  const auto s = db.Get(rocksdb::ReadOptions(), key, &v);
  if (s.IsNotFound()) return std::uint32_t{0};
  if (!s.ok()) return from_status(s, "checkpoints");
  if (v.size() != 4) return error(errc::corrupt, "checkpoints", fmt::format("malformed {}", what));
  return get_uint<std::uint32_t>(v, 0);
}

result<std::vector<tree_state>> read_trees(rocksdb::DB& db) {
  auto partitions = read_u32_row(db, meta_partitions_key(), "partition count");
  if (!partitions) return partitions.error();
  if (*partitions > k_max_partitions) return error(errc::corrupt, "checkpoints", "malformed partition count");
  std::vector<tree_state> trees(*partitions);
  for (std::uint32_t p = 0; p < *partitions; ++p) {
    std::string v;
    const auto s = db.Get(rocksdb::ReadOptions(), edge_key(p), &v);
    if (s.IsNotFound()) continue;
    if (!s.ok()) return from_status(s, "checkpoints");
    auto t = decode_edge(v, 16);
    if (!t) return t.error();
    trees[p] = std::move(*t);
  }
  return trees;
}

// Format 1 kept one tree without partitions in its keys and no leaf positions (leaf i was at
// position i): rewritten as partition 0 of format 2 in one synced batch.
status upgrade_format_1(rocksdb::DB& db) {
  rocksdb::WriteBatch wb;
  std::uint64_t size = 0;
  bool has_tree = false;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto k = view(it->key());
    const auto v = view(it->value());
    if (k.size() == 10 && k[0] == 'n') {
      wb.Put(node_key(0, static_cast<unsigned char>(k[1]), get_uint<std::uint64_t>(k, 2)), it->value());
    } else if (k.size() == 9 && k[0] == 'k') {
      wb.Put(checkpoint_key(0, get_uint<std::uint64_t>(k, 1)), it->value());
    } else if (k == "r") {
      auto t = decode_edge(v, 8);
      if (!t) return t.error();
      size = t->tree.size();
      has_tree = true;
      wb.Put(edge_key(0), encode_edge(*t));
    } else {
      continue;
    }
    wb.Delete(it->key());
  }
  if (!it->status().ok()) return from_status(it->status(), "checkpoints");
  for (std::uint64_t chunk = 0; chunk * k_chunk < size; ++chunk) wb.Put(chunk_key(0, chunk), u64_value(chunk * k_chunk));
  wb.Put(meta_partitions_key(), u32_value(has_tree ? 1 : 0));
  wb.Put(meta_format_key(), u32_value(k_store_format));
  rocksdb::WriteOptions sync;
  sync.sync = true;
  if (auto s = db.Write(sync, &wb); !s.ok()) return from_status(s, "checkpoints");
  return ok;
}

}  // namespace

std::string checkpoint_origin(std::string_view key_name, std::uint32_t partition, std::uint32_t partitions) {
  if (partitions <= 1) return std::string(key_name);
  return fmt::format("{}/partition-{}", key_name, partition);
}

result<std::pair<std::uint32_t, checkpoint>> open_log_checkpoint(std::string_view note, const verifier_key& key,
                                                                 std::uint32_t partitions, const std::string& field,
                                                                 std::optional<std::uint32_t> filed_as) {
  std::uint32_t partition = 0;
  const std::string_view origin = note.substr(0, note.find('\n'));
  // Partitions unknown: the key's name alone is a log of one partition.
  const bool whole = partitions == 1 || (partitions == 0 && origin == key.name);
  if (!whole) {
    // The origin line says which partition: NAME "/partition-" P.
    const std::string prefix = key.name + "/partition-";
    const std::string_view digits = origin.substr(std::min(origin.size(), prefix.size()));
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), partition);
    const std::uint32_t known = partitions == 0 ? partition + 1 : partitions;  // any partition, when unknown
    if (origin.substr(0, prefix.size()) != prefix || digits.empty() || ec != std::errc() ||
        end != digits.data() + digits.size() || partition >= known || prefix + std::to_string(partition) != origin)
      return error(errc::corrupt, field,
                   partitions == 0
                       ? fmt::format("names the log {}, not {} or one of its partitions", origin, key.name)
                       : fmt::format("names the log {}, not one of the {} partitions of {}", origin, partitions, key.name));
  }
  auto c = open_checkpoint(note, key, field, origin);
  if (!c) return c.error();
  if (filed_as && *filed_as != partition)
    return error(errc::corrupt, field, fmt::format("is a checkpoint of partition {}, kept for partition {}", partition, *filed_as));
  return std::pair<std::uint32_t, checkpoint>(partition, std::move(*c));
}

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
      if (auto s = db->Put(rocksdb::WriteOptions(), meta_format_key(), u32_value(k_store_format)); !s.ok())
        return from_status(s, "checkpoints");
    }
  } else if (!fs.ok()) {
    return from_status(fs, "checkpoints");
  } else if (format.size() == 4 && get_uint<std::uint32_t>(format, 0) == 1) {
    if (mode != access::write) {
      // Upgraded once by whoever opens it first; a writer holding it has done so already.
      db.reset();
      if (auto upgraded = open(folder, access::write); !upgraded) return upgraded.error();
      return open(folder, access::read);
    }
    if (auto s = upgrade_format_1(*db); !s) return s.error();
  } else if (format.size() != 4 || get_uint<std::uint32_t>(format, 0) != k_store_format) {
    return error(errc::corrupt, "checkpoints", fmt::format("{} is not a checkpoint store of format {}", folder.string(), k_store_format));
  }
  auto trees = read_trees(*db);
  if (!trees) return trees.error();
  auto store = std::make_unique<rocks_checkpoint_store>(std::move(db), mode == access::write, std::move(*trees), std::move(scratch));
  if (auto l = store->load_signed_sizes(); !l) return l.error();
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
