#include "engine/kafka/kafka_feed.h"

#include <fmt/format.h>

#include <map>
#include <optional>

#include "engine/kafka/kafka_client.h"
#include "engine/kafka/kafka_log.h"

namespace sazesh {
namespace {

class group_feed final : public kafka_feed {
 public:
  group_feed(kafka_feed_options options, std::unique_ptr<kafka::client_context> context, kafka::client_ptr client)
      : options_(std::move(options)), context_(std::move(context)), client_(std::move(client)),
        started_(kafka::clock_type::now()) {}

  result<std::vector<feed_record>> poll(std::chrono::milliseconds wait, std::size_t max) override {
    std::vector<feed_record> out;
    const kafka::deadline until = kafka::deadline_after(wait);
    while (out.size() < max) {
      const int ms = out.empty() ? std::min(kafka::remaining_ms(until), 100) : 0;
      kafka::message_ptr m(rd_kafka_consumer_poll(client_.get(), ms));
      if (!m) {
        if (!out.empty() || kafka::passed(until)) break;
        continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        at_end_of_[m->partition] = true;
        continue;
      }
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // While the cluster is away the client retries by itself; report it once it has been
        // away longer than the timeout.
        if (kafka::is_unreachable(m->err)) {
          if (!unreachable_since_) unreachable_since_ = kafka::clock_type::now();
          if (kafka::clock_type::now() - *unreachable_since_ > options_.timeout)
            return kafka::translate(m->err, "reading " + options_.topic, *context_);
          continue;
        }
        return kafka::translate(m->err, "reading " + options_.topic, *context_, rd_kafka_message_errstr(m.get()));
      }
      unreachable_since_.reset();
      at_end_of_[m->partition] = false;
      feed_record r;
      r.partition = static_cast<std::uint32_t>(m->partition);
      r.offset = static_cast<std::uint64_t>(m->offset);
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      out.push_back(std::move(r));
    }
    if (!assigned() && kafka::clock_type::now() - started_ > options_.timeout)
      return error(errc::unavailable, "kafka",
                   fmt::format("reading {}: consumer group {} got no partitions from the cluster at {} within {} ms{}",
                               options_.topic, options_.group_id, options_.bootstrap_servers,
                               options_.timeout.count(),
                               context_->last_problem().empty() ? "" : " (" + context_->last_problem() + ")"));
    return out;
  }

  bool at_end() const override {
    kafka::partition_list_ptr assignment;
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(client_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    assignment.reset(raw);
    if (assignment->cnt == 0) return false;
    for (int i = 0; i < assignment->cnt; ++i) {
      auto it = at_end_of_.find(assignment->elems[i].partition);
      if (it == at_end_of_.end() || !it->second) return false;
    }
    return true;
  }

  status commit() override {
    const auto e = rd_kafka_commit(client_.get(), nullptr, 0);
    // Nothing consumed since the last commit is not a failure.
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET) return ok;
    return kafka::translate(e, fmt::format("committing the offsets of group {}", options_.group_id), *context_);
  }

  status commit_before(const feed_record& next) override {
    kafka::partition_list_ptr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), static_cast<std::int32_t>(next.partition))->offset =
        static_cast<std::int64_t>(next.offset);
    const auto e = rd_kafka_commit(client_.get(), list.get(), 0);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return ok;
    return kafka::translate(e, fmt::format("committing the offsets of group {}", options_.group_id), *context_);
  }

 private:
  bool assigned() const {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(client_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    kafka::partition_list_ptr assignment(raw);
    return assignment->cnt > 0;
  }

  kafka_feed_options options_;
  std::unique_ptr<kafka::client_context> context_;  // before client_: outlives it
  kafka::client_ptr client_;
  kafka::clock_type::time_point started_;
  std::optional<kafka::clock_type::time_point> unreachable_since_;
  std::map<std::int32_t, bool> at_end_of_;
};

}  // namespace

result<std::unique_ptr<kafka_feed>> open_kafka_feed(const kafka_feed_options& options) {
  if (options.bootstrap_servers.empty()) return error(errc::invalid_argument, "kafka", "no bootstrap servers given");
  if (options.topic.empty()) return error(errc::invalid_argument, "topic", "must not be empty");
  if (options.group_id.empty()) return error(errc::invalid_argument, "group", "must not be empty");
  if (auto s = check_kafka_config(options.config); !s) return s.error();
  const kafka::deadline until = kafka::deadline_after(options.timeout);
  auto context = std::make_unique<kafka::client_context>(options.bootstrap_servers);
  auto settings = kafka::base_settings(options.bootstrap_servers, "sazesh-feed");
  settings.insert(settings.end(), {
                                      {"group.id", options.group_id},
                                      {"isolation.level", "read_committed"},
                                      {"enable.auto.commit", "false"},
                                      {"enable.partition.eof", "true"},
                                      {"auto.offset.reset", "earliest"},
                                      {"allow.auto.create.topics", "false"},
                                  });
  settings.insert(settings.end(), options.config.begin(), options.config.end());
  auto client = kafka::make_client(RD_KAFKA_CONSUMER, settings, *context);
  if (!client) return client.error();
  auto found = kafka::describe_topic(client->get(), options.topic, *context, until);
  if (!found) return found.error();
  if (!*found)
    return error(errc::not_found, "topic",
                 fmt::format("{} has no topic {} (nothing was published to this feed yet)", options.bootstrap_servers,
                             options.topic));
  rd_kafka_poll_set_consumer(client->get());
  kafka::partition_list_ptr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), options.topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto e = rd_kafka_subscribe(client->get(), topics.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return kafka::translate(e, "subscribing to " + options.topic, *context);
  return std::unique_ptr<kafka_feed>(std::make_unique<group_feed>(options, std::move(context), std::move(*client)));
}

}  // namespace sazesh
