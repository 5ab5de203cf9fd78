#include "tests/fault_fs.h"

#include <filesystem>
#include <random>
#include <system_error>
#include <utility>

namespace sazesh::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

// A file handed out for writing: every change is an operation of its file system, and its
// length and durable length are kept there.
class tracked_file : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  tracked_file(fault_fs& fs, std::string name, std::unique_ptr<rocksdb::FSWritableFile> file)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), name_(std::move(name)) {}

  IOStatus Append(const rocksdb::Slice& data, const IOOptions& o, IODebugContext* d) override {
    if (auto s = fs_.begin_operation("append"); !s.ok()) return s;
    auto s = target()->Append(data, o, d);
    if (s.ok()) fs_.grew(name_, size_ += data.size());
    return s;
  }
  IOStatus Append(const rocksdb::Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo&,
                  IODebugContext* d) override {
    return Append(data, o, d);
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset, const IOOptions& o,
                            IODebugContext* d) override {
    if (auto s = fs_.begin_operation("append"); !s.ok()) return s;
    auto s = target()->PositionedAppend(data, offset, o, d);
    if (s.ok()) fs_.grew(name_, size_ = std::max<std::uint64_t>(size_, offset + data.size()));
    return s;
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo&, IODebugContext* d) override {
    return PositionedAppend(data, offset, o, d);
  }
  IOStatus Truncate(std::uint64_t size, const IOOptions& o, IODebugContext* d) override {
    if (auto s = fs_.begin_operation("truncate"); !s.ok()) return s;
    auto s = target()->Truncate(size, o, d);
    if (s.ok()) fs_.grew(name_, size_ = size);
    return s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* d) override {
    if (auto s = fs_.begin_operation("sync"); !s.ok()) return s;
    auto s = target()->Sync(o, d);
    if (s.ok()) fs_.synced(name_);
    return s;
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* d) override {
    if (auto s = fs_.begin_operation("fsync"); !s.ok()) return s;
    auto s = target()->Fsync(o, d);
    if (s.ok()) fs_.synced(name_);
    return s;
  }
  IOStatus Close(const IOOptions& o, IODebugContext* d) override {
    // Closing makes nothing durable. After a fault it still releases the descriptor, as a
    // kernel does, but writes nothing.
    auto s = fs_.begin_operation("close");
    auto closed = target()->Close(o, d);
    return s.ok() ? closed : s;
  }
  // A range sync starts writeback but promises nothing: passed through, not counted as durable.

 private:
  fault_fs& fs_;
  std::string name_;
  std::uint64_t size_ = 0;

 public:
  void starts_at(std::uint64_t size) { size_ = size; }
};

std::uint64_t length_of(const std::string& file) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(file, ec);
  return ec ? 0 : n;
}

}  // namespace

fault_fs::fault_fs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {
  env_ = rocksdb::NewCompositeEnv(std::shared_ptr<rocksdb::FileSystem>(this, [](rocksdb::FileSystem*) {}));
}

void fault_fs::fail_from(std::uint64_t operation, disk_fault kind) {
  fail_kind_ = kind == disk_fault::no_space ? 1 : 0;
  fail_at_ = operation;
}

void fault_fs::power_off_at(std::uint64_t operation) { power_off_at_ = operation; }

void fault_fs::heal() { fail_at_ = 0; }

void fault_fs::power_on() { power_off_at_ = 0; }

IOStatus fault_fs::begin_operation(const std::string& what) {
  const std::uint64_t n = ++operations_;
  if (const std::uint64_t off = power_off_at_.load(); off != 0 && n >= off) {
    ++faults_;
    return IOStatus::IOError("injected: the power is off (" + what + ")");
  }
  if (const std::uint64_t from = fail_at_.load(); from != 0 && n >= from) {
    ++faults_;
    if (fail_kind_.load() == 1) return IOStatus::NoSpace("injected: no space left on device (" + what + ")");
    return IOStatus::IOError("injected: input/output error (" + what + ")");
  }
  return IOStatus::OK();
}

void fault_fs::grew(const std::string& file, std::uint64_t size) {
  std::lock_guard lock(mutex_);
  files_[file].size = size;
}

void fault_fs::synced(const std::string& file) {
  std::lock_guard lock(mutex_);
  tracked& t = files_[file];
  t.durable = t.size;
  t.ever_synced = true;
}

fault_fs::loss fault_fs::lose_unsynced(std::uint64_t seed) {
  std::lock_guard lock(mutex_);
  std::mt19937_64 rng(seed);
  loss out;
  for (const auto& [name, t] : files_) {
    std::error_code ec;
    if (!std::filesystem::exists(name, ec)) continue;
    if (!t.ever_synced) {
      std::filesystem::remove(name, ec);
      ++out.files_removed;
      continue;
    }
    const std::uint64_t now = length_of(name);
    if (now <= t.durable) continue;
    // Some of the unsynced tail may have reached the disk before the power went: seed 0 keeps
    // none of it, otherwise a random prefix of it.
    std::uint64_t keep = t.durable;
    if (seed != 0) keep += std::uniform_int_distribution<std::uint64_t>(0, now - t.durable)(rng);
    std::filesystem::resize_file(name, keep, ec);
    if (ec) continue;
    ++out.files_cut;
    out.bytes_lost += now - keep;
  }
  files_.clear();
  return out;
}

IOStatus fault_fs::NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                   std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  if (auto s = begin_operation("create"); !s.ok()) return s;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  auto s = target()->NewWritableFile(f, o, &file, d);
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mutex_);
    files_[f] = tracked{};
  }
  *r = std::make_unique<tracked_file>(*this, f, std::move(file));
  return s;
}

IOStatus fault_fs::ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  if (auto s = begin_operation("reopen"); !s.ok()) return s;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  auto s = target()->ReopenWritableFile(f, o, &file, d);
  if (!s.ok()) return s;
  const std::uint64_t size = length_of(f);
  {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = files_.try_emplace(f, tracked{size, size, true});
    it->second.size = size;  // what was there before is as durable as it was
    (void)fresh;
  }
  auto wrapped = std::make_unique<tracked_file>(*this, f, std::move(file));
  wrapped->starts_at(size);
  *r = std::move(wrapped);
  return s;
}

IOStatus fault_fs::ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                     std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  if (auto s = RenameFile(old, f, IOOptions(), d); !s.ok()) return s;
  return NewWritableFile(f, o, r, d);
}

IOStatus fault_fs::NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                   std::unique_ptr<rocksdb::FSRandomRWFile>* r, IODebugContext* d) {
  // Not used by the databases here; refused after a fault like any other change.
  if (auto s = begin_operation("open read-write"); !s.ok()) return s;
  return target()->NewRandomRWFile(f, o, r, d);
}

IOStatus fault_fs::DeleteFile(const std::string& f, const IOOptions& o, IODebugContext* d) {
  if (auto s = begin_operation("delete"); !s.ok()) return s;
  auto s = target()->DeleteFile(f, o, d);
  if (s.ok()) {
    std::lock_guard lock(mutex_);
    files_.erase(f);
  }
  return s;
}

IOStatus fault_fs::Truncate(const std::string& f, size_t size, const IOOptions& o, IODebugContext* d) {
  if (auto s = begin_operation("truncate"); !s.ok()) return s;
  auto s = target()->Truncate(f, size, o, d);
  if (s.ok()) {
    std::lock_guard lock(mutex_);
    if (auto it = files_.find(f); it != files_.end()) {
      it->second.size = size;
      it->second.durable = std::min<std::uint64_t>(it->second.durable, size);
    }
  }
  return s;
}

IOStatus fault_fs::RenameFile(const std::string& from, const std::string& to, const IOOptions& o, IODebugContext* d) {
  if (auto s = begin_operation("rename"); !s.ok()) return s;
  auto s = target()->RenameFile(from, to, o, d);
  if (s.ok()) {
    std::lock_guard lock(mutex_);
    files_.erase(to);
    if (auto it = files_.find(from); it != files_.end()) {
      files_[to] = it->second;
      files_.erase(from);
    }
  }
  return s;
}

IOStatus fault_fs::LinkFile(const std::string& from, const std::string& to, const IOOptions& o, IODebugContext* d) {
  if (auto s = begin_operation("link"); !s.ok()) return s;
  auto s = target()->LinkFile(from, to, o, d);
  if (s.ok()) {
    std::lock_guard lock(mutex_);
    if (auto it = files_.find(from); it != files_.end()) files_[to] = it->second;
  }
  return s;
}

IOStatus fault_fs::CreateDir(const std::string& f, const IOOptions& o, IODebugContext* d) {
  if (auto s = begin_operation("mkdir"); !s.ok()) return s;
  return target()->CreateDir(f, o, d);
}

IOStatus fault_fs::CreateDirIfMissing(const std::string& f, const IOOptions& o, IODebugContext* d) {
  if (auto s = begin_operation("mkdir"); !s.ok()) return s;
  return target()->CreateDirIfMissing(f, o, d);
}

}  // namespace sazesh::testing
