#include "engine/log/key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/record/hash.h"

namespace sazesh {
namespace {

constexpr std::string_view forgotten_marker = "forgotten";

error cannot(std::string_view what, const std::filesystem::path& path) {
  return error(errc::io, "keys", "cannot " + std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

status sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return cannot("open", dir);
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return cannot("sync", dir);
  return ok;
}

// Writes `bytes` to `path` durably: a synced temporary file renamed over it, the folder synced.
status write_durably(const std::filesystem::path& path, std::string_view bytes) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return error(errc::io, "keys", "cannot create " + path.parent_path().string() + ": " + ec.message());
  const auto temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return cannot("create", temp);
  const bool written = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  const bool synced = written && ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return cannot("write", temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) return cannot("rename", temp);
  return sync_dir(path.parent_path());
}

// The whole of a small file, or nothing if it does not exist.
result<std::optional<std::string>> read_small(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return cannot("read", path);
  }
  std::string out(64, '\0');
  const ssize_t n = ::read(fd, out.data(), out.size());
  ::close(fd);
  if (n < 0) return cannot("read", path);
  out.resize(static_cast<std::size_t>(n));
  return std::optional<std::string>(std::move(out));
}

std::string random_key() { return from_hex(random_hex(seal_key_bytes)); }

}  // namespace

result<std::unique_ptr<key_store>> key_store::open(const std::filesystem::path& folder) {
  std::unique_ptr<key_store> s(new key_store(folder));
  const auto digest_path = folder / "digest.key";
  auto existing = read_small(digest_path);
  if (!existing) return existing.error();
  if (*existing) {
    if ((*existing)->size() != seal_key_bytes)
      return error(errc::corrupt, "keys", digest_path.string() + " must hold a 32-byte key");
    s->digest_key_ = **existing;
  } else {
    s->digest_key_ = random_key();
    if (auto w = write_durably(digest_path, s->digest_key_); !w) return w.error();
  }
  return s;
}

std::filesystem::path key_store::file_of(const std::string& subject) const {
  const std::string hex = to_hex(sha256(subject));
  return folder_ / "subjects" / hex.substr(0, 2) / hex;
}

result<std::optional<std::string>> key_store::read_file(const std::string& subject) {
  const auto path = file_of(subject);
  auto bytes = read_small(path);
  if (!bytes) return bytes.error();
  if (*bytes && **bytes != forgotten_marker && (*bytes)->size() != seal_key_bytes)
    return error(errc::corrupt, "keys", path.string() + " holds neither a key nor the forgotten marker");
  return *bytes;
}

result<std::optional<std::string>> key_store::key_of(const std::string& subject) {
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(subject); it != cache_.end()) return it->second;
  auto bytes = read_file(subject);
  if (!bytes) return bytes.error();
  if (!*bytes) return std::optional<std::string>();  // not cached: another process may make it
  std::optional<std::string> key;
  if (**bytes != forgotten_marker) key = **bytes;
  cache_[subject] = key;
  return key;
}

result<std::string> key_store::key_for_sealing(const std::string& subject) {
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(subject); it != cache_.end()) {
    if (it->second) return *it->second;
    return error(errc::wrong_state, "party", subject + "'s personal data was erased; nothing more can be kept of it");
  }
  auto bytes = read_file(subject);
  if (!bytes) return bytes.error();
  if (*bytes) {
    if (**bytes == forgotten_marker) {
      cache_[subject] = std::nullopt;
      return error(errc::wrong_state, "party", subject + "'s personal data was erased; nothing more can be kept of it");
    }
    cache_[subject] = **bytes;
    return **bytes;
  }
  std::string key = random_key();
  if (auto w = write_durably(file_of(subject), key); !w) return w.error();
  cache_[subject] = key;
  return key;
}

result<bool> key_store::forgotten(const std::string& subject) {
  auto bytes = read_file(subject);
  if (!bytes) return bytes.error();
  return *bytes && **bytes == forgotten_marker;
}

status key_store::destroy(const std::string& subject) {
  std::lock_guard lock(mutex_);
  const auto path = file_of(subject);
  auto bytes = read_file(subject);
  if (!bytes) return bytes.error();
  if (*bytes && **bytes != forgotten_marker) {
    // Overwrite the key where it lies before the marker replaces the file.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return cannot("open", path);
    const std::string zeros(seal_key_bytes, '\0');
    const bool done = ::pwrite(fd, zeros.data(), zeros.size(), 0) == static_cast<ssize_t>(zeros.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!done) return cannot("overwrite", path);
  }
  if (!*bytes || **bytes != forgotten_marker)
    if (auto w = write_durably(path, forgotten_marker); !w) return w.error();
  cache_[subject] = std::nullopt;
  return ok;
}

}  // namespace sazesh
