#include "engine/record/merkle.h"

#include <bit>

#include "engine/record/hash.h"

namespace sazesh::merkle {
namespace {

// The largest power of two strictly below n (n > 1).
std::uint64_t split_point(std::uint64_t n) { return std::bit_floor(n - 1); }

// The hash of leaves [begin, begin + n): a perfect subtree if n is a power of two (and begin is
// then a multiple of n, as every range the RFC's recursion makes is), else split as the RFC does.
result<std::string> range_hash(std::uint64_t begin, std::uint64_t n, const subtree_fn& subtree) {
  if (std::has_single_bit(n)) return subtree(static_cast<unsigned>(std::countr_zero(n)), begin / n);
  const std::uint64_t k = split_point(n);
  auto left = range_hash(begin, k, subtree);
  if (!left) return left;
  auto right = range_hash(begin + k, n - k, subtree);
  if (!right) return right;
  return node_hash(*left, *right);
}

// Appends the hash of leaves [begin, begin + n) to a proof.
status append_range(std::uint64_t begin, std::uint64_t n, const subtree_fn& subtree, std::vector<std::string>& out) {
  auto h = range_hash(begin, n, subtree);
  if (!h) return h.error();
  out.push_back(std::move(*h));
  return ok;
}

// RFC 9162's PATH(m, D[begin : begin + n]).
status path(std::uint64_t m, std::uint64_t begin, std::uint64_t n, const subtree_fn& subtree,
            std::vector<std::string>& out) {
  if (n == 1) return ok;
  const std::uint64_t k = split_point(n);
  if (m < k) {
    if (auto s = path(m, begin, k, subtree, out); !s) return s;
    return append_range(begin + k, n - k, subtree, out);
  }
  if (auto s = path(m - k, begin + k, n - k, subtree, out); !s) return s;
  return append_range(begin, k, subtree, out);
}

// RFC 9162's SUBPROOF(m, D[begin : begin + n], whole).
status subproof(std::uint64_t m, std::uint64_t begin, std::uint64_t n, bool whole, const subtree_fn& subtree,
                std::vector<std::string>& out) {
  if (m == n) return whole ? ok : append_range(begin, n, subtree, out);
  const std::uint64_t k = split_point(n);
  if (m <= k) {
    if (auto s = subproof(m, begin, k, whole, subtree, out); !s) return s;
    return append_range(begin + k, n - k, subtree, out);
  }
  if (auto s = subproof(m - k, begin + k, n - k, false, subtree, out); !s) return s;
  return append_range(begin, k, subtree, out);
}

// RFC 9162's verification step: shift both node numbers right until fn is a right child (its
// lowest bit set) or the root's leftmost node.
void rise_to_right_child(std::uint64_t& fn, std::uint64_t& sn) {
  while ((fn & 1) == 0 && fn != 0) {
    fn >>= 1;
    sn >>= 1;
  }
}

bool all_hashes(const std::vector<std::string>& proof) {
  for (const auto& p : proof)
    if (p.size() != 32) return false;
  return true;
}

}  // namespace

std::string leaf_hash(std::string_view leaf) {
  sha256_stream s;
  s.update(std::string_view("\x00", 1));
  s.update(leaf);
  return s.finish();
}

std::string node_hash(std::string_view left, std::string_view right) {
  sha256_stream s;
  s.update("\x01");
  s.update(left);
  s.update(right);
  return s.finish();
}

std::string empty_root() { return sha256(""); }

result<std::string> root(std::uint64_t size, const subtree_fn& subtree) {
  if (size == 0) return empty_root();
  return range_hash(0, size, subtree);
}

result<std::vector<std::string>> inclusion_proof(std::uint64_t index, std::uint64_t size, const subtree_fn& subtree) {
  if (index >= size) return error(errc::invalid_argument, "index", "must be below the tree size");
  std::vector<std::string> out;
  if (auto s = path(index, 0, size, subtree, out); !s) return s.error();
  return out;
}

result<std::vector<std::string>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size,
                                                   const subtree_fn& subtree) {
  if (old_size == 0 || old_size > new_size)
    return error(errc::invalid_argument, "size", "the old tree must hold at least one leaf and be no larger than the new");
  std::vector<std::string> out;
  if (auto s = subproof(old_size, 0, new_size, true, subtree, out); !s) return s.error();
  return out;
}

bool verify_inclusion(std::uint64_t index, std::uint64_t size, std::string_view leaf,
                      const std::vector<std::string>& proof, std::string_view root_hash) {
  if (index >= size || leaf.size() != 32 || !all_hashes(proof)) return false;
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  std::string r(leaf);
  for (const auto& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      rise_to_right_child(fn, sn);
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root_hash;
}

bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, std::string_view old_root,
                        std::string_view new_root, const std::vector<std::string>& proof) {
  if (old_size == 0 || old_size > new_size || !all_hashes(proof)) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (proof.empty()) return false;
  std::vector<std::string> path = proof;
  if (std::has_single_bit(old_size)) path.insert(path.begin(), std::string(old_root));
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path.front();
  std::string sr = path.front();
  for (std::size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      rise_to_right_child(fn, sn);
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

result<compact_range> compact_range::resume(std::uint64_t size, std::vector<std::string> edge) {
  if (edge.size() != static_cast<std::size_t>(std::popcount(size)) || !all_hashes(edge))
    return error(errc::corrupt, "tree", "the stored right edge does not match the tree size");
  compact_range r;
  r.size_ = size;
  r.edge_ = std::move(edge);
  return r;
}

void compact_range::push(std::string leaf, const completed_fn& completed) {
  std::string h = std::move(leaf);
  unsigned level = 0;
  std::uint64_t index = size_;
  if (completed) completed(0, index, h);
  while (((size_ >> level) & 1) != 0) {
    h = node_hash(edge_.back(), h);
    edge_.pop_back();
    ++level;
    index >>= 1;
    if (completed) completed(level, index, h);
  }
  edge_.push_back(std::move(h));
  ++size_;
}

std::string compact_range::root() const {
  if (edge_.empty()) return empty_root();
  std::string r = edge_.back();
  for (std::size_t i = edge_.size() - 1; i-- > 0;) r = node_hash(edge_[i], r);
  return r;
}

}  // namespace sazesh::merkle
