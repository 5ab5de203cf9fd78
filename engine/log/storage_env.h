// What every RocksDB database Sazesh opens (the embedded log with its state rows, Kafka's local
// store, the projections) is opened with besides its options: the file system under it, and the
// log it writes its own diagnostics to.
//
// The file system: the programs keep rocksdb::Env::Default(); the durability tests
// (tests/fault_fs.h) put in its place one that fails writes, fills up, or forgets what was never
// synced, as a disk does when the power goes.
//
// The one header of this layer that names RocksDB (a forward declaration): it is for the
// openers of databases and for tests, not for the engine's users.
#pragma once

#include <filesystem>

namespace rocksdb {
class Env;
class Logger;
struct DBOptions;
}  // namespace rocksdb

namespace sazesh {

// The environment databases open with from now on.
rocksdb::Env* storage_env();
// Set before opening anything, and put back (nullptr: the default) only once every database
// opened with it is closed: an opening keeps the Env it was given.
void set_storage_env(rocksdb::Env* env);

// Points `options` at storage_env() and at a diagnostics log appended to LOG_FOLDER/LOG, at
// options.info_log_level (set that first). The log starts afresh once it passes 32 MiB, the
// previous one kept as LOG.old, and a line that cannot be written is dropped: RocksDB's own
// logger, on a full disk, fails an assertion at the next line after a failed write (Debian's
// librocksdb keeps assertions on), which would end the process. If LOG cannot be opened at all,
// RocksDB makes its own.
void use_storage(rocksdb::DBOptions& options, const std::filesystem::path& log_folder);

}  // namespace sazesh
