#include "engine/kafka/kafka_key_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/kafka/kafka_client.h"
#include "engine/kafka/kafka_log_detail.h"
#include "engine/record/hash.h"

namespace sazesh {
namespace {

using kafka_log_detail::min_insync_for;

constexpr std::string_view subject_key_prefix = "subject/";
constexpr std::string_view digest_record_key = "digest";
constexpr std::size_t max_subject = 256;
// How long keys read from the topic are taken as they stand before a known subject sends this
// process to the topic again (a subject not known always does).
constexpr auto reread_after = std::chrono::seconds(1);

std::map<std::string, std::string> keys_topic_configs(std::int16_t replication_factor) {
  return {{"cleanup.policy", "compact"},
          {"min.insync.replicas", std::to_string(min_insync_for(replication_factor))},
          {"segment.ms", "3600000"},
          {"min.compaction.lag.ms", "3600000"},
          {"max.compaction.lag.ms", "86400000"}};
}

std::string key_record(char kind, const std::string& key = {}) { return std::string(1, kind) + key; }
std::string subject_record_key(const std::string& subject) { return std::string(subject_key_prefix) + subject; }

class kafka_key_store final : public key_store {
 public:
  kafka_key_store(kafka_log_options options, std::string topic, std::optional<kafka::partition_reader> reader)
      : options_(std::move(options)), topic_(std::move(topic)), reader_(std::move(reader)) {}

  result<std::optional<std::string>> key_of(const std::string& subject) override {
    std::lock_guard lock(mutex_);
    if (auto it = made_.find(subject); it != made_.end()) return std::optional<std::string>(it->second);
    if (auto r = read_if_stale_locked(subject); !r) return r.error();
    auto it = keys_.find(subject);
    if (it == keys_.end() || it->second.forgotten) return std::optional<std::string>();
    return it->second.first;
  }

  result<bool> forgotten(const std::string& subject) override {
    std::lock_guard lock(mutex_);
    if (made_.count(subject)) return false;
    if (auto r = read_if_stale_locked(subject); !r) return r.error();
    auto it = keys_.find(subject);
    return it != keys_.end() && it->second.forgotten;
  }

  result<std::string> key_for_sealing(const std::string& subject) override {
    if (subject.empty() || subject.size() > max_subject)
      return error(errc::invalid_argument, "party", "a subject's id has 1 to 256 bytes");
    std::lock_guard lock(mutex_);
    if (auto it = made_.find(subject); it != made_.end()) return it->second;
    // What other processes wrote is read again at most once a second here, not for every new
    // subject: a key another writer made meanwhile makes the flush refuse the unit (retried).
    if (kafka::clock_type::now() - read_at_ >= reread_after)
      if (auto r = read_locked(kafka::deadline_after(options_.timeout)); !r) return r.error();
    if (auto it = keys_.find(subject); it != keys_.end()) {
      if (it->second.forgotten)
        return error(errc::wrong_state, "party", subject + "'s personal data was erased: nothing more of theirs can be kept");
      if (it->second.first) return *it->second.first;
    }
    if (!reader_) return no_topic();
    std::string key = from_hex(random_hex(seal_key_bytes));
    made_[subject] = key;
    pending_.emplace_back(subject_record_key(subject), key_record('K', key));
    return key;
  }

  status flush() override {
    std::lock_guard lock(mutex_);
    return flush_locked(kafka::deadline_after(options_.timeout));
  }

  // Reads what the topic holds now.
  status read() {
    std::lock_guard lock(mutex_);
    return read_locked(kafka::deadline_after(options_.timeout));
  }

  status destroy(const std::string& subject) override {
    std::lock_guard lock(mutex_);
    const kafka::deadline until = kafka::deadline_after(options_.timeout);
    if (auto f = flush_locked(until); !f) return f.error();
    if (!reader_) return no_topic();
    // Forgotten here at once, whatever the write's outcome: nothing decided after this is
    // sealed under the key.
    known& k = keys_[subject];
    k.forgotten = true;
    k.first.reset();
    pending_.emplace_back(subject_record_key(subject), key_record('F'));
    return flush_locked(until);
  }

  result<std::string> digest_key() override {
    std::lock_guard lock(mutex_);
    const kafka::deadline until = kafka::deadline_after(options_.timeout);
    if (!digest_first_) {
      if (auto r = read_locked(until); !r) return r.error();
    }
    if (!digest_first_) {
      if (!reader_) return no_topic();
      pending_.emplace_back(std::string(digest_record_key), key_record('D', from_hex(random_hex(seal_key_bytes))));
      if (auto f = flush_locked(until); !f) return f.error();
      if (!digest_first_) return error(errc::io, "keys", fmt::format("{} does not read back the digest key written to it", topic_));
    } else if (!repaired_) {
      // The first writer to open repairs what a writer stopped midway may have left.
      if (auto f = flush_locked(until); !f) return f.error();
    }
    return *digest_first_;
  }

  result<std::vector<entry>> entries() override {
    std::lock_guard lock(mutex_);
    if (auto r = read_locked(kafka::deadline_after(options_.timeout)); !r) return r.error();
    std::vector<entry> out;
    out.reserve(keys_.size());
    for (const auto& [subject, k] : keys_) out.push_back({subject, k.forgotten ? std::nullopt : k.first});
    return out;
  }

  status adopt(const entry& e) override {
    if (e.subject.empty() || e.subject.size() > max_subject)
      return error(errc::invalid_argument, "keys", "a subject's id has 1 to 256 bytes");
    if (e.key && e.key->size() != seal_key_bytes) return error(errc::invalid_argument, "keys", e.subject + "'s key is not 32 bytes");
    std::lock_guard lock(mutex_);
    if (!reader_) return no_topic();
    // As of the last read (copy_keys reads first, in adopt_digest_key): one read per subject
    // would make copying a million keys take hours. The flush checks each against the topic.
    auto it = keys_.find(e.subject);
    if (it != keys_.end() && it->second.forgotten) return ok;  // erased here already: it stays so
    if (!e.key) {
      keys_[e.subject].forgotten = true;
      keys_[e.subject].first.reset();
      made_.erase(e.subject);
      pending_.emplace_back(subject_record_key(e.subject), key_record('F'));
      return ok;
    }
    const std::optional<std::string> held =
        made_.count(e.subject) ? std::optional<std::string>(made_[e.subject])
                               : (it != keys_.end() ? it->second.first : std::nullopt);
    if (held) {
      if (*held == *e.key) return ok;
      return error(errc::conflict, "keys", e.subject + " has another key in " + topic_ + ": the copy would not open under it");
    }
    made_[e.subject] = *e.key;
    pending_.emplace_back(subject_record_key(e.subject), key_record('K', *e.key));
    return ok;
  }

  status adopt_digest_key(const std::string& key) override {
    if (key.size() != seal_key_bytes) return error(errc::invalid_argument, "keys", "a digest key has 32 bytes");
    std::lock_guard lock(mutex_);
    const kafka::deadline until = kafka::deadline_after(options_.timeout);
    if (!reader_) return no_topic();
    if (auto r = read_locked(until); !r) return r.error();
    if (!digest_first_) {
      pending_.emplace_back(std::string(digest_record_key), key_record('D', key));
      if (auto f = flush_locked(until); !f) return f.error();
    }
    if (digest_first_ != key)
      return error(errc::conflict, "keys",
                   fmt::format("{} has a digest key of its own: copy a log's keys to a new topic prefix", topic_));
    return ok;
  }

 private:
  struct known {
    std::optional<std::string> first;  // the subject's key; none once forgotten
    bool forgotten = false;
    std::string last;  // the value of its last record (what compaction keeps)
  };

  error no_topic() const {
    return error(errc::unavailable, "keys", fmt::format("{} has no topic {}: it is made by a writer of the log", options_.bootstrap_servers, topic_));
  }

  status read_if_stale_locked(const std::string& subject) {
    const bool known_here = keys_.count(subject) > 0;
    if (known_here && kafka::clock_type::now() - read_at_ < reread_after) return ok;
    return read_locked(kafka::deadline_after(options_.timeout));
  }

  status read_locked(kafka::deadline until) {
    if (!reader_) return ok;
    auto r = reader_->read_to_end([this](const rd_kafka_message_t& m) { return apply(m); }, until);
    if (!r) return r.error();
    read_at_ = kafka::clock_type::now();
    return ok;
  }

  // Up to a record this process has just written, without asking where the topic ends (a round
  // trip that waits behind the reader's own fetch): anything another writer wrote before it is read.
  status read_through_locked(std::int64_t offset, kafka::deadline until) {
    return reader_->read_up_to({offset + 1}, [this](const rd_kafka_message_t& m) { return apply(m); }, until);
  }

  status apply(const rd_kafka_message_t& m) {
    // A tombstone is how an operator removes a stray record (compaction then drops both).
    if (m.payload == nullptr) return ok;
    const std::string_view key(static_cast<const char*>(m.key), m.key == nullptr ? 0 : m.key_len);
    const std::string value(static_cast<const char*>(m.payload), m.len);
    const auto bad = [&](std::string_view what) {
      return error(errc::corrupt, "keys", fmt::format("{} offset {}: {}", topic_, m.offset, what));
    };
    if (key == digest_record_key) {
      if (value.size() != 1 + seal_key_bytes || value[0] != 'D') return bad("a digest record is 'D' and 32 bytes");
      if (!digest_first_) digest_first_ = value.substr(1);
      digest_last_ = value.substr(1);
      return ok;
    }
    if (key.substr(0, subject_key_prefix.size()) != subject_key_prefix || key.size() == subject_key_prefix.size() ||
        key.size() > subject_key_prefix.size() + max_subject)
      return bad("the key is neither \"digest\" nor \"subject/\" and a subject's id");
    known& k = keys_[std::string(key.substr(subject_key_prefix.size()))];
    if (value.size() == 1 + seal_key_bytes && value[0] == 'K') {
      if (!k.forgotten && !k.first) k.first = value.substr(1);
    } else if (value == "F") {
      k.forgotten = true;
      k.first.reset();
    } else {
      return bad("a subject's record is 'K' and 32 bytes, or 'F'");
    }
    k.last = value;
    return ok;
  }

  // Produces what is pending, reads the topic to its end, checks every key made here is its
  // subject's first, and writes again whatever makes a key's last record tell another story
  // than its first.
  status flush_locked(kafka::deadline until) {
    if (pending_.empty() && made_.empty() && repaired_) return ok;
    if (!reader_) return no_topic();
    if (!pending_.empty()) {
      auto last = produce_locked(pending_, until);
      if (!last) return last.error();
      pending_.clear();
      if (auto r = read_through_locked(*last, until); !r) return r.error();
    } else if (auto r = read_locked(until); !r) {
      return r.error();
    }
    std::vector<std::string> lost;
    for (const auto& [subject, key] : made_) {
      const known& k = keys_[subject];
      if (k.forgotten || k.first != key) lost.push_back(subject);
    }
    made_.clear();
    std::vector<std::pair<std::string, std::string>> repairs;
    for (const auto& [subject, k] : keys_) {
      const std::string told = k.forgotten ? key_record('F') : k.first ? key_record('K', *k.first) : std::string();
      if (!told.empty() && k.last != told) repairs.emplace_back(subject_record_key(subject), told);
    }
    if (digest_first_ && digest_last_ != *digest_first_)
      repairs.emplace_back(std::string(digest_record_key), key_record('D', *digest_first_));
    if (!repairs.empty()) {
      auto last = produce_locked(repairs, until);
      if (!last) return last.error();
      if (auto r = read_through_locked(*last, until); !r) return r.error();
    }
    repaired_ = true;
    if (!lost.empty())
      return error(errc::unavailable, "keys",
                   fmt::format("another writer of {} made {}'s key at the same time (or erased it); nothing was "
                               "written: try again",
                               topic_, lost.front()));
    return ok;
  }

  status make_producer_locked() {
    if (producer_) return ok;
    auto settings = kafka::base_settings(options_.bootstrap_servers, "sazesh-keys");
    settings.insert(settings.end(), {{"enable.idempotence", "true"},
                                     {"acks", "all"},
                                     {"linger.ms", "1"},
                                     {"message.timeout.ms", std::to_string(options_.timeout.count())}});
    settings.insert(settings.end(), options_.config.begin(), options_.config.end());
    producer_context_ = std::make_unique<kafka::client_context>(options_.bootstrap_servers);
    producer_context_->on_delivery = [this](const rd_kafka_message_t& m) {
      const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m._private));
      if (auto it = deliveries_.find(id); it != deliveries_.end()) it->second = {m.err, m.offset};
    };
    auto client = kafka::make_client(RD_KAFKA_PRODUCER, settings, *producer_context_);
    if (!client) return client.error();
    producer_ = std::move(*client);
    return ok;
  }

  // Produces every record and waits for each acknowledgement; on failure what reached the topic
  // is unknown, and the caller writes it again (the same record twice tells nothing new).
  // Returns the offset of the last record written.
  result<std::int64_t> produce_locked(const std::vector<std::pair<std::string, std::string>>& records,
                                      kafka::deadline until) {
    if (auto m = make_producer_locked(); !m) return m.error();
    deliveries_.clear();
    for (const auto& [key, value] : records) {
      const std::uint64_t id = next_delivery_++;
      deliveries_[id] = {RD_KAFKA_RESP_ERR__IN_PROGRESS, -1};
      for (;;) {
        const rd_kafka_resp_err_t err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(id))), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !kafka::passed(until)) {
          rd_kafka_poll(producer_.get(), 50);
          continue;
        }
        return settle_locked(kafka::translate(err, "writing keys to " + topic_, *producer_context_));
      }
      rd_kafka_poll(producer_.get(), 0);
    }
    while (rd_kafka_outq_len(producer_.get()) > 0 && !kafka::passed(until))
      rd_kafka_flush(producer_.get(), kafka::remaining_ms(until));
    std::int64_t last = -1;
    for (const auto& [id, d] : deliveries_) {
      if (d.first != RD_KAFKA_RESP_ERR_NO_ERROR)
        return settle_locked(kafka::translate(d.first == RD_KAFKA_RESP_ERR__IN_PROGRESS ? RD_KAFKA_RESP_ERR__TIMED_OUT : d.first,
                                              "writing keys to " + topic_, *producer_context_));
      last = std::max(last, d.second);
    }
    deliveries_.clear();
    return last;
  }

  // After a failed write: what is still queued is purged and its reports served, so none
  // arrives later for a delivery no longer waited for; the producer goes (a fatal error would
  // otherwise refuse every later write) and the next write makes a new one.
  error settle_locked(error why) {
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer_.get(), 1000);
    deliveries_.clear();
    producer_.reset();
    return why;
  }

  const kafka_log_options options_;
  const std::string topic_;
  std::optional<kafka::partition_reader> reader_;  // none: the topic does not exist (a follower)
  std::map<std::string, known> keys_;
  std::optional<std::string> digest_first_;
  std::string digest_last_;
  std::unordered_map<std::string, std::string> made_;             // keys made or adopted here, not yet flushed
  std::vector<std::pair<std::string, std::string>> pending_;      // records to produce at the next flush
  bool repaired_ = false;                                         // a flush checked every key's last record
  kafka::clock_type::time_point read_at_{};
  // What the producer's delivery callback writes, declared before it so it outlives it.
  std::unordered_map<std::uint64_t, std::pair<rd_kafka_resp_err_t, std::int64_t>> deliveries_;  // error, offset
  std::uint64_t next_delivery_ = 1;
  std::unique_ptr<kafka::client_context> producer_context_;  // before producer_: outlives it
  kafka::client_ptr producer_;
  std::mutex mutex_;
};

}  // namespace

std::string kafka_keys_topic(std::string_view prefix) { return std::string(prefix) + "keys"; }

result<std::unique_ptr<key_store>> open_kafka_keys(const kafka_log_options& options) {
  if (auto s = check_kafka_config(options.config); !s) return s.error();
  const kafka::deadline until = kafka::deadline_after(options.timeout);
  const std::string topic = kafka_keys_topic(options.topic_prefix);
  auto made = kafka_log_detail::make_reader_client(options);
  if (!made) return made.error();
  auto found = kafka::describe_topic(made->client.get(), topic, *made->context, until);
  if (!found) return found.error();
  if (!*found && options.follower)
    return std::unique_ptr<key_store>(std::make_unique<kafka_key_store>(options, topic, std::nullopt));
  auto layout = *found ? result<kafka::topic_layout>(**found)
                       : kafka::ensure_topic(made->client.get(), topic, 1, options.replication_factor,
                                             keys_topic_configs(options.replication_factor), *made->context, until);
  if (!layout) return layout.error();
  if (layout->partitions != 1)
    return error(errc::invalid_argument, "kafka",
                 fmt::format("topic {} has {} partitions: the keys are read in the order they were written, from one",
                             topic, layout->partitions));
  if (options.check_topic_settings) {
    auto settings = kafka::topic_settings(made->client.get(), topic, *made->context, until);
    if (!settings) return settings.error();
    const auto policy = settings->find("cleanup.policy");
    if (policy == settings->end() || policy->second != "compact")
      return error(errc::invalid_argument, "kafka",
                   fmt::format("topic {} has cleanup.policy={}: the keys must be kept until they are erased "
                               "(cleanup.policy=compact, never delete)",
                               topic, policy == settings->end() ? "(not set)" : policy->second));
  }
  auto reader = kafka::partition_reader::open(std::move(made->context), std::move(made->client), topic, 1);
  if (!reader) return reader.error();
  auto store = std::make_unique<kafka_key_store>(options, topic, std::move(*reader));
  // Read once here, so an opener refused the topic learns it now, not at its first sealed field.
  if (auto r = store->read(); !r) return r.error();
  return std::unique_ptr<key_store>(std::move(store));
}

}  // namespace sazesh
