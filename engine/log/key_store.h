// key_store: the keys that seal personal data (engine/record/sealing.h), one per person, kept
// outside the log in DATA_DIR/keys. Destroying a person's key (sazesh forget) makes every sealed
// field concerning them unreadable in every copy of the log, the agencies' included, without
// touching a byte of it.
//
// DATA_DIR/keys/subjects.keys is append-only, a record after another:
//   u8 'K', u16 length, subject, 32 bytes key     a subject's key
//   u8 'F', u16 length, subject                   the subject was forgotten
// A new key is held in memory until flush(), which the engine calls before each unit it writes
// to the log: one write and one fdatasync for every key the unit's events were sealed with, so a
// key is durable before any event it seals is. Destroying a key overwrites its 32 bytes where
// they lie, appends the 'F' record and syncs; a forgotten subject is never sealed under a new key.
// A torn last record (a crash mid-append, before any event used it) is ignored by readers and
// cut off by the writer's next flush. The first key of a subject is its key; a key after the
// subject's 'F' record is ignored.
// DATA_DIR/keys/digest.key is the log's key for personal_digest.
//
// A file, not a database: every process of a data folder (the writer, its readers) reads it
// without a lock, picking up what the writer appended since. Thread safety: all members may be
// called from several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/result.h"
#include "engine/record/sealing.h"

namespace sazesh {

class key_store : public key_ring {
 public:
  // Opens the store in `folder` (created if absent), making the digest key on first use.
  static result<std::unique_ptr<key_store>> open(const std::filesystem::path& folder);
  ~key_store() override;

  // The subject's key; none if it was destroyed or never made.
  result<std::optional<std::string>> key_of(const std::string& subject) override;
  // Whether the subject's key was destroyed (as opposed to never made).
  result<bool> forgotten(const std::string& subject) override;
  // The key to seal the subject's data with, made on first use (durable at the next flush()).
  // A forgotten subject is refused: errc::wrong_state, naming "party".
  result<std::string> key_for_sealing(const std::string& subject);
  // Makes every key made since the last flush durable. Only the log's writer calls it (one
  // process at a time): it first cuts off a torn last record.
  status flush();
  // Destroys the subject's key for good; again is a no-op.
  status destroy(const std::string& subject);

  const std::string& digest_key() const { return digest_key_; }

 private:
  explicit key_store(std::filesystem::path folder) : folder_(std::move(folder)) {}
  // Reads what was appended to the file since it was last read (by this process or another).
  status read_more();
  // The writer's: reads to the end, then cuts off a torn last record.
  status cut_torn_end();

  struct entry {
    std::optional<std::string> key;      // none once forgotten
    bool forgotten = false;
    std::vector<std::uint64_t> offsets;  // where its key's bytes lie in the file
  };
  std::filesystem::path folder_;
  std::string digest_key_;
  int fd_ = -1;
  std::uint64_t read_to_ = 0;   // the file is read up to here
  std::string pending_;         // records made since the last flush
  std::map<std::string, entry> keys_;
  std::mutex mutex_;
};

}  // namespace sazesh
