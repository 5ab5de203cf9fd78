// sazesh-bench: the benchmark programs, one subcommand each, every one printing a single line
// of JSON (figures, the raw limit measured beside them where there is one, and the process's
// peak RSS). benchmarks/run.py runs them in order and builds the report.
//
//   sazesh-bench generate   --dir D --events N            a workload log, through the engine
//   sazesh-bench engine-open --dir D                      fold a log into the engine (time, RSS)
//   sazesh-bench append     --dir D --clients K --events N [--kafka B --prefix P]
//                                                         commands decided and made durable
//   sazesh-bench raw-append --source D --dir D2 --clients K --events N
//                                                         synced RocksDB writes of the same bytes
//   sazesh-bench raw-kafka  --source D --kafka B --topic T   librdkafka, acks=all, same bytes
//   sazesh-bench rebuild    --dir D --out P [--kafka B --prefix P]   projector rebuild
//   sazesh-bench raw-keys   --dir D --keys N              RocksDB batch writes of N keys
//   sazesh-bench replay     --dir D --samples S           one case's history, read and folded
//   sazesh-bench queries    --projections P --samples S   point and list queries
//
// Every workload comes from one generator (workload/history_generator.h, driven through the
// engine exactly as the CLI would): Zipf-skewed complaints per business, the lifecycle's real
// paths with their deadlines, Persian text, and a share of long ("chatty") cases.

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/codec.h"
#include "engine/engine.h"
#include "engine/event_log.h"
#include "engine/evolve.h"
#include "engine/kafka_log.h"
#include "projections/projector.h"
#include "projections/queries.h"
#include "projections/store.h"
#include "workload/history_generator.h"

namespace sazesh::bench {
namespace {

namespace fs = std::filesystem;
namespace pj = sazesh::projections;
using clk = std::chrono::steady_clock;
using workload::history_generator;
using workload::history_options;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "sazesh-bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T must(result<T> r, const char* what) {
  if (!r) die(fmt::format("{}: {}", what, r.error().message()));
  return std::move(*r);
}

// ---- arguments, figures -----------------------------------------------------------------------

struct args {
  std::map<std::string, std::string> values;
  args(int argc, char** argv, int from) {
    for (int i = from; i < argc; ++i) {
      std::string k = argv[i];
      if (k.rfind("--", 0) != 0 || i + 1 >= argc) die("arguments are --name value pairs; bad: " + k);
      values[k.substr(2)] = argv[++i];
    }
  }
  std::string str(const std::string& k, std::string def = {}) const {
    auto it = values.find(k);
    if (it != values.end()) return it->second;
    if (def.empty()) die("--" + k + " is required");
    return def;
  }
  bool has(const std::string& k) const { return values.count(k) > 0; }
  std::uint64_t num(const std::string& k, std::uint64_t def) const {
    auto it = values.find(k);
    return it == values.end() ? def : std::stoull(it->second);
  }
};

double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

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
history_options workload(std::uint64_t events, std::size_t clients = 1) {
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

struct opened_log {
  std::unique_ptr<event_log> log;
  double open_seconds = 0;
};

opened_log open_log(const args& a, bool sync, bool follower = false) {
  const auto t = clk::now();
  opened_log out;
  if (a.has("kafka")) {
    kafka_log_options o;
    o.bootstrap_servers = a.str("kafka");
    o.topic_prefix = a.str("prefix");
    o.partitions = static_cast<std::uint32_t>(a.num("partitions", 3));
    o.follower = follower;
    // Opening reads the whole topic into the log's in-memory index (engine/kafka_log.h): at
    // 10M events that is minutes, past the default bound of 30 s on each blocking step.
    o.timeout = std::chrono::milliseconds(a.num("timeout-ms", 1'800'000));
    out.log = must(open_kafka_log(o), "open_kafka_log");
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

// ---- generate ---------------------------------------------------------------------------------

int generate(const args& a) {
  const std::uint64_t target = a.num("events", 100'000);
  auto l = open_log(a, false);
  fixed_clock clock(history_generator::default_start());
  auto eng = must(engine::open(*l.log, clock), "engine::open");
  history_generator gen(*eng, clock, a.num("seed", 1), workload(target));
  const auto t = clk::now();
  gen.register_parties();
  while (gen.stats().events < target && gen.step()) {
  }
  const double s = seconds_since(t);
  std::map<std::string, std::uint64_t> statuses, outcomes;
  for (const auto& [id, c] : eng->state().cases) {
    statuses[std::string(to_string(c.status))] += 1;
    if (c.close_reason) outcomes[fb::EnumNameCloseReason(*c.close_reason)] += 1;
  }
  std::uint64_t chatty = 0;
  for (const auto& [id, c] : eng->state().cases) chatty += c.head.version.value() >= 45;
  const auto to_json = [](const std::map<std::string, std::uint64_t>& m) {
    std::string out = "{";
    for (const auto& [k, v] : m) out += fmt::format("{}\"{}\":{}", out.size() > 1 ? "," : "", k, v);
    return out + "}";
  };
  if (a.has("actions"))
    for (const auto& [k, v] : gen.stats().actions) std::fprintf(stderr, "%s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  std::printf(R"({"events":%llu,"commands":%llu,"refused":%llu,"unexpected":%llu,"cases":%zu,"businesses":%zu,"long_cases":%llu,"seconds":%.3f,"events_per_second":%.0f,"log_bytes":%llu,"peak_rss_mib":%.1f,"statuses":%s,"close_reasons":%s})"
              "\n",
              static_cast<unsigned long long>(gen.stats().events), static_cast<unsigned long long>(gen.stats().commands),
              static_cast<unsigned long long>(gen.stats().refused), static_cast<unsigned long long>(gen.stats().unexpected),
              eng->state().cases.size(), eng->state().businesses.size(), static_cast<unsigned long long>(chatty), s,
              static_cast<double>(gen.stats().events) / s,
              static_cast<unsigned long long>(folder_bytes(fs::path(a.str("dir")) / "log")), peak_rss_mib(),
              to_json(statuses).c_str(), to_json(outcomes).c_str());
  return 0;
}

// ---- engine-open ------------------------------------------------------------------------------

int engine_open(const args& a) {
  auto l = open_log(a, true);
  system_clock_source clock;
  const auto t = clk::now();
  auto eng = must(engine::open(*l.log, clock), "engine::open");
  const double s = seconds_since(t);
  const std::uint64_t events = must(l.log->end(), "end").value();
  std::printf(R"({"events":%llu,"cases":%zu,"log_open_seconds":%.3f,"fold_seconds":%.3f,"events_per_second":%.0f,"peak_rss_mib":%.1f})"
              "\n",
              static_cast<unsigned long long>(events), eng->state().cases.size(), l.open_seconds, s,
              static_cast<double>(events) / s, peak_rss_mib());
  return 0;
}

// ---- append: the engine, K clients ------------------------------------------------------------

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

int append(const args& a) {
  const std::uint64_t target = a.num("events", 20'000);
  const std::size_t clients = a.num("clients", 1);
  if (a.has("kafka")) {
    std::vector<std::string> feeds;
    for (const char* agency : {"consumer-protection", "tazirat", "cyber-police", "guild-union"})
      feeds.push_back(kafka_agency_topic(a.str("prefix"), agency));
    create_topics(a.str("kafka"), feeds, 1);
  }
  auto l = open_log(a, a.num("sync", 1) != 0);
  fixed_clock clock(history_generator::default_start());
  auto eng = must(engine::open(*l.log, clock), "engine::open");
  std::vector<std::unique_ptr<history_generator>> gens;
  for (std::size_t k = 0; k < clients; ++k) {
    auto o = workload(target * 4, clients);
    o.party_offset = k * o.businesses;
    o.max_step_minutes = 60 / static_cast<std::int64_t>(clients) + 1;  // one shared clock
    gens.push_back(std::make_unique<history_generator>(*eng, clock, 1000 + k, o));
  }
  // Parties first, untimed: a log starts with its registrations, not with this benchmark.
  {
    gens.front()->register_parties();  // the agencies, which all share
    std::vector<std::thread> ts;
    for (std::size_t k = 1; k < gens.size(); ++k) ts.emplace_back([&, k] { gens[k]->register_parties(); });
    for (auto& t : ts) t.join();
  }
  std::uint64_t base_events = 0, base_commands = 0;
  for (auto& g : gens) base_events += g->stats().events, base_commands += g->stats().commands;

  std::atomic<std::uint64_t> events{0};
  std::vector<std::vector<double>> latencies(clients);
  std::mutex failure_mutex;
  std::string failure;
  const auto t = clk::now();
  {
    std::vector<std::thread> ts;
    for (std::size_t k = 0; k < clients; ++k) {
      ts.emplace_back([&, k] {
        history_generator& g = *gens[k];
        auto last = clk::now();
        std::uint64_t seen = g.stats().events;
        try {
          while (events.load() < target) {
            g.step([&] {
              const auto now = clk::now();
              latencies[k].push_back(std::chrono::duration<double, std::micro>(now - last).count());
              last = now;
              events += g.stats().events - seen;
              seen = g.stats().events;
            });
          }
        } catch (const std::exception& e) {
          std::lock_guard lock(failure_mutex);
          failure = e.what();
          events = target;
        }
      });
    }
    for (auto& th : ts) th.join();
  }
  const double s = seconds_since(t);
  if (!failure.empty()) die(failure);
  std::uint64_t total_events = 0, commands = 0, unexpected = 0;
  for (auto& g : gens) {
    total_events += g->stats().events;
    commands += g->stats().commands + g->stats().refused;
    unexpected += g->stats().unexpected;
  }
  total_events -= base_events;
  commands -= base_commands;
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::printf(R"({"clients":%zu,"commands":%llu,"events":%llu,"unexpected":%llu,"seconds":%.3f,"commands_per_second":%.0f,"events_per_second":%.0f,"latency":%s,"peak_rss_mib":%.1f})"
              "\n",
              clients, static_cast<unsigned long long>(commands), static_cast<unsigned long long>(total_events),
              static_cast<unsigned long long>(unexpected), s, static_cast<double>(commands) / s,
              static_cast<double>(total_events) / s, latency_json(all).c_str(), peak_rss_mib());
  return 0;
}

// ---- raw-append: synced RocksDB writes of the same bytes --------------------------------------

// An empty RocksDB with default options in `dir` (anything there before is removed): the raw
// limits are RocksDB as it comes.
std::unique_ptr<rocksdb::DB> fresh_rocksdb(const fs::path& dir) {
  fs::remove_all(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (auto s = rocksdb::DB::Open(o, dir.string(), &raw); !s.ok()) die(s.ToString());
  return std::unique_ptr<rocksdb::DB>(raw);
}

// The source log's events grouped as their commands wrote them.
std::vector<std::vector<std::string>> command_groups(event_log& log, std::uint64_t max_events) {
  std::vector<std::vector<std::string>> groups;
  std::string last_command;
  std::uint64_t n = 0;
  for (auto& e : read_everything(log)) {
    if (n++ >= max_events) break;
    auto rec = must(decode(e.bytes), "decode");
    if (groups.empty() || rec.command_id != last_command) groups.emplace_back();
    last_command = rec.command_id;
    groups.back().push_back(std::move(e.bytes));
  }
  return groups;
}

int raw_append(const args& a) {
  const std::size_t clients = a.num("clients", 1);
  const std::uint64_t target = a.num("events", 20'000);
  std::vector<std::vector<std::string>> groups;
  {
    auto src = must(open_embedded_log(fs::path(a.str("source")) / "log", {.sync = false, .follower = true}), "source");
    groups = command_groups(*src, target);
  }
  const fs::path dir = a.str("dir");
  auto db = fresh_rocksdb(dir);
  rocksdb::WriteOptions w;
  w.sync = true;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> position{0}, events{0};
  const auto t = clk::now();
  std::vector<std::thread> ts;
  for (std::size_t k = 0; k < clients; ++k) {
    ts.emplace_back([&] {
      for (;;) {
        const std::size_t i = next++;
        if (i >= groups.size()) return;
        rocksdb::WriteBatch batch;
        for (const auto& e : groups[i]) {
          std::uint64_t p = position++;
          char key[8];
          for (int b = 7; b >= 0; --b, p >>= 8) key[b] = static_cast<char>(p & 0xff);
          batch.Put(rocksdb::Slice(key, 8), e);
        }
        if (auto s = db->Write(w, &batch); !s.ok()) die(s.ToString());
        events += groups[i].size();
      }
    });
  }
  for (auto& th : ts) th.join();
  const double s = seconds_since(t);
  std::printf(R"({"clients":%zu,"writes":%zu,"events":%llu,"seconds":%.3f,"writes_per_second":%.0f,"events_per_second":%.0f})"
              "\n",
              clients, groups.size(), static_cast<unsigned long long>(events.load()), s,
              static_cast<double>(groups.size()) / s, static_cast<double>(events.load()) / s);
  db.reset();
  fs::remove_all(dir);
  return 0;
}

// ---- raw-kafka: a plain librdkafka producer of the same bytes ---------------------------------

int raw_kafka(const args& a) {
  std::vector<stored_event> events;
  {
    auto src = must(open_embedded_log(fs::path(a.str("source")) / "log", {.sync = false, .follower = true}), "source");
    events = read_everything(*src);
  }
  const std::uint64_t limit = a.num("events", events.size());
  if (events.size() > limit) events.resize(limit);
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) die(err);
  };
  set("bootstrap.servers", a.str("kafka"));
  set("acks", "all");
  set("enable.idempotence", "true");
  set("linger.ms", a.str("linger-ms", "5"));
  set("queue.buffering.max.messages", "1000000");
  set("queue.buffering.max.kbytes", "1048576");
  std::atomic<std::uint64_t> failed{0};
  rd_kafka_conf_set_opaque(conf, &failed);
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err) ++*static_cast<std::atomic<std::uint64_t>*>(opaque);
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) die(err);
  const std::string topic = a.str("topic");
  const auto partitions = static_cast<std::uint32_t>(a.num("partitions", 3));
  // Topic creation is the broker's (auto-create) or the caller's; not timed either way.
  const auto t = clk::now();
  for (const auto& e : events) {
    for (;;) {
      const rd_kafka_resp_err_t r = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_PARTITION(static_cast<std::int32_t>(kafka_partition_of(e.stream, partitions))),
          RD_KAFKA_V_KEY(e.stream.data(), e.stream.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(e.bytes.data()), e.bytes.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_END);
      if (r == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (r != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(rd_kafka_err2str(r));
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  if (rd_kafka_flush(rk, 120'000) != RD_KAFKA_RESP_ERR_NO_ERROR) die("flush timed out");
  const double s = seconds_since(t);
  rd_kafka_destroy(rk);
  std::uint64_t bytes = 0;
  for (const auto& e : events) bytes += e.bytes.size();
  std::printf(R"({"events":%zu,"failed":%llu,"bytes":%llu,"seconds":%.3f,"events_per_second":%.0f,"mib_per_second":%.1f})"
              "\n",
              events.size(), static_cast<unsigned long long>(failed.load()), static_cast<unsigned long long>(bytes), s,
              static_cast<double>(events.size()) / s, static_cast<double>(bytes) / s / 1048576.0);
  return 0;
}

// ---- rebuild, raw-keys ------------------------------------------------------------------------

int rebuild(const args& a) {
  auto l = open_log(a, false, true);
  const fs::path out = a.str("out");
  fs::remove_all(out);
  const auto t = clk::now();
  auto report = must(pj::rebuild(*l.log, out), "rebuild");
  const double s = seconds_since(t);
  auto store = must(pj::projection_store::open(out, pj::store_mode::read_only), "open projections");
  const auto keys = must(store->key_count(), "key_count");
  std::printf(R"({"events":%llu,"keys":%llu,"log_open_seconds":%.3f,"seconds":%.3f,"events_per_second":%.0f,"projection_bytes":%llu,"peak_rss_mib":%.1f})"
              "\n",
              static_cast<unsigned long long>(report.events), static_cast<unsigned long long>(keys), l.open_seconds, s,
              static_cast<double>(report.events) / s, static_cast<unsigned long long>(folder_bytes(out)), peak_rss_mib());
  return 0;
}

// RocksDB's own write speed for `keys` keys of about the projections' size, in batches of
// 4096 with the write-ahead log off: what a rebuild (bulk load, no WAL) could reach if
// applying events cost nothing.
int raw_keys(const args& a) {
  const std::uint64_t keys = a.num("keys", 1'000'000);
  const std::size_t value_bytes = a.num("value-bytes", 120);
  const fs::path dir = a.str("dir");
  auto db = fresh_rocksdb(dir);
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  std::mt19937_64 rng(7);
  const std::string value(value_bytes, 'v');
  const auto t = clk::now();
  rocksdb::WriteBatch batch;
  for (std::uint64_t i = 0; i < keys; ++i) {
    batch.Put(fmt::format("c/{:016x}/{}", rng(), i), value);
    if (batch.Count() == 4096 || i + 1 == keys) {
      if (auto s = db->Write(w, &batch); !s.ok()) die(s.ToString());
      batch.Clear();
    }
  }
  if (auto s = db->Flush(rocksdb::FlushOptions()); !s.ok()) die(s.ToString());
  const double s = seconds_since(t);
  std::printf(R"({"keys":%llu,"seconds":%.3f,"keys_per_second":%.0f,"peak_rss_mib":%.1f})" "\n",
              static_cast<unsigned long long>(keys), s, static_cast<double>(keys) / s, peak_rss_mib());
  db.reset();
  fs::remove_all(dir);
  return 0;
}

// ---- replay, queries --------------------------------------------------------------------------

int replay(const args& a) {
  auto l = open_log(a, false, true);
  const std::size_t samples = a.num("samples", 2000);
  const std::uint64_t want = a.num("case-events", 50);
  // The cases whose histories are closest to `want` events (the generator's chatty ones).
  std::map<std::string, std::uint64_t> counts;
  for_each_event(*l.log, [&](stored_event& e) {
    if (e.stream.rfind("C-", 0) == 0) counts[e.stream] += 1;
  });
  std::vector<std::pair<std::uint64_t, std::string>> by_distance;
  for (const auto& [id, n] : counts)
    by_distance.emplace_back(n > want ? n - want : want - n, id);
  std::sort(by_distance.begin(), by_distance.end());
  if (by_distance.empty()) die("the log has no cases");
  by_distance.resize(std::min<std::size_t>(by_distance.size(), 200));
  std::mt19937_64 rng(3);
  std::vector<double> us;
  std::uint64_t folded_events = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    const std::string& id = by_distance[rng() % by_distance.size()].second;
    const auto t = clk::now();
    auto stored = must(l.log->read_stream(id, stream_version(1)), "read_stream");
    world w;
    for (const auto& s : stored) evolve(w, must(decode(s.bytes), "decode"));
    us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t).count());
    if (w.find_case(id) == nullptr) die("replay lost case " + id);
    folded_events += stored.size();
  }
  std::printf(R"({"cases":%zu,"mean_events":%.1f,"latency":%s,"peak_rss_mib":%.1f})" "\n", by_distance.size(),
              static_cast<double>(folded_events) / static_cast<double>(samples), latency_json(us).c_str(),
              peak_rss_mib());
  return 0;
}

int queries(const args& a) {
  auto store = must(pj::projection_store::open(a.str("projections"), pj::store_mode::read_only), "open projections");
  const std::size_t samples = a.num("samples", 2000);
  std::vector<std::string> cases, businesses;
  store->scan("c", pj::keys::prefix_end("c"), [&](std::string_view k, std::string_view) {
    if (cases.size() < 200'000) cases.emplace_back(k.substr(1));
    return true;
  });
  for (const auto& sc : must(pj::all_scorecards(*store), "scorecards")) businesses.push_back(sc.business_id);
  if (cases.empty() || businesses.empty()) die("no projections to query");
  std::mt19937_64 rng(5);
  const auto time = [&](const std::function<void()>& f) {
    std::vector<double> us;
    for (std::size_t i = 0; i < samples; ++i) {
      const auto t = clk::now();
      f();
      us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t).count());
    }
    return us;
  };
  std::size_t found = 0;
  auto one_case = time([&] {
    auto r = must(pj::find_case(*store, cases[rng() % cases.size()]), "find_case");
    found += r.has_value();
  });
  auto one_scorecard = time([&] {
    auto r = must(pj::find_scorecard(*store, businesses[rng() % businesses.size()]), "find_scorecard");
    found += r.has_value();
  });
  auto top20 = time([&] { found += must(pj::top_businesses(*store, "complaints", 20), "top").size(); });
  auto filtered = time([&] {
    pj::case_filter f;
    f.business = businesses[rng() % std::min<std::size_t>(businesses.size(), 20)];
    f.status = case_status::with_business;
    f.limit = 50;
    found += must(pj::list_cases(*store, f), "list_cases").size();
  });
  std::printf(R"({"cases":%zu,"businesses":%zu,"found":%zu,"case":%s,"scorecard":%s,"top20":%s,"filtered_list":%s,"peak_rss_mib":%.1f})"
              "\n",
              cases.size(), businesses.size(), found, latency_json(one_case).c_str(), latency_json(one_scorecard).c_str(),
              latency_json(top20).c_str(), latency_json(filtered).c_str(), peak_rss_mib());
  return 0;
}

}  // namespace
}  // namespace sazesh::bench

int main(int argc, char** argv) {
  using namespace sazesh::bench;
  if (argc < 2) die("usage: sazesh-bench SUBCOMMAND --name value ... (see benchmarks/bench.cc)");
  const std::string cmd = argv[1];
  const args a(argc, argv, 2);
  if (cmd == "generate") return generate(a);
  if (cmd == "engine-open") return engine_open(a);
  if (cmd == "append") return append(a);
  if (cmd == "raw-append") return raw_append(a);
  if (cmd == "raw-kafka") return raw_kafka(a);
  if (cmd == "rebuild") return rebuild(a);
  if (cmd == "raw-keys") return raw_keys(a);
  if (cmd == "replay") return replay(a);
  if (cmd == "queries") return queries(a);
  die("unknown subcommand " + cmd);
}
