// key_store: the keys that seal personal data (engine/record/sealing.h), one per person, kept
// outside the log. Destroying a person's key (sazesh forget) makes every sealed field
// concerning them unreadable in every copy of the log, the agencies' included, without touching
// a byte of it. Two stores: a data folder's (open_key_folder, below) for the embedded log, and
// on Kafka a compacted topic of the log's prefix (engine/kafka/kafka_key_store.h), so every
// machine writing or reading the log holds the same keys.
//
// Every store keeps these rules: a subject's first key is its key for good; a forgotten
// subject's key is gone and none is ever made again; a key is made on first use and durable
// (flush()) before any event it seals is written; the log's digest key (personal_digest) is one.
//
// The folder's store: DATA_DIR/keys/subjects.keys is append-only, a record after another:
//   u8 'K', u16 length, subject, 32 bytes key     a subject's key
//   u8 'F', u16 length, subject                   the subject was forgotten
// A new key is held in memory until flush(), which the engine calls before each unit it writes
// to the log: one write and one fdatasync for every key the unit's events were sealed with.
// Destroying a key overwrites its 32 bytes where they lie, appends the 'F' record and syncs. A
// torn last record (a crash mid-append, before any event used it) is ignored by readers and cut
// off by the writer's next flush; a key after the subject's 'F' record is ignored.
// DATA_DIR/keys/digest.key is the log's key for personal_digest. A file, not a database: every
// process of a data folder (the writer, its readers) reads it without a lock, picking up what
// the writer appended since.
//
// Thread safety: all members may be called from several threads.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/result.h"
#include "engine/record/sealing.h"

namespace sazesh {

class key_store : public key_ring {
 public:
  // The subject's key; none if it was destroyed or never made.
  result<std::optional<std::string>> key_of(const std::string& subject) override = 0;
  // Whether the subject's key was destroyed (as opposed to never made).
  result<bool> forgotten(const std::string& subject) override = 0;
  // The key to seal the subject's data with, made on first use (durable at the next flush()).
  // A forgotten subject is refused: errc::wrong_state, naming "party".
  virtual result<std::string> key_for_sealing(const std::string& subject) = 0;
  // Makes every key made since the last flush durable. Only the log's writer calls it.
  virtual status flush() = 0;
  // Destroys the subject's key for good; again is a no-op.
  virtual status destroy(const std::string& subject) = 0;
  // The log's key for personal_digest (made on first use where the store makes them).
  virtual result<std::string> digest_key() = 0;

  // Every subject the store knows, with its key, or none if forgotten (for copying a log's keys
  // with the log: copy_keys).
  struct entry {
    std::string subject;
    std::optional<std::string> key;
  };
  virtual result<std::vector<entry>> entries() = 0;
  // Takes over a subject's key (or its erasure) from another store, durable at the next flush()
  // (copy_keys flushes). Refused (errc::conflict, naming "keys") if this store holds another key
  // for the subject.
  virtual status adopt(const entry& e) = 0;
  // Takes over the digest key of another store; refused (errc::conflict) once this store has
  // sealed anything under a digest key of its own.
  virtual status adopt_digest_key(const std::string& key) = 0;
};

// The store of a data folder's keys, in `folder` (created if absent); the digest key is made on
// first open.
result<std::unique_ptr<key_store>> open_key_folder(const std::filesystem::path& folder);

// A store that holds no key and makes none: a reader denied the keys (an agency's principal on
// Kafka) reads every sealed field as sealed; sealing or erasing is refused with `why`.
std::unique_ptr<key_store> no_keys(error why);

// Copies every key and erasure of `from` into `to`, and its digest key, so a copy of the log
// opens under `to` as it did under `from`; before the log itself is copied, so no copied event
// is ever without its key. A `from` that holds no subject's key copies nothing (not even its
// digest key: it sealed nothing). Returns how many subjects it copied.
result<std::uint64_t> copy_keys(key_store& from, key_store& to);

}  // namespace sazesh
