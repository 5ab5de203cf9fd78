// projection_store: the projections in a RocksDB folder (key layout in rows.h).
//
// One writer (the projector) opens it read-write; any number of readers (queries) open it
// read-only at the same time and see it as of their opening. A change set is committed in one
// WriteBatch with the log position it brings the projections to, so the projections are never
// ahead of or behind their position, whatever the moment of a crash.
//
// The folder (DATA_DIR/projections) holds generations: gen-000001, gen-000002, … each a
// RocksDB folder, and ACTIVE, one line naming the generation in use. A rebuild fills the next
// generation beside the live one and flips ACTIVE with one atomic rename while it holds the live
// generation's lock, so a projector never writes into a generation being retired and a reader
// sees one generation whole. Projections from before generations (the folder itself a RocksDB
// folder) become generation 1 when a writer first opens them.
//
// Memory, whatever the size of the data: each opening has its own 64 MiB block cache, which holds
// the index and filter blocks too (Bloom filters answer reads of rows not there yet), and
// memtables (RocksDB's default 64 MiB for a writer; a bulk load up to three of 64 MiB).
//
// Thread safety: get/scan may be called from several threads; commit from one at a time.
#pragma once

#include <filesystem>
#include <functional>
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

// What open() answers (errc::corrupt, field "projections") for projections written in another
// row format than this version's: they are derived data, so the remedy is a rebuild from the log
// (cli::session::open_projections_writer does it by itself).
inline constexpr std::string_view other_row_format_rule = "written in another row format; rebuild them (sazesh rebuild)";
inline bool is_other_row_format(const error& e) { return e.code() == errc::corrupt && e.rule() == other_row_format_rule; }

class projection_store : public kv_reader {
 public:
  static result<std::unique_ptr<projection_store>> open(const std::filesystem::path& folder,
                                                        store_mode mode);

  // Writes every change of the set atomically.
  virtual status commit(const change_set& changes) = 0;
  // Makes everything committed durable (flushes memtables); for bulk loads before a swap.
  virtual status flush() = 0;
  // Compacts every table file into the fewest (a rebuilt generation, before it goes live).
  virtual status compact() = 0;
  // SHA-256 (hex) over every key and value in key order: equal digests, equal projections.
  virtual result<std::string> digest() const = 0;
  // Number of keys (for reports).
  virtual result<std::uint64_t> key_count() const = 0;
  // The RocksDB folder opened: the generation, for the projections of a data folder.
  virtual const std::filesystem::path& location() const = 0;
};

// A store that reads and writes through `target` without owning it: for a process that holds
// its projections open (`sazesh serve`) and answers every query from them.
std::unique_ptr<projection_store> borrow(projection_store& target);

// ---- Generations (for rebuild) ---------------------------------------------------------------

// "gen-000042".
std::string fmt_generation(std::uint64_t n);
// The generation ACTIVE names (errc::not_found if none yet).
result<std::string> active_generation(const std::filesystem::path& folder);
// A name one past the highest generation in the folder.
result<std::string> next_generation(const std::filesystem::path& folder);
// Renames the complete folder `built` (inside `folder`) to `generation`, points ACTIVE at it
// (atomically, durably), calls `before_retiring` (which releases the old generation's lock) and
// removes the old generation; all under the exclusive swap lock.
status activate_generation(const std::filesystem::path& folder, const std::string& built,
                           const std::string& generation, const std::function<void()>& before_retiring);
// Removes generations ACTIVE does not name and the folders of rebuilds whose process is gone.
void remove_stale_generations(const std::filesystem::path& folder);

}  // namespace sazesh::projections
