// kafka_log's reads: a writer answers from its local store, a follower reads the topic (see
// "Reading" in kafka_log.h).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/kafka/kafka_client.h"
#include "engine/kafka/kafka_log_detail.h"
#include "engine/log/local_store.h"

namespace sazesh::kafka_log_detail {

result<std::optional<append_outcome>> kafka_event_log::find_command(std::string_view command_id) {
  if (auto s = follower_index(); !s) return s.error();
  return store_->find_command(command_id);
}

result<stream_version> kafka_event_log::version(std::string_view stream) {
  if (auto s = follower_index(); !s) return s.error();
  auto v = store_->version(stream);
  if (!v) return v.error();
  return stream_version{*v};
}

result<std::vector<stored_event>> kafka_event_log::read_stream(std::string_view stream, stream_version from) {
  if (auto s = follower_index(); !s) return s.error();
  return store_->read_stream(stream, from);
}

result<std::vector<stored_event>> kafka_event_log::read_partition(std::uint32_t partition, log_position from,
                                                                  std::size_t max) {
  if (partition >= partitions_)
    return error(errc::invalid_argument, "partition",
                 fmt::format("{} has partitions 0 to {}", topic_, partitions_ - 1));
  if (!options_.follower) return store_->read_partition(partition, from, max);
  // A follower reads the partition itself, from where its reader stands. A record that is
  // not an event (no Sazesh headers: written from outside) is left out, as the writer's index
  // leaves it out; the read goes on past it until `max` events or the end.
  std::lock_guard lock(writer_mutex_);
  const kafka::deadline until = kafka::deadline_after(options_.timeout);
  std::int64_t stable = 0;
  std::vector<stored_event> out;
  std::int64_t next = static_cast<std::int64_t>(from.value());
  bool at_end = false;
  while (out.size() < max && !at_end) {
    const std::size_t want = max - out.size();
    auto records = cursor_->read(partition, next, want, until, &stable);
    if (!records) return records.error();
    at_end = records->size() < want;
    for (const auto& m : *records) {
      next = m->offset + 1;
      auto e = event_of(*m);
      if (e) out.push_back(std::move(*e));
    }
  }
  // A read that reached the end: where the events end, and the last stable offset after them
  // (report_progress reports a reader there at the latter, past the markers).
  if (at_end)
    known_end_[partition] = {out.empty() ? from.value() : out.back().position.value() + 1,
                             static_cast<std::uint64_t>(std::max<std::int64_t>(stable, 0))};
  return out;
}

result<std::vector<stored_event>> kafka_event_log::read_all(log_position from, std::size_t max) {
  if (partitions_ == 1) return read_partition(0, from, max);
  if (auto s = follower_index(); !s) return s.error();
  // Several partitions have no common order; the order events were indexed stands in for it.
  return store_->read_in_index_order(from.value(), max);
}

result<log_position> kafka_event_log::end() {
  if (partitions_ == 1) return partition_end(0);
  if (auto s = follower_index(); !s) return s.error();
  return log_position{store_->indexed_events()};
}

std::uint32_t kafka_event_log::partitions() const { return partitions_; }

result<log_position> kafka_event_log::partition_end(std::uint32_t partition) {
  if (partition >= partitions_)
    return error(errc::invalid_argument, "partition",
                 fmt::format("{} has partitions 0 to {}", topic_, partitions_ - 1));
  if (!options_.follower) {
    auto e = store_->events_end(partition);
    if (!e) return e.error();
    return log_position{*e};
  }
  // A follower: the partition's last stable offset counts the last transaction's marker; the
  // end of its events is found by reading back from there.
  std::lock_guard lock(writer_mutex_);
  const kafka::deadline until = kafka::deadline_after(options_.timeout);
  auto stable = cursor_->end(partition, until);
  if (!stable) return stable.error();
  const auto lso = static_cast<std::uint64_t>(*stable);
  std::uint64_t events_end = 0;
  for (std::uint64_t window = 2;; window *= 16) {
    const std::uint64_t from = lso > window ? lso - window : 0;
    auto records = cursor_->read(partition, static_cast<std::int64_t>(from), window, until);
    if (!records) return records.error();
    if (!records->empty()) {
      events_end = static_cast<std::uint64_t>(records->back()->offset) + 1;
      break;
    }
    if (from == 0) break;
  }
  known_end_[partition] = {events_end, lso};
  return log_position{events_end};
}

void kafka_event_log::report_progress(std::uint32_t partition, log_position next) {
  if (partition >= partitions_) return;
  // Past the last event, a reader has read all there is, transaction markers included, as a
  // read_committed consumer's position would say: it is reported at the end the log knows.
  std::uint64_t offset = next.value();
  if (!options_.follower) {
    const std::uint64_t seen = store_->indexed_through(partition);
    if (seen > offset) {
      auto between = store_->has_event_in(partition, offset, seen);
      if (between && !*between) offset = seen;
    }
  } else {
    std::lock_guard lock(writer_mutex_);
    if (auto seen = known_end_.find(partition);
        seen != known_end_.end() && offset == seen->second.first && seen->second.second > offset)
      offset = seen->second.second;  // at the end of the events: past the markers after them
  }
  progress_.set(partition, static_cast<std::int64_t>(offset));
}

status kafka_event_log::refresh() {
  std::lock_guard writer(writer_mutex_);
  if (!store_) return ok;  // a follower reads the partitions at each read
  return read_to_end(kafka::deadline_after(options_.timeout));
}

result<std::vector<std::pair<std::string, std::string>>> kafka_event_log::damaged_streams() {
  if (auto s = follower_index(); !s) return s.error();
  if (options_.follower) {
    std::lock_guard lock(writer_mutex_);
    if (auto s = read_to_end(kafka::deadline_after(options_.timeout)); !s) return s.error();
  }
  return store_->damaged();
}

state_rows* kafka_event_log::state() { return options_.follower ? nullptr : store_.get(); }

// A follower answers reads by stream, command or indexing order from an index of its own: a
// temporary local store filled by reading the whole topic at the first such read, and brought
// up to the topic's end at each one. (Partition reads, what projectors do, need none.)
status kafka_event_log::follower_index() {
  if (!options_.follower) return ok;
  std::lock_guard lock(writer_mutex_);
  const kafka::deadline until = kafka::deadline_after(options_.timeout);
  if (store_) return ok;  // built at the first such read; refresh() brings it forward
  {
    auto store = local_store::open({}, topic_, partitions_);
    if (!store) return store.error();
    auto consumer = make_reader_client(options_);
    if (!consumer) return consumer.error();
    auto reader = kafka::partition_reader::open(std::move(consumer->context), std::move(consumer->client), topic_,
                                                partitions_, kafka::partition_reader::fetch::while_reading);
    if (!reader) return reader.error();
    store_ = std::move(*store);
    reader_.emplace(std::move(*reader));
  }
  return read_to_end(until);
}

result<std::vector<std::pair<std::uint32_t, std::string>>> kafka_event_log::published_checkpoints() {
  const kafka::deadline until = kafka::deadline_after(options_.timeout);
  const std::string topic = kafka_checkpoints_topic(options_.topic_prefix);
  auto consumer = make_reader_client(options_);
  if (!consumer) return consumer.error();
  std::vector<std::pair<std::uint32_t, std::string>> out;
  auto found = kafka::describe_topic(consumer->client.get(), topic, *consumer->context, until);
  if (!found) return found.error();
  if (!*found) return out;
  auto reader = kafka::partition_reader::open(std::move(consumer->context), std::move(consumer->client), topic,
                                              (*found)->partitions);
  if (!reader) return reader.error();
  auto read = reader->read_to_end(
      [&](const rd_kafka_message_t& m) -> status {
        const std::string_view key(static_cast<const char*>(m.key), m.key_len);
        std::uint32_t partition = 0;
        const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), partition);
        if (key.empty() || ec != std::errc() || end != key.data() + key.size() || partition >= partitions_)
          return error(errc::corrupt, "checkpoints",
                       fmt::format("{} offset {}: the key is not a partition of {}", topic, m.offset, topic_));
        out.emplace_back(partition, std::string(static_cast<const char*>(m.payload), m.len));
        return ok;
      },
      until);
  if (!read) return read.error();
  return out;
}

}  // namespace sazesh::kafka_log_detail
