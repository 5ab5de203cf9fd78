// kafka_log's writer: appends decided in groups and committed in transactions (see "Writes" at
// the top of kafka_log.cc).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/kafka/kafka_client.h"
#include "engine/kafka/kafka_log_detail.h"
#include "engine/kafka/kafka_producer.h"
#include "engine/log/local_store.h"
#include "engine/record/checkpoint.h"

namespace sazesh {
namespace {

// A group stops growing past this many payload bytes (one request is always taken).
constexpr std::size_t k_max_group_bytes = 4u << 20;
// Bytes a record needs beside its value: key, headers and record framing, generously.
constexpr std::size_t k_record_overhead = 512;
// Transactional ids every writer fences (PREFIX engine, engine.1, …), whatever it writes with.
constexpr std::uint32_t k_fenced_ids = 4;
// Between two looks at whether the events a checkpoint covers are readable yet.
constexpr auto k_visible_poll = std::chrono::milliseconds(2);

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

}  // namespace

namespace kafka_log_detail {

result<append_outcome> kafka_event_log::append(append_request request) {
  if (options_.follower) return error{errc::unavailable, "kafka", "opened read-only as a follower"};
  if (auto checked = check_request(request); !checked) return checked.error();
  std::vector<pending> mine{pending{&request, std::nullopt, false, 0}};
  write(mine);
  return std::move(*mine.front().outcome);
}

result<std::vector<result<append_outcome>>> kafka_event_log::append_group(std::vector<append_request> requests) {
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

status kafka_event_log::settle() {
  if (options_.follower) return refresh();
  std::lock_guard writer(writer_mutex_);
  const kafka::deadline until = kafka::deadline_after(options_.timeout);
  // A new producer settles what the old one left open (init_transactions completes or aborts
  // it, and fences any other producer of the id); then the topic is read to its end.
  if (auto s = ready_producer(until); !s) return s;
  if (index_stale_) {
    if (auto s = read_to_end(until); !s) return s;
    index_stale_ = false;
  }
  return ok;
}

bool kafka_event_log::publishes_side_records() const { return true; }

status kafka_event_log::publish_checkpoint(std::uint32_t partition, std::uint64_t after, std::uint64_t size,
                                           std::string_view note, const std::vector<side_record>& records) {
  if (options_.follower) return error{errc::unavailable, "kafka", "opened read-only as a follower"};
  if (partition >= partitions_) return error(errc::invalid_argument, "partition", fmt::format("must be below {}", partitions_));
  if (size <= after) return error(errc::invalid_argument, "size", fmt::format("must be above {}", after));
  std::lock_guard writer(writer_mutex_);
  const kafka::deadline until = kafka::deadline_after(options_.timeout);
  if (auto s = ready_producer(until); !s) return s;
  if (auto s = know_published(); !s) return s;
  const std::uint64_t latest = (*published_)[partition].first;
  if (latest != after)
    return error(errc::conflict, "after",
                 fmt::format("partition {}'s latest published checkpoint has {} leaves, not {}: what follows it was "
                             "published meanwhile, or is still to be",
                             partition, latest, after));
  const std::string checkpoints = kafka_checkpoints_topic(options_.topic_prefix);
  std::deque<std::string> topics;
  for (const side_record& r : records) {
    const std::string& topic = topics.emplace_back(options_.topic_prefix + r.topic_suffix);
    if (r.topic_suffix.empty() || !valid_topic_chars(r.topic_suffix) || topic.size() > 249)
      return error(errc::invalid_argument, "records",
                   fmt::format("{} is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", topic));
    if (r.value.size() + r.key.size() + k_record_overhead > max_record_bytes_)
      return error(errc::invalid_argument, "records",
                   fmt::format("a record for {} is {} bytes; records take at most {} bytes", topic, r.value.size(),
                               max_record_bytes_));
  }
  std::set<std::string> needed(topics.begin(), topics.end());  // each agency's, named by many records
  needed.insert(checkpoints);
  if (auto s = ensure_own_topics(needed, until); !s) return s;
  const std::string key = std::to_string(partition);
  std::vector<kafka::outgoing_record> out;
  out.reserve(records.size() + 1);
  for (std::size_t i = 0; i < records.size(); ++i)
    out.push_back({&topics[i], RD_KAFKA_PARTITION_UA, records[i].key, records[i].value, {}});
  out.push_back({&checkpoints, 0, key, note, {}});
  if (auto s = await_readable(until); !s) return s;
  auto offsets = producer_->run_side_transaction(out, until);
  if (!offsets) {
    if (producer_->last_failure() == kafka::txn_failure::unknown) {
      index_stale_ = true;
      published_.reset();  // committed or not: the next producer reads which
    }
    return offsets.error();
  }
  (*published_)[partition] = {size, std::string(note)};
  return ok;
}

result<std::string> kafka_event_log::published_checkpoint(std::uint32_t partition) {
  if (partition >= partitions_) return error(errc::invalid_argument, "partition", fmt::format("must be below {}", partitions_));
  std::lock_guard writer(writer_mutex_);
  const kafka::deadline until = kafka::deadline_after(options_.timeout);
  if (options_.follower) {
    published_.reset();  // a follower reads the topic as it stands now
  } else if (auto s = ready_producer(until); !s) {
    return s.error();
  }
  if (auto s = know_published(); !s) return s.error();
  return (*published_)[partition].second;
}

status kafka_event_log::know_published() {
  if (published_) return ok;
  auto notes = published_checkpoints();
  if (!notes) return notes.error();
  std::vector<std::pair<std::uint64_t, std::string>> latest(partitions_);
  for (auto& [partition, note] : *notes) {
    // Only the size is read here; the signer checks the note. One that is no checkpoint counts
    // as size 0, and the signer names it.
    auto c = read_checkpoint_text(note, "checkpoints");
    latest[partition] = {c ? c->size : 0, std::move(note)};  // the last on the topic: what was published last
  }
  published_ = std::move(latest);
  return ok;
}

// A commit returns before the coordinator has written its markers; with one transactional id the
// next transaction waited for them, with several it need not. A checkpoint (and the dossiers it
// carries) must never be readable before the events it covers, so it waits until every event
// this writer has indexed is below its partition's last stable offset, asked of a client that
// never fetches (a fetching one answers only after its long poll).
status kafka_event_log::await_readable(kafka::deadline until) {
  if (producer_->in_turn() < 2) return ok;
  const auto all = kafka::every_partition(partitions_);
  if (!stable_) {
    auto made = make_reader_client(options_);
    if (!made) return made.error();
    stable_ = std::move(*made);
  }
  for (;;) {
    auto ends = kafka::partition_offsets(stable_->client.get(), topic_, all, RD_KAFKA_OFFSET_END, *stable_->context, until);
    if (!ends) return ends.error();
    bool readable = true;
    for (std::uint32_t p = 0; p < partitions_; ++p)
      readable = readable && static_cast<std::uint64_t>((*ends)[p]) >= store_->indexed_through(p);
    if (readable) return ok;
    if (kafka::passed(until))
      return error(errc::unavailable, "kafka",
                   fmt::format("the events this checkpoint covers are committed to {} but not yet readable (their "
                               "transaction markers are still being written); try again",
                               topic_));
    std::this_thread::sleep_for(k_visible_poll);
  }
}

status kafka_event_log::ready_producer(kafka::deadline until) {
  if (producer_->ready()) return ok;
  if (auto s = producer_->start(until); !s) return s;
  index_stale_ = true;
  published_.reset();
  // The new producers know the events topic only.
  producer_->learn_side_topics({known_topics_.begin(), known_topics_.end()}, until);
  return ok;
}

status kafka_event_log::ensure_own_topics(const std::set<std::string>& topics, kafka::deadline until) {
  std::set<std::string> unknown;
  std::set_difference(topics.begin(), topics.end(), known_topics_.begin(), known_topics_.end(),
                      std::inserter(unknown, unknown.end()));
  if (unknown.empty()) return ok;
  // One partition: a reader sees the records in the order the writer wrote them.
  if (auto made = kafka::ensure_topics(reader_->client(), unknown, 1, options_.replication_factor,
                                       topic_configs(options_.replication_factor), reader_->context(), until);
      !made)
    return made;
  producer_->learn_side_topics({unknown.begin(), unknown.end()}, until);
  known_topics_.insert(unknown.begin(), unknown.end());
  return ok;
}

// Queues one unit and returns once a leader (maybe this thread) committed it.
void kafka_event_log::write(std::vector<pending>& mine) {
  queue_.run(mine, k_max_group_bytes, payload_size, [this](const std::vector<pending*>& group) { commit_group(group); });
}

kafka_event_log::outgoing::outgoing(const kafka_event_log& log, const std::vector<pending*>& accepted) {
  for (pending* p : accepted) {
    const append_request& r = *p->request;
    const auto partition = static_cast<std::int32_t>((*p->outcome)->partition);
    for (std::size_t i = 0; i < r.events.size(); ++i) {
      const std::string& sequence = text.emplace_back(std::to_string(r.expected.value() + 1 + i));
      records.push_back({&log.topic_, partition, r.stream, r.events[i],
                         {{k_stream_header, r.stream}, {k_sequence_header, sequence}, {k_command_header, r.command_id}}});
      sources.emplace_back(p, i);
    }
  }
}

// --- the producer ------------------------------------------------------------------------

// Every writer fences at least the first k_fenced_ids ids, however many it takes turns on.
std::vector<std::string> kafka_event_log::transactional_ids() const {
  std::vector<std::string> ids{options_.topic_prefix + "engine"};
  for (std::uint32_t i = 1; i < std::max(options_.transactional_writers, k_fenced_ids); ++i)
    ids.push_back(options_.topic_prefix + "engine." + std::to_string(i));
  return ids;
}

std::vector<std::pair<std::string, std::string>> kafka_event_log::producer_settings() const {
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
                                  });
  settings.insert(settings.end(), options_.config.begin(), options_.config.end());
  return settings;
}

// --- the group commit --------------------------------------------------------------------

std::size_t kafka_event_log::payload_size(const append_request& request) {
  std::size_t size = request.stream.size() + request.command_id.size();
  for (const std::string& e : request.events) size += e.size() + k_record_overhead;
  return size;
}

// Records too big for the cluster are refused before anything is produced, so they never
// turn a whole group's transaction into an abort.
status kafka_event_log::check_sizes(const append_request& request) const {
  const std::size_t extra = request.stream.size() + request.command_id.size() + k_record_overhead;
  for (std::size_t i = 0; i < request.events.size(); ++i)
    if (request.events[i].size() + extra > max_record_bytes_)
      return error(errc::invalid_argument, "events",
                   fmt::format("event {} of the command is {} bytes; records of {} take at most {} bytes "
                               "(message.max.bytes)",
                               i + 1, request.events[i].size(), topic_, max_record_bytes_));
  return ok;
}

// Decides one request of a group against the index plus the group's earlier decisions.
result<append_outcome> kafka_event_log::decide(const append_request& request, group_state& state) {
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
void kafka_event_log::commit_group(const std::vector<pending*>& group) noexcept {
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
    published_.reset();
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
std::optional<error> kafka_event_log::run_group(const std::vector<pending*>& group, kafka::deadline until) {
  const auto fail_all = [&](const error& e) {
    for (pending* p : group) p->outcome = e;
    return std::nullopt;
  };
  // After a failure (a fence included) a new producer settles what the old one left open
  // (init_transactions also fences anyone who took the transactional id meanwhile); the topic
  // is then read to its end, so the index shows whatever was committed before it.
  if (auto s = ready_producer(until); !s) return fail_all(s.error());
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
    p->outcome = decide(r, state);
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
status kafka_event_log::index_own(const outgoing& group_records, const std::vector<std::int64_t>& offsets,
                                  const std::vector<pending*>& accepted, const std::vector<pending*>& empty) {
  local_store::batch b;
  std::map<std::uint32_t, std::uint64_t> through;
  for (std::size_t i = 0; i < group_records.sources.size(); ++i) {
    const auto& [owner, event_index] = group_records.sources[i];
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

}  // namespace kafka_log_detail
}  // namespace sazesh
