#include "engine/feed_relay.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <utility>

#include <flatbuffers/flatbuffers.h>

#include "engine/agency_feed.h"
#include "engine/record/codec.h"
#include "engine/record/merkle.h"
#include "schemas/dossier_generated.h"

namespace sazesh {
namespace {

constexpr std::size_t k_read_batch = 512;

// A record waiting for its proof: the leaf it proves (its event's, or for a part before the
// last, its history's last envelope's), and its bytes.
struct pending_record {
  std::uint64_t leaf = 0;
  std::string leaf_bytes;  // the envelope at that leaf
  side_record record;
};

// One transaction's worth: the leaves from `from` to `to`, and the records of those that have any.
struct relay_unit {
  std::uint64_t from = 0, to = 0;
  std::vector<pending_record> records;
  std::size_t bytes = 0;
};

// The leaf of a part before the last: its history's last envelope, an earlier event of the case
// (in the same partition as the event), found by its position in `log`.
result<std::pair<std::uint64_t, std::string>> last_of_part(event_log& log, checkpoint_store& store, std::uint32_t partition,
                                                           const side_record& r) {
  const fb::Dossier* d = fb::GetDossier(r.value.data());
  const auto* last = d->history()->Get(d->history()->size() - 1)->bytes();
  std::string bytes(reinterpret_cast<const char*>(last->data()), last->size());
  auto rec = decode(bytes);
  if (!rec) return rec.error();
  auto stored = log.read_stream(rec->stream, rec->sequence);
  if (!stored) return stored.error();
  if (stored->empty() || stored->front().bytes != bytes || stored->front().partition != partition)
    return error(errc::corrupt, "log", fmt::format("{} #{} is not in partition {} as its dossier has it", rec->stream,
                                                   rec->sequence.value(), partition));
  auto leaf = store.leaf_at(partition, stored->front().position, log);
  if (!leaf) return leaf.error();
  return std::pair<std::uint64_t, std::string>(*leaf, std::move(bytes));
}

result<relay_unit> gather(event_log& log, checkpoint_store& store, std::uint32_t partition, std::uint64_t from,
                          std::uint64_t end, stream_history& history, const relay_limits& limits, relay_report& report) {
  relay_unit unit{from, from, {}, 0};
  const std::uint64_t last = std::min(end, from + std::max<std::uint64_t>(limits.leaves, 1));
  while (unit.to < last && (unit.to == from || unit.bytes < limits.bytes)) {
    auto batch = store.leaves(partition, unit.to, std::min<std::uint64_t>(k_read_batch, last - unit.to), log);
    if (!batch) return batch.error();
    if (batch->empty())
      return error(errc::corrupt, "log", fmt::format("partition {} has no event for leaf {}", partition, unit.to));
    for (auto& e : *batch) {
      const std::uint64_t leaf = unit.to++;
      // A record that is no event (written from outside) concerns no agency; the tree covers it.
      auto rec = decode(e.bytes);
      if (!rec) continue;
      std::vector<event_record> records;
      records.push_back(std::move(*rec));
      auto sides = agency_side_records(history, records, {e.bytes});
      if (!sides)  // the event stays covered and the feed goes on; what could not be built is reported
        report.skipped.push_back(fmt::format("{} #{}: {}", records.front().stream, records.front().sequence.value(),
                                             sides.error().message()));
      // As the log's index has it: an envelope claiming another place tells no history.
      if (records.front().stream == e.stream && records.front().sequence == e.sequence)
        history.remember(e.stream, e.sequence.value(), e.bytes, std::move(records.front()));
      if (!sides) continue;
      for (auto& s : *sides) {
        pending_record p{leaf, e.bytes, std::move(s)};
        const fb::Dossier* d = fb::GetDossier(p.record.value.data());
        if (d->part() < d->parts()) {
          auto at = last_of_part(log, store, partition, p.record);
          if (!at) return at.error();
          p.leaf = at->first;
          p.leaf_bytes = std::move(at->second);
        }
        unit.bytes += p.record.value.size() + p.record.key.size();
        unit.records.push_back(std::move(p));
      }
      if (unit.bytes >= limits.bytes) break;
    }
  }
  return unit;
}

// The partition's latest published checkpoint, checked: signed by `key`, of this partition, and
// of the tree the store holds. Returns its size (0 if none).
result<std::uint64_t> published_size(event_log& log, checkpoint_store& store, const signing_key& key, std::uint32_t p) {
  auto note = log.published_checkpoint(p);
  if (!note) return note.error();
  if (note->empty()) return std::uint64_t{0};
  auto c = open_log_checkpoint(*note, key.verifier(), log.partitions(), "checkpoints", p);
  if (!c)
    return error(errc::corrupt, "checkpoints",
                 fmt::format("partition {}'s latest published checkpoint is not the log's: {}", p, c.error().rule()));
  const std::uint64_t size = c->second.size;
  if (size > store.size(p))
    return error(errc::conflict, "log",
                 fmt::format("partition {} has a published checkpoint of {} events, but its tree holds {}: the log was "
                             "read before the latest appends",
                             p, size, store.size(p)));
  auto root = store.root_at(p, size, log);
  if (!root) return root.error();
  if (*root != c->second.root)
    return error(errc::corrupt, "checkpoints",
                 fmt::format("partition {}'s first {} events do not have the root its latest published checkpoint "
                             "signed",
                             p, size));
  return size;
}

}  // namespace

result<relay_report> publish_signed(event_log& log, checkpoint_store& store, const signing_key& key, event_log& history,
                                    relay_limits limits) {
  relay_report report;
  // A case's dossiers are built one after another, each from its history: read once.
  stream_history histories(history);
  for (std::uint32_t p = 0; p < store.partitions(); ++p) {
    const std::uint64_t size = store.size(p);
    auto published = published_size(log, store, key, p);
    if (!published) return published.error();
    for (std::uint64_t at = *published; at < size;) {
      auto unit = gather(log, store, p, at, size, histories, limits, report);
      if (!unit) return unit.error();
      auto signed_at = store.sign_at(key, p, unit->to, log);
      if (!signed_at) return signed_at.error();
      auto root = read_checkpoint_text(signed_at->note);  // the root the store just signed
      if (!root) return root.error();
      std::vector<side_record> records;
      std::vector<std::uint64_t> leaves;
      for (const auto& r : unit->records) leaves.push_back(r.leaf);
      auto proofs = store.inclusion_proofs(p, leaves, unit->to, log);
      if (!proofs) return proofs.error();
      for (std::size_t i = 0; i < unit->records.size(); ++i) {
        auto& r = unit->records[i];
        const auto& proof = (*proofs)[i];
        // Checked before it leaves: a store that disagreed with the log would publish bad proofs.
        if (!merkle::verify_inclusion(r.leaf, unit->to, merkle::leaf_hash(r.leaf_bytes), proof, root->root))
          return error(errc::corrupt, "checkpoints",
                       fmt::format("partition {}: leaf {}'s inclusion proof does not hold: the Merkle tree does not "
                                   "match the log",
                                   p, r.leaf));
        auto proven = with_proof(r.record.value, signed_at->note, r.leaf, proof);
        if (!proven) return proven.error();
        r.record.value = std::move(*proven);
        records.push_back(std::move(r.record));
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
