// projection_store: the projections in a RocksDB folder (key layout in rows.h).
//
// One writer (the projector) opens it read-write; any number of readers (queries) open it
// read-only at the same time and see it as of their opening. A change set is committed in one
// WriteBatch with the log position it brings the projections to, so the projections are never
// ahead of or behind their position, whatever the moment of a crash.
//
// Thread safety: get/scan may be called from several threads; commit from one at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "engine/base/result.h"
#include "projections/kv.h"

namespace sazesh::projections {

enum class store_mode {
  read_write,  // the projector; creates the folder if needed; one process at a time
  read_only,   // queries; errc::not_found if there are no projections yet
  bulk_load,   // a rebuild into a fresh folder: no write-ahead log, flushed on close
};

class projection_store : public kv_reader {
 public:
  static result<std::unique_ptr<projection_store>> open(const std::filesystem::path& folder,
                                                        store_mode mode);

  // Writes every change of the set atomically.
  virtual status commit(const change_set& changes) = 0;
  // Makes everything committed durable (flushes memtables); for bulk loads before a swap.
  virtual status flush() = 0;
  // SHA-256 (hex) over every key and value in key order: equal digests, equal projections.
  virtual result<std::string> digest() const = 0;
  // Number of keys (for reports).
  virtual result<std::uint64_t> key_count() const = 0;
};

}  // namespace sazesh::projections
