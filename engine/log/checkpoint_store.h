// checkpoint_store: the log's Merkle trees (engine/record/merkle.h) and the signed checkpoints of
// them (engine/record/checkpoint.h), kept in their own RocksDB folder beside the log
// (DATA_DIR/checkpoints), and the signing key's file.
//
// One tree per partition of the log: its leaves are the partition's envelopes in position order
// (the embedded log has one partition whose positions run from 0 without gaps, so leaf i is the
// event at position i; a Kafka partition's offsets have gaps, and leaf i is its i-th event). The
// store keeps, per tree, the perfect subtrees of levels 4, 8, 12, … (one hash per 16 leaves and
// less above: about 1/15 of a hash per event), the position of every 16th leaf, and the tree's
// right edge; any other subtree is computed from those below it, or from at most 16 envelopes
// read back from the log, so a root or a proof costs a few dozen reads. Everything here but the
// checkpoints can be built again from the log; the checkpoints are the log's signed word and are
// kept for ever.
//
// A checkpoint names its tree by its origin (checkpoint_origin): the key's name for a log of one
// partition, the key's name and "/partition-" P for each partition of a log of several.
//
// One writer (the process holding the log for writing) extends the trees and signs; any number
// of readers open the folder read-only (as of their opening).
//
//   auto store = checkpoint_store::open(dir / "checkpoints", checkpoint_store::access::write);
//   (*store)->extend(log);                // reads the events the trees lack
//   auto made = (*store)->sign(key);      // checkpoints of the trees that grew
//
// On-disk format (format version 2): one-byte kinds, big-endian integers; P is a u32 partition.
//   'm' "format_version"        u32 2
//   'm' "partitions"            u32 how many partitions (trees) the log has
//   'm' "verifier_key"          the verifier key text of the key that signed the latest one
//   'n' P u8 level u64 index    32 bytes: a kept perfect subtree
//   'o' P u64 chunk             u64 the position of leaf 16 × chunk
//   'r' P                       u64 tree size, u64 the position after its last leaf, then the
//                               right edge's hashes (32 bytes each)
//   'k' P u64 tree size         a signed checkpoint note (text)
//   'p' P                       (no longer written or read: what a log published, it knows itself,
//                               event_log::published_checkpoint)
// Format 1 (one tree, no partition in the keys, no 'o' rows) is rewritten as format 2 by the
// first process that opens it, reader or writer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/result.h"
#include "engine/log/event_log.h"
#include "engine/record/checkpoint.h"

namespace sazesh {

// The origin of partition `partition`'s checkpoints, for a log of `partitions` partitions.
std::string checkpoint_origin(std::string_view key_name, std::uint32_t partition, std::uint32_t partitions);

// Opens a signed checkpoint of one of the trees of a log of `partitions` partitions, checked
// against `key` (open_checkpoint): its origin names its partition, which must be `filed_as` if
// given (the partition a store or topic kept it for). `partitions` 0: not known to the reader
// (an agency's feed): the key's name alone, or any of its partitions. Errors name `field`.
result<std::pair<std::uint32_t, checkpoint>> open_log_checkpoint(std::string_view note, const verifier_key& key,
                                                                 std::uint32_t partitions, const std::string& field,
                                                                 std::optional<std::uint32_t> filed_as = std::nullopt);

struct signed_checkpoint {
  std::uint32_t partition = 0;
  std::uint64_t size = 0;
  std::string note;
};

class checkpoint_store {
 public:
  enum class access { read, write };
  virtual ~checkpoint_store() = default;

  // Opens the store in `folder`. For writing, creates it if needed (errc::unavailable if another
  // process holds it); for reading, a folder with no store is errc::not_found.
  static result<std::unique_ptr<checkpoint_store>> open(const std::filesystem::path& folder, access mode);

  // Brings every partition's tree up to the end of `log`, reading the envelopes it lacks;
  // returns how many leaves the trees hold together. A log with fewer partitions than the store,
  // a partition that ends before its tree's last leaf, or (for a log whose positions are dense)
  // positions with a gap, is errc::corrupt (field "log").
  virtual result<std::uint64_t> extend(event_log& log) = 0;
  // How many partitions the store has trees for (0 before the first extend).
  virtual std::uint32_t partitions() const = 0;
  virtual std::uint64_t size(std::uint32_t partition) const = 0;
  virtual std::string root(std::uint32_t partition) const = 0;

  // Signs a checkpoint of every tree that grew past its latest checkpoint (an empty tree is not
  // signed) and keeps them; returns the new ones.
  virtual result<std::vector<signed_checkpoint>> sign(const signing_key& key) = 0;
  // Signs a checkpoint of partition `partition`'s tree at `tree_size` (1 to size(partition); its
  // root from the kept subtrees and, where needed, envelopes read from `log`) and keeps it; a
  // checkpoint of that size kept already is returned as it is.
  virtual result<signed_checkpoint> sign_at(const signing_key& key, std::uint32_t partition, std::uint64_t tree_size,
                                            event_log& log) = 0;
  // The events of leaves `first` to first + count - 1 of a partition's tree (fewer at its end),
  // read from `log`.
  virtual result<std::vector<stored_event>> leaves(std::uint32_t partition, std::uint64_t first, std::size_t count,
                                                   event_log& log) = 0;
  // A partition's latest checkpoint; every checkpoint of a partition, in order of size; every
  // checkpoint of every partition (by partition, then size).
  virtual result<std::optional<signed_checkpoint>> latest(std::uint32_t partition) = 0;
  virtual result<std::vector<signed_checkpoint>> checkpoints(std::uint32_t partition) = 0;
  virtual result<std::vector<signed_checkpoint>> all_checkpoints() = 0;
  // The verifier key of the key that signed the latest checkpoint (kept with it), for checking
  // the store's own work (a bundle before it is written); an audit takes the key from elsewhere.
  virtual result<std::optional<verifier_key>> signer() = 0;
  // The stored hash of a kept perfect subtree, if the store has it.
  virtual result<std::optional<std::string>> kept_subtree(std::uint32_t partition, unsigned level, std::uint64_t index) = 0;
  // The leaf index of the event at `position` of `partition` (errc::not_found if the tree holds
  // no event there).
  virtual result<std::uint64_t> leaf_at(std::uint32_t partition, log_position position, event_log& log) = 0;

  // Roots and proofs of a partition's tree at any size up to size(partition); envelopes are
  // read from `log`.
  virtual result<std::string> root_at(std::uint32_t partition, std::uint64_t tree_size, event_log& log) = 0;
  virtual result<std::vector<std::string>> inclusion_proof(std::uint32_t partition, std::uint64_t index,
                                                           std::uint64_t tree_size, event_log& log) = 0;
  virtual result<std::vector<std::string>> consistency_proof(std::uint32_t partition, std::uint64_t old_size,
                                                             std::uint64_t new_size, event_log& log) = 0;
  // The inclusion proofs of many leaves in one tree: the subtrees they share are computed once.
  virtual result<std::vector<std::vector<std::string>>> inclusion_proofs(std::uint32_t partition,
                                                                         const std::vector<std::uint64_t>& indices,
                                                                         std::uint64_t tree_size, event_log& log) = 0;

  // Which levels the store keeps.
  static bool kept_level(unsigned level) { return level >= 4 && level % 4 == 0; }
};

// The signing key's file: one line, the signer key text (checkpoint.h), readable by its owner
// only. `create_signing_key_file` refuses to replace an existing file.
result<signing_key> read_signing_key_file(const std::filesystem::path& file);
result<signing_key> create_signing_key_file(const std::filesystem::path& file, std::string_view origin);

}  // namespace sazesh
