// feed_relay: how a log with topics (Kafka) is signed, and how the agencies' feeds get their
// records: each signed checkpoint of a partition is published in one transaction with the
// Dossiers of the events it newly covers, each Dossier carrying that checkpoint and its event's
// inclusion proof. So a Dossier exists only for an event already committed, appears exactly
// once (publish_checkpoint refuses a range that was published: the checkpoints topic is the
// relay's own progress), and an agency holding the log's verifier key can prove its event is in
// the log without reading the events topic.
//
//   (*store)->extend(log);
//   auto published = publish_signed(log, **store, key, log);
//
// Work is cut into transactions of at most relay_limits::leaves events and about
// relay_limits::bytes of records; each is covered by a checkpoint of its own (signed at the size
// where it ends), so a long backlog (a copied log, a writer that was away) is never one huge
// transaction. A record the log cannot take (too big for the cluster) stops the relay with the
// log's error, naming it; nothing of its transaction is published.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/base/result.h"
#include "engine/log/checkpoint_store.h"
#include "engine/log/event_log.h"
#include "engine/record/checkpoint.h"

namespace sazesh {

struct relay_limits {
  std::uint64_t leaves = 16384;          // events per transaction, at most
  std::size_t bytes = std::size_t{8} << 20;  // records' bytes per transaction, about (one event's always fit)
};

struct relay_report {
  std::vector<signed_checkpoint> published;  // in the order published
  std::uint64_t events = 0;                  // events newly covered
  std::uint64_t records = 0;                 // Dossiers published
};

// For each partition of `log` whose tree in `store` (extended to the log's end by the caller)
// has grown past the partition's latest published checkpoint (event_log::published_size):
// signs checkpoints with `key` and publishes them with the Dossiers of the events they newly
// cover. `history` is where a case's earlier events are read (the log itself, or the log it was
// copied from). errc::corrupt if the log says more was published than the tree holds.
result<relay_report> publish_signed(event_log& log, checkpoint_store& store, const signing_key& key, event_log& history,
                                    relay_limits limits = {});

}  // namespace sazesh
