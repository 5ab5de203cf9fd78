#include "engine/log/document_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "engine/record/hash.h"

namespace sazesh {

std::filesystem::path document_store::path_of(std::string_view sha256_raw) const {
  const std::string hex = to_hex(sha256_raw);
  return root_ / hex.substr(0, 2) / hex;
}

bool document_store::contains(std::string_view sha256_raw) const {
  std::error_code ec;
  return std::filesystem::exists(path_of(sha256_raw), ec);
}

result<stored_document> document_store::put_file(const std::filesystem::path& source,
                                                 std::string_view field) {
  std::ifstream in(source, std::ios::binary);
  if (!in) return error(errc::not_found, std::string(field), "cannot read file " + source.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return put_bytes(bytes, field);
}

result<stored_document> document_store::put_bytes(std::string_view bytes, std::string_view field) {
  if (bytes.empty()) return error(errc::invalid_argument, std::string(field), "the file is empty");
  stored_document d{sha256(bytes), bytes.size(), false};
  if (contains(d.sha256)) return d;

  const auto target = path_of(d.sha256);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) return error(errc::io, "data_dir", "cannot create " + target.parent_path().string());
  const auto temp = target.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return error(errc::io, "data_dir", "cannot write " + temp);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(temp.c_str());
      return error(errc::io, "data_dir", "cannot write " + temp);
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(temp.c_str(), target.c_str()) != 0) {
    ::unlink(temp.c_str());
    return error(errc::io, "data_dir", "cannot store " + target.string());
  }
  d.added = true;
  return d;
}

void document_store::forget(const stored_document& d) {
  if (!d.added) return;
  std::error_code ec;
  std::filesystem::remove(path_of(d.sha256), ec);
}

}  // namespace sazesh
