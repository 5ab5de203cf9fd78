// test_log: the event log a test runs on. The same suites run twice under ctest: on the embedded
// (RocksDB) log by default, and on a real Kafka broker when SAZESH_TEST_LOG=kafka, with the
// broker's bootstrap address in $SAZESH_TEST_KAFKA (tools/test.sh starts one and sets it). A
// Kafka run without a broker FAILS, saying so: a suite that fell back to the embedded log, or
// skipped, would let a Kafka regression through under a green "kafka" entry.
//
//   auto log = open_test_log(dir / "log");                  // the writer
//   auto f = open_test_log(dir / "log", {.follower = true});  // a follower of it
//   cli::run({"--data-dir", dir, <test_log_cli_args(dir)...>, ...});  // the CLI on the same log
//
// On Kafka the folder names the log instead of holding it: its topic prefix is derived from the
// folder's path, this process and a random number drawn once per run, so reopening a folder
// reopens its topic, and no two folders (in this run or an earlier one on the same broker) share
// one. Topics have 3 partitions, so the suites meet a log whose positions count per partition
// and whose read_all() numbering is only this process's (engine/kafka/kafka_log.h, "Reading").
#pragma once

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/log/event_log.h"
#include "engine/kafka/kafka_log.h"

namespace sazesh::testing {

// Also the CLI's default (kafka_log_options::partitions), so CLI commands in the tests open the
// topics the tests made: a writer refuses a topic with another partition count.
inline constexpr std::uint32_t test_kafka_partitions = 3;

// Whether this run is the Kafka one. Safe before any test runs (doctest::skip(on_kafka())).
inline bool on_kafka() {
  const char* which = std::getenv("SAZESH_TEST_LOG");
  return which != nullptr && std::string_view(which) == "kafka";
}

// The broker of a Kafka run; FAILS the test if there is none.
inline std::string test_kafka_broker() {
  const char* bs = std::getenv("SAZESH_TEST_KAFKA");
  if (bs == nullptr || *bs == '\0')
    FAIL("SAZESH_TEST_LOG=kafka but SAZESH_TEST_KAFKA is not set: the Kafka run needs a real broker. Start one "
         "with `export SAZESH_TEST_KAFKA=$(tools/kafka.sh start)` (tools/test.sh does this for the whole suite)");
  return bs;
}

// FAILS the test if SAZESH_TEST_LOG names a log this header does not know: a typo must not
// quietly test the embedded log again.
inline void check_test_log_choice() {
  const char* which = std::getenv("SAZESH_TEST_LOG");
  if (which == nullptr || *which == '\0') return;
  const std::string_view w(which);
  if (w != "kafka" && w != "embedded")
    FAIL("SAZESH_TEST_LOG=" << w << ": the log under test is \"embedded\" (the default) or \"kafka\"");
}

// The topic prefix of the log "in" `folder` on a Kafka run.
inline std::string kafka_prefix_for(const std::filesystem::path& folder) {
  static const std::uint64_t run = std::random_device{}() % 1'000'000;
  // Topic names allow letters, digits, '.', '_' and '-'; '.' ends the prefix, so not in it.
  std::string name;
  for (char c : std::filesystem::absolute(folder).lexically_normal().string()) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    name += plain ? c : '-';
  }
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.size() > 120) {  // topic names are short; a long path keeps its tail and a hash of the rest
    std::uint32_t h = 2166136261u;
    for (unsigned char c : name.substr(0, name.size() - 100)) h = (h ^ c) * 16777619u;
    name = fmt::format("{:08x}-{}", h, name.substr(name.size() - 100));
  }
  return fmt::format("sazesh-test-{}-{}-{}.", name, ::getpid(), run);
}

inline kafka_log_options kafka_test_options(const std::filesystem::path& folder, bool follower) {
  kafka_log_options o;
  o.bootstrap_servers = test_kafka_broker();
  o.topic_prefix = kafka_prefix_for(folder);
  o.partitions = test_kafka_partitions;
  o.follower = follower;
  o.replication_factor = 1;  // the test broker is a single node
  o.timeout = std::chrono::seconds(20);
  return o;
}

// Opens the log under test "in" `folder`: open_embedded_log(folder, options), or on a Kafka run
// the Kafka log named by the folder (options.follower: a Kafka follower; options.sync has no
// Kafka counterpart, every append is acknowledged by all in-sync replicas).
inline result<std::unique_ptr<event_log>> open_test_log(const std::filesystem::path& folder,
                                                        embedded_log_options options = {}) {
  check_test_log_choice();
  if (!on_kafka()) return open_embedded_log(folder, options);
  return open_kafka_log(kafka_test_options(folder, options.follower));
}

// The global CLI options that put a command run with `--data-dir data_dir` on the same log as
// open_test_log(data_dir / "log") (where the CLI keeps the embedded log): none for the embedded
// log, --kafka and --kafka-prefix on a Kafka run.
inline std::vector<std::string> test_log_cli_args(const std::filesystem::path& data_dir) {
  check_test_log_choice();
  if (!on_kafka()) return {};
  return {"--kafka", test_kafka_broker(), "--kafka-prefix", kafka_prefix_for(data_dir / "log"), "--kafka-replication", "1"};
}

// Where a reader of a log stands, per partition: the position after the partition's last event
// (nullopt for a partition with no events, where a projector stores nothing).
using log_cut = std::vector<std::optional<log_position>>;

// Every event of the log, partition by partition, each in its order. On the embedded log this
// is read_all(0, …); on Kafka it gives the same events with the same positions whichever
// process or log object reads them, unlike read_all()'s process-local numbering.
inline std::vector<stored_event> read_partitions(event_log& log) {
  std::vector<stored_event> out;
  for (std::uint32_t p = 0; p < log.partitions(); ++p) {
    auto part = log.read_partition(p, log_position{0}, 100'000'000);
    REQUIRE_MESSAGE(part.has_value(), "read_partition " << p << ": " << part.error().message());
    out.insert(out.end(), std::make_move_iterator(part->begin()), std::make_move_iterator(part->end()));
  }
  return out;
}

// One past the last event of every partition.
inline log_cut end_cut(event_log& log) {
  log_cut cut(log.partitions());
  for (const auto& e : read_partitions(log)) cut.at(e.partition) = log_position(e.position.value() + 1);
  return cut;
}

}  // namespace sazesh::testing
