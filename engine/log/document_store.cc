#include "engine/log/document_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <vector>

#include "engine/base/text_file.h"
#include "engine/record/hash.h"

namespace sazesh {
namespace {

// A failed call on `path`, with the system's reason (errno as it is now): "no space left on
// device", say.
error cannot(std::string_view what, const std::string& path) {
  return error(errc::io, "data_dir", "cannot " + std::string(what) + " " + path + ": " + std::strerror(errno));
}

// A stored document or its sealed copy (the box adds 44 bytes), at most what a document may be.
constexpr std::size_t max_stored_bytes = max_document_bytes + 64;

}  // namespace

std::filesystem::path document_store::path_of(std::string_view sha256_raw) const {
  const std::string hex = to_hex(sha256_raw);
  return root_ / hex.substr(0, 2) / hex;
}

bool document_store::contains(std::string_view sha256_raw) const {
  std::error_code ec;
  return std::filesystem::exists(path_of(sha256_raw), ec);
}

status check_document_file(const std::filesystem::path& source, std::string_view field) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; what is not a regular file is refused.
  const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return error(errc::not_found, std::string(field), "cannot read file " + source.string());
  struct stat st {};
  const bool stated = ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!stated) return error(errc::io, std::string(field), "cannot read file " + source.string());
  if (!S_ISREG(st.st_mode))
    return error(errc::invalid_argument, std::string(field),
                 source.string() + " must be a regular file (not a directory, FIFO or device)");
  if (st.st_size == 0) return error(errc::invalid_argument, std::string(field), source.string() + " is empty");
  if (static_cast<std::uint64_t>(st.st_size) > max_document_bytes)
    return error(errc::invalid_argument, std::string(field),
                 source.string() + " is " + std::to_string(st.st_size) + " bytes; a document may have at most " +
                     std::to_string(max_document_bytes));
  return ok;
}

result<stored_document> document_store::put_file(const std::filesystem::path& source,
                                                 std::string_view field) {
  if (auto c = check_document_file(source, field); !c) return c.error();
  const int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) return error(errc::not_found, std::string(field), "cannot read file " + source.string());
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) {
    ::close(in);
    return error(errc::io, "data_dir", "cannot create " + root_.string());
  }
  // Streamed: hashed while copied to a temporary file, never held in memory whole.
  std::string temp = (root_ / ("incoming.XXXXXX")).string();
  const int out = ::mkstemp(temp.data());
  if (out < 0) {
    const error e = cannot("create", temp);
    ::close(in);
    return e;
  }
  const auto fail = [&](error e) {
    ::close(in);
    ::close(out);
    ::unlink(temp.c_str());
    return e;
  };
  sha256_stream hash;
  std::uint64_t size = 0;
  std::string buffer(1 << 16, '\0');
  for (;;) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0) return fail(error(errc::io, std::string(field), "cannot read file " + source.string()));
    if (n == 0) break;
    size += static_cast<std::uint64_t>(n);
    if (size > max_document_bytes)
      return fail(error(errc::invalid_argument, std::string(field),
                        source.string() + " grew past the " + std::to_string(max_document_bytes) + " bytes a document may have"));
    const std::string_view piece(buffer.data(), static_cast<std::size_t>(n));
    hash.update(piece);
    for (std::size_t done = 0; done < piece.size();) {
      const ssize_t w = ::write(out, piece.data() + done, piece.size() - done);
      if (w <= 0) return fail(cannot("write", temp));
      done += static_cast<std::size_t>(w);
    }
  }
  if (size == 0) return fail(error(errc::invalid_argument, std::string(field), source.string() + " is empty"));
  stored_document d{hash.finish(), size, false};
  ::close(in);
  std::optional<error> sync_failed;
  if (::fsync(out) != 0) sync_failed = cannot("sync", temp);
  ::close(out);
  const auto target = path_of(d.sha256);
  if (contains(d.sha256)) {
    ::unlink(temp.c_str());
    return d;
  }
  std::filesystem::create_directories(target.parent_path(), ec);
  if (sync_failed) {
    ::unlink(temp.c_str());
    return *sync_failed;
  }
  if (ec || ::rename(temp.c_str(), target.c_str()) != 0) {
    const error e = ec ? error(errc::io, "data_dir", "cannot create " + target.parent_path().string() + ": " + ec.message())
                       : cannot("store", target.string());
    ::unlink(temp.c_str());
    return e;
  }
  d.added = true;
  return d;
}

result<stored_document> document_store::put_bytes(std::string_view bytes, std::string_view field) {
  if (bytes.empty()) return error(errc::invalid_argument, std::string(field), "the file is empty");
  stored_document d{sha256(bytes), bytes.size(), false};
  if (contains(d.sha256)) return d;
  if (auto w = write_file_durably(path_of(d.sha256), bytes, "data_dir"); !w) return w.error();
  d.added = true;
  return d;
}

std::filesystem::path document_store::sealed_path_of(std::string_view sha256_raw, const std::string& subject) const {
  return path_of(sha256_raw).string() + "." + to_hex(sha256(subject)).substr(0, 16);
}

result<bool> document_store::seal_copy(std::string_view sha256_raw, const std::string& subject, std::string_view key) {
  std::error_code ec;
  if (std::filesystem::exists(sealed_path_of(sha256_raw, subject), ec)) return false;
  auto plain = read_text_file(path_of(sha256_raw), "document", max_stored_bytes);
  if (!plain && plain.error().code() == errc::not_found)
    return error(errc::not_found, "document", "no stored document " + to_hex(sha256_raw) + ": upload it again");
  if (!plain) return plain.error();
  if (sha256(*plain) != sha256_raw) return error(errc::corrupt, "document", "the stored copy of " + to_hex(sha256_raw) + " was altered");
  if (auto w = write_file_durably(sealed_path_of(sha256_raw, subject), seal_document(*plain, key, sha256_raw), "data_dir"); !w)
    return w.error();
  return true;
}

status document_store::drop_plain(std::string_view sha256_raw) {
  const auto plain_path = path_of(sha256_raw);
  std::error_code ec;
  std::filesystem::remove(plain_path, ec);
  if (ec) return error(errc::io, "data_dir", "cannot remove " + plain_path.string() + ": " + ec.message());
  return ok;
}

void document_store::drop_sealed(std::string_view sha256_raw, const std::string& subject) {
  std::error_code ec;
  std::filesystem::remove(sealed_path_of(sha256_raw, subject), ec);
}

status document_store::seal(std::string_view sha256_raw, const std::string& subject, std::string_view key) {
  auto made = seal_copy(sha256_raw, subject, key);
  if (!made && made.error().code() == errc::not_found) return ok;  // sealed already, or never stored
  if (!made) return made.error();
  return drop_plain(sha256_raw);
}

result<std::uint64_t> document_store::sweep(std::chrono::seconds grace) {
  std::uint64_t removed = 0;
  std::error_code ec;
  if (!std::filesystem::is_directory(root_, ec)) return removed;
  const auto now = std::filesystem::file_time_type::clock::now();
  const auto hex = [](std::string_view t) { return !t.empty() && to_hex(from_hex(t)) == t; };
  // One folder (the first two hex digits) at a time, each listed once: its plaintext copies, and
  // the hashes that have a sealed copy (exactly <64 hex>.<16 hex>; not a temporary file).
  for (std::filesystem::directory_iterator folder(root_, ec), end; !ec && folder != end; folder.increment(ec)) {
    std::error_code one;  // a file or folder that went meanwhile is passed over
    if (!folder->is_directory(one)) continue;
    std::set<std::string> sealed;
    std::vector<std::filesystem::path> plain;
    for (std::filesystem::directory_iterator f(folder->path(), one), fend; !one && f != fend; f.increment(one)) {
      const std::string name = f->path().filename().string();
      if (name.size() == 64 + 1 + 16 && name[64] == '.' && hex(name.substr(0, 64)) && hex(name.substr(65)))
        sealed.insert(name.substr(0, 64));
      else if (name.size() == 64 && hex(name))
        plain.push_back(f->path());
    }
    if (one) continue;
    for (const auto& path : plain) {
      if (sealed.count(path.filename().string()) == 0) continue;
      const auto written = std::filesystem::last_write_time(path, one);
      if (one || now - written < grace) continue;
      std::filesystem::remove(path, one);
      if (one) return error(errc::io, "data_dir", "cannot remove " + path.string() + ": " + one.message());
      ++removed;
    }
  }
  if (ec) return error(errc::io, "data_dir", "cannot read " + root_.string() + ": " + ec.message());
  return removed;
}

status document_store::copy_sealed_from(const document_store& from, std::string_view sha256_raw,
                                        const std::string& subject, std::string_view key) {
  std::error_code ec;
  if (std::filesystem::exists(sealed_path_of(sha256_raw, subject), ec)) return ok;
  auto sealed = read_text_file(from.sealed_path_of(sha256_raw, subject), "document", max_stored_bytes);
  if (sealed) return write_file_durably(sealed_path_of(sha256_raw, subject), *sealed, "data_dir");
  if (sealed.error().code() != errc::not_found) return sealed.error();
  auto plain = read_text_file(from.path_of(sha256_raw), "document", max_stored_bytes);
  if (!plain) return plain.error();
  if (sha256(*plain) != sha256_raw)
    return error(errc::corrupt, "document", "the stored copy of " + to_hex(sha256_raw) + " was altered");
  return write_file_durably(sealed_path_of(sha256_raw, subject), seal_document(*plain, key, sha256_raw), "data_dir");
}

result<std::optional<std::string>> document_store::read(std::string_view sha256_raw, const std::string& subject,
                                                        key_ring& keys) const {
  auto sealed = read_text_file(sealed_path_of(sha256_raw, subject), "document", max_stored_bytes);
  if (sealed) {
    auto key = keys.key_of(subject);
    if (!key) return key.error();
    if (!*key) {
      auto gone = keys.forgotten(subject);
      if (!gone) return gone.error();
      if (*gone) return std::optional<std::string>();  // erased
      return error(errc::unavailable, "document",
                   "document " + to_hex(sha256_raw) + " is sealed under the key of " + subject +
                       ", which this folder's key store does not hold");
    }
    auto plain = open_document(*sealed, **key, sha256_raw);
    if (!plain) return plain.error();
    return std::optional<std::string>(std::move(*plain));
  }
  if (sealed.error().code() != errc::not_found) return sealed.error();
  auto plain = read_text_file(path_of(sha256_raw), "document", max_stored_bytes);
  if (plain) return std::optional<std::string>(std::move(*plain));
  if (plain.error().code() != errc::not_found) return plain.error();
  return error(errc::not_found, "document", "no stored document " + to_hex(sha256_raw));
}

void document_store::forget(const stored_document& d) {
  if (!d.added) return;
  std::error_code ec;
  std::filesystem::remove(path_of(d.sha256), ec);
}

}  // namespace sazesh
