// key_store: the keys that seal personal data (engine/record/sealing.h), one per person, kept
// outside the log: DATA_DIR/keys/subjects. Destroying a person's key (sazesh forget) makes every
// sealed field concerning them unreadable in every copy of the log, the agencies' included,
// without touching a byte of it.
//
// Layout: one file per subject, named by the hex SHA-256 of its id, under a folder of its first
// two hex digits. It holds the 32-byte key while the subject's data may be read, and the word
// "forgotten" once it was erased (so the subject is never sealed under a new key). A key is
// written to a temporary file, synced and renamed, and the folder synced, before any event it
// seals can be written. Destroying overwrites the key in place, syncs, then renames the
// marker over it. Plus DATA_DIR/keys/digest.key: the log's key for personal_digest.
//
// Files, not a database: every process of a data folder (the writer, its readers) reads them
// without a lock. Thread safety: all members may be called from several threads.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/base/result.h"
#include "engine/record/sealing.h"

namespace sazesh {

class key_store : public key_ring {
 public:
  // Opens the store in `folder` (created if absent), making the digest key on first use.
  static result<std::unique_ptr<key_store>> open(const std::filesystem::path& folder);

  // The subject's key; none if it was destroyed or never made.
  result<std::optional<std::string>> key_of(const std::string& subject) override;
  // The key to seal the subject's data with, made (and made durable) on first use. A forgotten
  // subject is refused: errc::wrong_state, naming "party".
  result<std::string> key_for_sealing(const std::string& subject);
  // Whether the subject's data was erased.
  result<bool> forgotten(const std::string& subject);
  // Destroys the subject's key for good; again is a no-op.
  status destroy(const std::string& subject);

  const std::string& digest_key() const { return digest_key_; }

 private:
  explicit key_store(std::filesystem::path folder) : folder_(std::move(folder)) {}
  std::filesystem::path file_of(const std::string& subject) const;
  // What the subject's file holds: a key, the marker, or nothing.
  result<std::optional<std::string>> read_file(const std::string& subject);

  std::filesystem::path folder_;
  std::string digest_key_;
  std::mutex mutex_;
  std::map<std::string, std::optional<std::string>> cache_;  // subject -> key, or none if forgotten
};

}  // namespace sazesh
