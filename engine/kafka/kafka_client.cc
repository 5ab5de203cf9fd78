#include "engine/kafka/kafka_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace sazesh::kafka {

void client_deleter::operator()(rd_kafka_t* rk) const noexcept {
  // A consumer leaves its group (if any) before it goes; without a group this returns at once.
  if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

int remaining_ms(deadline until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 1, 24LL * 3600 * 1000));
}

bool passed(deadline until) { return clock_type::now() >= until; }

std::string client_context::last_problem() const {
  std::lock_guard lock(mutex_);
  return last_problem_;
}

void client_context::note_problem(std::string text) {
  std::lock_guard lock(mutex_);
  last_problem_ = std::move(text);
}

namespace {

bool debug_enabled() {
  static const bool on = std::getenv("SAZESH_KAFKA_DEBUG") != nullptr;
  return on;
}

// librdkafka logs from its own threads; warnings and errors are kept for error messages (a
// refused connection is only ever reported this way), and nothing reaches stderr, which belongs
// to the CLI's one-line errors.
void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  if (debug_enabled()) {
    // Microseconds on the monotonic clock, so a trace shows where a unit waited.
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now().time_since_epoch()).count();
    std::fprintf(stderr, "%lld librdkafka %d %s: %s\n", static_cast<long long>(us), level, facility, text);
  }
  if (level > 4) return;  // 4 = warning
  if (auto* context = static_cast<client_context*>(rd_kafka_opaque(rk)))
    context->note_problem(fmt::format("{}: {}", facility, text));
}

void on_error(rd_kafka_t*, int code, const char* reason, void* opaque) {
  if (debug_enabled()) std::fprintf(stderr, "librdkafka error %s: %s\n", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)), reason);
  if (auto* context = static_cast<client_context*>(opaque))
    context->note_problem(fmt::format("{}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)), reason));
}

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* context = static_cast<client_context*>(opaque);
  if (context != nullptr && context->on_delivery) context->on_delivery(*message);
}

void on_background_event(rd_kafka_t*, rd_kafka_event_t* ev, void* opaque) {
  event_ptr owned(ev);  // ours to destroy
  auto* context = static_cast<client_context*>(opaque);
  if (context != nullptr && context->on_background_event) context->on_background_event(*ev);
}

bool is_authorization(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
         code == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
         code == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
         code == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
         code == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
         code == RD_KAFKA_RESP_ERR__AUTHENTICATION;
}

void pause_briefly() { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }

}  // namespace

std::vector<std::pair<std::string, std::string>> base_settings(const std::string& bootstrap,
                                                               const std::string& client_id) {
  return {
      {"bootstrap.servers", bootstrap},
      {"client.id", client_id},
      // librdkafka backs off up to 10 s between reconnects by default; an engine waiting on a
      // restarted broker should notice it within about a second.
      {"reconnect.backoff.max.ms", "1000"},
  };
}

std::vector<std::pair<std::string, std::string>> reader_settings(const std::string& bootstrap) {
  auto s = base_settings(bootstrap, "sazesh-reader");
  s.insert(s.end(), {
                        {"isolation.level", "read_committed"},
                        {"enable.auto.commit", "false"},
                        {"enable.auto.offset.store", "false"},
                        // The only reliable sign of "nothing more before the last stable offset"
                        // when the last records are transaction markers, never delivered.
                        {"enable.partition.eof", "true"},
                        {"auto.offset.reset", "earliest"},
                        {"allow.auto.create.topics", "false"},
                        {"fetch.wait.max.ms", "100"},
                    });
  return s;
}

result<client_ptr> make_client(rd_kafka_type_t type,
                               const std::vector<std::pair<std::string, std::string>>& settings,
                               client_context& context) {
  conf_ptr conf(rd_kafka_conf_new());
  char problem[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), problem, sizeof problem) != RD_KAFKA_CONF_OK)
      return error(errc::invalid_argument, "kafka_config", fmt::format("{}={}: {}", name, value, problem));
  }
  rd_kafka_conf_set_opaque(conf.get(), &context);
  rd_kafka_conf_set_log_cb(conf.get(), on_log);
  rd_kafka_conf_set_error_cb(conf.get(), on_error);
  if (type == RD_KAFKA_PRODUCER) rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
  if (context.on_background_event) rd_kafka_conf_set_background_event_cb(conf.get(), on_background_event);
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), problem, sizeof problem);
  if (rk == nullptr) return error(errc::invalid_argument, "kafka_config", problem);
  (void)conf.release();  // rd_kafka_new took it
  return client_ptr(rk);
}

bool is_unreachable(rd_kafka_resp_err_t code) {
  switch (code) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__NOENT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
      return true;
    default:
      return false;
  }
}

error translate(rd_kafka_resp_err_t code, std::string_view what, const client_context& context,
                std::string_view detail) {
  const std::string text = detail.empty() ? rd_kafka_err2str(code) : std::string(detail);
  const std::string problem = context.last_problem();
  const std::string tail = problem.empty() ? "" : fmt::format(" (last client problem: {})", problem);
  if (is_unreachable(code))
    return error(errc::unavailable, "kafka",
                 fmt::format("{}: the cluster at {} did not answer: {}: {}{}", what, context.bootstrap(),
                             rd_kafka_err2name(code), text, tail));
  if (is_authorization(code))
    return error(errc::unauthorized, "kafka",
                 fmt::format("{}: refused by the cluster at {}: {}: {}", what, context.bootstrap(),
                             rd_kafka_err2name(code), text));
  return error(errc::io, "kafka",
               fmt::format("{}: {}: {} (cluster {}){}", what, rd_kafka_err2name(code), text, context.bootstrap(), tail));
}

error translate(const rd_kafka_error_t& e, std::string_view what, const client_context& context) {
  return translate(rd_kafka_error_code(&e), what, context, rd_kafka_error_string(&e));
}

result<std::optional<topic_layout>> describe_topic(rd_kafka_t* rk, const std::string& topic,
                                                   client_context& context, deadline until) {
  topic_ptr handle(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  if (!handle) return translate(rd_kafka_last_error(), "describing topic " + topic, context);
  rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR__TIMED_OUT;
  for (;;) {
    const rd_kafka_metadata_t* raw = nullptr;
    last = rd_kafka_metadata(rk, 0, handle.get(), &raw, remaining_ms(until));
    metadata_ptr md(raw);
    if (last == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->topic_cnt == 1) {
      const rd_kafka_metadata_topic_t& t = md->topics[0];
      if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return std::optional<topic_layout>();
      last = t.err;
      if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) {
        // Just created topics have partitions without leaders for a moment; wait for them, so
        // the first produce or offset query does not fail.
        const bool led = std::all_of(t.partitions, t.partitions + t.partition_cnt,
                                     [](const rd_kafka_metadata_partition_t& p) { return p.leader >= 0; });
        if (led) {
          topic_layout layout{static_cast<std::uint32_t>(t.partition_cnt), t.partitions[0].replica_cnt};
          for (int i = 1; i < t.partition_cnt; ++i) layout.replication = std::min(layout.replication, t.partitions[i].replica_cnt);
          return std::optional<topic_layout>(layout);
        }
        last = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
      } else if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR && !is_unreachable(t.err)) {
        return translate(t.err, "describing topic " + topic, context);
      }
    } else if (last != RD_KAFKA_RESP_ERR_NO_ERROR && !is_unreachable(last)) {
      return translate(last, "describing topic " + topic, context);
    }
    if (passed(until)) {
      if (last == RD_KAFKA_RESP_ERR_NO_ERROR) last = RD_KAFKA_RESP_ERR__TIMED_OUT;
      return translate(last, "describing topic " + topic, context);
    }
    pause_briefly();
  }
}

namespace {

status create_topics(rd_kafka_t* rk, const std::vector<std::string>& topics, std::uint32_t partitions,
                     std::int16_t replication, const std::map<std::string, std::string>& configs,
                     client_context& context, deadline until) {
  const std::string what = "creating topic " + fmt::format("{}", fmt::join(topics, ", "));
  char problem[512];
  std::vector<new_topic_ptr> owned;
  std::vector<rd_kafka_NewTopic_t*> specs;
  for (const std::string& topic : topics) {
    new_topic_ptr spec(rd_kafka_NewTopic_new(topic.c_str(), static_cast<int>(partitions), replication, problem,
                                             sizeof problem));
    if (!spec) return error(errc::invalid_argument, "topic", fmt::format("{}: {}", topic, problem));
    for (const auto& [name, value] : configs) {
      if (auto e = rd_kafka_NewTopic_set_config(spec.get(), name.c_str(), value.c_str()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return translate(e, what, context);
    }
    specs.push_back(spec.get());
    owned.push_back(std::move(spec));
  }
  admin_options_ptr options(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), remaining_ms(until), problem, sizeof problem) ||
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), remaining_ms(until), problem, sizeof problem))
    return error(errc::invalid_argument, "timeout", problem);
  queue_ptr queue(rd_kafka_queue_new(rk));
  rd_kafka_CreateTopics(rk, specs.data(), specs.size(), options.get(), queue.get());
  event_ptr ev(rd_kafka_queue_poll(queue.get(), remaining_ms(until) + 1000));
  if (!ev) return translate(RD_KAFKA_RESP_ERR__TIMED_OUT, what, context);
  if (auto e = rd_kafka_event_error(ev.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return translate(e, what, context, rd_kafka_event_error_string(ev.get()));
  const rd_kafka_CreateTopics_result_t* created = rd_kafka_event_CreateTopics_result(ev.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(created, &count);
  for (size_t i = 0; i < count; ++i) {
    const auto e = rd_kafka_topic_result_error(results[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
    const char* text = rd_kafka_topic_result_error_string(results[i]);
    const std::string failed = std::string("creating topic ") + rd_kafka_topic_result_name(results[i]);
    if (e == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR)
      return error(errc::invalid_argument, "kafka_replication",
                   fmt::format("{}: {} copies asked, which the cluster at {} cannot keep ({}); a single test broker "
                               "takes --kafka-replication 1",
                               failed, replication, context.bootstrap(), text ? text : rd_kafka_err2str(e)));
    return translate(e, failed, context, text ? text : "");
  }
  return ok;
}

}  // namespace

namespace {

// Passes on its own, for a topic the caller has seen: the cluster unreachable for now, or, on a
// cluster of several brokers, a topic just made that the broker asked has not heard of yet
// (the metadata of a new topic reaches each broker a moment after the one that showed it).
bool settling(rd_kafka_resp_err_t e) { return is_unreachable(e) || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART; }

// The metadata of a new topic reaches every broker a moment after the controller made it.
result<topic_layout> await_topic(rd_kafka_t* rk, const std::string& topic, client_context& context, deadline until) {
  for (;;) {
    auto now_found = describe_topic(rk, topic, context, until);
    if (!now_found) return now_found.error();
    if (*now_found) return **now_found;
    if (passed(until)) return translate(RD_KAFKA_RESP_ERR__TIMED_OUT, "waiting for new topic " + topic, context);
    pause_briefly();
  }
}

}  // namespace

result<topic_layout> ensure_topic(rd_kafka_t* rk, const std::string& topic, std::uint32_t partitions,
                                  std::int16_t replication,
                                  const std::map<std::string, std::string>& configs,
                                  client_context& context, deadline until) {
  if (auto s = ensure_topics(rk, {topic}, partitions, replication, configs, context, until); !s) return s.error();
  return await_topic(rk, topic, context, until);
}

status ensure_topics(rd_kafka_t* rk, const std::set<std::string>& topics, std::uint32_t partitions,
                     std::int16_t replication, const std::map<std::string, std::string>& configs,
                     client_context& context, deadline until) {
  std::vector<std::string> missing;
  for (const std::string& topic : topics) {
    auto found = describe_topic(rk, topic, context, until);
    if (!found) return found.error();
    if (!*found) missing.push_back(topic);
  }
  if (missing.empty()) return ok;
  if (auto s = create_topics(rk, missing, partitions, replication, configs, context, until); !s) return s;
  for (const std::string& topic : missing)
    if (auto seen = await_topic(rk, topic, context, until); !seen) return seen.error();
  return ok;
}

std::vector<std::uint32_t> every_partition(std::uint32_t count) {
  std::vector<std::uint32_t> all(count);
  for (std::uint32_t p = 0; p < count; ++p) all[p] = p;
  return all;
}

result<std::vector<std::int64_t>> partition_offsets(rd_kafka_t* rk, const std::string& topic,
                                                    const std::vector<std::uint32_t>& partitions, std::int64_t which,
                                                    client_context& context, deadline until) {
  const std::string what = fmt::format("reading {}: asking where its partitions {}", topic,
                                       which == RD_KAFKA_OFFSET_BEGINNING ? "start" : "end");
  for (;;) {
    // Asked by "time": RD_KAFKA_OFFSET_END and _BEGINNING are the timestamps that mean the end
    // and the start, and this call, unlike the watermark query, keeps to its timeout.
    partition_list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (std::uint32_t p : partitions)
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), static_cast<std::int32_t>(p))->offset = which;
    auto e = rd_kafka_offsets_for_times(rk, list.get(), remaining_ms(until));
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::vector<std::int64_t> out(partitions.size(), 0);
      for (int i = 0; i < list->cnt && e == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        const auto& tp = list->elems[i];
        if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) e = tp.err;
        else if (tp.offset < 0) e = RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE;
        else out[static_cast<std::size_t>(i)] = tp.offset;
      }
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return out;
    }
    const bool transient = settling(e) || e == RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE;
    if (!transient || passed(until)) return translate(e, what, context);
    pause_briefly();
  }
}

result<std::map<std::string, std::string>> topic_settings(rd_kafka_t* rk, const std::string& topic,
                                                          client_context& context, deadline until) {
  const std::string what = "reading the settings of topic " + topic;
  struct resource_deleter {
    void operator()(rd_kafka_ConfigResource_t* r) const noexcept { rd_kafka_ConfigResource_destroy(r); }
  };
  for (;;) {
    std::unique_ptr<rd_kafka_ConfigResource_t, resource_deleter> resource(
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
    char problem[512];
    admin_options_ptr options(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
    if (rd_kafka_AdminOptions_set_request_timeout(options.get(), remaining_ms(until), problem, sizeof problem))
      return error(errc::invalid_argument, "timeout", problem);
    queue_ptr queue(rd_kafka_queue_new(rk));
    rd_kafka_ConfigResource_t* resources[] = {resource.get()};
    rd_kafka_DescribeConfigs(rk, resources, 1, options.get(), queue.get());
    event_ptr ev(rd_kafka_queue_poll(queue.get(), remaining_ms(until) + 1000));
    rd_kafka_resp_err_t e = ev ? rd_kafka_event_error(ev.get()) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const rd_kafka_DescribeConfigs_result_t* described = rd_kafka_event_DescribeConfigs_result(ev.get());
      std::size_t count = 0;
      const rd_kafka_ConfigResource_t** results = rd_kafka_DescribeConfigs_result_resources(described, &count);
      if (count != 1) return error(errc::io, "kafka", what + ": the cluster answered for " + std::to_string(count) + " resources");
      e = rd_kafka_ConfigResource_error(results[0]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::map<std::string, std::string> out;
        std::size_t entries = 0;
        const rd_kafka_ConfigEntry_t** config = rd_kafka_ConfigResource_configs(results[0], &entries);
        for (std::size_t i = 0; i < entries; ++i) {
          const char* value = rd_kafka_ConfigEntry_value(config[i]);
          out.emplace(rd_kafka_ConfigEntry_name(config[i]), value ? value : "");
        }
        return out;
      }
    }
    if (!settling(e) || passed(until)) return translate(e, what, context);
    pause_briefly();
  }
}

void partition_reader::started_partitions::stop(std::uint32_t p) noexcept {
  if (!on_[p]) return;
  rd_kafka_consume_stop(topic_, static_cast<std::int32_t>(p));
  on_[p] = false;
}

void partition_reader::started_partitions::stop_all() noexcept {
  for (std::uint32_t p = 0; p < on_.size(); ++p) stop(p);
}

result<partition_reader> partition_reader::open(std::unique_ptr<client_context> context, client_ptr client,
                                                const std::string& topic, std::uint32_t partitions,
                                                fetch when) {
  topic_ptr handle(rd_kafka_topic_new(client.get(), topic.c_str(), nullptr));
  if (!handle) return translate(rd_kafka_last_error(), "reading " + topic, *context);
  queue_ptr queue(rd_kafka_queue_new(client.get()));
  partition_reader reader(std::move(context), std::move(client), std::move(handle), std::move(queue), topic,
                          partitions);
  reader.when_ = when;
  reader.started_ = started_partitions(reader.topic_handle_.get(), partitions);
  if (when == fetch::ahead)
    for (std::uint32_t p = 0; p < partitions; ++p)
      if (auto s = reader.start(p); !s) return s.error();
  return reader;
}

status partition_reader::start(std::uint32_t p) {
  if (started_.on(p)) return ok;
  if (rd_kafka_consume_start_queue(topic_handle_.get(), static_cast<std::int32_t>(p),
                                   next_[p] > 0 ? next_[p] : RD_KAFKA_OFFSET_BEGINNING, queue_.get()) == -1)
    return translate(rd_kafka_last_error(), fmt::format("reading partition {} of {}", p, topic_), *context_);
  started_.started(p);
  return ok;
}

status partition_reader::reposition(const std::vector<std::int64_t>& offsets) {
  if (when_ != fetch::while_reading)
    return error(errc::invalid_argument, "reader",
                 fmt::format("the reader of {} fetches ahead; only one that fetches while reading moves", topic_));
  if (offsets.size() != next_.size())
    return error(errc::invalid_argument, "partition", fmt::format("{} has {} partitions", topic_, next_.size()));
  next_ = offsets;
  broken_.reset();
  return ok;
}

std::size_t partition_reader::queued() const { return rd_kafka_queue_length(queue_.get()); }

void partition_reader::rest() noexcept {
  if (when_ != fetch::while_reading) return;
  started_.stop_all();
  // What was fetched past the read (a partition's end, records beyond it) goes now: the next
  // read starts each partition again where it stands.
  while (message_ptr m{rd_kafka_consume_queue(queue_.get(), 0)}) {
  }
}

status partition_reader::read_to_end(const record_fn& on_record, deadline until) {
  if (broken_) return *broken_;
  // The last stable offset of each partition: a read_committed client's offset query answers
  // it (ListOffsets carries the client's isolation level).
  const auto all = every_partition(static_cast<std::uint32_t>(next_.size()));
  auto starts = partition_offsets(client_.get(), topic_, all, RD_KAFKA_OFFSET_BEGINNING, *context_, until);
  if (!starts) return starts.error();
  for (std::size_t p = 0; p < next_.size(); ++p)
    if (next_[p] < (*starts)[p])
      return error(errc::corrupt, "kafka",
                   fmt::format("partition {} of {} starts at offset {}, past {} that this reader needs: "
                               "events were deleted (retention, or a broker that lost data), so the log "
                               "cannot be read whole",
                               p, topic_, (*starts)[p], next_[p]));
  auto ends = partition_offsets(client_.get(), topic_, all, RD_KAFKA_OFFSET_END, *context_, until);
  if (!ends) return ends.error();
  return read_up_to(*ends, on_record, until);
}

status partition_reader::read_up_to(const std::vector<std::int64_t>& target, const record_fn& on_record,
                                    deadline until) {
  if (broken_) return *broken_;
  if (target.size() != next_.size())
    return error(errc::invalid_argument, "partition", fmt::format("{} has {} partitions", topic_, next_.size()));
  const std::string what = "reading " + topic_;
  const auto behind = [&]() -> std::optional<std::size_t> {
    for (std::size_t p = 0; p < next_.size(); ++p)
      if (next_[p] < target[p]) return p;
    return std::nullopt;
  };
  // Whatever way the read ends, a reader that fetches only while reading stops here.
  struct resting {
    partition_reader& r;
    ~resting() { r.rest(); }
  } rests_after{*this};
  for (std::uint32_t p = 0; p < next_.size(); ++p)
    if (next_[p] < target[p])
      if (auto s = start(p); !s) return s;
  rd_kafka_resp_err_t last_problem = RD_KAFKA_RESP_ERR_NO_ERROR;
  while (auto lagging = behind()) {
    if (passed(until)) {
      return translate(last_problem != RD_KAFKA_RESP_ERR_NO_ERROR ? last_problem : RD_KAFKA_RESP_ERR__TIMED_OUT,
                       fmt::format("{}: partition {} reached offset {} of {}", what, *lagging, next_[*lagging],
                                   target[*lagging]),
                       *context_);
    }
    rd_kafka_poll(client_.get(), 0);  // error callbacks
    message_ptr m(rd_kafka_consume_queue(queue_.get(), std::min(remaining_ms(until), 100)));
    if (!m) continue;
    const auto p = static_cast<std::size_t>(m->partition);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (p < next_.size()) next_[p] = std::max(next_[p], m->offset);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The client keeps retrying on its own while the cluster is away; anything else is final.
      if (is_unreachable(m->err)) {
        last_problem = m->err;
        continue;
      }
      return translate(m->err, what, *context_, rd_kafka_message_errstr(m.get()));
    }
    if (p >= next_.size() || m->offset < next_[p]) continue;  // not ours, or handed on before
    if (auto s = on_record(*m); !s) {
      broken_ = s.error();
      return s;
    }
    next_[p] = m->offset + 1;
  }
  return ok;
}

result<partition_cursor> partition_cursor::open(std::unique_ptr<client_context> context, client_ptr client,
                                                const std::string& topic, std::uint32_t partitions) {
  topic_ptr handle(rd_kafka_topic_new(client.get(), topic.c_str(), nullptr));
  if (!handle) return translate(rd_kafka_last_error(), "reading " + topic, *context);
  return partition_cursor(std::move(context), std::move(client), std::move(handle), topic, partitions);
}

partition_cursor::~partition_cursor() {
  if (!topic_handle_) return;
  for (std::size_t p = 0; p < next_.size(); ++p)
    if (next_[p] >= 0) rd_kafka_consume_stop(topic_handle_.get(), static_cast<std::int32_t>(p));
}

result<std::int64_t> partition_cursor::end(std::uint32_t partition, deadline until) {
  auto ends = partition_offsets(client_.get(), topic_, {partition}, RD_KAFKA_OFFSET_END, *context_, until);
  if (!ends) return ends.error();
  return ends->front();
}

result<std::vector<message_ptr>> partition_cursor::read(std::uint32_t partition, std::int64_t from, std::size_t max,
                                                        deadline until, std::int64_t* stable_out) {
  std::vector<message_ptr> out;
  if (partition >= next_.size())
    return error(errc::invalid_argument, "partition", fmt::format("{} has partitions 0 to {}", topic_, next_.size() - 1));
  auto stable = end(partition, until);
  if (!stable) return stable.error();
  if (stable_out) *stable_out = *stable;
  if (from >= *stable || max == 0) return out;
  const auto p = static_cast<std::int32_t>(partition);
  const std::string what = fmt::format("reading partition {} of {}", partition, topic_);
  if (next_[partition] < 0) {
    if (rd_kafka_consume_start(topic_handle_.get(), p, from) == -1) return translate(rd_kafka_last_error(), what, *context_);
    next_[partition] = from;
  } else if (next_[partition] != from) {
    const auto e = rd_kafka_seek(topic_handle_.get(), p, from, remaining_ms(until));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return translate(e, what, *context_);
    next_[partition] = from;
  }
  rd_kafka_resp_err_t last_problem = RD_KAFKA_RESP_ERR_NO_ERROR;
  while (out.size() < max && next_[partition] < *stable) {
    if (passed(until))
      return translate(last_problem != RD_KAFKA_RESP_ERR_NO_ERROR ? last_problem : RD_KAFKA_RESP_ERR__TIMED_OUT,
                       fmt::format("{}: reached offset {} of {}", what, next_[partition], *stable), *context_);
    rd_kafka_poll(client_.get(), 0);
    message_ptr m(rd_kafka_consume(topic_handle_.get(), p, std::min(remaining_ms(until), 100)));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      next_[partition] = std::max(next_[partition], m->offset);
      if (m->offset >= *stable) break;
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (is_unreachable(m->err)) {
        last_problem = m->err;
        continue;
      }
      return translate(m->err, what, *context_, rd_kafka_message_errstr(m.get()));
    }
    if (m->offset < from) continue;  // fetched before the seek
    next_[partition] = m->offset + 1;
    out.push_back(std::move(m));
  }
  return out;
}

void group_offsets::handle_deleter::operator()(rd_kafka_t* rk) const noexcept {
  // Never subscribed, so there is no group to leave; closing would only wait for the commits
  // the destructor gave up on.
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

group_offsets::~group_offsets() {
  {
    std::unique_lock lock(mutex_);
    if (!client_) return;
    const deadline until = deadline_after(linger_);
    for (;;) {
      // After a failure, not again: with the cluster away that would only double the wait.
      if (!in_flight_ && !failed_) send_locked();
      if (!in_flight_ || settled_.wait_until(lock, until) == std::cv_status::timeout) break;
    }
    closing_ = true;
  }
  // Unlocked: destroying the client joins its background thread, which may be waiting for the
  // lock in answered().
  results_.reset();
  client_.reset();
}

bool group_offsets::start_locked() {
  if (client_) return true;
  if (broken_) return false;
  context_ = std::make_unique<client_context>(bootstrap_);
  context_->on_background_event = [this](rd_kafka_event_t& ev) { answered(ev); };
  auto settings = base_settings(bootstrap_, "sazesh-progress");
  settings.insert(settings.end(), {
                                      {"group.id", group_},
                                      {"enable.auto.commit", "false"},
                                      {"enable.auto.offset.store", "false"},
                                      {"allow.auto.create.topics", "false"},
                                  });
  settings.insert(settings.end(), settings_.begin(), settings_.end());
  // A commit waits this long for a coordinator to be found (45 s by default), and destroying
  // the client waits for such a commit: half the linger, so that with the cluster away the last
  // commit has failed, and the client goes at once, within about the linger.
  settings.emplace_back("session.timeout.ms", std::to_string(std::max<long long>(linger_.count() / 2, 1)));
  auto made = make_client(RD_KAFKA_CONSUMER, settings, *context_);
  if (!made) {
    broken_ = true;
    return false;
  }
  client_.reset(made->release());
  results_.reset(rd_kafka_queue_get_background(client_.get()));
  if (!results_) {
    broken_ = true;
    return false;
  }
  return true;
}

// Sends every offset the cluster has not confirmed, if any. With the lock held, nothing in flight.
void group_offsets::send_locked() {
  if (closing_ || !client_) return;
  partition_list_ptr offsets(rd_kafka_topic_partition_list_new(static_cast<int>(wanted_.size())));
  for (const auto& [partition, offset] : wanted_) {
    auto it = done_.find(partition);
    if (it != done_.end() && it->second == offset) continue;
    rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), static_cast<std::int32_t>(partition))->offset = offset;
  }
  if (offsets->cnt == 0) return;
  if (rd_kafka_commit_queue(client_.get(), offsets.get(), results_.get(), nullptr, nullptr) ==
      RD_KAFKA_RESP_ERR_NO_ERROR)
    in_flight_ = true;
}

// In librdkafka's background thread: the answer to the commit in flight.
void group_offsets::answered(rd_kafka_event_t& ev) {
  if (rd_kafka_event_type(&ev) != RD_KAFKA_EVENT_OFFSET_COMMIT) return;
  std::lock_guard lock(mutex_);
  in_flight_ = false;
  auto e = rd_kafka_event_error(&ev);
  // A partition the cluster refused stays unconfirmed, and is sent again with the next set().
  if (const rd_kafka_topic_partition_list_t* answer = rd_kafka_event_topic_partition_list(&ev);
      answer != nullptr && e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < answer->cnt; ++i) {
      const auto& tp = answer->elems[i];
      if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR) done_[static_cast<std::uint32_t>(tp.partition)] = tp.offset;
      else e = tp.err;
    }
  }
  failed_ = e != RD_KAFKA_RESP_ERR_NO_ERROR;
  // Only after a success is what was set meanwhile sent from here: sending again after a
  // refusal would make a busy loop of a cluster that refuses at once.
  if (!failed_) send_locked();
  else context_->note_problem(fmt::format("committing the offsets of group {}: {}", group_, rd_kafka_err2name(e)));
  settled_.notify_all();
}

void group_offsets::set(std::uint32_t partition, std::int64_t offset) {
  std::lock_guard lock(mutex_);
  if (!start_locked()) return;
  wanted_[partition] = offset;
  if (!in_flight_) send_locked();
}

}  // namespace sazesh::kafka
