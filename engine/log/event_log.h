// event_log: the append-only log every event of Sazesh is written to.
//
// The log stores opaque event records (verified FlatBuffers `Envelope`s, see
// schemas/envelope.fbs) grouped in streams: a case's events form one stream, and so do a
// party's. Within a stream, events have consecutive sequence numbers from 1. Across streams,
// every event has one position in the whole log, and reading from a position gives every event
// after it in the order they were made durable.
//
// Two rules make appends safe to retry and safe to race:
//  - expected version: an append names the stream version it was decided on; if the stream has
//    moved since, the append is refused with errc::conflict and nothing is written;
//  - command id: an append carries the id of the command that produced it; if that id was
//    already appended, nothing is written and the first append's outcome is returned again,
//    with `repeated` set.
//
// An append returns only once its events are durable (synced to disk for the embedded log,
// acknowledged by all in-sync replicas for Kafka). If it fails with errc::io the outcome is
// unknown: the events may or may not be stored; a remote log (Kafka) reports a cluster it cannot
// reach in time as errc::unavailable, its rule saying whether nothing was written or the outcome
// is unknown. Retrying with the same command id (after
// reopening the log) is always safe: it either appends or returns the first outcome. Implementations: open_embedded_log()
// (RocksDB in a local folder) and open_kafka_log() (engine/kafka/kafka_log.h).
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/ids.h"
#include "engine/base/result.h"

namespace sazesh {

struct stored_event {
  std::uint32_t partition = 0;
  log_position position;  // within its partition
  std::string stream;
  stream_version sequence;
  std::string bytes;  // the Envelope, exactly as appended
};

// A record published with a signed checkpoint, atomically with it, to another topic of the log
// (an agency's referral feed, say: see publish_checkpoint). Only a log with topics publishes them
// (the Kafka log: to topic prefix + topic_suffix); the embedded log has no topics. They are not
// events: no stream, no sequence, never read back by the log.
struct side_record {
  std::string topic_suffix;  // e.g. "agency.consumer-protection"
  std::string key;
  std::string value;
};

// A change to the engine's state rows (see state_rows): a value to put, or none to delete.
struct state_write {
  std::string key;
  std::optional<std::string> value;
};

struct append_request {
  std::string stream;
  stream_version expected;           // the stream's version the events were decided on
  std::string command_id;            // non-empty; unique per command
  std::vector<std::string> events;   // Envelope bytes; sequences expected+1, expected+2, ...
  // What the events change in the engine's state rows, written with them (see state_rows).
  // `state_included` says the rows were computed; a request without them (a copy, a raw
  // append) leaves the rows behind the log until the engine catches them up.
  std::vector<state_write> state = {};
  bool state_included = false;
};

struct append_outcome {
  std::string stream;
  stream_version first_sequence;  // sequence of the first event written by the command
                                  // (for a command with no events: the stream's version + 1)
  std::uint64_t count = 0;        // events written by the command (0 for a command with none)
  std::uint32_t partition = 0;   // the partition the stream lives in
  log_position first_position;
  bool repeated = false;          // the command id had been appended before; nothing written now
};

// The engine's state rows (engine/state_store.h: cases, parties, indexes, due deadlines), kept
// by a log beside its events, so the engine decides from rows instead of folding the log:
//  - the embedded log keeps them in its own database and writes a request's rows in the same
//    WriteBatch as its events: rows and events are never out of step;
//  - the Kafka log keeps them in a local database, written after the transaction commits, in one
//    batch with the offsets they reflect; after a crash in between, the engine folds the events
//    past those offsets (losing the folder costs a replay of the topic, never a wrong decision).
// Keys and values are the engine's; the log stores them as they are.
//
// Thread safety: every method may be called from several threads at once.
class state_rows {
 public:
  virtual ~state_rows() = default;
  virtual result<std::optional<std::string>> get(std::string_view key) = 0;
  // Calls `each` for every key in [from, to), in order, until it returns false.
  virtual status scan(std::string_view from, std::string_view to,
                      const std::function<bool(std::string_view key, std::string_view value)>& each) = 0;
  // Per partition, the position after the last event whose rows are stored.
  virtual result<std::vector<log_position>> positions() = 0;
  // Rows of events already in the log (the engine catching up, or rebuilding), with the
  // positions they bring the rows to, atomically.
  virtual status write(const std::vector<state_write>& writes, const std::vector<log_position>& positions) = 0;
  // Deletes every row and sets every position to 0 (before a rebuild of the rows).
  virtual status clear() = 0;
};

class event_log {
 public:
  virtual ~event_log() = default;

  // The engine's state rows this log keeps, or null (a follower, a log that keeps none).
  virtual state_rows* state() { return nullptr; }

  // Appends the events of one command to one stream, atomically and durably.
  virtual result<append_outcome> append(append_request request) = 0;

  // Appends the events of several commands, in order, as one unit (the engine's group commit:
  // commands decided one after another, each on the state the ones before it left). What is
  // written is always a prefix of `requests`: a request is written only if every request before
  // it was. The result has one outcome per request; a request refused (or repeated) stops the
  // unit, and every request after it gets errc::conflict, rule "not written: …", nothing of it
  // stored. An error for the whole unit (the log unreachable, say) is returned instead of the
  // outcomes and means what it means for append().
  // The default appends one request after the other; the logs here write the unit in one
  // synced batch (embedded) or one transaction (Kafka).
  virtual result<std::vector<result<append_outcome>>> append_group(std::vector<append_request> requests);

  // The outcome of an earlier append of this command id, if there was one.
  virtual result<std::optional<append_outcome>> find_command(std::string_view command_id) = 0;

  // The stream's current version (0 if it has no events).
  virtual result<stream_version> version(std::string_view stream) = 0;

  // Events of one stream with sequence >= from, in order.
  virtual result<std::vector<stored_event>> read_stream(std::string_view stream,
                                                        stream_version from) = 0;

  // Up to `max` events at positions >= from, in log order. Events appended meanwhile may be
  // included even past a value end() returned a moment before.
  virtual result<std::vector<stored_event>> read_all(log_position from, std::size_t max) = 0;

  // One past the position of the last durable event.
  virtual result<log_position> end() = 0;

  // A log may be split into partitions (Kafka's); each stream lives in exactly one, and
  // positions count within a partition. Readers that must see every event (the engine, the
  // projector) read each partition from their own position in it. The embedded log has one
  // partition, and read_partition(0, …) is read_all(…).
  virtual std::uint32_t partitions() const { return 1; }
  virtual result<std::vector<stored_event>> read_partition(std::uint32_t partition, log_position from,
                                                           std::size_t max) {
    if (partition != 0) return error(errc::invalid_argument, "partition", "this log has one partition");
    return read_all(from, max);
  }

  // One past the position of the partition's last durable event (as of the last refresh, for
  // a follower): where a reader that has read everything stands. partition_end(0) is end() for a
  // log with one partition.
  virtual result<log_position> partition_end(std::uint32_t partition) {
    if (partition != 0) return error(errc::invalid_argument, "partition", "this log has one partition");
    return end();
  }

  // Brings a follower up to date with the writer's durable appends; a no-op for a writer.
  virtual status refresh() { return ok; }

  // After an append failed, brings the writer to a known state before anything is decided on
  // it again: whatever the failed append wrote (an unknown outcome: it may have) is then in the
  // log's reads, versions and command ids, and nothing of it is still in flight. The Kafka log
  // fences any older producer of its own and reads the topic to its end; the embedded log reads
  // its end position and stream versions from disk again. The engine calls it after a failed unit.
  virtual status settle() { return refresh(); }

  // Checks the log's own bookkeeping against its events, for an audit (sazesh verify): the
  // embedded log's stream index and command records must each name exactly the events there
  // are, with the streams, sequences and command ids their envelopes carry. Reads everything;
  // errc::corrupt names what disagrees. A log with nothing of the kind to check returns ok.
  virtual status check_storage() { return ok; }

  // Streams the log found damaged and contained rather than stopping the whole log (on Kafka, a
  // stream two writers forked: two events with one sequence): (stream, what was found). Appends
  // to them are refused; every other stream is usable.
  virtual result<std::vector<std::pair<std::string, std::string>>> damaged_streams() {
    return std::vector<std::pair<std::string, std::string>>{};
  }

  // A reader that keeps its own positions (the projector, in its projections) tells the log
  // where it now is: `next` is the next position it will read in `partition`. A log with
  // consumer groups publishes it (Kafka: as a group's committed offset), so that the cluster's
  // own tools show the reader's lag. Asynchronous and best-effort: it never blocks on the
  // network, never fails, and changes nothing the reader reads; the reader's store stays the
  // truth. The embedded log ignores it.
  virtual void report_progress(std::uint32_t /*partition*/, log_position /*next*/) {}

  // Whether the log has topics of its own beside the events (Kafka's: agencies' feeds and
  // checkpoints), published with publish_checkpoint; callers build side records only for one.
  virtual bool publishes_side_records() const { return false; }

  // Groups of appends this object's leaders have taken so far (each written as one synced batch,
  // or one Kafka transaction, tried again once after an abort; a group of refusals writes
  // nothing): with the time taken, the mean unit a benchmark compares against.
  virtual std::uint64_t groups_written() const { return 0; }

  // Whether positions run 0, 1, 2, … without gaps (the embedded log's); Kafka's offsets have
  // gaps (transaction markers).
  virtual bool positions_dense() const { return false; }

  // A signed checkpoint of one partition's Merkle tree (engine/log/checkpoint_store.h), of
  // `size` leaves, made public where the log's readers find it, together with `records`: on
  // Kafka, topic PREFIX "checkpoints" (key: the partition number in decimal; value: the note) and
  // the records' topics, in one transaction of the writer. `after` must be the size of the
  // partition's latest published checkpoint (published_checkpoint), else errc::conflict and
  // nothing is written: so records made for the leaves from `after` to `size` (the agencies'
  // dossiers of those events, carrying this checkpoint) are published exactly once, whoever signs
  // and however often a signing is retried. A log without topics publishes nothing
  // (errc::unavailable); the embedded log keeps its checkpoints in its folder.
  virtual status publish_checkpoint(std::uint32_t /*partition*/, std::uint64_t /*after*/, std::uint64_t /*size*/,
                                    std::string_view /*note*/, const std::vector<side_record>& /*records*/) {
    return error(errc::unavailable, "checkpoints", "this log publishes nothing");
  }
  // The partition's latest published checkpoint (the last one on the topic; empty if none), as
  // the log knows it: Kafka's writer reads the checkpoints topic whenever its producer starts (so
  // after a fence, or a commit whose outcome was unknown, it knows what was committed) and keeps
  // it since. Not checked: a note anyone could have written; the signer checks it.
  virtual result<std::string> published_checkpoint(std::uint32_t /*partition*/) {
    return error(errc::unavailable, "checkpoints", "this log publishes nothing");
  }
  // Every checkpoint published so far, in the order published: (partition, note). Empty for a
  // log that publishes none.
  virtual result<std::vector<std::pair<std::uint32_t, std::string>>> published_checkpoints() {
    return std::vector<std::pair<std::uint32_t, std::string>>{};
  }
};

// The error every request of a unit after a refused one gets (see append_group).
error not_written_after(const error& earlier);

// For a log's append_group: checks every request before anything is queued. If one fails,
// the outcomes to return (its error, and for every other request: not written because of it),
// so nothing of the unit is written; otherwise nothing.
std::optional<std::vector<result<append_outcome>>> refuse_invalid_unit(
    const std::vector<append_request>& requests, status (*check)(const append_request&));

struct embedded_log_options {
  bool sync = true;  // fsync each group of appends before acknowledging; off only in benchmarks
  bool follower = false;  // read-only: sees the writer's appends as they become durable
  // Testing only (fault injection): asked after each group's write; true reports the write as
  // failed although it reached the disk, as a write RocksDB recovered by itself would.
  std::function<bool()> lose_write_outcome = {};
};

// Opens (creating if needed) the embedded RocksDB log in `folder`. Only one writer may have a
// folder open at a time; a second gets errc::unavailable.
//
// With `follower` set, opens the folder read-only instead, beside its writer (in this process
// or another) and any number of other followers; a projector following new events, a feed or
// a query service reads the log this way. A follower:
//  - sees the log as of its last refresh (end() included): refresh(), or by itself whenever
//    read_all is asked from end() or beyond, so a loop of read_all calls from the last position
//    read sees new events without calling refresh(); events arrive in log order, dense, byte
//    for byte as appended;
//  - refuses append with errc::unavailable ("data_dir: opened read-only as a follower");
//  - needs an existing log: a folder with none (or no folder) gives errc::not_found
//    ("data_dir: no event log in FOLDER"); it never creates or changes anything in the folder
//    (it keeps its own scratch files in a private temporary folder, removed on close);
//  - keeps working while the writer closes, crashes or is reopened: it then sees what the next
//    writer recovered and appends.
// A follower reads the writer's write-ahead log as it is written, so it can see a group of
// appends a moment before the writer's fsync returns: after a power loss or OS crash (not a
// process crash) such a group can be lost although a follower has seen it.
result<std::unique_ptr<event_log>> open_embedded_log(const std::filesystem::path& folder,
                                                     embedded_log_options options = {});

}  // namespace sazesh
