// A RocksDB file system over the real one that fails, fills up and loses power on command, for
// the durability tests (durability_test.cc, simulation_test.cc). Installed with
// set_storage_env(fs.env()) before a database is opened (engine/log/storage_env.h).
//
// Every call that changes a file is one operation, numbered from 1: creating, reopening, appending,
// syncing, closing, truncating, renaming, linking and deleting files, and creating folders.
//  - fail_from(n, kind): operation n and every later one fails with an I/O error or "no space
//    left on device" (and does nothing) until heal(); reads go on working.
//  - power_off_at(n): the power goes at operation n: it and every later one fails and nothing
//    more reaches the disk. Once every database opened through it is closed, lose_unsynced()
//    leaves the files as a disk would hold them when the power comes back: each file written
//    through this file system is cut back to what its last sync made durable (a random part of
//    the rest may have reached the disk: a torn write, chosen by the seed), and a file never
//    synced is gone. Renames and deletions are taken as durable when they return (RocksDB syncs
//    the folder after them); that is the model's one simplification.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/log/storage_env.h"

namespace sazesh::testing {

enum class disk_fault { io_error, no_space };

class fault_fs : public rocksdb::FileSystemWrapper {
 public:
  fault_fs();
  // The Env that opens databases over this file system (alive as long as the fault_fs).
  rocksdb::Env* env() { return env_.get(); }
  const char* Name() const override { return "SazeshFaultFS"; }

  std::uint64_t operations() const { return operations_.load(); }
  void fail_from(std::uint64_t operation, disk_fault kind);
  void power_off_at(std::uint64_t operation);
  void heal();      // ends fail_from
  void power_on();  // after lose_unsynced: the disk works again
  bool faulted() const { return faults_.load() > 0; }  // an operation failed
  std::uint64_t faults() const { return faults_.load(); }

  struct loss {
    std::uint64_t files_cut = 0, files_removed = 0, bytes_lost = 0;
  };
  // After power_off_at and once every database is closed: what a power cut leaves. `seed`
  // chooses how much of each file's unsynced tail reached the disk anyway (0: none of it).
  loss lose_unsynced(std::uint64_t seed);

  // ---- rocksdb::FileSystem ----
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus Truncate(const std::string& f, size_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus CreateDir(const std::string& f, const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& f, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* d) override;

  // ---- for the files it hands out ----
  // Counts one operation; not ok if it must fail.
  rocksdb::IOStatus begin_operation(const std::string& what);
  void grew(const std::string& file, std::uint64_t size);  // the file's length after a write
  void synced(const std::string& file);                       // all of it is durable now

 private:
  struct tracked {
    std::uint64_t size = 0, durable = 0;
    bool ever_synced = false;
  };
  std::unique_ptr<rocksdb::Env> env_;
  std::atomic<std::uint64_t> operations_{0}, faults_{0};
  std::atomic<std::uint64_t> fail_at_{0}, power_off_at_{0};
  std::atomic<int> fail_kind_{0};
  std::mutex mutex_;
  std::map<std::string, tracked> files_;
};

// The databases opened while it lives go through `env` (engine/log/storage_env.h); the default
// is back once it is gone.
class storage_env_guard {
 public:
  explicit storage_env_guard(rocksdb::Env* env) { set_storage_env(env); }
  ~storage_env_guard() { set_storage_env(nullptr); }
  storage_env_guard(const storage_env_guard&) = delete;
  storage_env_guard& operator=(const storage_env_guard&) = delete;
};

}  // namespace sazesh::testing
