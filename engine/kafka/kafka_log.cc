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
//    writer's reader fetches only while it reads, each time from where the index stands, so
//    it never reads those records back.
//
// Writes: group commit in transactions
// ====================================
// Appends queue up; a waiting thread that finds no leader becomes the leader, takes the queue
// (up to a byte budget), decides every request against the index plus the requests decided
// before it in the group (like the embedded log), produces the accepted events in one
// transaction, commits it, then indexes them and wakes the others. Every
// outcome of a group stands or falls with its transaction, as with the embedded log's batch.
// Consecutive transactions go through different producers (kafka::producer_rotation, one
// transactional id each): a commit returns before the coordinator has written its markers, and
// until it has, the same id's next transaction would wait 20 ms in librdkafka's retry.
//
// Failures, by what they leave behind:
//  - refused before producing (a record too large): only that request fails, nothing is
//    produced for it;
//  - the transaction aborts (a produce failed, or the commit was refused as abortable): nothing
//    of the group is visible to read_committed readers; the writer goes on;
//  - fenced (another writer ran init_transactions with one of our transactional ids): nothing
//    of the group was committed; the next group starts new producers for every id, which fence
//    that writer in turn, and reads the topic to its end first, so it decides on what the other wrote;
//  - unknown (the commit did not complete in time, or a fatal error): the writer starts a new
//    producer before its next append; its init_transactions completes or aborts the old
//    transaction, and the writer re-reads the topic to its end, so the index shows what happened.
//
// A signed checkpoint and the agencies' Dossiers it newly covers (publish_checkpoint) go in a
// transaction of their own, always by the rotation's first producer, once the events they cover
// are readable (their markers written: await_readable); the
// size of each partition's latest published checkpoint, read from PREFIX "checkpoints" whenever
// a producer starts, guards against publishing a range twice.
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
#include "engine/kafka/kafka_log_detail.h"
#include "engine/kafka/kafka_producer.h"
#include "engine/log/group_commit.h"
#include "engine/log/local_store.h"

namespace sazesh {
namespace {

using namespace kafka_log_detail;

// Records indexed per local batch while reading the topic.
constexpr std::size_t k_index_batch = 4096;
// How long closing the log waits for the last progress commit (report_progress).
constexpr std::chrono::milliseconds k_progress_linger{2'000};

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

}  // namespace

namespace kafka_log_detail {

// --- opening ---------------------------------------------------------------------------

kafka_event_log::kafka_event_log(kafka_log_options options, std::string topic, std::uint32_t partitions,
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

status kafka_event_log::start(kafka::deadline until) {
  std::lock_guard writer(writer_mutex_);
  if (options_.follower) return ok;
  producer_ = std::make_unique<kafka::producer_rotation>(producer_settings(), options_.bootstrap_servers,
                                                         transactional_ids(), options_.transactional_writers, topic_);
  // Fence first, read second: once init_transactions returned, no older writer commits.
  if (auto s = producer_->start(until); !s) return s;
  if (auto s = check_store_matches_topic(until); !s) return s;
  return read_to_end(until);
}

// --- reading the topic ---------------------------------------------------------------------

// A record of the events topic as an event: it must carry a stream and a sequence, and sit in
// its stream's partition.
result<stored_event> kafka_event_log::event_of(const rd_kafka_message_t& m) const {
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

// The local store and the topic must tell one history: each partition still reaches as far
// as the store read it, and holds, at the offset of the last event the store indexed there,
// that same event. Otherwise the cluster lost acknowledged records (an unclean leader
// election, a broker restored from an old disk) or the topic was deleted and made again, and
// offsets the store knows now hold other records; deciding on the store would fork history.
status kafka_event_log::check_store_matches_topic(kafka::deadline until) {
  bool any = false;
  for (std::uint32_t p = 0; p < partitions_; ++p) any = any || store_->indexed_through(p) > 0;
  if (!any) return ok;
  auto ends = kafka::partition_offsets(reader_->client(), topic_, kafka::every_partition(partitions_),
                                       RD_KAFKA_OFFSET_END, reader_->context(), until);
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
      auto consumer = make_reader_client(options_);
      if (!consumer) return consumer.error();
      auto opened = kafka::partition_cursor::open(std::move(consumer->context), std::move(consumer->client), topic_, partitions_);
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
status kafka_event_log::read_to_end(kafka::deadline until) {
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
  // Reading starts where the index stands: for a writer, past its own records, indexed from
  // their delivery; after a read that failed midway, at the first record it did not index.
  {
    std::vector<std::int64_t> from(partitions_);
    for (std::uint32_t p = 0; p < partitions_; ++p) from[p] = static_cast<std::int64_t>(store_->indexed_through(p));
    if (auto s = reader_->reposition(from); !s) return s;
  }
  auto outcome = reader_->read_to_end(
      [&](const rd_kafka_message_t& m) -> status {
        const auto partition = static_cast<std::uint32_t>(m.partition);
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
  // What a failed read took in and did not commit is read again next time (from where the
  // index stands).
  if (!outcome) return outcome;
  return flush();
}

}  // namespace kafka_log_detail

namespace {

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

std::vector<std::string> split_kafka_settings(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    out.emplace_back(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return out;
}

status add_kafka_settings(const std::vector<std::string>& settings, std::map<std::string, std::string>& config,
                          std::string_view field) {
  for (const auto& setting : settings) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos || eq == 0)
      return error(errc::invalid_argument, std::string(field),
                   "must be KEY=VALUE, e.g. security.protocol=SSL, not " + setting);
    config[setting.substr(0, eq)] = setting.substr(eq + 1);
  }
  return ok;
}

status check_kafka_config(const std::map<std::string, std::string>& config) {
  // What these settings would break: one writer per log (the transactional id fences an older
  // writer; another id would let two decide at once and fork a stream), every acknowledged write
  // on every in-sync replica, readers that see committed transactions only and know where a
  // partition ends, and a feed that commits only what it handed on.
  static const std::map<std::string_view, std::string_view> engine_owned{
      {"bootstrap.servers", "give the cluster with --kafka"},
      {"transactional.id", "the log's writer is PREFIX engine (and engine.1, engine.2, …), so that a new writer fences the old one"},
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
std::string kafka_checkpoints_topic(std::string_view prefix) { return std::string(prefix) + "checkpoints"; }

std::string kafka_agency_topic(std::string_view prefix, std::string_view agency_id) {
  return std::string(prefix) + "agency." + std::string(agency_id);
}

std::uint32_t kafka_partition_of(std::string_view stream, std::uint32_t partitions) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : stream) h = (h ^ c) * 16777619u;
  return partitions == 0 ? 0 : h % partitions;
}

namespace kafka_log_detail {

result<reader_client> make_reader_client(const kafka_log_options& options) {
  reader_client out{std::make_unique<kafka::client_context>(options.bootstrap_servers), nullptr};
  auto settings = kafka::reader_settings(options.bootstrap_servers);
  settings.insert(settings.end(), options.config.begin(), options.config.end());
  auto client = kafka::make_client(RD_KAFKA_CONSUMER, settings, *out.context);
  if (!client) return client.error();
  out.client = std::move(*client);
  return out;
}

}  // namespace kafka_log_detail

result<std::unique_ptr<event_log>> open_kafka_log(const kafka_log_options& options) {
  if (auto s = check_options(options); !s) return s.error();
  const kafka::deadline until = kafka::deadline_after(options.timeout);
  const std::string topic = kafka_events_topic(options.topic_prefix);

  auto made = make_reader_client(options);
  if (!made) return made.error();
  auto& context = made->context;
  auto& consumer = made->client;

  auto found = kafka::describe_topic(consumer.get(), topic, *context, until);
  if (!found) return found.error();
  if (options.follower) {
    if (!*found)
      return error(errc::not_found, "kafka", fmt::format("no event log: {} has no topic {}", options.bootstrap_servers, topic));
    const std::uint32_t partitions = (*found)->partitions;
    auto cursor = kafka::partition_cursor::open(std::move(context), std::move(consumer), topic, partitions);
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
                       : kafka::ensure_topic(consumer.get(), topic, options.partitions, options.replication_factor,
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
    auto described = kafka::topic_settings(consumer.get(), topic, *context, until);
    if (!described) return described.error();
    topic_config = std::move(*described);
  }
  if (auto s = check_durable(topic, *layout, topic_config, options.replication_factor); !s) return s.error();

  // The writer reads the topic now and then (at its open, on refresh, after a failure), each
  // time from where its index stands (read_to_end): between reads it fetches nothing, so never
  // what it writes itself.
  auto reader = kafka::partition_reader::open(std::move(context), std::move(consumer), topic, partitions,
                                              kafka::partition_reader::fetch::while_reading);
  if (!reader) return reader.error();
  auto log = std::make_unique<kafka_event_log>(options, topic, partitions, std::move(*store), std::move(*reader),
                                               std::nullopt);
  if (auto s = log->start(until); !s) return s.error();
  return std::unique_ptr<event_log>(std::move(log));
}

}  // namespace sazesh
