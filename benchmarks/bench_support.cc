#include "benchmarks/bench_support.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <fstream>
#include <limits>

#include "engine/kafka/kafka_log.h"

namespace sazesh::bench {

// Peak resident set of this process, MiB (VmHWM).
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

std::uint64_t folder_bytes(const fs::path& p) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(p, ec); it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file(ec)) n += it->file_size(ec);
  return n;
}

// p in [0, 100] of microsecond samples.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::min<double>(static_cast<double>(v.size() - 1),
                                                           p / 100.0 * static_cast<double>(v.size())));
  return v[i];
}

std::string latency_json(const std::vector<double>& us) {
  return fmt::format(R"({{"samples":{},"p50_us":{:.1f},"p99_us":{:.1f},"max_us":{:.1f}}})", us.size(),
                     percentile(us, 50), percentile(us, 99), percentile(us, 100));
}

// The generator's shape for a log of about `events` events: one business per ~400 events,
// complaints Zipf-skewed across them, 2% of cases chatty (about 50 events each).
history_options workload(std::uint64_t events, std::size_t clients) {
  history_options o;
  o.businesses = std::max<std::size_t>(20, events / 400 / clients);
  o.consumers = std::max<std::size_t>(100, events / 40 / clients);
  o.mediators = 12;
  o.in_flight = 64;
  o.cases = std::numeric_limits<std::size_t>::max();
  o.refuse_rate = 0.01;
  o.seal_rate = 0.0005;
  o.business_skew = 1.0;
  o.chatty_rate = 0.02;
  o.ignore_weight = 0.3;
  o.escalation = 0.25;
  o.jump_to_deadlines = false;
  o.max_steps_per_case = 2000;  // waiting steps count too
  o.max_step_minutes = 10;      // with 64 cases in flight, about 5 hours between a case's steps
  return o;
}

kafka_log_options kafka_options(const args& a, bool follower) {
  kafka_log_options o;
  o.bootstrap_servers = a.str("kafka");
  o.topic_prefix = a.str("prefix");
  o.partitions = static_cast<std::uint32_t>(a.num("partitions", 3));
  o.follower = follower;
  o.transactional_writers = static_cast<std::uint32_t>(a.num("writers", o.transactional_writers));
  o.replication_factor = static_cast<std::int16_t>(a.num("replication", 1));  // the bench broker: one node
  if (a.has("local-dir")) o.local_dir = a.str("local-dir");
  // --kafka-debug eos,protocol: librdkafka's own trace of each request (with SAZESH_KAFKA_DEBUG
  // set, printed on stderr), to see where a unit's time goes.
  if (a.has("kafka-debug")) o.config["debug"] = a.str("kafka-debug");
  // --kafka-set name=value,name=value: librdkafka settings over the engine's own, to weigh one.
  if (a.has("kafka-set"))
    if (auto s = add_kafka_settings(split_kafka_settings(a.str("kafka-set")), o.config, "--kafka-set"); !s)
      die(s.error().message());
  // A first open reads the whole topic into the local store (engine/kafka/kafka_log.h): at
  // 10M events that is minutes, past the default bound of 30 s on each blocking step.
  o.timeout = std::chrono::milliseconds(a.num("timeout-ms", 1'800'000));
  return o;
}

opened_log open_log(const args& a, bool sync, bool follower) {
  const auto t = clk::now();
  opened_log out;
  if (a.has("kafka")) {
    out.log = must(open_kafka_log(kafka_options(a, follower)), "open_kafka_log");
  } else {
    out.log = must(open_embedded_log(fs::path(a.str("dir")) / "log", embedded_log_options{.sync = sync, .follower = follower}),
                   "open_embedded_log");
  }
  out.open_seconds = seconds_since(t);
  return out;
}

// Calls f on every event of the log, partition after partition, a batch in memory at a time.
void for_each_event(event_log& log, const std::function<void(stored_event&)>& f) {
  for (std::uint32_t p = 0; p < log.partitions(); ++p) {
    log_position at(0);
    for (;;) {
      auto batch = must(log.read_partition(p, at, 65536), "read_partition");
      if (batch.empty()) break;
      at = log_position(batch.back().position.value() + 1);
      for (auto& e : batch) f(e);
    }
  }
}

std::vector<stored_event> read_everything(event_log& log) {
  std::vector<stored_event> all;
  for_each_event(log, [&](stored_event& e) { all.push_back(std::move(e)); });
  return all;
}

// Creates topics that do not exist yet (errors such as "already exists" are ignored): the
// agencies' feeds, which the Kafka log would otherwise create on first use, inside the timed
// run (about a second each), as no running deployment does.
void create_topics(const std::string& bootstrap, const std::vector<std::string>& names, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) die(err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) die(err);
  std::vector<rd_kafka_NewTopic_t*> topics;
  for (const auto& n : names) topics.push_back(rd_kafka_NewTopic_new(n.c_str(), partitions, 1, err, sizeof err));
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, topics.data(), topics.size(), nullptr, q);
  if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30'000)) rd_kafka_event_destroy(ev);
  for (auto* t : topics) rd_kafka_NewTopic_destroy(t);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
}

}  // namespace sazesh::bench
