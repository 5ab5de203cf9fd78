#include "engine/feed_relay.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>

#include "engine/agency_feed.h"
#include "engine/record/codec.h"

namespace sazesh {
namespace {

constexpr std::size_t k_read_batch = 512;

// One transaction's worth: the leaves from `from` to `to`, and the records of those that have
// any (leaf index, records without their proof).
struct relay_unit {
  std::uint64_t from = 0, to = 0;
  std::vector<std::pair<std::uint64_t, std::vector<side_record>>> records;
  std::size_t bytes = 0;
};

result<relay_unit> gather(event_log& log, checkpoint_store& store, std::uint32_t partition, std::uint64_t from,
                          std::uint64_t end, event_log& history, const relay_limits& limits) {
  relay_unit unit{from, from, {}, 0};
  const std::uint64_t last = std::min(end, from + std::max<std::uint64_t>(limits.leaves, 1));
  while (unit.to < last && (unit.to == from || unit.bytes < limits.bytes)) {
    auto batch = store.leaves(partition, unit.to, std::min<std::uint64_t>(k_read_batch, last - unit.to), log);
    if (!batch) return batch.error();
    if (batch->empty())
      return error(errc::corrupt, "log", fmt::format("partition {} has no event for leaf {}", partition, unit.to));
    for (auto& e : *batch) {
      auto rec = decode(e.bytes);
      if (!rec)
        return error(errc::corrupt, "log",
                     fmt::format("partition {} position {}: {}", partition, e.position.value(), rec.error().message()));
      auto sides = agency_side_records(history, {*rec}, {e.bytes});
      if (!sides) return sides.error();
      if (!sides->empty()) {
        for (const auto& s : *sides) unit.bytes += s.value.size() + s.key.size();
        unit.records.emplace_back(unit.to, std::move(*sides));
      }
      ++unit.to;
      if (unit.bytes >= limits.bytes) break;
    }
  }
  return unit;
}

}  // namespace

result<relay_report> publish_signed(event_log& log, checkpoint_store& store, const signing_key& key, event_log& history,
                                    relay_limits limits) {
  relay_report report;
  for (std::uint32_t p = 0; p < store.partitions(); ++p) {
    const std::uint64_t size = store.size(p);
    auto published = log.published_size(p);
    if (!published) return published.error();
    if (*published > size)
      return error(errc::corrupt, "checkpoints",
                   fmt::format("partition {} has a published checkpoint of {} events, but its tree holds {}: the "
                               "checkpoints are not of this log, or its events were removed",
                               p, *published, size));
    for (std::uint64_t at = *published; at < size;) {
      auto unit = gather(log, store, p, at, size, history, limits);
      if (!unit) return unit.error();
      auto signed_at = store.sign_at(key, p, unit->to, log);
      if (!signed_at) return signed_at.error();
      std::vector<side_record> records;
      for (auto& [leaf, sides] : unit->records) {
        auto proof = store.inclusion_proof(p, leaf, unit->to, log);
        if (!proof) return proof.error();
        for (auto& s : sides) {
          auto proven = with_proof(s.value, signed_at->note, leaf, *proof);
          if (!proven) return proven.error();
          s.value = std::move(*proven);
          records.push_back(std::move(s));
        }
      }
      if (auto s = log.publish_checkpoint(p, at, unit->to, signed_at->note, records); !s) return s.error();
      report.events += unit->to - at;
      report.records += records.size();
      report.published.push_back(std::move(*signed_at));
      at = unit->to;
    }
  }
  return report;
}

}  // namespace sazesh
