// kafka_index: what the Kafka log (engine/kafka/kafka_log.cc) knows of its topic, in memory: every
// committed event (bytes and all) in the order this process learned of it, per partition an
// offset -> event map, per stream its events in sequence order, per command id its outcome.
// A production deployment would keep it in a local RocksDB cache and resume from its offsets;
// in memory it costs a full read of the topic at start and RAM for the whole log.
//
// Private to engine/kafka/kafka_log.cc (no librdkafka here, but no use elsewhere either).
//
// Thread safety: the reads may be called from any thread at any time. The changes (add_read,
// add_own, remember) must come from one thread at a time; each takes the lock only to insert, so
// readers never wait for the network.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/log/event_log.h"
#include "engine/base/result.h"

namespace sazesh {

class kafka_index {
 public:
  kafka_index(std::string topic, std::uint32_t partitions) : topic_(std::move(topic)), by_partition_(partitions) {}

  std::uint32_t partitions() const { return static_cast<std::uint32_t>(by_partition_.size()); }

  // --- reads ---
  std::optional<append_outcome> find_command(std::string_view command_id) const;
  std::uint64_t version(std::string_view stream) const;
  std::vector<stored_event> read_stream(std::string_view stream, stream_version from) const;
  std::vector<stored_event> read_partition(std::uint32_t partition, log_position from, std::size_t max) const;
  // Events in the order they were indexed, numbered from 0 (their position is that number).
  std::vector<stored_event> read_in_index_order(std::uint64_t from, std::size_t max) const;
  std::uint64_t size() const;
  // One past the offset of the partition's last event (0 if it has none).
  std::uint64_t next_offset(std::uint32_t partition) const;
  // Whether the partition has an event at an offset in [from, to).
  bool has_event_in(std::uint32_t partition, std::uint64_t from, std::uint64_t to) const;

  // --- changes ---
  // A record read from the topic, checked: it must carry a stream, a sequence and a command id,
  // sit in its stream's partition and continue its stream (errc::corrupt otherwise). An offset
  // already indexed (a writer's own record) is skipped.
  status add_read(std::uint32_t partition, std::uint64_t offset, std::optional<std::string_view> stream,
                  std::optional<std::string_view> sequence, std::optional<std::string_view> command_id,
                  std::string_view bytes);
  // An event a writer committed itself (decided against this index, so not checked again).
  void add_own(stored_event e);
  // A command's outcome; the first one recorded for a command id stands.
  void remember(const std::string& command_id, const append_outcome& outcome);

 private:
  void insert_locked(stored_event e);

  const std::string topic_;  // for error messages
  mutable std::shared_mutex mutex_;
  std::deque<stored_event> events_;
  std::vector<std::map<std::uint64_t, std::size_t>> by_partition_;  // offset -> index in events_
  std::unordered_map<std::string, std::vector<std::size_t>> streams_;
  std::unordered_map<std::string, append_outcome> commands_;
};

}  // namespace sazesh
