// kafka_client: what engine/kafka/kafka_log.cc and engine/kafka/kafka_feed.cc share on top of librdkafka:
// owners of its C handles, client configuration, translation of its errors into sazesh::error,
// topic administration, and a reader that brings a set of partitions up to their end.
//
// A private header: only engine/kafka_*.cc include it, so librdkafka's types stay out of every
// public header (engine/kafka/kafka_log.h and engine/kafka/kafka_feed.h are the public ones).
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/result.h"

namespace sazesh::kafka {

// ---- owners of librdkafka handles (no copy; a move leaves the source empty) ------------------

struct client_deleter {
  void operator()(rd_kafka_t* rk) const noexcept;  // closes a consumer first
};
struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
struct error_deleter {
  void operator()(rd_kafka_error_t* e) const noexcept { rd_kafka_error_destroy(e); }
};
struct message_deleter {
  void operator()(rd_kafka_message_t* m) const noexcept { rd_kafka_message_destroy(m); }
};
struct partition_list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const noexcept {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct topic_deleter {
  void operator()(rd_kafka_topic_t* t) const noexcept { rd_kafka_topic_destroy(t); }
};
struct metadata_deleter {
  void operator()(const rd_kafka_metadata_t* m) const noexcept { rd_kafka_metadata_destroy(m); }
};
struct queue_deleter {
  void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
struct event_deleter {
  void operator()(rd_kafka_event_t* e) const noexcept { rd_kafka_event_destroy(e); }
};
struct admin_options_deleter {
  void operator()(rd_kafka_AdminOptions_t* o) const noexcept { rd_kafka_AdminOptions_destroy(o); }
};
struct new_topic_deleter {
  void operator()(rd_kafka_NewTopic_t* t) const noexcept { rd_kafka_NewTopic_destroy(t); }
};

using client_ptr = std::unique_ptr<rd_kafka_t, client_deleter>;
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;
using error_ptr = std::unique_ptr<rd_kafka_error_t, error_deleter>;
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;
using partition_list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;
using topic_ptr = std::unique_ptr<rd_kafka_topic_t, topic_deleter>;
using metadata_ptr = std::unique_ptr<const rd_kafka_metadata_t, metadata_deleter>;
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, queue_deleter>;
using event_ptr = std::unique_ptr<rd_kafka_event_t, event_deleter>;
using admin_options_ptr = std::unique_ptr<rd_kafka_AdminOptions_t, admin_options_deleter>;
using new_topic_ptr = std::unique_ptr<rd_kafka_NewTopic_t, new_topic_deleter>;

// ---- time ---------------------------------------------------------------------------------

using clock_type = std::chrono::steady_clock;
using deadline = clock_type::time_point;

inline deadline deadline_after(std::chrono::milliseconds d) { return clock_type::now() + d; }
// Milliseconds left, at least 1 (librdkafka reads 0 as "do not wait", -1 as "forever").
int remaining_ms(deadline until);
bool passed(deadline until);

// ---- clients ------------------------------------------------------------------------------

// What a client's callbacks report to its owner. Owned by whoever owns the client, and must
// outlive it (declare it before the client_ptr member).
class client_context {
 public:
  explicit client_context(std::string bootstrap) : bootstrap_(std::move(bootstrap)) {}
  const std::string& bootstrap() const { return bootstrap_; }

  // The last warning or error librdkafka logged or reported, for error messages.
  std::string last_problem() const;
  void note_problem(std::string text);

  // A producer's delivery reports (served in the thread that polls, flushes or commits).
  std::function<void(const rd_kafka_message_t&)> on_delivery;
  // If set when the client is made: the events of its background queue
  // (rd_kafka_queue_get_background), served in librdkafka's background thread.
  std::function<void(rd_kafka_event_t&)> on_background_event;

 private:
  std::string bootstrap_;
  mutable std::mutex mutex_;
  std::string last_problem_;
};

// Creates a client of `type` with `settings` (name -> value, applied in order, the caller's
// pass-through settings last). Log lines and error callbacks go to `context`, never to stderr
// (unless $SAZESH_KAFKA_DEBUG is set).
result<client_ptr> make_client(rd_kafka_type_t type,
                               const std::vector<std::pair<std::string, std::string>>& settings,
                               client_context& context);

// The settings every Sazesh client starts from (bootstrap, client id, reconnect backoff).
std::vector<std::pair<std::string, std::string>> base_settings(const std::string& bootstrap,
                                                               const std::string& client_id);
// A read_committed consumer reading by manual assignment (no group, nothing committed).
std::vector<std::pair<std::string, std::string>> reader_settings(const std::string& bootstrap);

// ---- errors -------------------------------------------------------------------------------

// Errors that mean "the cluster could not be reached or did not answer in time".
bool is_unreachable(rd_kafka_resp_err_t code);

// `what` failed with `code`: errc::unavailable (cluster unreachable, naming the bootstrap
// servers), errc::unauthorized (an ACL refused it), errc::io otherwise. The rule carries
// librdkafka's error name and text and its last logged problem.
error translate(rd_kafka_resp_err_t code, std::string_view what, const client_context& context,
                std::string_view detail = {});
error translate(const rd_kafka_error_t& e, std::string_view what, const client_context& context);

// ---- topics -------------------------------------------------------------------------------

// A topic's partitions and its replication factor (the fewest replicas any partition has).
struct topic_layout {
  std::uint32_t partitions = 0;
  int replication = 0;
};

// The topic's layout, or nothing if the cluster has no such topic.
result<std::optional<topic_layout>> describe_topic(rd_kafka_t* rk, const std::string& topic,
                                                   client_context& context, deadline until);

// Makes sure `topic` exists, as ensure_topics does, and returns its layout.
result<topic_layout> ensure_topic(rd_kafka_t* rk, const std::string& topic, std::uint32_t partitions,
                                  std::int16_t replication,
                                  const std::map<std::string, std::string>& configs,
                                  client_context& context, deadline until);

// Makes sure each of `topics` exists (creating those missing, in one request, with `partitions`,
// `replication` and `configs`; another client creating one at the same time is fine).
status ensure_topics(rd_kafka_t* rk, const std::set<std::string>& topics, std::uint32_t partitions,
                     std::int16_t replication, const std::map<std::string, std::string>& configs,
                     client_context& context, deadline until);

// The topic's settings as the cluster applies them (set on the topic or inherited from the
// broker), by name.
result<std::map<std::string, std::string>> topic_settings(rd_kafka_t* rk, const std::string& topic,
                                                          client_context& context, deadline until);

// ---- offsets ---------------------------------------------------------------------------------

// Where each of `partitions` of `topic` starts (`which` = RD_KAFKA_OFFSET_BEGINNING) or ends
// (RD_KAFKA_OFFSET_END: for a read_committed client, the last stable offset), asked in one
// request per leader. Waits at most until `until`, also for a broker that went away (librdkafka
// 2.0.2's rd_kafka_query_watermark_offsets waits for it to come back, whatever its timeout).
// Partitions 0 to count - 1, as partition_offsets takes them.
std::vector<std::uint32_t> every_partition(std::uint32_t count);
result<std::vector<std::int64_t>> partition_offsets(rd_kafka_t* rk, const std::string& topic,
                                                    const std::vector<std::uint32_t>& partitions, std::int64_t which,
                                                    client_context& context, deadline until);

// ---- reading partitions to their end -------------------------------------------------------

// A read_committed consumer of every partition of one topic (librdkafka's
// simple consumer: no group, so nothing to join, commit or be authorised for beyond reading the
// topic), that reads to the end as of each call: read_to_end() asks each partition's last stable
// offset, then hands every record before it to `on_record` in offset order per partition.
// Not thread safe.
class partition_reader {
 public:
  using record_fn = std::function<status(const rd_kafka_message_t&)>;

  // `client` is a consumer made with reader_settings() reporting to `context`. Each partition
  // is read from its first record, or from where reposition() puts it. `when` says whether
  // the client fetches between reads, ahead of the next one (a reader of records others write),
  // or only while a read lasts: a writer reads the topic now and then (at its open, on refresh,
  // after a failure) and, fetching ahead, would have the cluster send it back everything it
  // writes itself, and hold it in memory.
  enum class fetch { ahead, while_reading };
  static result<partition_reader> open(std::unique_ptr<client_context> context, client_ptr client,
                                       const std::string& topic, std::uint32_t partitions,
                                       fetch when = fetch::ahead);
  partition_reader(partition_reader&&) noexcept = default;
  // Not assignable: the partitions must stop before the client they fetch with goes, which a
  // member-wise assignment would not do (an optional reader is emplaced anew instead).
  partition_reader& operator=(partition_reader&&) = delete;

  status read_to_end(const record_fn& on_record, deadline until);
  // The same up to given offsets (one per partition, e.g. one past a record this process has
  // just produced there), without asking the cluster where the partitions end.
  status read_up_to(const std::vector<std::int64_t>& target, const record_fn& on_record, deadline until);
  // Every record of the partition before this offset has been handed on; past the last
  // record once a read reached the end (transaction markers included).
  std::int64_t read_through(std::uint32_t partition) const { return next_.at(partition); }
  // A reader that fetches only while reading (nothing is fetched between reads) goes on from
  // `offsets`, one per partition, before or after where it stands: a writer reads from where its
  // index stands, past its own records, which it indexed as it wrote them, and again from there
  // after a read that failed midway. Also forgets a refused record (broken_): it is read again.
  // errc::invalid_argument for a reader that fetches ahead, or a count that is not one per
  // partition.
  status reposition(const std::vector<std::int64_t>& offsets);
  // What the client has fetched and not yet handed on (records and partition ends).
  std::size_t queued() const;
  client_context& context() { return *context_; }
  rd_kafka_t* client() { return client_.get(); }

 private:
  // The partitions the client fetches; each stopped before the queue, topic and client it uses
  // go.
  class started_partitions {
   public:
    started_partitions() = default;
    started_partitions(rd_kafka_topic_t* topic, std::uint32_t count) : topic_(topic), on_(count, false) {}
    started_partitions(started_partitions&& other) noexcept
        : topic_(std::exchange(other.topic_, nullptr)), on_(std::move(other.on_)) {}
    started_partitions& operator=(started_partitions&& other) noexcept {
      if (this != &other) {
        stop_all();
        topic_ = std::exchange(other.topic_, nullptr);
        on_ = std::move(other.on_);
      }
      return *this;
    }
    ~started_partitions() { stop_all(); }
    bool on(std::uint32_t p) const { return on_[p]; }
    void started(std::uint32_t p) { on_[p] = true; }
    // Stops fetching; what was fetched of it and not yet handed on is never handed on (the
    // client drops it when it comes up in the queue).
    void stop(std::uint32_t p) noexcept;
    void stop_all() noexcept;

   private:
    rd_kafka_topic_t* topic_ = nullptr;
    std::vector<bool> on_;
  };

  // Starts fetching the partition from next_ (fetch::while_reading starts a partition only when
  // a read needs it).
  status start(std::uint32_t partition);

  partition_reader(std::unique_ptr<client_context> context, client_ptr client, topic_ptr topic_handle,
                   queue_ptr queue, std::string topic, std::uint32_t partitions)
      : context_(std::move(context)), client_(std::move(client)), topic_handle_(std::move(topic_handle)),
        queue_(std::move(queue)), topic_(std::move(topic)), next_(partitions, 0) {}

  // Stops what fetches only while a read lasts, however the read ends.
  void rest() noexcept;

  // Declared in the order they are made; destroyed the other way round.
  std::unique_ptr<client_context> context_;
  client_ptr client_;
  topic_ptr topic_handle_;
  queue_ptr queue_;
  started_partitions started_;
  std::string topic_;
  std::vector<std::int64_t> next_;  // per partition: every record before it has been handed on
  fetch when_ = fetch::ahead;
  // Set once `on_record` refused a record: the reader has moved past it, so every later call
  // reports the same error rather than leave a hole (until a reposition() reads it again).
  std::optional<error> broken_;
};

// ---- reading a partition from any offset ---------------------------------------------------

// A read_committed simple consumer of one topic that reads any partition from any offset (the
// followers of the Kafka log: projectors and queries read the partitions they need from where
// they stand, and never the whole topic first). Not thread safe.
class partition_cursor {
 public:
  static result<partition_cursor> open(std::unique_ptr<client_context> context, client_ptr client,
                                       const std::string& topic, std::uint32_t partitions);
  partition_cursor(partition_cursor&&) noexcept = default;
  partition_cursor& operator=(partition_cursor&&) noexcept = default;
  ~partition_cursor();

  // Up to `max` records of `partition` at offsets >= from, in order; fewer (none) at its end.
  // `stable`, if given, receives the partition's last stable offset the read went up to.
  result<std::vector<message_ptr>> read(std::uint32_t partition, std::int64_t from, std::size_t max, deadline until,
                                        std::int64_t* stable = nullptr);
  // The partition's last stable offset: one past its last committed record or marker.
  result<std::int64_t> end(std::uint32_t partition, deadline until);
  client_context& context() { return *context_; }

 private:
  partition_cursor(std::unique_ptr<client_context> context, client_ptr client, topic_ptr topic_handle,
                   std::string topic, std::uint32_t partitions)
      : context_(std::move(context)), client_(std::move(client)), topic_handle_(std::move(topic_handle)),
        topic_(std::move(topic)), next_(partitions, -1) {}

  std::unique_ptr<client_context> context_;
  client_ptr client_;
  topic_ptr topic_handle_;
  std::string topic_;
  std::vector<std::int64_t> next_;  // per partition: where its fetch stands; -1: not started
};

// ---- a consumer group's offsets, committed for a reader that keeps its own ----------------------

// Commits offsets of one topic's partitions for one consumer group, asynchronously and
// best-effort, for a reader that keeps its positions elsewhere and publishes them only so that
// Kafka's tools (kafka-consumer-groups --describe) show its lag. The group never has members:
// the commits are a "simple consumer"'s (no join, generation -1), which Kafka accepts for a
// group with no active members.
//
// set() never waits for the network: it notes the offset and sends a commit if none is in
// flight. Offsets noted meanwhile go in one commit as soon as the one in flight succeeds
// (librdkafka's background thread sends it), so at most one commit is ever outstanding, even
// while the cluster is away. After a failed commit the next set() sends again whatever is not
// confirmed (the close does not: with the cluster away that would only make it wait twice).
// The client is made on the first set(); if it cannot be made (a bad setting), nothing is ever
// committed. Thread safe.
class group_offsets {
 public:
  // `settings`: the caller's pass-through librdkafka settings (security, client.id…).
  group_offsets(std::string bootstrap, std::string group, std::string topic,
                std::vector<std::pair<std::string, std::string>> settings, std::chrono::milliseconds linger)
      : bootstrap_(std::move(bootstrap)), group_(std::move(group)), topic_(std::move(topic)),
        settings_(std::move(settings)), linger_(linger) {}
  // Waits up to `linger` for what was set to be committed, then drops the rest: a process that
  // exits right after its last batch still shows its lag. (A commit still waiting for a
  // coordinator then holds the client's destruction for what is left of its own timeout, half
  // the linger; see start_locked.)
  ~group_offsets();
  group_offsets(const group_offsets&) = delete;
  group_offsets& operator=(const group_offsets&) = delete;

  void set(std::uint32_t partition, std::int64_t offset);

 private:
  struct handle_deleter {
    void operator()(rd_kafka_t* rk) const noexcept;  // no consumer close: there is no group to leave
  };
  bool start_locked();
  void send_locked();
  void answered(rd_kafka_event_t& ev);

  const std::string bootstrap_, group_, topic_;
  const std::vector<std::pair<std::string, std::string>> settings_;
  const std::chrono::milliseconds linger_;

  std::mutex mutex_;
  std::condition_variable settled_;               // a commit was answered
  bool broken_ = false;                          // the client could not be made
  bool closing_ = false;                         // the destructor gave up: send nothing more
  std::map<std::uint32_t, std::int64_t> wanted_;  // the latest offset set, per partition
  std::map<std::uint32_t, std::int64_t> done_;    // as the cluster confirmed it
  bool in_flight_ = false;
  bool failed_ = false;  // the last commit answered failed
  // Declared in the order they are made; destroyed the other way round (the queue before its
  // client, the context after it).
  std::unique_ptr<client_context> context_;
  std::unique_ptr<rd_kafka_t, handle_deleter> client_;
  queue_ptr results_;  // the client's background queue
};

}  // namespace sazesh::kafka
