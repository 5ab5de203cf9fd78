// Internal to engine/kafka: the Kafka log's class and the helpers its three files share:
// kafka_log.cc (opening, the topic's checks, reading the topic into the index), kafka_log_read.cc
// (the reads) and kafka_log_write.cc (the writer). Not a public header: see kafka_log.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/kafka/kafka_client.h"
#include "engine/kafka/kafka_log.h"
#include "engine/kafka/kafka_producer.h"
#include "engine/log/group_commit.h"
#include "engine/log/local_store.h"

namespace sazesh::kafka_log_detail {

inline constexpr const char* k_stream_header = "sazesh-stream";
inline constexpr const char* k_sequence_header = "sazesh-sequence";
inline constexpr const char* k_command_header = "sazesh-command";

// An acknowledged write is on this many replicas at least: 2 once there are 2 copies, so that
// one broker lost never loses an acknowledged event.
inline int min_insync_for(std::int16_t replication_factor) { return std::min<int>(2, replication_factor); }

// Topic settings of every topic the writer creates: retention must never drop an event, the
// log is the system of record.
inline std::map<std::string, std::string> topic_configs(std::int16_t replication_factor) {
  return {{"retention.ms", "-1"},
          {"retention.bytes", "-1"},
          {"cleanup.policy", "delete"},
          {"min.insync.replicas", std::to_string(min_insync_for(replication_factor))}};
}

inline bool valid_topic_chars(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// A read_committed consumer with the log's settings (reader_settings, then the pass-through
// ones), reporting to a context of its own (which must outlive the client: keep them together).
struct reader_client {
  std::unique_ptr<kafka::client_context> context;
  kafka::client_ptr client;
};
result<reader_client> make_reader_client(const kafka_log_options& options);

class kafka_event_log final : public event_log {
 public:
  // A writer: `store` keeps the index and the state rows, `reader` reads the topic from where the
  // store stands. A follower: `cursor` reads any partition from any offset, and there is no store.
  kafka_event_log(kafka_log_options options, std::string topic, std::uint32_t partitions,
                  std::unique_ptr<local_store> store, std::optional<kafka::partition_reader> reader,
                  std::optional<kafka::partition_cursor> cursor);

  // --- opening ---------------------------------------------------------------------------

  status start(kafka::deadline until);

  // --- event_log ---------------------------------------------------------------------------

  result<append_outcome> append(append_request request) override;
  result<std::vector<result<append_outcome>>> append_group(std::vector<append_request> requests) override;
  result<std::optional<append_outcome>> find_command(std::string_view command_id) override;
  result<stream_version> version(std::string_view stream) override;
  result<std::vector<stored_event>> read_stream(std::string_view stream, stream_version from) override;
  result<std::vector<stored_event>> read_partition(std::uint32_t partition, log_position from,
                                                   std::size_t max) override;
  result<std::vector<stored_event>> read_all(log_position from, std::size_t max) override;
  result<log_position> end() override;
  std::uint32_t partitions() const override;
  result<log_position> partition_end(std::uint32_t partition) override;
  void report_progress(std::uint32_t partition, log_position next) override;
  status refresh() override;
  status settle() override;
  bool publishes_side_records() const override;
  std::uint64_t groups_written() const override { return queue_.groups(); }
  status publish_checkpoint(std::uint32_t partition, std::uint64_t after, std::uint64_t size, std::string_view note,
                            const std::vector<side_record>& records) override;
  result<std::string> published_checkpoint(std::uint32_t partition) override;
  result<std::vector<std::pair<std::uint32_t, std::string>>> published_checkpoints() override;
  result<std::vector<std::pair<std::string, std::string>>> damaged_streams() override;
  state_rows* state() override;

 private:
  status follower_index();
  result<stored_event> event_of(const rd_kafka_message_t& m) const;

  // The requests of one append_group share a unit number, and a group never splits a unit.
  struct pending {
    append_request* request;
    std::optional<result<append_outcome>> outcome;
    bool done;
    std::uint64_t unit;
  };

  void write(std::vector<pending>& mine);

  // Decisions of one group not yet in the index.
  struct group_state {
    std::unordered_map<std::string, std::uint64_t> versions;
    std::unordered_map<std::string, append_outcome> commands;
  };

  // The records of a group's transaction: each event (to its stream's partition, with the
  // stream, sequence and command id in headers), with the request and event each came from.
  struct outgoing {
    std::deque<std::string> text;  // topics and header values the records point into
    std::vector<kafka::outgoing_record> records;
    std::vector<std::pair<pending*, std::size_t>> sources;

    outgoing(const kafka_event_log& log, const std::vector<pending*>& accepted);
  };

  // --- the producer ------------------------------------------------------------------------

  std::vector<std::string> transactional_ids() const;
  std::vector<std::pair<std::string, std::string>> producer_settings() const;

  // --- the group commit --------------------------------------------------------------------

  // Starts a new producer if the last one needs it (the topic is then read again before the
  // next decision: index_stale_).
  status ready_producer(kafka::deadline until);
  // Waits until every event this writer has indexed is readable (read_committed).
  status await_readable(kafka::deadline until);
  // Makes sure the topics the writer publishes to exist (one partition each; those missing made
  // in one request), asking the cluster once per topic per process; the first producer then
  // looks up their leaders (again after each new start of the producers).
  status ensure_own_topics(const std::set<std::string>& topics, kafka::deadline until);
  static std::size_t payload_size(const append_request& request);
  status check_sizes(const append_request& request) const;
  // The sizes of each partition's latest published checkpoint, read from the checkpoints topic
  // once per producer (published_).
  status know_published();
  result<append_outcome> decide(const append_request& request, group_state& state);
  void commit_group(const std::vector<pending*>& group) noexcept;
  std::optional<error> run_group(const std::vector<pending*>& group, kafka::deadline until);
  status index_own(const outgoing& group_records, const std::vector<std::int64_t>& offsets,
                   const std::vector<pending*>& accepted, const std::vector<pending*>& empty);

  // --- reading the topic ---------------------------------------------------------------------

  status check_store_matches_topic(kafka::deadline until);
  status read_to_end(kafka::deadline until);

  const kafka_log_options options_;
  const std::string topic_;
  const std::uint32_t partitions_;
  const std::size_t max_record_bytes_;

  // Held by whoever changes the index or uses the producer or a reader: the leader for a
  // whole group, refresh() for a read, a follower's reads.
  std::mutex writer_mutex_;
  std::optional<kafka::partition_reader> reader_;   // a writer's
  std::optional<kafka::partition_cursor> cursor_;   // a follower's
  std::unique_ptr<kafka::producer_rotation> producer_;  // a writer's; none for a follower
  std::optional<reader_client> stable_;  // asks where partitions' committed records end; never fetches
  bool index_stale_ = false;  // a transaction's outcome is unknown: read to the end first
  // Per partition, the latest checkpoint published (its size, its note; 0 and empty if none);
  // none until read for the current producer (a new producer settles what an older one left
  // open: the topic is then the truth).
  std::optional<std::vector<std::pair<std::uint64_t, std::string>>> published_;
  std::set<std::string> known_topics_;
  // A follower's ends at its last partition_end(): (one past the last event, last stable offset).
  std::map<std::uint32_t, std::pair<std::uint64_t, std::uint64_t>> known_end_;

  group_commit<pending> queue_;  // the appends waiting, and their leader

  std::unique_ptr<local_store> store_;  // a writer's index and state rows (see the top of kafka_log.cc)
  kafka::group_offsets progress_;  // report_progress's commits
};

}  // namespace sazesh::kafka_log_detail
