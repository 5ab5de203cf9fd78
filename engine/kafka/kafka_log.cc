// kafka_log: the event_log on Kafka (see kafka_log.h for the contract and the record format).
//
// The index
// =========
// Everything the log answers comes from its kafka_index (engine/kafka/kafka_index.h), filled two ways,
// both by the holder of writer_mutex_:
//  - the reader (a read_committed consumer, kafka::partition_reader) at open, on refresh() and
//    after a writer restarts its producer: every record, checked (headers present, stream in
//    its partition, sequences consecutive);
//  - a writer's own commits, from the delivery reports of the committed transaction. The
//    reader sees those records later too, and the index skips offsets it holds.
//
// Writes: group commit in transactions
// ====================================
// Appends queue up; a waiting thread that finds no leader becomes the leader, takes the queue
// (up to a byte budget), decides every request against the index plus the requests decided
// before it in the group (like the embedded log), produces the accepted events (and their side
// records) in one transaction, commits it, then indexes them and wakes the others. Every
// outcome of a group stands or falls with its transaction, as with the embedded log's batch.
//
// Failures, by what they leave behind:
//  - refused before producing (a record too large, a side topic that cannot be created):
//    only that request fails, nothing is produced for it;
//  - the transaction aborts (a produce failed, or the commit was refused as abortable): nothing
//    of the group is visible to read_committed readers; the writer goes on;
//  - fenced (another writer ran init_transactions with our transactional id): nothing of the
//    group was committed; the next group starts a new producer, which fences that writer in
//    turn, and reads the topic to its end first, so it decides on what the other wrote;
//  - unknown (the commit did not complete in time, or a fatal error): the writer starts a new
//    producer before its next append; its init_transactions completes or aborts the old
//    transaction, and the writer re-reads the topic to its end, so the index shows what happened.
//
// The transactions themselves, and what a failed one leaves behind, are kafka_producer.h's.

#include "engine/kafka/kafka_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/kafka/kafka_client.h"
#include "engine/kafka/kafka_producer.h"
#include "engine/log/group_commit.h"
#include "engine/log/local_store.h"

namespace sazesh {
namespace {

constexpr const char* k_stream_header = "sazesh-stream";
constexpr const char* k_sequence_header = "sazesh-sequence";
constexpr const char* k_command_header = "sazesh-command";

// A group stops growing past this many payload bytes (one request is always taken).
constexpr std::size_t k_max_group_bytes = 4u << 20;
// Records indexed per local batch while reading the topic.
constexpr std::size_t k_index_batch = 4096;
// How long closing the log waits for the last progress commit (report_progress).
constexpr std::chrono::milliseconds k_progress_linger{2'000};
// Bytes a record needs beside its value: key, headers and record framing, generously.
constexpr std::size_t k_record_overhead = 512;

// An acknowledged write is on this many replicas at least: 2 once there are 2 copies, so that
// one broker lost never loses an acknowledged event.
int min_insync_for(std::int16_t replication_factor) { return std::min<int>(2, replication_factor); }

// Topic settings of every topic the writer creates: retention must never drop an event, the
// log is the system of record.
std::map<std::string, std::string> topic_configs(std::int16_t replication_factor) {
  return {{"retention.ms", "-1"},
          {"retention.bytes", "-1"},
          {"cleanup.policy", "delete"},
          {"min.insync.replicas", std::to_string(min_insync_for(replication_factor))}};
}

// An existing events topic must keep every event as safely as one this writer would create:
// as many replicas, as many in sync for a write, and no retention or compaction that would
// drop an event.
status check_durable(const std::string& topic, const kafka::topic_layout& layout,
                     const std::map<std::string, std::string>& settings, std::int16_t replication_factor) {
  if (layout.replication < replication_factor)
    return error(errc::invalid_argument, "kafka_replication",
                 fmt::format("topic {} has replication factor {}, fewer than the {} required: one lost broker "
                             "would lose acknowledged events (--kafka-replication 1 only for a single test broker)",
                             topic, layout.replication, replication_factor));
  const auto value = [&](const char* name) -> std::string {
    auto it = settings.find(name);
    return it == settings.end() ? std::string("(not set)") : it->second;
  };
  const int wanted_isr = min_insync_for(replication_factor);
  long long isr = 0;
  const std::string isr_text = value("min.insync.replicas");
  const auto [end, ec] = std::from_chars(isr_text.data(), isr_text.data() + isr_text.size(), isr);
  if (ec != std::errc() || end != isr_text.data() + isr_text.size() || isr < wanted_isr)
    return error(errc::invalid_argument, "kafka",
                 fmt::format("topic {} has min.insync.replicas={}; with replication factor {} it must be at least "
                             "{}, or an acknowledged event may be on one broker only",
                             topic, isr_text, replication_factor, wanted_isr));
  for (const char* name : {"retention.ms", "retention.bytes"})
    if (value(name) != "-1")
      return error(errc::invalid_argument, "kafka",
                   fmt::format("topic {} has {}={}: it would delete events; the log keeps every event "
                               "(set {}=-1 on the topic)",
                               topic, name, value(name), name));
  if (value("cleanup.policy") != "delete")
    return error(errc::invalid_argument, "kafka",
                 fmt::format("topic {} has cleanup.policy={}: compaction keeps only the last event of each "
                             "stream; the log keeps every event (cleanup.policy=delete, with retention -1)",
                             topic, value("cleanup.policy")));
  return ok;
}

bool valid_topic_chars(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

status check_request(const append_request& request) {
  if (request.stream.empty()) return error{errc::invalid_argument, "stream", "must not be empty"};
  if (request.stream.find('\0') != std::string::npos)
    return error{errc::invalid_argument, "stream", "must not contain a NUL character"};
  if (request.command_id.empty()) return error{errc::invalid_argument, "command_id", "must not be empty"};
  return ok;
}

// The same words as the embedded log's, so callers and people see one rule.
std::string version_rule(std::uint64_t current, std::uint64_t expected) {
  std::string rule = "the stream is at version " + std::to_string(current) + ", the command was decided at " +
                     std::to_string(expected);
  return current > expected ? "stale: " + rule : rule + ", which the stream has not reached";
}

std::optional<std::string_view> header(const rd_kafka_message_t& m, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR || headers == nullptr)
    return std::nullopt;
  const void* value = nullptr;
  std::size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  return std::string_view(static_cast<const char*>(value), size);
}

std::size_t message_max_bytes(const std::map<std::string, std::string>& config) {
  if (auto it = config.find("message.max.bytes"); it != config.end()) {
    std::size_t v = 0;
    const auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec == std::errc() && end == it->second.data() + it->second.size()) return v;
  }
  return 1'000'000;  // librdkafka's default
}

class kafka_event_log final : public event_log {
 public:
  // A writer: `store` keeps the index and the state rows, `reader` reads the topic from where the
  // store stands. A follower: `cursor` reads any partition from any offset, and there is no store.
  kafka_event_log(kafka_log_options options, std::string topic, std::uint32_t partitions,
                  std::unique_ptr<local_store> store, std::optional<kafka::partition_reader> reader,
                  std::optional<kafka::partition_cursor> cursor)
      : options_(std::move(options)),
        topic_(std::move(topic)),
        partitions_(partitions),
        max_record_bytes_(message_max_bytes(options_.config)),
        reader_(std::move(reader)),
        cursor_(std::move(cursor)),
        store_(std::move(store)),
        progress_(options_.bootstrap_servers,
                  options_.progress_group.empty() ? options_.topic_prefix + "projector" : options_.progress_group,
                  topic_, {options_.config.begin(), options_.config.end()},
                  std::min(options_.timeout, k_progress_linger)) {}

  // --- opening ---------------------------------------------------------------------------

  status start(kafka::deadline until) {
    std::lock_guard writer(writer_mutex_);
    if (options_.follower) return ok;
    producer_ = std::make_unique<kafka::transactional_producer>(producer_settings(), options_.bootstrap_servers,
                                                                transactional_id(), topic_);
    // Fence first, read second: once init_transactions returned, no older writer commits.
    if (auto s = producer_->start(until); !s) return s;
    if (auto s = check_store_matches_topic(until); !s) return s;
    return read_to_end(until);
  }

  // --- event_log ---------------------------------------------------------------------------

  result<append_outcome> append(append_request request) override {
    if (options_.follower) return error{errc::unavailable, "kafka", "opened read-only as a follower"};
    if (auto checked = check_request(request); !checked) return checked.error();
    std::vector<pending> mine{pending{&request, std::nullopt, false, 0}};
    write(mine);
    return std::move(*mine.front().outcome);
  }

  result<std::vector<result<append_outcome>>> append_group(std::vector<append_request> requests) override {
    if (options_.follower) return error{errc::unavailable, "kafka", "opened read-only as a follower"};
    std::vector<result<append_outcome>> outcomes;
    if (requests.empty()) return outcomes;
    if (auto refused = refuse_invalid_unit(requests, check_request)) return std::move(*refused);
    std::vector<pending> mine;
    mine.reserve(requests.size());
    for (auto& r : requests) mine.push_back(pending{&r, std::nullopt, false, 0});
    write(mine);
    for (auto& p : mine) outcomes.push_back(std::move(*p.outcome));
    return outcomes;
  }

  result<std::optional<append_outcome>> find_command(std::string_view command_id) override {
    if (auto s = follower_index(); !s) return s.error();
    return store_->find_command(command_id);
  }

  result<stream_version> version(std::string_view stream) override {
    if (auto s = follower_index(); !s) return s.error();
    auto v = store_->version(stream);
    if (!v) return v.error();
    return stream_version{*v};
  }

  result<std::vector<stored_event>> read_stream(std::string_view stream, stream_version from) override {
    if (auto s = follower_index(); !s) return s.error();
    return store_->read_stream(stream, from);
  }

  result<std::vector<stored_event>> read_partition(std::uint32_t partition, log_position from,
                                                   std::size_t max) override {
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

  result<std::vector<stored_event>> read_all(log_position from, std::size_t max) override {
    if (partitions_ == 1) return read_partition(0, from, max);
    if (auto s = follower_index(); !s) return s.error();
    // Several partitions have no common order; the order events were indexed stands in for it.
    return store_->read_in_index_order(from.value(), max);
  }

  result<log_position> end() override {
    if (partitions_ == 1) return partition_end(0);
    if (auto s = follower_index(); !s) return s.error();
    return log_position{store_->indexed_events()};
  }

  std::uint32_t partitions() const override { return partitions_; }

  result<log_position> partition_end(std::uint32_t partition) override {
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

  void report_progress(std::uint32_t partition, log_position next) override {
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

  status refresh() override {
    std::lock_guard writer(writer_mutex_);
    if (!store_) return ok;  // a follower reads the partitions at each read
    return read_to_end(kafka::deadline_after(options_.timeout));
  }

  status settle() override {
    if (options_.follower) return refresh();
    std::lock_guard writer(writer_mutex_);
    const kafka::deadline until = kafka::deadline_after(options_.timeout);
    // A new producer settles what the old one left open (init_transactions completes or aborts
    // it, and fences any other producer of the id); then the topic is read to its end.
    if (!producer_->ready()) {
      if (auto s = producer_->start(until); !s) return s;
      index_stale_ = true;
    }
    if (index_stale_) {
      if (auto s = read_to_end(until); !s) return s;
      index_stale_ = false;
    }
    return ok;
  }

  bool publishes_side_records() const override { return true; }

  result<std::vector<std::pair<std::string, std::string>>> damaged_streams() override {
    if (auto s = follower_index(); !s) return s.error();
    if (options_.follower) {
      std::lock_guard lock(writer_mutex_);
      if (auto s = read_to_end(kafka::deadline_after(options_.timeout)); !s) return s.error();
    }
    return store_->damaged();
  }

  state_rows* state() override { return options_.follower ? nullptr : store_.get(); }

 private:
  // A follower answers reads by stream, command or indexing order from an index of its own: a
  // temporary local store filled by reading the whole topic at the first such read, and brought
  // up to the topic's end at each one. (Partition reads, what projectors do, need none.)
  status follower_index() {
    if (!options_.follower) return ok;
    std::lock_guard lock(writer_mutex_);
    const kafka::deadline until = kafka::deadline_after(options_.timeout);
    if (store_) return ok;  // built at the first such read; refresh() brings it forward
    {
      auto store = local_store::open({}, topic_, partitions_);
      if (!store) return store.error();
      auto context = std::make_unique<kafka::client_context>(options_.bootstrap_servers);
      auto settings = kafka::reader_settings(options_.bootstrap_servers);
      settings.insert(settings.end(), options_.config.begin(), options_.config.end());
      auto consumer = kafka::make_client(RD_KAFKA_CONSUMER, settings, *context);
      if (!consumer) return consumer.error();
      auto reader = kafka::partition_reader::open(std::move(context), std::move(*consumer), topic_, partitions_);
      if (!reader) return reader.error();
      store_ = std::move(*store);
      reader_ = std::move(*reader);
    }
    return read_to_end(until);
  }

  // A record of the events topic as an event: it must carry a stream and a sequence, and sit in
  // its stream's partition.
  result<stored_event> event_of(const rd_kafka_message_t& m) const {
    const auto partition = static_cast<std::uint32_t>(m.partition);
    const auto offset = static_cast<std::uint64_t>(m.offset);
    const auto where = [&] { return fmt::format("{} partition {} offset {}", topic_, partition, offset); };
    const auto stream = header(m, k_stream_header);
    const auto sequence_text = header(m, k_sequence_header);
    if (!stream || !sequence_text || !header(m, k_command_header))
      return error(errc::corrupt, "kafka", fmt::format("{}: not a Sazesh event (headers missing)", where()));
    std::uint64_t sequence = 0;
    const char* const text_end = sequence_text->data() + sequence_text->size();
    const auto [end, ec] = std::from_chars(sequence_text->data(), text_end, sequence);
    if (ec != std::errc() || end != text_end || sequence == 0)
      return error(errc::corrupt, "kafka", fmt::format("{}: bad sequence header", where()));
    if (kafka_partition_of(*stream, partitions_) != partition)
      return error(errc::corrupt, "kafka",
                   fmt::format("{}: stream {} belongs in partition {}", where(), *stream,
                               kafka_partition_of(*stream, partitions_)));
    stored_event e;
    e.partition = partition;
    e.position = log_position{offset};
    e.stream.assign(*stream);
    e.sequence = stream_version{sequence};
    e.bytes.assign(static_cast<const char*>(m.payload), m.payload ? m.len : 0);
    return e;
  }

  // The requests of one append_group share a unit number, and a group never splits a unit.
  struct pending {
    append_request* request;
    std::optional<result<append_outcome>> outcome;
    bool done;
    std::uint64_t unit;
  };

  // Queues one unit and returns once a leader (maybe this thread) committed it.
  void write(std::vector<pending>& mine) {
    queue_.run(mine, k_max_group_bytes, payload_size, [this](const std::vector<pending*>& group) { commit_group(group); });
  }


  // Decisions of one group not yet in the index.
  struct group_state {
    std::unordered_map<std::string, std::uint64_t> versions;
    std::unordered_map<std::string, append_outcome> commands;
  };

  // The records of a group's transaction: each event (to its stream's partition, with the
  // stream, sequence and command id in headers) and each side record (to its topic, by key),
  // with the request and event each came from (null for a side record).
  struct outgoing {
    std::deque<std::string> text;  // topics and header values the records point into
    std::vector<kafka::outgoing_record> records;
    std::vector<std::pair<pending*, std::size_t>> sources;

    outgoing(const kafka_event_log& log, const std::vector<pending*>& accepted) {
      for (pending* p : accepted) {
        const append_request& r = *p->request;
        const auto partition = static_cast<std::int32_t>((*p->outcome)->partition);
        for (std::size_t i = 0; i < r.events.size(); ++i) {
          const std::string& sequence = text.emplace_back(std::to_string(r.expected.value() + 1 + i));
          records.push_back({&log.topic_, partition, r.stream, r.events[i],
                             {{k_stream_header, r.stream}, {k_sequence_header, sequence}, {k_command_header, r.command_id}}});
          sources.emplace_back(p, i);
        }
        for (const side_record& side : r.side_records) {
          const std::string& topic = text.emplace_back(log.options_.topic_prefix + side.topic_suffix);
          records.push_back({&topic, RD_KAFKA_PARTITION_UA, side.key, side.value,
                             {{k_stream_header, r.stream}, {k_command_header, r.command_id}}});
          sources.emplace_back(nullptr, 0);
        }
      }
    }
  };

  // --- the producer ------------------------------------------------------------------------

  std::string transactional_id() const { return options_.topic_prefix + "engine"; }

  std::vector<std::pair<std::string, std::string>> producer_settings() const {
    const auto txn_timeout = std::clamp<long long>(2 * options_.timeout.count(), 60'000, 900'000);
    auto settings = kafka::base_settings(options_.bootstrap_servers, "sazesh-engine");
    settings.insert(settings.end(), {
                                        {"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        // A transaction's commit flushes at once anyway; lingering
                                        // only delays the first produce behind AddPartitionsToTxn.
                                        {"linger.ms", "0"},
                                        // The coordinator answers CONCURRENT_TRANSACTIONS while the
                                        // last commit's markers are written; 100 ms (the default)
                                        // between retries would dominate an append.
                                        {"retry.backoff.ms", "20"},
                                        {"transaction.timeout.ms", std::to_string(txn_timeout)},
                                        {"transactional.id", transactional_id()},
                                    });
    settings.insert(settings.end(), options_.config.begin(), options_.config.end());
    return settings;
  }

  // --- the group commit --------------------------------------------------------------------

  static std::size_t payload_size(const append_request& request) {
    std::size_t size = request.stream.size() + request.command_id.size();
    for (const std::string& e : request.events) size += e.size() + k_record_overhead;
    for (const side_record& s : request.side_records) size += s.value.size() + s.key.size() + k_record_overhead;
    return size;
  }


  // Records too big for the cluster are refused before anything is produced, so they never
  // turn a whole group's transaction into an abort.
  status check_sizes(const append_request& request) const {
    const std::size_t extra = request.stream.size() + request.command_id.size() + k_record_overhead;
    for (std::size_t i = 0; i < request.events.size(); ++i)
      if (request.events[i].size() + extra > max_record_bytes_)
        return error(errc::invalid_argument, "events",
                     fmt::format("event {} of the command is {} bytes; records of {} take at most {} bytes "
                                 "(message.max.bytes)",
                                 i + 1, request.events[i].size(), topic_, max_record_bytes_));
    for (const side_record& s : request.side_records)
      if (s.value.size() + s.key.size() + k_record_overhead > max_record_bytes_)
        return error(errc::invalid_argument, "side_records",
                     fmt::format("a record for {}{} is {} bytes; records take at most {} bytes", options_.topic_prefix,
                                 s.topic_suffix, s.value.size(), max_record_bytes_));
    return ok;
  }

  status ensure_side_topics(const append_request& request, kafka::deadline until) {
    for (const side_record& s : request.side_records) {
      const std::string topic = options_.topic_prefix + s.topic_suffix;
      if (known_topics_.count(topic)) continue;
      if (s.topic_suffix.empty() || !valid_topic_chars(s.topic_suffix) || topic.size() > 249)
        return error(errc::invalid_argument, "side_records",
                     fmt::format("{} is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", topic));
      // One partition: an agency reads its feed in the order the engine wrote it.
      auto made = kafka::ensure_topic(reader_->client(), topic, 1, options_.replication_factor,
                                      topic_configs(options_.replication_factor),
                                      reader_->context(), until);
      if (!made) return made.error();
      known_topics_.insert(topic);
    }
    return ok;
  }

  // Decides one request of a group against the index plus the group's earlier decisions.
  result<append_outcome> decide(const append_request& request, group_state& state) {
    if (auto it = state.commands.find(request.command_id); it != state.commands.end()) {
      append_outcome first = it->second;
      first.repeated = true;
      return first;
    }
    auto found = store_->find_command(request.command_id);
    if (!found) return found.error();
    if (*found) {
      append_outcome first = **found;
      first.repeated = true;
      return first;
    }
    std::uint64_t current = 0;
    if (auto it = state.versions.find(request.stream); it != state.versions.end()) {
      current = it->second;
    } else {
      auto v = store_->version(request.stream);
      if (!v) return v.error();
      current = *v;
    }
    if (store_->is_damaged(request.stream))
      return error(errc::corrupt, "stream",
                   fmt::format("{} is damaged: the topic holds an event of it that does not follow the one before "
                               "(sazesh verify names it); nothing more is appended to it",
                               request.stream));
    if (request.expected.value() != current)
      return error{errc::conflict, "expected_version", version_rule(current, request.expected.value())};
    if (auto s = check_sizes(request); !s) return s.error();

    append_outcome outcome;
    outcome.stream = request.stream;
    outcome.first_sequence = stream_version{current + 1};
    outcome.count = request.events.size();
    outcome.partition = kafka_partition_of(request.stream, partitions_);
    outcome.first_position = log_position{store_->indexed_through(outcome.partition)};  // set again on delivery
    state.versions.insert_or_assign(request.stream, current + request.events.size());
    state.commands.emplace(request.command_id, outcome);
    return outcome;
  }

  // Decides, produces, commits and indexes one group. Runs in the leader only. noexcept: an
  // exception between the commit and the indexing would leave the index behind the topic.
  void commit_group(const std::vector<pending*>& group) noexcept {
    std::lock_guard writer(writer_mutex_);
    const kafka::deadline until = kafka::deadline_after(options_.timeout);
    // An aborted transaction is tried once more with a new producer: aborts come from the
    // cluster refusing a batch (a leader moving, a sequence gap after a failed produce), which
    // a fresh producer id and epoch usually get past, and nothing of the first try is visible.
    for (int attempt = 0;; ++attempt) {
      auto failure = run_group(group, until);
      if (!failure) return;
      const bool retry = producer_->last_failure() == kafka::txn_failure::aborted && attempt == 0 &&
                         !kafka::passed(until);
      // Decisions inside a group depend on each other (a conflict may be due to an earlier
      // request that is now not written), so, as in the embedded log, no outcome stands.
      const auto fail_all = [&] {
        for (pending* p : group) p->outcome = *failure;
      };
      if (!retry) return fail_all();
      if (auto restarted = producer_->start(until); !restarted) {
        index_stale_ = true;  // read once the next start succeeds
        return fail_all();
      }
      index_stale_ = true;  // the group is decided again on the topic as the new producer found it
    }
  }

  // One try at a group: gets the producer and the index ready, decides every request (setting
  // each outcome), runs the transaction and indexes it. Returns the transaction's error, if it
  // failed; every outcome of the group is then to be replaced by it.
  std::optional<error> run_group(const std::vector<pending*>& group, kafka::deadline until) {
    const auto fail_all = [&](const error& e) {
      for (pending* p : group) p->outcome = e;
      return std::nullopt;
    };
    // After a failure (a fence included) a new producer settles what the old one left open
    // (init_transactions also fences anyone who took the transactional id meanwhile); the topic
    // is then read to its end, so the index shows whatever was committed before it.
    if (!producer_->ready()) {
      if (auto s = producer_->start(until); !s) return fail_all(s.error());
      index_stale_ = true;
    }
    if (index_stale_) {
      if (auto s = read_to_end(until); !s) return fail_all(s.error());
      index_stale_ = false;
    }

    group_state state;
    std::vector<pending*> accepted;  // with events to produce
    std::vector<pending*> empty;     // accepted with no events: remembered, nothing produced
    // A refused or repeated request stops the rest of its unit (append_group writes a prefix).
    std::uint64_t stopped_unit = 0;
    std::optional<error> stop_reason;
    for (pending* p : group) {
      const append_request& r = *p->request;
      if (stop_reason && p->unit == stopped_unit) {
        p->outcome = not_written_after(*stop_reason);
        continue;
      }
      status sides = ok;
      if (!r.events.empty() && !r.side_records.empty()) sides = ensure_side_topics(r, until);
      if (sides) p->outcome = decide(r, state);
      else p->outcome = sides.error();
      if (!p->outcome->has_value() || (*p->outcome)->repeated) {
        stopped_unit = p->unit;
        stop_reason = p->outcome->has_value() ? error(errc::conflict, "command_id", "was appended before")
                                              : p->outcome->error();
        continue;
      }
      (r.events.empty() ? empty : accepted).push_back(p);
    }
    if (!accepted.empty()) {
      outgoing group_records(*this, accepted);
      auto offsets = producer_->run_transaction(group_records.records, until);
      if (!offsets) {
        if (producer_->last_failure() == kafka::txn_failure::unknown) index_stale_ = true;
        return offsets.error();
      }
      if (options_.lose_commit_outcome && options_.lose_commit_outcome()) {
        // Testing: committed, but told as a timeout after the commit would tell it.
        index_stale_ = true;
        return error(errc::unavailable, "kafka",
                     "injected: the commit's answer was lost; the outcome is unknown: retry with the same command id");
      }
      if (auto s = index_own(group_records, *offsets, accepted, empty); !s) {
        // Committed to the topic, not to the local index: read the topic before the next group.
        index_stale_ = true;
        return s.error();
      }
    } else if (!empty.empty()) {
      local_store::batch b;
      for (pending* p : empty) b.commands.emplace_back(p->request->command_id, **p->outcome);
      if (auto s = store_->commit(b); !s) return s.error();
    }
    return std::nullopt;
  }

  // Indexes a committed group from its records' offsets, with the engine's state rows of its
  // requests, in one local batch; sets each outcome's position.
  status index_own(const outgoing& group_records, const std::vector<std::int64_t>& offsets,
                   const std::vector<pending*>& accepted, const std::vector<pending*>& empty) {
    local_store::batch b;
    std::map<std::uint32_t, std::uint64_t> through;
    for (std::size_t i = 0; i < group_records.sources.size(); ++i) {
      const auto& [owner, event_index] = group_records.sources[i];
      if (!owner) continue;  // a side record
      append_outcome& outcome = **owner->outcome;
      const append_request& request = *owner->request;
      const auto offset = static_cast<std::uint64_t>(offsets[i]);
      if (event_index == 0) outcome.first_position = log_position{offset};
      stored_event e;
      e.partition = outcome.partition;
      e.position = log_position{offset};
      e.stream = request.stream;
      e.sequence = stream_version{request.expected.value() + 1 + event_index};
      e.bytes = request.events[event_index];
      b.events.push_back({std::move(e), request.command_id});
      auto& t = through[outcome.partition];
      t = std::max(t, offset + 1);
    }
    b.state_included = true;
    for (pending* p : accepted) {
      b.commands.emplace_back(p->request->command_id, **p->outcome);
      b.state_included = b.state_included && p->request->state_included;
      b.state.insert(b.state.end(), p->request->state.begin(), p->request->state.end());
    }
    for (pending* p : empty) b.commands.emplace_back(p->request->command_id, **p->outcome);
    b.indexed_through.assign(through.begin(), through.end());
    return store_->commit(b);
  }

  // --- reading the topic ---------------------------------------------------------------------

  // The local store and the topic must tell one history: each partition still reaches as far
  // as the store read it, and holds, at the offset of the last event the store indexed there,
  // that same event. Otherwise the cluster lost acknowledged records (an unclean leader
  // election, a broker restored from an old disk) or the topic was deleted and made again, and
  // offsets the store knows now hold other records; deciding on the store would fork history.
  status check_store_matches_topic(kafka::deadline until) {
    std::vector<std::uint32_t> all(partitions_);
    bool any = false;
    for (std::uint32_t p = 0; p < partitions_; ++p) {
      all[p] = p;
      any = any || store_->indexed_through(p) > 0;
    }
    if (!any) return ok;
    auto ends = kafka::partition_offsets(reader_->client(), topic_, all, RD_KAFKA_OFFSET_END, reader_->context(), until);
    if (!ends) return ends.error();
    const auto remedy = fmt::format("if the topic is as it should be, remove this writer's local store ({}) and the "
                                    "next open reads the topic whole",
                                    options_.local_dir.string());
    std::optional<kafka::partition_cursor> cursor;
    for (std::uint32_t p = 0; p < partitions_; ++p) {
      const std::uint64_t through = store_->indexed_through(p);
      if (static_cast<std::uint64_t>((*ends)[p]) < through)
        return error(errc::corrupt, "kafka",
                     fmt::format("partition {} of {} ends at offset {}, before offset {} that this writer had read: "
                                 "the cluster lost acknowledged records, or the topic was made again; {}",
                                 p, topic_, (*ends)[p], through, remedy));
      auto events_end = store_->events_end(p);
      if (!events_end) return events_end.error();
      if (*events_end == 0) continue;
      const std::uint64_t at = *events_end - 1;
      auto mine = store_->read_partition(p, log_position{at}, 1);
      if (!mine) return mine.error();
      if (!cursor) {
        auto context = std::make_unique<kafka::client_context>(options_.bootstrap_servers);
        auto settings = kafka::reader_settings(options_.bootstrap_servers);
        settings.insert(settings.end(), options_.config.begin(), options_.config.end());
        auto consumer = kafka::make_client(RD_KAFKA_CONSUMER, settings, *context);
        if (!consumer) return consumer.error();
        auto opened = kafka::partition_cursor::open(std::move(context), std::move(*consumer), topic_, partitions_);
        if (!opened) return opened.error();
        cursor = std::move(*opened);
      }
      auto theirs = cursor->read(p, static_cast<std::int64_t>(at), 1, until);
      if (!theirs) return theirs.error();
      const bool same = !mine->empty() && !theirs->empty() && static_cast<std::uint64_t>(theirs->front()->offset) == at &&
                        [&] {
                          auto e = event_of(*theirs->front());
                          return e && e->stream == mine->front().stream && e->sequence == mine->front().sequence &&
                                 e->bytes == mine->front().bytes;
                        }();
      if (!same)
        return error(errc::corrupt, "kafka",
                     fmt::format("partition {} of {} no longer holds at offset {} the event this writer indexed there "
                                 "(event {} of stream {}): offsets were reused after the cluster lost records, or "
                                 "the topic was made again; {}",
                                 p, topic_, at, mine->empty() ? 0 : mine->front().sequence.value(),
                                 mine->empty() ? "?" : mine->front().stream, remedy));
    }
    return ok;
  }

  // Indexes every record committed since the store last stood, in local batches.
  status read_to_end(kafka::deadline until) {
    local_store::batch b;
    std::unordered_map<std::string, std::uint64_t> versions;       // streams seen in this batch
    std::unordered_map<std::string, append_outcome> commands;      // commands seen in this batch
    std::set<std::string> damaged;                                  // streams found damaged in this read
    const auto take_commands = [&] {
      for (auto& [id, o] : commands) b.commands.emplace_back(id, std::move(o));
      commands.clear();
    };
    const auto flush = [&]() -> status {
      for (std::uint32_t p = 0; p < partitions_; ++p)
        b.indexed_through.emplace_back(p, static_cast<std::uint64_t>(std::max<std::int64_t>(0, reader_->read_through(p))));
      take_commands();
      auto s = store_->commit(b);
      b = local_store::batch{};
      versions.clear();
      return s;
    };
    auto outcome = reader_->read_to_end(
        [&](const rd_kafka_message_t& m) -> status {
          const auto partition = static_cast<std::uint32_t>(m.partition);
          // The writer's own records are indexed already, from their delivery.
          if (static_cast<std::uint64_t>(m.offset) < store_->indexed_through(partition)) return ok;
          // Damage is contained, not fatal: a record that is not an event is noted and left
          // out; so is a stream's event that does not follow the one before it (two writers,
          // or a write from outside), and every later event of that stream, which stays frozen
          // at its last good event. Every other stream goes on.
          auto e = event_of(m);
          if (!e) {
            b.foreign_records.push_back({partition, static_cast<std::uint64_t>(m.offset), e.error().rule()});
            return ok;
          }
          if (damaged.count(e->stream) || store_->is_damaged(e->stream)) return ok;
          std::uint64_t current = 0;
          if (auto it = versions.find(e->stream); it != versions.end()) {
            current = it->second;
          } else {
            auto v = store_->version(e->stream);
            if (!v) return v.error();
            current = *v;
          }
          if (e->sequence.value() != current + 1) {
            b.damaged_streams.emplace_back(
                e->stream, fmt::format("{} partition {} offset {} holds event {} after event {}{}; the stream is frozen "
                                       "at event {}: its later records are left out and nothing more is appended to it",
                                       topic_, partition, m.offset, e->sequence.value(), current,
                                       e->sequence.value() <= current ? " (two events with one sequence: two writers)"
                                                                      : " (events missing)",
                                       current));
            damaged.insert(e->stream);
            return ok;
          }
          versions[e->stream] = e->sequence.value();
          const std::string command(*header(m, k_command_header));
          // A command's outcome comes from its first event; each next event of it counts.
          auto pending_it = commands.find(command);
          if (pending_it == commands.end()) {
            auto stored = store_->find_command(command);
            if (!stored) return stored.error();
            if (*stored) pending_it = commands.emplace(command, **stored).first;
          }
          if (pending_it == commands.end()) {
            commands.emplace(command, append_outcome{e->stream, e->sequence, 1, partition, e->position, false});
          } else if (pending_it->second.stream == e->stream &&
                     pending_it->second.first_sequence.value() + pending_it->second.count == e->sequence.value()) {
            ++pending_it->second.count;
          }
          b.events.push_back({std::move(*e), command});
          if (b.events.size() >= k_index_batch) {
            // The batch so far, with every partition indexed up to its last event.
            for (const auto& ev : b.events) {
              bool found_partition = false;
              for (auto& [p, t] : b.indexed_through)
                if (p == ev.stored.partition) {
                  t = std::max(t, ev.stored.position.value() + 1);
                  found_partition = true;
                }
              if (!found_partition) b.indexed_through.emplace_back(ev.stored.partition, ev.stored.position.value() + 1);
            }
            take_commands();
            auto s = store_->commit(b);
            b = local_store::batch{};
            versions.clear();
            return s;
          }
          return ok;
        },
        until);
    if (!outcome) return outcome;
    return flush();
  }

  const kafka_log_options options_;
  const std::string topic_;
  const std::uint32_t partitions_;
  const std::size_t max_record_bytes_;

  // Held by whoever changes the index or uses the producer or a reader: the leader for a
  // whole group, refresh() for a read, a follower's reads.
  std::mutex writer_mutex_;
  std::optional<kafka::partition_reader> reader_;   // a writer's
  std::optional<kafka::partition_cursor> cursor_;   // a follower's
  std::unique_ptr<kafka::transactional_producer> producer_;  // a writer's; none for a follower
  bool index_stale_ = false;  // a transaction's outcome is unknown: read to the end first
  std::set<std::string> known_topics_;
  // A follower's ends at its last partition_end(): (one past the last event, last stable offset).
  std::map<std::uint32_t, std::pair<std::uint64_t, std::uint64_t>> known_end_;

  group_commit<pending> queue_;  // the appends waiting, and their leader

  std::unique_ptr<local_store> store_;  // a writer's index and state rows (see the top of this file)
  kafka::group_offsets progress_;  // report_progress's commits
};

status check_options(const kafka_log_options& o) {
  if (o.bootstrap_servers.empty()) return error(errc::invalid_argument, "kafka", "no bootstrap servers given");
  if (auto s = check_kafka_config(o.config); !s) return s;
  if (o.topic_prefix.empty() || !valid_topic_chars(o.topic_prefix) || o.topic_prefix.size() > 200)
    return error(errc::invalid_argument, "kafka_prefix",
                 "must be letters, digits, '.', '_' or '-' (it starts every topic name)");
  if (o.partitions == 0 || o.partitions > 10'000)
    return error(errc::invalid_argument, "partitions", "must be between 1 and 10000");
  if (o.replication_factor < 1) return error(errc::invalid_argument, "replication_factor", "must be at least 1");
  if (o.timeout.count() <= 0) return error(errc::invalid_argument, "timeout", "must be positive");
  return ok;
}

}  // namespace

status check_kafka_config(const std::map<std::string, std::string>& config) {
  // What these settings would break: one writer per log (the transactional id fences an older
  // writer; another id would let two decide at once and fork a stream), every acknowledged write
  // on every in-sync replica, readers that see committed transactions only and know where a
  // partition ends, and a feed that commits only what it handed on.
  static const std::map<std::string_view, std::string_view> engine_owned{
      {"bootstrap.servers", "give the cluster with --kafka"},
      {"transactional.id", "the log's writer is PREFIX engine, so that a new writer fences the old one"},
      {"enable.idempotence", "appends are idempotent and transactional"},
      {"acks", "an append is acknowledged by every in-sync replica"},
      {"request.required.acks", "an append is acknowledged by every in-sync replica"},
      {"isolation.level", "readers see committed transactions only"},
      {"enable.partition.eof", "readers need it to know where a partition ends"},
      {"enable.auto.commit", "a feed commits only what it has handed on"},
      {"enable.auto.offset.store", "a feed commits only what it has handed on"},
      {"group.id", "a feed's group is its --group option"},
  };
  for (const auto& [name, value] : config)
    if (auto it = engine_owned.find(name); it != engine_owned.end())
      return error(errc::invalid_argument, "--kafka-config",
                   fmt::format("{} is set by Sazesh and cannot be changed ({})", name, it->second));
  return ok;
}

std::string kafka_events_topic(std::string_view prefix) { return std::string(prefix) + "events"; }

std::string kafka_agency_topic(std::string_view prefix, std::string_view agency_id) {
  return std::string(prefix) + "agency." + std::string(agency_id);
}

std::uint32_t kafka_partition_of(std::string_view stream, std::uint32_t partitions) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : stream) h = (h ^ c) * 16777619u;
  return partitions == 0 ? 0 : h % partitions;
}

result<std::unique_ptr<event_log>> open_kafka_log(const kafka_log_options& options) {
  if (auto s = check_options(options); !s) return s.error();
  const kafka::deadline until = kafka::deadline_after(options.timeout);
  const std::string topic = kafka_events_topic(options.topic_prefix);

  auto context = std::make_unique<kafka::client_context>(options.bootstrap_servers);
  auto settings = kafka::reader_settings(options.bootstrap_servers);
  settings.insert(settings.end(), options.config.begin(), options.config.end());
  auto consumer = kafka::make_client(RD_KAFKA_CONSUMER, settings, *context);
  if (!consumer) return consumer.error();

  auto found = kafka::describe_topic(consumer->get(), topic, *context, until);
  if (!found) return found.error();
  if (options.follower) {
    if (!*found)
      return error(errc::not_found, "kafka", fmt::format("no event log: {} has no topic {}", options.bootstrap_servers, topic));
    const std::uint32_t partitions = (*found)->partitions;
    auto cursor = kafka::partition_cursor::open(std::move(context), std::move(*consumer), topic, partitions);
    if (!cursor) return cursor.error();
    return std::unique_ptr<event_log>(
        std::make_unique<kafka_event_log>(options, topic, partitions, nullptr, std::nullopt, std::move(*cursor)));
  }

  // The writer's index and state rows, kept locally, resumed where they stand.
  auto store = local_store::open(options.local_dir, topic, options.partitions);
  if (!store) return store.error();
  if (!*found) {
    // A topic the store has read from is gone: never make a new, empty one in its place.
    for (std::uint32_t p = 0; p < options.partitions; ++p)
      if ((*store)->indexed_through(p) > 0)
        return error(errc::corrupt, "kafka",
                     fmt::format("{} has no topic {}, which this writer's local store ({}) read up to offset {} of "
                                 "partition {}: the topic was deleted, or this is another cluster; if that is "
                                 "meant, remove the store folder",
                                 options.bootstrap_servers, topic, options.local_dir.string(),
                                 (*store)->indexed_through(p), p));
  }
  auto layout = *found ? result<kafka::topic_layout>(**found)
                       : kafka::ensure_topic(consumer->get(), topic, options.partitions, options.replication_factor,
                                             topic_configs(options.replication_factor), *context, until);
  if (!layout) return layout.error();
  if (layout->partitions != options.partitions)
    return error(errc::invalid_argument, "partitions",
                 fmt::format("topic {} has {} partitions, this engine is configured for {}; streams are placed by "
                             "the partition count, so it cannot change",
                             topic, layout->partitions, options.partitions));
  const std::uint32_t partitions = layout->partitions;
  std::map<std::string, std::string> topic_config = topic_configs(options.replication_factor);
  if (options.check_topic_settings) {
    auto described = kafka::topic_settings(consumer->get(), topic, *context, until);
    if (!described) return described.error();
    topic_config = std::move(*described);
  }
  if (auto s = check_durable(topic, *layout, topic_config, options.replication_factor); !s) return s.error();

  std::vector<std::int64_t> start(partitions);
  for (std::uint32_t p = 0; p < partitions; ++p) start[p] = static_cast<std::int64_t>((*store)->indexed_through(p));
  auto reader = kafka::partition_reader::open(std::move(context), std::move(*consumer), topic, partitions, start);
  if (!reader) return reader.error();
  auto log = std::make_unique<kafka_event_log>(options, topic, partitions, std::move(*store), std::move(*reader),
                                               std::nullopt);
  if (auto s = log->start(until); !s) return s.error();
  return std::unique_ptr<event_log>(std::move(log));
}

}  // namespace sazesh
