// What the sazesh-bench programs share: arguments, figures, the workload's shape, opening the
// log under test and reading it whole. Internal to benchmarks/.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/result.h"
#include "engine/kafka/kafka_log.h"
#include "engine/log/event_log.h"
#include "workload/history_generator.h"

namespace sazesh::bench {

namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;
using workload::history_generator;
using workload::history_options;

[[noreturn]] inline void die(const std::string& what) {
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

inline double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

// Peak resident set of this process, MiB (VmHWM).
double peak_rss_mib();
std::uint64_t folder_bytes(const fs::path& p);
// p in [0, 100] of microsecond samples.
double percentile(std::vector<double> v, double p);
std::string latency_json(const std::vector<double>& us);
// The generator's shape for a log of about `events` events: one business per ~400 events,
// complaints Zipf-skewed across them, 2% of cases chatty (about 50 events each).
history_options workload(std::uint64_t events, std::size_t clients = 1);

struct opened_log {
  std::unique_ptr<event_log> log;
  double open_seconds = 0;
};

opened_log open_log(const args& a, bool sync, bool follower = false);
// The Kafka log's options from --kafka, --prefix, --partitions, --replication, --local-dir,
// --kafka-debug and --timeout-ms.
kafka_log_options kafka_options(const args& a, bool follower = false);
// Calls f on every event of the log, partition after partition, a batch in memory at a time.
void for_each_event(event_log& log, const std::function<void(stored_event&)>& f);
std::vector<stored_event> read_everything(event_log& log);
// Creates topics that do not exist yet (errors such as "already exists" are ignored).
void create_topics(const std::string& bootstrap, const std::vector<std::string>& names, int partitions);

// The raw limits (raw_limits.cc): the same bytes written by RocksDB and librdkafka alone.
int raw_append(const args& a);
int raw_kafka(const args& a);
int raw_keys(const args& a);

}  // namespace sazesh::bench
