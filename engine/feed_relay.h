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
//
// What a Dossier proves: its inclusion proof is of the last envelope of its history, which is
// its event in a window's last part; in an earlier part, an earlier event of the case (the
// part's envelopes chain back from it, so the whole part is proven).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
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
  // Events covered whose Dossiers could not be built (a case history the log does not hold as
  // its event says): "STREAM #SEQUENCE: why". Their checkpoints are published all the same.
  std::vector<std::string> skipped;
};

// For each partition of `log` whose tree in `store` (extended to the log's end by the caller)
// has grown past the partition's latest published checkpoint (event_log::published_checkpoint):
// signs checkpoints with `key` and publishes them with the Dossiers of the events they newly
// cover, each proof checked against the signed root first. `history` is where a case's earlier
// events are read (the log itself, or the log it was copied from). The latest published
// checkpoint must be signed by `key` and have the root the store's tree has at its size
// (errc::corrupt, naming the partition); one past the tree's end is errc::conflict, field "log"
// (the log has appends this process has not read: settle it, extend the store, try again).
result<relay_report> publish_signed(event_log& log, checkpoint_store& store, const signing_key& key, event_log& history,
                                    relay_limits limits = {});

}  // namespace sazesh
