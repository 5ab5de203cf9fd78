// merkle: the log's Merkle tree, hashed as RFC 6962 (and RFC 9162) define it, so that any
// transparency-log verifier can check its roots and proofs.
//
//   leaf hash = SHA-256(0x00 || envelope bytes)
//   node hash = SHA-256(0x01 || left || right)
//   the tree of n leaves: the left subtree holds the largest power of two below n
//
// A tree is read through its perfect subtrees: `subtree(level, index)` is the hash of the 2^level
// leaves from index * 2^level. Roots and proofs ask for O(log n) of them, so a store keeps some
// levels and computes the rest (engine/log/checkpoint_store.h). Pure: no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.h"

namespace sazesh::merkle {

// 32 raw bytes each.
std::string leaf_hash(std::string_view leaf);
std::string node_hash(std::string_view left, std::string_view right);
// The root of the empty tree: SHA-256 of nothing.
std::string empty_root();

// The hash of the perfect subtree of 2^level leaves starting at leaf index << level.
using subtree_fn = std::function<result<std::string>(unsigned level, std::uint64_t index)>;

// The root of the first `size` leaves.
result<std::string> root(std::uint64_t size, const subtree_fn& subtree);
// RFC 9162 §2.1.3.1: the audit path of leaf `index` in the tree of `size` leaves.
result<std::vector<std::string>> inclusion_proof(std::uint64_t index, std::uint64_t size, const subtree_fn& subtree);
// RFC 9162 §2.1.4.1: the proof that the tree of `old_size` leaves is a prefix of the tree of
// `new_size` leaves (0 < old_size <= new_size).
result<std::vector<std::string>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size,
                                                   const subtree_fn& subtree);

// RFC 9162 §2.1.3.2 and §2.1.4.2: whether a proof holds.
bool verify_inclusion(std::uint64_t index, std::uint64_t size, std::string_view leaf_hash,
                      const std::vector<std::string>& proof, std::string_view root);
bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, std::string_view old_root,
                        std::string_view new_root, const std::vector<std::string>& proof);

// The tree grown one leaf at a time, keeping only the roots of its perfect subtrees on the right
// edge (at most 64 hashes): how the log's tree is built and checked in one pass. Each perfect
// subtree that a push completes is reported to `completed` (level, index, hash), so a store can
// keep the levels it wants.
class compact_range {
 public:
  using completed_fn = std::function<void(unsigned level, std::uint64_t index, const std::string& hash)>;
  compact_range() = default;
  // Resumes a range: the tree of `size` leaves whose right edge is `edge` (one hash per set bit
  // of size, the largest subtree first). Errors name `field`.
  static result<compact_range> resume(std::uint64_t size, std::vector<std::string> edge);

  void push(std::string leaf_hash, const completed_fn& completed = {});
  std::uint64_t size() const { return size_; }
  const std::vector<std::string>& edge() const { return edge_; }
  std::string root() const;

 private:
  std::uint64_t size_ = 0;
  std::vector<std::string> edge_;
};

}  // namespace sazesh::merkle
