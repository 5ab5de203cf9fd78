#include "engine/log/key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "engine/base/text_file.h"
#include "engine/record/hash.h"

namespace sazesh {
namespace {

constexpr std::size_t max_subject = 256;

error cannot(std::string_view what, const std::filesystem::path& path) {
  return error(errc::io, "keys", "cannot " + std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

status write_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return cannot("write", path);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok;
}

std::string record(char kind, const std::string& subject, const std::string& key = {}) {
  std::string r(1, kind);
  r += static_cast<char>(subject.size() >> 8);
  r += static_cast<char>(subject.size() & 0xff);
  r += subject;
  r += key;
  return r;
}

class folder_key_store final : public key_store {
 public:
  static result<std::unique_ptr<key_store>> open(const std::filesystem::path& folder);
  ~folder_key_store() override;

  result<std::optional<std::string>> key_of(const std::string& subject) override;
  result<bool> forgotten(const std::string& subject) override;
  result<std::string> key_for_sealing(const std::string& subject) override;
  // Cuts off a torn last record first.
  status flush() override;
  status destroy(const std::string& subject) override;
  result<std::string> digest_key() override {
    std::lock_guard lock(mutex_);
    return digest_key_;
  }
  result<std::vector<entry>> entries() override;
  status adopt(const entry& e) override;
  status adopt_digest_key(const std::string& key) override;

 private:
  explicit folder_key_store(std::filesystem::path folder) : folder_(std::move(folder)) {}
  // Reads what was appended to the file since it was last read (by this process or another).
  status read_more();
  // The writer's: reads to the end, then cuts off a torn last record.
  status cut_torn_end();

  struct known {
    std::optional<std::string> key;      // none once forgotten
    bool forgotten = false;
    std::vector<std::uint64_t> offsets;  // where its key's bytes lie in the file
  };
  std::filesystem::path folder_;
  std::string digest_key_;
  int fd_ = -1;
  std::uint64_t read_to_ = 0;   // the file is read up to here
  std::string pending_;         // records made since the last flush
  std::map<std::string, known> keys_;
  std::mutex mutex_;
};

}  // namespace

folder_key_store::~folder_key_store() {
  if (fd_ >= 0) ::close(fd_);
}

result<std::unique_ptr<key_store>> folder_key_store::open(const std::filesystem::path& folder) {
  std::unique_ptr<folder_key_store> s(new folder_key_store(folder));
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return error(errc::io, "keys", "cannot create " + folder.string() + ": " + ec.message());
  const auto digest_path = folder / "digest.key";
  auto digest = read_text_file(digest_path, "keys", 2 * seal_key_bytes);
  if (digest && digest->size() != seal_key_bytes)
    return error(errc::corrupt, "keys", digest_path.string() + " must hold a 32-byte key");
  if (!digest && digest.error().code() != errc::not_found) return digest.error();
  if (!digest) {
    digest = from_hex(random_hex(seal_key_bytes));
    if (auto w = write_file_durably(digest_path, *digest, "keys"); !w) return w.error();
  }
  s->digest_key_ = std::move(*digest);
  const auto path = folder / "subjects.keys";
  const bool existed = std::filesystem::exists(path, ec);
  s->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (s->fd_ < 0) return cannot("open", path);
  if (!existed)
    if (auto d = sync_folder(folder, "keys"); !d) return d.error();
  if (auto r = s->read_more(); !r) return r.error();
  return std::unique_ptr<key_store>(std::move(s));
}

status folder_key_store::read_more() {
  const auto path = folder_ / "subjects.keys";
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return cannot("read", path);
  const auto end = static_cast<std::uint64_t>(st.st_size);
  if (end <= read_to_) return ok;
  std::string bytes(end - read_to_, '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd_, bytes.data() + got, bytes.size() - got, static_cast<off_t>(read_to_ + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return cannot("read", path);
    got += static_cast<std::size_t>(n);
  }
  std::size_t at = 0;
  while (at + 3 <= bytes.size()) {
    const char kind = bytes[at];
    const std::size_t length = (static_cast<unsigned char>(bytes[at + 1]) << 8) | static_cast<unsigned char>(bytes[at + 2]);
    const std::size_t size = 3 + length + (kind == 'K' ? seal_key_bytes : 0);
    if ((kind != 'K' && kind != 'F') || length == 0 || length > max_subject)
      return error(errc::corrupt, "keys", path.string() + " holds a record that is neither a key nor a forgotten subject at byte " +
                                              std::to_string(read_to_ + at));
    if (at + size > bytes.size()) break;  // a torn last record, or one still being appended
    std::string subject = bytes.substr(at + 3, length);
    known& e = keys_[subject];
    if (kind == 'K') {
      const std::uint64_t offset = read_to_ + at + 3 + length;
      if (std::find(e.offsets.begin(), e.offsets.end(), offset) == e.offsets.end()) e.offsets.push_back(offset);
      std::string key = bytes.substr(at + 3 + length, seal_key_bytes);
      // A key overwritten with zeros was destroyed (its 'F' record follows, or the process
      // stopped between the two); the first key stands, and none after the subject's 'F'.
      if (key == std::string(seal_key_bytes, '\0')) e.forgotten = true;
      if (e.forgotten) e.key.reset();
      else if (e.offsets.size() == 1) e.key = std::move(key);
    } else {
      e.forgotten = true;
      e.key.reset();
    }
    at += size;
  }
  read_to_ += at;
  return ok;
}

result<std::optional<std::string>> folder_key_store::key_of(const std::string& subject) {
  std::lock_guard lock(mutex_);
  // Another process may have made it, or destroyed it, since this one last read the file (a
  // size check; a read only when it grew).
  if (auto r = read_more(); !r) return r.error();
  auto it = keys_.find(subject);
  if (it == keys_.end()) return std::optional<std::string>();
  return it->second.key;
}

result<bool> folder_key_store::forgotten(const std::string& subject) {
  std::lock_guard lock(mutex_);
  if (auto r = read_more(); !r) return r.error();
  auto it = keys_.find(subject);
  return it != keys_.end() && it->second.forgotten;
}

result<std::string> folder_key_store::key_for_sealing(const std::string& subject) {
  if (subject.empty() || subject.size() > max_subject)
    return error(errc::invalid_argument, "party", "a subject's id has 1 to 256 bytes");
  std::lock_guard lock(mutex_);
  // A key this process holds is the subject's for good (only this writer destroys keys); only a
  // subject it does not know sends it to the file, for what another process may have written.
  if (auto it = keys_.find(subject); it == keys_.end() || !it->second.key)
    if (auto r = read_more(); !r) return r.error();
  if (auto it = keys_.find(subject); it != keys_.end()) {
    if (it->second.key) return *it->second.key;
    if (it->second.forgotten)
      return error(errc::wrong_state, "party", subject + "'s personal data was erased: nothing more of theirs can be kept");
  }
  std::string key = from_hex(random_hex(seal_key_bytes));
  pending_ += record('K', subject, key);
  known& e = keys_[subject];
  e.key = key;
  return key;
}

status folder_key_store::flush() {
  std::lock_guard lock(mutex_);
  if (pending_.empty()) return ok;
  const auto path = folder_ / "subjects.keys";
  if (auto c = cut_torn_end(); !c) return c.error();
  if (auto w = write_all(fd_, pending_, path); !w) return w.error();
  if (::fdatasync(fd_) != 0) return cannot("sync", path);
  // What was appended is read back as any other process would, placing each key's offset.
  pending_.clear();
  return read_more();
}

status folder_key_store::cut_torn_end() {
  // A torn last record (a crash, or a write that failed midway) is cut off before appending.
  if (auto r = read_more(); !r) return r.error();
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return cannot("read", folder_ / "subjects.keys");
  if (static_cast<std::uint64_t>(st.st_size) > read_to_ && ::ftruncate(fd_, static_cast<off_t>(read_to_)) != 0)
    return cannot("cut the torn end of", folder_ / "subjects.keys");
  return ok;
}

status folder_key_store::destroy(const std::string& subject) {
  if (auto f = flush(); !f) return f.error();
  std::lock_guard lock(mutex_);
  if (auto c = cut_torn_end(); !c) return c.error();
  const auto path = folder_ / "subjects.keys";
  auto it = keys_.find(subject);
  const bool marked = it != keys_.end() && it->second.forgotten;
  if (it != keys_.end() && !it->second.offsets.empty()) {
    // Overwrite every copy of the key where it lies (through a descriptor without O_APPEND,
    // which would make pwrite append), then say so.
    const int out = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (out < 0) return cannot("open", path);
    const std::string zeros(seal_key_bytes, '\0');
    bool overwritten = true;
    for (const std::uint64_t offset : it->second.offsets)
      overwritten = overwritten && ::pwrite(out, zeros.data(), zeros.size(), static_cast<off_t>(offset)) ==
                                       static_cast<ssize_t>(zeros.size());
    overwritten = overwritten && ::fdatasync(out) == 0;
    ::close(out);
    if (!overwritten) return cannot("overwrite", path);
  }
  if (marked) return ok;  // forgotten already (its key bytes zeroed again, should a copy have been left)
  if (auto w = write_all(fd_, record('F', subject), path); !w) return w.error();
  if (::fdatasync(fd_) != 0) return cannot("sync", path);
  return read_more();
}

result<std::vector<key_store::entry>> folder_key_store::entries() {
  std::lock_guard lock(mutex_);
  if (auto r = read_more(); !r) return r.error();
  std::vector<entry> out;
  out.reserve(keys_.size());
  for (const auto& [subject, k] : keys_) out.push_back({subject, k.forgotten ? std::nullopt : k.key});
  return out;
}

status folder_key_store::adopt(const entry& e) {
  if (e.subject.empty() || e.subject.size() > max_subject)
    return error(errc::invalid_argument, "keys", "a subject's id has 1 to 256 bytes");
  if (e.key && e.key->size() != seal_key_bytes) return error(errc::invalid_argument, "keys", e.subject + "'s key is not 32 bytes");
  std::unique_lock lock(mutex_);
  if (auto r = read_more(); !r) return r.error();
  auto it = keys_.find(e.subject);
  if (it != keys_.end() && it->second.forgotten) return ok;  // erased here already: it stays so
  if (!e.key) {
    // Forgotten there: nothing of the subject's may open here either (the key, if this store
    // holds one, is overwritten by destroy(); a subject new here is marked forgotten).
    if (it != keys_.end() && it->second.key) {
      lock.unlock();
      return destroy(e.subject);
    }
    pending_ += record('F', e.subject);
    keys_[e.subject].forgotten = true;
    return ok;
  }
  if (it != keys_.end() && it->second.key) {
    if (*it->second.key == *e.key) return ok;
    return error(errc::conflict, "keys", e.subject + " has another key here: the copy would not open under it");
  }
  pending_ += record('K', e.subject, *e.key);
  keys_[e.subject].key = *e.key;
  return ok;
}

status folder_key_store::adopt_digest_key(const std::string& key) {
  if (key.size() != seal_key_bytes) return error(errc::invalid_argument, "keys", "a digest key has 32 bytes");
  std::lock_guard lock(mutex_);
  if (key == digest_key_) return ok;
  if (auto r = read_more(); !r) return r.error();
  if (!keys_.empty() || !pending_.empty())
    return error(errc::conflict, "keys",
                 folder_.string() + " has sealed under a digest key of its own: copy a log's keys into a new folder");
  if (auto w = write_file_durably(folder_ / "digest.key", key, "keys"); !w) return w.error();
  digest_key_ = key;
  return ok;
}

namespace {

class empty_key_store final : public key_store {
 public:
  explicit empty_key_store(error why) : why_(std::move(why)) {}
  result<std::optional<std::string>> key_of(const std::string&) override { return std::optional<std::string>(); }
  result<bool> forgotten(const std::string&) override { return false; }
  result<std::string> key_for_sealing(const std::string&) override { return why_; }
  status flush() override { return ok; }
  status destroy(const std::string&) override { return why_; }
  result<std::string> digest_key() override { return why_; }
  result<std::vector<entry>> entries() override { return why_; }
  status adopt(const entry&) override { return why_; }
  status adopt_digest_key(const std::string&) override { return why_; }

 private:
  error why_;
};

}  // namespace

result<std::unique_ptr<key_store>> open_key_folder(const std::filesystem::path& folder) {
  return folder_key_store::open(folder);
}

std::unique_ptr<key_store> no_keys(error why) { return std::make_unique<empty_key_store>(std::move(why)); }

result<std::uint64_t> copy_keys(key_store& from, key_store& to) {
  auto all = from.entries();
  if (!all) return all.error();
  // A store that never sealed has nothing to carry (and its digest key, if it made one, keyed
  // no digest): the target keeps its own.
  if (all->empty()) return std::uint64_t{0};
  auto digest = from.digest_key();
  if (!digest) return digest.error();
  if (auto d = to.adopt_digest_key(*digest); !d) return d.error();
  for (const auto& e : *all)
    if (auto a = to.adopt(e); !a) return a.error();
  if (auto f = to.flush(); !f) return f.error();
  return static_cast<std::uint64_t>(all->size());
}

}  // namespace sazesh
