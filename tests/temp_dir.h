// temp_dir: a fresh folder under /tmp (or another parent) for one test, removed with everything in it at the end.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace sazesh {

class temp_dir {
 public:
  temp_dir() : temp_dir("/tmp") {}
  // Under another parent folder (/dev/shm: a memory file system, where fsync costs nothing).
  explicit temp_dir(const std::string& parent) {
    std::string pattern = parent + "/sazesh-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sazesh
