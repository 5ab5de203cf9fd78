#include "engine/log/storage_env.h"

#include <fcntl.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <memory>
#include <system_error>

namespace sazesh {
namespace {

std::atomic<rocksdb::Env*> current{nullptr};

constexpr std::uintmax_t max_info_log_bytes = 32u << 20;

// One write(2) per line on a descriptor opened for appending: lines from several threads (and a
// follower's process) never interleave, and a failed write is just a lost line.
class plain_info_log : public rocksdb::Logger {
 public:
  explicit plain_info_log(int fd) : fd_(fd) {}
  ~plain_info_log() override { ::close(fd_); }
  plain_info_log(const plain_info_log&) = delete;
  plain_info_log& operator=(const plain_info_log&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[2048];
    timeval now{};
    ::gettimeofday(&now, nullptr);
    std::tm t{};
    ::localtime_r(&now.tv_sec, &t);
    int n = std::snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", t.tm_year + 1900, t.tm_mon + 1,
                          t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<long>(now.tv_usec));
    if (n < 0) return;
    va_list copy;
    va_copy(copy, ap);
    const int body = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, format, copy);
    va_end(copy);
    if (body < 0) return;
    n = std::min<int>(n + body, static_cast<int>(sizeof line) - 2);
    if (line[n - 1] != '\n') line[n++] = '\n';
    [[maybe_unused]] const ssize_t written = ::write(fd_, line, static_cast<std::size_t>(n));
  }

 private:
  int fd_;
};

}  // namespace

rocksdb::Env* storage_env() {
  rocksdb::Env* env = current.load(std::memory_order_acquire);
  return env != nullptr ? env : rocksdb::Env::Default();
}

void set_storage_env(rocksdb::Env* env) { current.store(env, std::memory_order_release); }

void use_storage(rocksdb::DBOptions& options, const std::filesystem::path& log_folder) {
  options.env = storage_env();
  std::error_code ec;
  std::filesystem::create_directories(log_folder, ec);
  const std::filesystem::path file = log_folder / "LOG";
  if (std::filesystem::file_size(file, ec) > max_info_log_bytes && !ec)
    std::filesystem::rename(file, log_folder / "LOG.old", ec);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  options.info_log = std::make_shared<plain_info_log>(fd);
  options.info_log->SetInfoLogLevel(options.info_log_level);
}

}  // namespace sazesh
