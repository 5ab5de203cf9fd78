// kafka_log: the event_log on an Apache Kafka cluster (through librdkafka, which stays private
// to engine/kafka_*.cc).
//
//   kafka_log_options o;
//   o.bootstrap_servers = "127.0.0.1:9092";
//   auto log = open_kafka_log(o);          // creates "sazesh.events" if missing, then catches up
//   auto eng = engine::open(**log, clock);
//
// Topics
// ======
// Every topic name starts with the topic prefix (default "sazesh."):
//   PREFIX "events"            the log: one record per event; created by the writer if missing
//                              (partitions, replication factor, retention unlimited); an
//                              existing one must be as durable (see replication_factor)
//   PREFIX "agency." AGENCY    one agency's referral feed (side records published with a
//                              checkpoint, engine/feed_relay.h); created by the writer on first
//                              use, one partition
//   PREFIX "checkpoints"       the signed checkpoints of each partition's Merkle tree
//                              (event_log::publish_checkpoint; key: the partition in decimal,
//                              value: the note); created by the writer on first use, one
//                              partition; public (no personal data: sizes and hashes). Also the
//                              feeds' progress: a range of a partition is published once.
// So a prefixed ACL on PREFIX "agency.AGENCY" gives an agency exactly its own feed:
//   kafka.sh acls --add --allow-principal User:agency1 --operation Read --operation Describe
//       --topic sazesh.agency.agency1 --resource-pattern-type prefixed
//   kafka.sh acls --add --allow-principal User:agency1 --operation Read
//       --group sazesh.agency.agency1 --resource-pattern-type prefixed
// (the default consumer group of a feed is PREFIX "agency." AGENCY ".feed").
//
// Records of the events topic
// ===========================
// key = stream id; value = the Envelope bytes exactly as appended; headers "sazesh-stream"
// (stream id), "sazesh-sequence" (decimal) and "sazesh-command" (command id). A stream lives in
// partition fnv1a_32(stream id) mod partitions, computed here and produced to explicitly, so
// placement never depends on a client's partitioner. Positions are Kafka offsets within the
// partition. Appends are transactional (one transaction per group of appends), so offsets
// have gaps (transaction markers): the next position after an event is its offset + 1, and
// readers never assume positions are dense. Every read is isolation.level=read_committed.
//
// The writer
// ==========
// One writer at a time, by its transactional ids (PREFIX "engine", "engine.1", …; its
// transactions take turns on them, see transactional_writers): opening a writer calls
// init_transactions on each, which fences every other writer of the prefix (their next append fails
// with errc::unavailable, rule "fenced: …; nothing was written") and aborts or completes their
// unfinished transaction. Only then does the new writer read the topic, so a restarted engine
// catches up from Kafka before it accepts commands. A fenced writer is not dead: its next
// append starts a new producer, fencing the other in turn, and reads the topic to its end
// before deciding (the engine settles the log first, engine.h), so a command line write and a
// running scheduler on one prefix each lose at most the append that met the fence, never a
// decision on stale state. Two writers appending all the time would keep fencing each other:
// run one. What the embedded log keeps on disk, a writer keeps in
// its local store (engine/log/local_store.h, options.local_dir): each stream's version and event
// positions, each command id's outcome, every event's bytes, and the engine's state rows; at
// open it reads only what was committed since the store last stood. Before that it checks that
// the topic still tells the store's history: every partition reaches as far as the store read
// it and still holds, at the offset of the last event the store indexed, that same event, and
// the topic the store read from still exists. Otherwise (a cluster that lost acknowledged
// records, a topic deleted and made again) the open fails with errc::corrupt and writes
// nothing. A writer indexes its own commits from their delivery reports; its consumer still
// fetches them in the background (bounded by librdkafka's queued.max.messages.kbytes) and skips
// them.
//
// append() follows the embedded log exactly (command-id repeats, expected versions, errors);
// concurrent appends are grouped into one transaction (leader/follower, like the embedded
// log's group commit). An append returns once its transaction committed. A command with no
// events is remembered in the local store only (the engine never appends one).
// Errors: errc::unavailable when the cluster cannot be reached or does not answer in time (the
// rule names the bootstrap servers and librdkafka's error name) and says whether nothing was
// written or the outcome is unknown; errc::io for other client errors. A failed transaction is
// aborted, so read_committed readers never see part of it. After an unknown outcome the
// writer starts a new producer (init_transactions completes or aborts the old transaction) and
// re-reads the topic before the next append, so a retry with the same command id either
// appends or returns the first outcome.
//
// Reading
// =======
// A writer serves read_stream, version, find_command and read_partition from its local store.
// partitions() is the topic's partition count. read_all() and end(): with one partition they
// are read_partition(0, …) and one past the last event's offset; with several, they number
// events in the order this process indexed them (dense from 0, stable for the life of the
// process, not across processes) — enough for tools that walk every event once; the engine
// and the projector use read_partition.
// refresh() reads what was committed since (for a writer: what another writer with another
// transactional id might have written; normally nothing).
// Order: a stream's events keep their order (one partition), but a reader that folds partition
// by partition (engine::catch_up, the projector) meets events of different partitions in
// another order than the writer decided them. Whatever depends on the order across streams
// (the order of world::score_events within a business, today) differs between the live engine
// and a replay of the topic; every per-stream fact and every projection row tested is equal.
//
// A follower (options.follower) has no producer: it refuses append with errc::unavailable,
// needs an existing topic (errc::not_found otherwise) and adopts its partition count.
// partition_end(p) is one past the offset of the partition's last event the log holds.
//
// Readers' progress
// =================
// report_progress(p, next) (the projector calls it after each committed batch) commits `next`
// as the offset of partition p of the events topic for consumer group options.progress_group
// (default PREFIX "projector"), so `kafka-consumer-groups --describe --group sazesh.projector`
// shows the projector's lag like any consumer's. The group only mirrors the projector's own
// positions, kept in its projections: it is never read back, and never joined (the commits are
// a simple consumer's). Offsets have Kafka's meaning, the next offset to read. A reader past
// the last event this log has read in a partition is reported at the end this log read to, past
// any transaction markers, so a caught-up projector shows lag 0; one behind shows the offsets
// it has still to read, markers included. (A writer does not read its own commits' markers: a
// projector on it, right after its own append, shows lag 1 there until a reader reports.)
// Commits are asynchronous and best-effort (see kafka::group_offsets): a cluster that is away
// or an ACL that refuses the group only leaves the group's offsets behind; closing the log
// waits a moment (about 2 s at most) for the last one.
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/log/event_log.h"
#include "engine/base/result.h"

namespace sazesh {

struct kafka_log_options {
  std::string bootstrap_servers;           // "host:port,host:port"
  std::string topic_prefix = "sazesh.";
  std::uint32_t partitions = 3;            // for a topic the writer creates; an existing
                                           // topic must have this many
  // Copies the cluster keeps of every record. The writer creates topics with it and with
  // min.insync.replicas = min(2, it), and refuses an existing events topic with fewer replicas,
  // a lower min.insync.replicas, retention or compaction (errc::invalid_argument). 1 is for a
  // single test broker only: losing its disk loses acknowledged events.
  std::int16_t replication_factor = 3;
  bool follower = false;                   // read-only: no producer, no topic creation
  // Producers a writer's transactions take turns on, with the transactional ids PREFIX "engine",
  // PREFIX "engine.1", …: one commit's markers are written while the next transaction runs on
  // another id (kafka::producer_rotation). A writer fences the first four ids (and any more it
  // uses) whatever this says, so a writer that takes turns on fewer still stops one on more.
  std::uint32_t transactional_writers = 4;
  // librdkafka settings passed through verbatim (security.protocol, sasl.*, ssl.*, client.id…);
  // they are applied last, so they override this file's defaults. Settings the log's guarantees
  // rest on are refused (check_kafka_config).
  std::map<std::string, std::string> config;
  // Bound on each blocking step: reaching the cluster, creating the topic, reading to the end,
  // committing a transaction.
  std::chrono::milliseconds timeout{30'000};
  // The consumer group report_progress() commits offsets for; empty: topic_prefix + "projector".
  std::string progress_group;
  // A writer's local store (engine/log/local_store.h): its index of the topic and the engine's
  // state rows, resumed from where they stand at the next open. Empty: a temporary folder,
  // removed at close (the next open reads the whole topic again).
  std::filesystem::path local_dir;
  // Testing only (fault injection): asked after each committed transaction; true reports the
  // commit's outcome as unknown, as a timeout after the commit would.
  std::function<bool()> lose_commit_outcome;
  // Testing only: skip reading an existing topic's settings (librdkafka's mock cluster cannot
  // describe them); its replication factor is still checked.
  bool check_topic_settings = true;
};

// Refuses (errc::invalid_argument, field "--kafka-config") a pass-through librdkafka setting
// that the log's guarantees rest on: bootstrap.servers, transactional.id, enable.idempotence,
// acks, isolation.level, enable.partition.eof, enable.auto.commit, enable.auto.offset.store,
// group.id.
status check_kafka_config(const std::map<std::string, std::string>& config);

// "a=1,b=2" as {"a=1", "b=2"}.
std::vector<std::string> split_kafka_settings(std::string_view list);
// "NAME=VALUE" settings into `config`, a later one over an earlier; errc::invalid_argument
// naming `field` for one that is not NAME=VALUE.
status add_kafka_settings(const std::vector<std::string>& settings, std::map<std::string, std::string>& config,
                          std::string_view field);

// Opens the log: a writer (creating the events topic if missing, fencing older writers,
// catching up) or a follower (catching up).
result<std::unique_ptr<event_log>> open_kafka_log(const kafka_log_options& options);

// PREFIX "events".
std::string kafka_events_topic(std::string_view prefix);
// PREFIX "agency." AGENCY: the topic an agency's Dossiers go to.
std::string kafka_agency_topic(std::string_view prefix, std::string_view agency_id);
// PREFIX "checkpoints".
std::string kafka_checkpoints_topic(std::string_view prefix);
// The partition a stream lives in: FNV-1a (32 bit) of the stream id, mod `partitions`.
std::uint32_t kafka_partition_of(std::string_view stream, std::uint32_t partitions);

}  // namespace sazesh
