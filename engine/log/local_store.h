// local_store: what a log kept elsewhere (Apache Kafka) keeps on this machine, in one RocksDB
// folder (DATA_DIR/kafka-state for the CLI):
//  - every event it has read or written, by partition and offset, byte for byte;
//  - each stream's events by sequence, and each command id's outcome (what version(),
//    read_stream() and find_command() answer);
//  - per partition, the offset up to which it has indexed the topic, so a restarted writer reads
//    only what was committed since (never the whole topic again);
//  - the engine's state rows (event_log.h, state_rows) and, per partition, the position they
//    reach; written in the same batch as the index of the events that change them.
// A batch goes in whole or not at all (one RocksDB WriteBatch), so after a crash the index and
// the rows agree with their offsets. Losing the folder costs a replay of the topic, never a
// wrong decision: the log is the topic.
//
// On-disk format (version 1), every key led by a kind byte, integers big-endian:
//   'm' "format"                      u32 1
//   'm' "log"                         the log's name (topic) and u32 partition count
//   'm' "order"                       u64 the next number of the indexing order
//   'p' u32 partition                 u64 every record before this offset is indexed
//   'q' u32 partition                 u64 the engine's state rows reach this offset
//   'e' u32 partition u64 offset      u64 sequence, u32+stream, u32+command id, event bytes
//   's' stream 0x00 u64 sequence      u32 partition, u64 offset
//   'c' command id                    u64 first sequence, u64 count, u32 partition,
//                                     u64 first position, stream
//   'o' u64 number                    u32 partition, u64 offset: the order events were indexed
//   'x' key                           the engine's state row
//   'f' stream                        what damaged the stream (see damaged())
//   'g' u32 partition u64 offset      what the record there is, that is not an event
//
// Thread safety: reads from any thread; writes are serialised inside.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.h"
#include "engine/log/event_log.h"

namespace sazesh {

class local_store : public state_rows {
 public:
  // Opens (creating) the store in `folder` for the log `name` with `partitions` partitions; a
  // folder of another log, or of another partition count, is refused (errc::invalid_argument).
  // With an empty folder, the store lives in a temporary folder removed when it closes.
  static result<std::unique_ptr<local_store>> open(const std::filesystem::path& folder, std::string_view name,
                                                   std::uint32_t partitions);
  ~local_store() override = default;

  // ---- the index ----
  virtual std::uint32_t partitions() const = 0;
  virtual result<std::uint64_t> version(std::string_view stream) = 0;
  virtual result<std::optional<append_outcome>> find_command(std::string_view command_id) = 0;
  virtual result<std::vector<stored_event>> read_stream(std::string_view stream, stream_version from) = 0;
  virtual result<std::vector<stored_event>> read_partition(std::uint32_t partition, log_position from,
                                                           std::size_t max) = 0;
  // Events in the order they were indexed, numbered from 0 (their position is that number).
  virtual result<std::vector<stored_event>> read_in_index_order(std::uint64_t from, std::size_t max) = 0;
  virtual std::uint64_t indexed_events() const = 0;
  // Every record of the partition before this offset is indexed.
  virtual std::uint64_t indexed_through(std::uint32_t partition) const = 0;
  // One past the offset of the partition's last indexed event (0 if none).
  virtual result<std::uint64_t> events_end(std::uint32_t partition) = 0;
  // Whether the partition has an indexed event at an offset in [from, to).
  virtual result<bool> has_event_in(std::uint32_t partition, std::uint64_t from, std::uint64_t to) = 0;

  // Contained damage: streams whose next record in the topic did not follow the event before
  // it (two writers, or a write from outside), frozen at their last good event (their later
  // records are not indexed, and nothing more is appended to them); and records that are not
  // events at all (stream empty). (stream, what was found), streams first.
  virtual bool is_damaged(std::string_view stream) const = 0;
  virtual result<std::vector<std::pair<std::string, std::string>>> damaged() = 0;

  // What one batch adds: events (with the command each belongs to), the outcome of commands
  // (the first recorded for an id stands), state rows, and how far each partition is indexed.
  struct batch {
    struct event {
      stored_event stored;
      std::string command_id;
    };
    std::vector<event> events;
    std::vector<std::pair<std::string, append_outcome>> commands;  // a known id: its count may grow
    std::vector<state_write> state;
    bool state_included = false;  // `state` holds the rows of every event of the batch
    std::vector<std::pair<std::uint32_t, std::uint64_t>> indexed_through;  // (partition, offset)
    std::vector<std::pair<std::string, std::string>> damaged_streams;      // (stream, what)
    struct foreign {
      std::uint32_t partition;
      std::uint64_t offset;
      std::string what;
    };
    std::vector<foreign> foreign_records;
  };
  // Writes a batch at once. The state rows go with it only if they were in step with the index
  // (every partition's state position equal to where it was indexed) and the batch includes
  // them; then the state positions move with the index.
  virtual status commit(const batch& b) = 0;
};

}  // namespace sazesh
