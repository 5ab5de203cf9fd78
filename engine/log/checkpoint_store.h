// checkpoint_store: the log's Merkle tree (engine/record/merkle.h) and the signed checkpoints of
// it (engine/record/checkpoint.h), kept in their own RocksDB folder beside the log
// (DATA_DIR/checkpoints), and the signing key's file.
//
// The tree's leaves are the log's envelopes in log order: leaf i is the event at position i (the
// embedded log's positions run from 0 without gaps). The store keeps the perfect subtrees of
// levels 4, 8, 12, … (one hash per 16 leaves and less above: about 1/15 of a hash per event) and
// the tree's right edge; any other subtree is computed from those below it, or from at most 8
// envelopes read back from the log, so a root or a proof costs a few dozen reads. Everything
// here but the checkpoints can be built again from the log; the checkpoints are the log's
// signed word and are kept for ever.
//
// One writer (the process holding the log for writing) extends the tree and signs; any number of
// readers open the folder read-only (as of their opening).
//
//   auto store = checkpoint_store::open(dir / "checkpoints", checkpoint_store::access::write);
//   (*store)->extend(log);                // reads the events the tree lacks
//   auto note = (*store)->sign(key);      // a checkpoint of the tree as it now stands
//
// On-disk format (format version 1): one-byte kinds, big-endian integers.
//   'm' "format_version"        u32 1
//   'n' u8 level u64 index      32 bytes: a kept perfect subtree
//   'r'                         u64 tree size, then the right edge's hashes (32 bytes each)
//   'k' u64 tree size           a signed checkpoint note (text)
//   'm' "verifier_key"          the verifier key text of the key that signed the latest one
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/result.h"
#include "engine/log/event_log.h"
#include "engine/record/checkpoint.h"

namespace sazesh {

class checkpoint_store {
 public:
  enum class access { read, write };
  virtual ~checkpoint_store() = default;

  // Opens the store in `folder`. For writing, creates it if needed (errc::unavailable if another
  // process holds it); for reading, a folder with no store is errc::not_found.
  static result<std::unique_ptr<checkpoint_store>> open(const std::filesystem::path& folder, access mode);

  // Brings the tree up to the end of `log`, reading the envelopes it lacks; returns its size.
  // A log shorter than the tree, or whose positions have gaps, is errc::corrupt (field "log").
  virtual result<std::uint64_t> extend(event_log& log) = 0;
  virtual std::uint64_t size() const = 0;
  virtual std::string root() const = 0;

  // Signs a checkpoint of the tree as it stands and keeps it, unless the latest checkpoint
  // already covers the whole tree (or the tree is empty); returns the latest checkpoint's note.
  virtual result<std::optional<std::string>> sign(const signing_key& key) = 0;
  // The latest checkpoint's note, and every checkpoint (size, note) in order of size.
  virtual result<std::optional<std::string>> latest() = 0;
  virtual result<std::vector<std::pair<std::uint64_t, std::string>>> checkpoints() = 0;
  // The verifier key of the key that signed the latest checkpoint (kept with it), for checking
  // the store's own work (a bundle before it is written); an audit takes the key from elsewhere.
  virtual result<std::optional<verifier_key>> signer() = 0;
  // The stored hash of a kept perfect subtree, if the store has it.
  virtual result<std::optional<std::string>> kept_subtree(unsigned level, std::uint64_t index) = 0;

  // Roots and proofs of the tree at any size up to size(); envelopes are read from `log`.
  virtual result<std::string> root_at(std::uint64_t tree_size, event_log& log) = 0;
  virtual result<std::vector<std::string>> inclusion_proof(std::uint64_t index, std::uint64_t tree_size, event_log& log) = 0;
  virtual result<std::vector<std::string>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size,
                                                             event_log& log) = 0;

  // Which levels the store keeps.
  static bool kept_level(unsigned level) { return level >= 4 && level % 4 == 0; }
};

// The signing key's file: one line, the signer key text (checkpoint.h), readable by its owner
// only. `create_signing_key_file` refuses to replace an existing file.
result<signing_key> read_signing_key_file(const std::filesystem::path& file);
result<signing_key> create_signing_key_file(const std::filesystem::path& file, std::string_view origin);

}  // namespace sazesh
