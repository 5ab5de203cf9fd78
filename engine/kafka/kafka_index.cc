#include "engine/kafka/kafka_index.h"

#include <fmt/format.h>

#include <charconv>
#include <mutex>

#include "engine/kafka/kafka_log.h"

namespace sazesh {

std::optional<append_outcome> kafka_index::find_command(std::string_view command_id) const {
  std::shared_lock lock(mutex_);
  auto it = commands_.find(std::string(command_id));
  if (it == commands_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t kafka_index::version(std::string_view stream) const {
  std::shared_lock lock(mutex_);
  auto it = streams_.find(std::string(stream));
  return it == streams_.end() ? 0 : it->second.size();
}

std::vector<stored_event> kafka_index::read_stream(std::string_view stream, stream_version from) const {
  std::shared_lock lock(mutex_);
  std::vector<stored_event> out;
  auto it = streams_.find(std::string(stream));
  if (it == streams_.end()) return out;
  const std::size_t first = from.value() == 0 ? 0 : static_cast<std::size_t>(from.value() - 1);
  for (std::size_t i = first; i < it->second.size(); ++i) out.push_back(events_[it->second[i]]);
  return out;
}

std::vector<stored_event> kafka_index::read_partition(std::uint32_t partition, log_position from,
                                                      std::size_t max) const {
  std::shared_lock lock(mutex_);
  std::vector<stored_event> out;
  const auto& offsets = by_partition_.at(partition);
  for (auto it = offsets.lower_bound(from.value()); it != offsets.end() && out.size() < max; ++it)
    out.push_back(events_[it->second]);
  return out;
}

std::vector<stored_event> kafka_index::read_in_index_order(std::uint64_t from, std::size_t max) const {
  std::shared_lock lock(mutex_);
  std::vector<stored_event> out;
  for (std::uint64_t i = from; i < events_.size() && out.size() < max; ++i) {
    out.push_back(events_[static_cast<std::size_t>(i)]);
    out.back().position = log_position{i};
  }
  return out;
}

std::uint64_t kafka_index::size() const {
  std::shared_lock lock(mutex_);
  return events_.size();
}

std::uint64_t kafka_index::next_offset(std::uint32_t partition) const {
  std::shared_lock lock(mutex_);
  const auto& offsets = by_partition_.at(partition);
  return offsets.empty() ? 0 : offsets.rbegin()->first + 1;
}

bool kafka_index::has_event_in(std::uint32_t partition, std::uint64_t from, std::uint64_t to) const {
  std::shared_lock lock(mutex_);
  const auto& offsets = by_partition_.at(partition);
  const auto it = offsets.lower_bound(from);
  return it != offsets.end() && it->first < to;
}

status kafka_index::add_read(std::uint32_t partition, std::uint64_t offset, std::optional<std::string_view> stream,
                             std::optional<std::string_view> sequence_text, std::optional<std::string_view> command,
                             std::string_view bytes) {
  const auto where = [&] { return fmt::format("{} partition {} offset {}", topic_, partition, offset); };
  if (partition >= by_partition_.size())
    return error(errc::corrupt, "kafka", fmt::format("{}: the topic has {} partitions", where(), by_partition_.size()));
  // Only this thread changes the index, so reading it here needs no lock.
  if (by_partition_[partition].count(offset)) return ok;
  if (!stream || !sequence_text || !command)
    return error(errc::corrupt, "kafka", fmt::format("{}: not a Sazesh event (headers missing)", where()));
  std::uint64_t sequence = 0;
  const char* const text_end = sequence_text->data() + sequence_text->size();
  const auto [end, ec] = std::from_chars(sequence_text->data(), text_end, sequence);
  if (ec != std::errc() || end != text_end || sequence == 0)
    return error(errc::corrupt, "kafka", fmt::format("{}: bad sequence header", where()));
  const std::uint32_t home = kafka_partition_of(*stream, partitions());
  if (home != partition)
    return error(errc::corrupt, "kafka", fmt::format("{}: stream {} belongs in partition {}", where(), *stream, home));
  const std::string stream_id(*stream);
  std::uint64_t current = 0;
  if (auto it = streams_.find(stream_id); it != streams_.end()) current = it->second.size();
  if (sequence != current + 1)
    return error(errc::corrupt, "kafka",
                 fmt::format("{}: stream {} has event {} after event {}{}", where(), stream_id, sequence, current,
                             sequence <= current ? " (two events with one sequence)" : ""));

  std::unique_lock lock(mutex_);
  auto [it, fresh] = commands_.try_emplace(std::string(*command));
  if (fresh) {
    it->second = append_outcome{stream_id, stream_version{sequence}, 1, partition, log_position{offset}, false};
  } else if (it->second.stream == stream_id && it->second.first_sequence.value() + it->second.count == sequence) {
    ++it->second.count;  // the command's next event
  }
  stored_event e;
  e.partition = partition;
  e.position = log_position{offset};
  e.stream = stream_id;
  e.sequence = stream_version{sequence};
  e.bytes.assign(bytes);
  insert_locked(std::move(e));
  return ok;
}

void kafka_index::add_own(stored_event e) {
  std::unique_lock lock(mutex_);
  insert_locked(std::move(e));
}

void kafka_index::remember(const std::string& command_id, const append_outcome& outcome) {
  std::unique_lock lock(mutex_);
  commands_.emplace(command_id, outcome);
}

void kafka_index::insert_locked(stored_event e) {
  const std::size_t at = events_.size();
  by_partition_[e.partition].emplace(e.position.value(), at);
  streams_[e.stream].push_back(at);
  events_.push_back(std::move(e));
}

}  // namespace sazesh
