#include "engine/base/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace sazesh {
namespace {

// Closes the descriptor on every return path.
class file_descriptor {
 public:
  explicit file_descriptor(int fd) : fd_(fd) {}
  ~file_descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

result<std::string> read_text_file(const std::filesystem::path& path, std::string_view field,
                                   std::size_t max_bytes) {
  const std::string name(field);
  file_descriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) return error(errc::not_found, name, "cannot read " + path.string() + ": no such file");
    return error(errc::io, name, "cannot read " + path.string() + ": " + std::strerror(e));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return error(errc::io, name, "cannot read " + path.string() + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return error(errc::invalid_argument, name, path.string() + " is a directory, not a file");
  if (!S_ISREG(st.st_mode))
    return error(errc::invalid_argument, name, path.string() + " is not a regular file (a device, FIFO or socket)");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return error(errc::invalid_argument, name,
                 path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t have = 0;
  for (;;) {
    if (have == out.size()) {
      // The file may have grown since fstat: read on, within the limit.
      if (out.size() >= max_bytes + 1) break;
      out.resize(std::min(max_bytes + 1, out.size() + 4096));
    }
    const ssize_t n = ::read(fd.get(), out.data() + have, out.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      return error(errc::io, name, "cannot read " + path.string() + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  if (have > max_bytes)
    return error(errc::invalid_argument, name,
                 path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
  out.resize(have);
  return out;
}

status sync_folder(const std::filesystem::path& folder, std::string_view field) {
  file_descriptor fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0)
    return error(errc::io, std::string(field), "cannot sync " + folder.string() + ": " + std::strerror(errno));
  return ok;
}

status write_file_durably(const std::filesystem::path& path, std::string_view bytes, std::string_view field) {
  const auto failed = [&](std::string_view what, const std::string& where) {
    return error(errc::io, std::string(field), "cannot " + std::string(what) + " " + where + ": " + std::strerror(errno));
  };
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return error(errc::io, std::string(field), "cannot create " + path.parent_path().string() + ": " + ec.message());
  std::string temp = path.string() + ".tmp.XXXXXX";
  std::optional<error> e;
  {
    file_descriptor fd(::mkstemp(temp.data()));
    if (fd.get() < 0) return failed("create", temp);
    for (std::size_t done = 0; done < bytes.size() && !e;) {
      const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) e = failed("write", temp);
      else done += static_cast<std::size_t>(n);
    }
    if (!e && ::fsync(fd.get()) != 0) e = failed("sync", temp);
  }
  if (!e && ::rename(temp.c_str(), path.c_str()) != 0) e = failed("store", path.string());
  if (e) {
    ::unlink(temp.c_str());
    return *e;
  }
  return sync_folder(path.parent_path(), field);
}

}  // namespace sazesh
