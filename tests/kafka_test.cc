// Integration tests of the Kafka event log against a real broker, and fault injection with
// librdkafka's mock cluster.
//
// The broker's bootstrap address comes from $SAZESH_TEST_KAFKA (tools/test.sh starts a broker
// with tools/kafka.sh and sets it). Without it every test that needs the broker FAILS, saying so:
// a suite that skips silently would let a Kafka regression through. Each test uses its own topic
// prefix, so tests never see each other's topics, and a broker can be reused across runs.

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/app.h"
#include "cli/feed_line.h"
#include "tests/run_shell.h"
#include "engine/agency_feed.h"
#include "engine/record/codec.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/domain/evolve.h"
#include "engine/kafka/kafka_feed.h"
#include "engine/kafka/kafka_key_store.h"
#include "engine/kafka/kafka_client.h"
#include "engine/kafka/kafka_log.h"
#include "engine/feed_relay.h"
#include "engine/log/checkpoint_store.h"
#include "engine/record/checkpoint.h"
#include "engine/record/hash.h"
#include "engine/record/merkle.h"
#include "engine/log_copy.h"
#include "workload/history_generator.h"
#include "projections/apply.h"
#include "projections/kv.h"
#include "projections/projector.h"
#include "projections/rows.h"
#include "projections/store.h"
#include "schemas/dossier_generated.h"
#include "schemas/schema_json.h"
#include "tests/integrity_probe.h"

namespace sazesh {
namespace {

using namespace std::chrono_literals;
namespace pj = sazesh::projections;
using workload::history_generator;
using workload::history_options;

// ---- the broker, prefixes, folders -------------------------------------------------------------

std::string broker() {
  const char* bs = std::getenv("SAZESH_TEST_KAFKA");
  if (bs == nullptr || *bs == '\0') {
    FAIL("SAZESH_TEST_KAFKA is not set: these tests need a real Kafka broker. Start one with "
         "`export SAZESH_TEST_KAFKA=$(tools/kafka.sh start)` (tools/test.sh does this for the whole suite)");
  }
  return bs;
}

// A topic prefix no other test (in this run or an earlier one on the same broker) uses.
std::string unique_prefix(const std::string& name) {
  static std::atomic<int> counter{0};
  static const std::uint64_t run = std::random_device{}() % 1'000'000;
  return fmt::format("sazesh-test-{}-{}-{}-{}.", name, ::getpid(), run, counter++);
}

kafka_log_options options_for(const std::string& prefix) {
  kafka_log_options o;
  o.bootstrap_servers = broker();
  o.topic_prefix = prefix;
  o.replication_factor = 1;  // the test broker is a single node
  o.timeout = 20s;
  return o;
}

std::unique_ptr<event_log> open_log(const kafka_log_options& o) {
  auto opened = open_kafka_log(o);
  REQUIRE_MESSAGE(opened.has_value(), "open_kafka_log: " << opened.error().message());
  return std::move(opened).value();
}

append_request request(std::string stream, std::uint64_t expected, std::string command_id,
                       std::vector<std::string> events) {
  return append_request{std::move(stream), stream_version{expected}, std::move(command_id), std::move(events)};
}

// Every event of every partition, partition by partition.
std::vector<stored_event> read_everything(event_log& log) {
  std::vector<stored_event> out;
  for (std::uint32_t p = 0; p < log.partitions(); ++p) {
    auto part = log.read_partition(p, log_position{0}, 1'000'000);
    REQUIRE_MESSAGE(part.has_value(), part.error().message());
    out.insert(out.end(), part->begin(), part->end());
  }
  return out;
}

// Streams that land in different partitions of a 3-partition topic, found by the placement
// function itself, so the test says what it means.
std::string stream_in_partition(std::uint32_t partition, std::uint32_t partitions, const std::string& base) {
  for (int i = 0;; ++i) {
    std::string s = fmt::format("{}-{}", base, i);
    if (kafka_partition_of(s, partitions) == partition) return s;
  }
}

// A fresh folder under /tmp, removed with everything in it when the test ends.
class scratch_dir {
 public:
  scratch_dir() {
    std::string pattern = "/tmp/sazesh-kafka-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The source tree, for tools and schemas (this file is tests/kafka_test.cc).
std::filesystem::path source_root() { return std::filesystem::path(__FILE__).parent_path().parent_path(); }


// The seed of a randomised test: SAZESH_SEED if set, else a fresh one. Always printed.
std::uint64_t test_seed(const char* what) {
  std::uint64_t seed = 0;
  if (const char* env = std::getenv("SAZESH_SEED"); env && *env) seed = std::strtoull(env, nullptr, 10);
  else seed = (static_cast<std::uint64_t>(std::random_device{}()) << 20 ^ std::random_device{}()) % 1'000'000'000ULL;
  MESSAGE(std::string(what) << " seed: " << seed << " (rerun with SAZESH_SEED=" << seed << ")");
  return seed;
}

// ---- 1. The event_log contract, as tests/embedded_log_test.cc checks it -------------------------

TEST_CASE("kafka: append and read back, across partitions, with offsets as positions") {
  const auto o = options_for(unique_prefix("basic"));
  auto log = open_log(o);
  REQUIRE(log->partitions() == 3);
  const std::string a = stream_in_partition(0, 3, "case-a");
  const std::string b = stream_in_partition(1, 3, "case-b");

  auto first = log->append(request(a, 0, "cmd-1", {"a1", "a2", "a3"}));
  REQUIRE_MESSAGE(first.has_value(), first.error().message());
  CHECK(first->stream == a);
  CHECK(first->first_sequence == stream_version{1});
  CHECK(first->count == 3);
  CHECK(first->partition == 0);
  CHECK(first->first_position == log_position{0});
  CHECK_FALSE(first->repeated);

  auto second = log->append(request(b, 0, "cmd-2", {"b1", "b2"}));
  REQUIRE(second.has_value());
  CHECK(second->partition == 1);
  CHECK(second->first_position == log_position{0});

  auto third = log->append(request(a, 3, "cmd-3", {"a4", "a5"}));
  REQUIRE(third.has_value());
  CHECK(third->first_sequence == stream_version{4});
  // After the first transaction's records; its commit marker takes offset 3 if it was written
  // before the third's records (it is, with one transactional id; with several it usually is,
  // and may come after them instead).
  const std::uint64_t at = third->first_position.value();
  CHECK((at == 3 || at == 4));

  auto stream = log->read_stream(a, stream_version{0});
  REQUIRE(stream.has_value());
  REQUIRE(stream->size() == 5);
  const std::vector<std::string> expected_bytes{"a1", "a2", "a3", "a4", "a5"};
  const std::vector<std::uint64_t> expected_offsets{0, 1, 2, at, at + 1};
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK((*stream)[i].stream == a);
    CHECK((*stream)[i].partition == 0);
    CHECK((*stream)[i].sequence == stream_version{i + 1});
    CHECK((*stream)[i].bytes == expected_bytes[i]);
    CHECK((*stream)[i].position == log_position{expected_offsets[i]});
  }
  auto tail = log->read_stream(a, stream_version{4});
  REQUIRE(tail.has_value());
  REQUIRE(tail->size() == 2);
  CHECK((*tail)[0].bytes == "a4");

  auto p0 = log->read_partition(0, log_position{3}, 10);
  REQUIRE(p0.has_value());
  REQUIRE(p0->size() == 2);  // a marker's offset holds no event: reading from it starts at the next
  CHECK((*p0)[0].position == log_position{at});
  CHECK(log->read_partition(2, log_position{0}, 10)->empty());
  CHECK_FALSE(log->read_partition(3, log_position{0}, 10).has_value());

  CHECK(log->version(a).value() == stream_version{5});
  CHECK(log->version(b).value() == stream_version{2});
  CHECK(log->version("case-9").value() == stream_version{0});
  auto found = log->find_command("cmd-3");
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->first_sequence == stream_version{4});
  CHECK((*found)->count == 2);
  CHECK((*found)->partition == 0);
  CHECK((*found)->first_position == log_position{at});
  CHECK_FALSE(log->find_command("cmd-unknown")->has_value());

  // read_all numbers events in this process's order: dense from 0.
  auto all = log->read_all(log_position{0}, 100);
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 7);
  for (std::size_t i = 0; i < all->size(); ++i) CHECK((*all)[i].position == log_position{i});
  CHECK(log->end().value() == log_position{7});

  SUBCASE("a follower sees the same, with the offsets and command outcomes rebuilt from the topic") {
    auto fo = o;
    fo.follower = true;
    auto follower = open_log(fo);
    CHECK(follower->partitions() == 3);
    CHECK(follower->version(a).value() == stream_version{5});
    auto fs = follower->read_stream(a, stream_version{1});
    REQUIRE(fs.has_value());
    REQUIRE(fs->size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
      CHECK((*fs)[i].bytes == expected_bytes[i]);
      CHECK((*fs)[i].position == log_position{expected_offsets[i]});
    }
    auto ff = follower->find_command("cmd-3");
    REQUIRE(ff->has_value());
    CHECK((*ff)->count == 2);
    CHECK((*ff)->first_position == log_position{at});
    auto refused = follower->append(request(a, 5, "cmd-f", {"x"}));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code() == errc::unavailable);

    // refresh() brings what the writer commits later.
    REQUIRE(log->append(request(b, 2, "cmd-4", {"b3"})).has_value());
    CHECK(follower->version(b).value() == stream_version{2});
    REQUIRE(follower->refresh().has_value());
    CHECK(follower->version(b).value() == stream_version{3});
    CHECK(follower->read_stream(b, stream_version{3})->at(0).bytes == "b3");
  }

  SUBCASE("a command with no events is remembered and writes nothing") {
    auto empty = log->append(request(b, 2, "cmd-empty", {}));
    REQUIRE(empty.has_value());
    CHECK(empty->count == 0);
    CHECK(empty->first_sequence == stream_version{3});
    auto again = log->append(request(b, 2, "cmd-empty", {}));
    REQUIRE(again.has_value());
    CHECK(again->repeated);
    CHECK(log->version(b).value() == stream_version{2});
  }
}

TEST_CASE("kafka: a stale expected version is a conflict and changes nothing") {
  auto log = open_log(options_for(unique_prefix("conflict")));
  REQUIRE(log->append(request("case-1", 0, "cmd-1", std::vector<std::string>(7, "e"))).has_value());
  auto stale = log->append(request("case-1", 5, "cmd-2", {"late"}));
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code() == errc::conflict);
  CHECK(stale.error().field() == "expected_version");
  CHECK(stale.error().rule().find("stale: the stream is at version 7, the command was decided at 5") == 0);
  auto ahead = log->append(request("case-1", 9, "cmd-3", {"early"}));
  REQUIRE_FALSE(ahead.has_value());
  CHECK(ahead.error().code() == errc::conflict);
  CHECK(log->version("case-1").value() == stream_version{7});
  CHECK_FALSE(log->find_command("cmd-2")->has_value());
  auto retried = log->append(request("case-1", 7, "cmd-2", {"late"}));
  REQUIRE(retried.has_value());
  CHECK_FALSE(retried->repeated);
  CHECK(retried->first_sequence == stream_version{8});
  CHECK(read_everything(*log).size() == 8);
}

TEST_CASE("kafka: a repeated command id returns the first outcome and writes nothing") {
  auto log = open_log(options_for(unique_prefix("repeat")));
  auto first = log->append(request("case-1", 0, "cmd-1", {"x", "y"}));
  REQUIRE(first.has_value());
  REQUIRE(log->append(request("case-1", 2, "cmd-2", {"z"})).has_value());
  auto again = log->append(request("case-1", 0, "cmd-1", {"other"}));
  REQUIRE_MESSAGE(again.has_value(), again.error().message());
  CHECK(again->repeated);
  CHECK(again->first_sequence == first->first_sequence);
  CHECK(again->count == 2);
  CHECK(again->first_position == first->first_position);
  CHECK(read_everything(*log).size() == 3);
  CHECK(log->version("case-1").value() == stream_version{3});
}

TEST_CASE("kafka: bad requests are refused naming the field") {
  auto log = open_log(options_for(unique_prefix("bad")));
  auto no_stream = log->append(request("", 0, "c", {"x"}));
  REQUIRE_FALSE(no_stream.has_value());
  CHECK(no_stream.error().field() == "stream");
  auto no_command = log->append(request("s", 0, "", {"x"}));
  REQUIRE_FALSE(no_command.has_value());
  CHECK(no_command.error().field() == "command_id");
  // Too large for a Kafka record: refused before anything is produced.
  auto big = log->append(request("s", 0, "c-big", {"small", std::string(2'000'000, 'x')}));
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().code() == errc::invalid_argument);
  CHECK(big.error().field() == "events");
  CHECK(log->version("s").value() == stream_version{0});
  auto fine = log->append(request("s", 0, "c-big", {"small"}));
  REQUIRE_MESSAGE(fine.has_value(), fine.error().message());
  CHECK(fine->first_position == log_position{0});
}

TEST_CASE("kafka: concurrent appends from many threads keep every stream dense and in order") {
  auto log = open_log(options_for(unique_prefix("threads")));
  constexpr int threads = 8;
  constexpr int appends_per_thread = 60;
  constexpr int streams_per_thread = 3;
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex failure_mutex;
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<std::uint64_t> versions(streams_per_thread, 0);
      for (int i = 0; i < appends_per_thread; ++i) {
        const int s = i % streams_per_thread;
        const std::string stream = fmt::format("t{}-s{}", t, s);
        auto r = log->append(request(stream, versions[s], fmt::format("c-{}-{}", t, i),
                                     {fmt::format("{}@{}", stream, versions[s] + 1)}));
        if (!r) {
          std::lock_guard lock(failure_mutex);
          if (failures++ == 0) first_failure = r.error().message();
          continue;
        }
        versions[s] += 1;
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  MESSAGE(fmt::format("{} appends from {} threads in {:.2f}s: {:.0f} appends/s (transactions grouped)",
                      threads * appends_per_thread, threads, seconds, threads * appends_per_thread / seconds));
  CHECK_MESSAGE(failures.load() == 0, first_failure);
  auto all = read_everything(*log);
  CHECK(all.size() == threads * appends_per_thread);
  std::map<std::string, std::uint64_t> last;
  for (const auto& e : all) {
    auto& l = last[e.stream];
    CHECK(e.sequence.value() == l + 1);
    CHECK(e.bytes == fmt::format("{}@{}", e.stream, l + 1));
    l = e.sequence.value();
  }
}

// ---- 2. Restarts and fencing ---------------------------------------------------------------------

TEST_CASE("kafka: a restarted writer catches up from the topic before it accepts appends, and continues") {
  const auto o = options_for(unique_prefix("restart"));
  std::map<std::string, std::uint64_t> versions;
  {
    auto log = open_log(o);
    for (int i = 0; i < 30; ++i) {
      const std::string stream = fmt::format("case-{}", i % 7);
      auto r = log->append(request(stream, versions[stream], fmt::format("cmd-{}", i),
                                   {fmt::format("{}#{}", stream, versions[stream] + 1)}));
      REQUIRE_MESSAGE(r.has_value(), r.error().message());
      versions[stream] += 1;
    }
  }
  auto log = open_log(o);
  for (const auto& [stream, version] : versions) CHECK(log->version(stream).value() == stream_version{version});
  auto earlier = log->find_command("cmd-12");
  REQUIRE(earlier->has_value());
  CHECK((*earlier)->stream == "case-5");
  // A command from before the restart is still a repeat; a stale one still a conflict.
  auto again = log->append(request("case-5", 0, "cmd-12", {"again"}));
  REQUIRE(again.has_value());
  CHECK(again->repeated);
  auto stale = log->append(request("case-5", 1, "cmd-new", {"stale"}));
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code() == errc::conflict);
  auto next = log->append(request("case-5", versions["case-5"], "cmd-new", {"next"}));
  REQUIRE_MESSAGE(next.has_value(), next.error().message());
  CHECK(next->first_sequence == stream_version{versions["case-5"] + 1});
  CHECK(read_everything(*log).size() == 31);
}

TEST_CASE("kafka: a second writer fences the first; the first takes over again only after reading what it wrote") {
  const auto o = options_for(unique_prefix("fence"));
  auto older = open_log(o);
  REQUIRE(older->append(request("case-1", 0, "cmd-1", {"one"})).has_value());

  auto newer = open_log(o);  // init_transactions with the same id
  CHECK(newer->version("case-1").value() == stream_version{1});
  auto refused = older->append(request("case-1", 1, "cmd-2", {"from the older writer"}));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == errc::unavailable);
  CHECK_MESSAGE(refused.error().rule().rfind("fenced: another writer of ", 0) == 0, refused.error().rule());
  CHECK_MESSAGE(refused.error().rule().find("nothing was written") != std::string::npos, refused.error().rule());

  auto mine = newer->append(request("case-1", 1, "cmd-2", {"from the newer writer"}));
  REQUIRE_MESSAGE(mine.has_value(), mine.error().message());
  CHECK_FALSE(mine->repeated);

  // The older writer's next append takes the log back: it reads the topic first, so its
  // index holds the newer writer's event, and a decision on the old version is a conflict.
  auto back = older->append(request("case-2", 0, "cmd-3", {"x"}));
  REQUIRE_MESSAGE(back.has_value(), back.error().message());
  CHECK(older->version("case-1").value() == stream_version{2});
  auto stale = older->append(request("case-1", 1, "cmd-4", {"decided on version 1"}));
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code() == errc::conflict);
  auto repeated = older->append(request("case-1", 1, "cmd-2", {"a retry of the fenced one"}));
  REQUIRE(repeated.has_value());
  CHECK(repeated->repeated);  // the newer writer's cmd-2 stands

  // Now the newer writer meets the fence once, and then takes over again in turn.
  auto fenced = newer->append(request("case-1", 2, "cmd-5", {"three"}));
  REQUIRE_FALSE(fenced.has_value());
  CHECK(fenced.error().rule().rfind("fenced:", 0) == 0);
  auto retried = newer->append(request("case-1", 2, "cmd-5", {"three"}));
  REQUIRE_MESSAGE(retried.has_value(), retried.error().message());

  auto fo = o;
  fo.follower = true;
  auto reader = open_log(fo);
  auto events = reader->read_stream("case-1", stream_version{1});
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 3);
  CHECK((*events)[0].bytes == "one");
  CHECK((*events)[1].bytes == "from the newer writer");
  CHECK((*events)[2].bytes == "three");
  auto other = reader->read_stream("case-2", stream_version{1});
  REQUIRE(other.has_value());
  CHECK(other->size() == 1);
}

// Takes a transactional id the way a new writer does (init_transactions), fencing whoever held it.
void take_transactional_id(const std::string& id) {
  char problem[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker().c_str(), problem, sizeof problem);
  rd_kafka_conf_set(conf, "log_level", "0", problem, sizeof problem);
  REQUIRE(rd_kafka_conf_set(conf, "transactional.id", id.c_str(), problem, sizeof problem) == RD_KAFKA_CONF_OK);
  std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, problem, sizeof problem),
                                                        &rd_kafka_destroy);
  REQUIRE_MESSAGE(rk != nullptr, problem);
  rd_kafka_error_t* e = rd_kafka_init_transactions(rk.get(), 30'000);
  const std::string why = e ? rd_kafka_error_string(e) : "";
  if (e) rd_kafka_error_destroy(e);
  REQUIRE_MESSAGE(e == nullptr, why);
}

TEST_CASE("kafka: a writer's transactions take turns on its transactional ids, and a fence on any one of them is a fence") {
  auto o = options_for(unique_prefix("turns"));
  REQUIRE(o.transactional_writers == 4);
  auto log = open_log(o);
  // One round: each of the four producers commits once (ids engine, engine.1, .2, .3).
  for (std::uint64_t v = 0; v < 4; ++v)
    REQUIRE(log->append(request("case-1", v, fmt::format("cmd-{}", v + 1), {fmt::format("e{}", v + 1)})).has_value());
  // Someone else takes the third id only. The next two transactions (engine, engine.1) commit;
  // the third is the fenced producer's turn.
  take_transactional_id(o.topic_prefix + "engine.2");
  REQUIRE(log->append(request("case-1", 4, "cmd-5", {"e5"})).has_value());
  REQUIRE(log->append(request("case-1", 5, "cmd-6", {"e6"})).has_value());
  auto fenced = log->append(request("case-1", 6, "cmd-7", {"e7"}));
  REQUIRE_FALSE(fenced.has_value());
  CHECK_MESSAGE(fenced.error().rule().rfind("fenced: another writer of ", 0) == 0, fenced.error().rule());
  CHECK_MESSAGE(fenced.error().rule().find("engine.2") != std::string::npos, fenced.error().rule());
  // The writer takes every id back, reads the topic, and goes on: nothing lost or doubled.
  auto retried = log->append(request("case-1", 6, "cmd-7", {"e7"}));
  REQUIRE_MESSAGE(retried.has_value(), retried.error().message());
  CHECK_FALSE(retried->repeated);
  for (std::uint64_t v = 7; v < 12; ++v)
    REQUIRE(log->append(request("case-1", v, fmt::format("cmd-{}", v + 1), {fmt::format("e{}", v + 1)})).has_value());
  auto fo = o;
  fo.follower = true;
  auto reader = open_log(fo);
  const auto events = reader->read_stream("case-1", stream_version{1});
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 12);
  for (std::size_t i = 0; i < events->size(); ++i) CHECK((*events)[i].bytes == fmt::format("e{}", i + 1));

  // A writer fences all four ids even when it takes turns on fewer: a second writer on one id
  // stops the first on whichever of its four ids is next.
  auto one_id = o;
  one_id.transactional_writers = 1;
  auto second = open_log(one_id);
  auto refused = log->append(request("case-1", 12, "cmd-13", {"e13"}));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().rule().rfind("fenced:", 0) == 0);
}

TEST_CASE("kafka: writers racing through a takeover never give a stream two events with one sequence") {
  const auto o = options_for(unique_prefix("takeover"));
  auto first = open_log(o);
  constexpr int streams = 4;
  std::atomic<bool> stop{false};
  std::mutex acknowledged_mutex;
  std::vector<std::pair<std::string, std::string>> acknowledged;  // (stream, bytes)
  std::map<std::string, std::string> errors;                      // the last of each kind
  const auto writer_loop = [&](event_log& log, const std::string& who) {
    std::mt19937 rng(std::hash<std::string>{}(who));
    for (int i = 0; !stop; ++i) {
      const std::string stream = fmt::format("case-{}", rng() % streams);
      auto v = log.version(stream);
      if (!v) continue;
      const std::string bytes = fmt::format("{}:{}", who, i);
      auto r = log.append(request(stream, v->value(), fmt::format("{}-{}", who, i), {bytes}));
      if (r && !r->repeated) {
        std::lock_guard lock(acknowledged_mutex);
        acknowledged.emplace_back(stream, bytes);
      }
      if (!r) {
        std::lock_guard lock(acknowledged_mutex);
        errors[who + " " + to_string(r.error().code())] = r.error().message();
        // A fenced writer would take the log back at its next append (see the test above);
        // here each stops at its first fence, as a writer that was replaced would.
        if (r.error().rule().rfind("fenced:", 0) == 0) return;
      }
    }
  };
  std::thread old_writer(writer_loop, std::ref(*first), "old");
  std::this_thread::sleep_for(400ms);
  auto second = open_log(o);  // fences `first` mid-stream
  std::thread new_writer(writer_loop, std::ref(*second), "new");
  std::this_thread::sleep_for(400ms);
  stop = true;
  old_writer.join();
  new_writer.join();

  auto fo = o;
  fo.follower = true;
  auto reader = open_log(fo);  // fails with errc::corrupt on a repeated or missing sequence
  const auto all = read_everything(*reader);
  std::multiset<std::pair<std::string, std::string>> in_topic;
  for (const auto& e : all) in_topic.emplace(e.stream, e.bytes);
  std::multiset<std::pair<std::string, std::string>> acked(acknowledged.begin(), acknowledged.end());
  CHECK(in_topic == acked);  // every acknowledged append once, nothing else
  int old_count = 0, new_count = 0;
  for (const auto& [stream, bytes] : acknowledged) (bytes.rfind("old:", 0) == 0 ? old_count : new_count)++;
  for (const auto& [kind, message] : errors) MESSAGE(kind << ": " << message);
  MESSAGE("acknowledged: " << old_count << " from the fenced writer, " << new_count << " from the new one");
  CHECK(old_count > 0);
  CHECK(new_count > 0);
}

// Topics made and deleted behind the log's back, as an operator (or an accident) would.
class topic_admin {
 public:
  topic_admin() {
    char problem[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", broker().c_str(), problem, sizeof problem);
    rd_kafka_conf_set(conf, "log_level", "0", problem, sizeof problem);
    handle_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, problem, sizeof problem));
    REQUIRE_MESSAGE(handle_ != nullptr, problem);
    queue_.reset(rd_kafka_queue_new(handle_.get()));
  }
  void create(const std::string& topic, int partitions, const std::map<std::string, std::string>& configs) {
    char problem[256];
    rd_kafka_NewTopic_t* spec = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, problem, sizeof problem);
    REQUIRE_MESSAGE(spec != nullptr, problem);
    for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(spec, k.c_str(), v.c_str());
    for (int attempt = 0;; ++attempt) {
      rd_kafka_CreateTopics(handle_.get(), &spec, 1, nullptr, queue_.get());
      auto* ev = rd_kafka_queue_poll(queue_.get(), 20'000);
      REQUIRE(ev != nullptr);
      std::size_t n = 0;
      const auto** results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
      const auto e = n == 1 ? rd_kafka_topic_result_error(results[0]) : rd_kafka_event_error(ev);
      rd_kafka_event_destroy(ev);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      // A topic just deleted under the same name takes a moment to go.
      REQUIRE_MESSAGE((e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && attempt < 100), rd_kafka_err2name(e));
      std::this_thread::sleep_for(200ms);
    }
    rd_kafka_NewTopic_destroy(spec);
    // There once every partition has a leader.
    for (int attempt = 0; attempt < 100; ++attempt) {
      rd_kafka_topic_t* t = rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
      const rd_kafka_metadata_t* md = nullptr;
      const bool there = rd_kafka_metadata(handle_.get(), 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                         md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                         md->topics[0].partition_cnt == partitions &&
                         std::all_of(md->topics[0].partitions, md->topics[0].partitions + partitions,
                                     [](const rd_kafka_metadata_partition_t& p) { return p.leader >= 0; });
      if (md) rd_kafka_metadata_destroy(md);
      rd_kafka_topic_destroy(t);
      if (there) return;
      std::this_thread::sleep_for(200ms);
    }
    FAIL("topic " << topic << " did not appear");
  }
  void remove(const std::string& topic) {
    rd_kafka_DeleteTopic_t* spec = rd_kafka_DeleteTopic_new(topic.c_str());
    rd_kafka_DeleteTopics(handle_.get(), &spec, 1, nullptr, queue_.get());
    auto* ev = rd_kafka_queue_poll(queue_.get(), 20'000);
    REQUIRE(ev != nullptr);
    CHECK(rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy(spec);
    // Gone once the metadata no longer lists it.
    for (int attempt = 0; attempt < 100; ++attempt) {
      rd_kafka_topic_t* t = rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
      const rd_kafka_metadata_t* md = nullptr;
      const bool gone = rd_kafka_metadata(handle_.get(), 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      if (md) rd_kafka_metadata_destroy(md);
      rd_kafka_topic_destroy(t);
      if (gone) return;
      std::this_thread::sleep_for(200ms);
    }
    FAIL("topic " << topic << " was not deleted");
  }

 private:
  struct handle_deleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  };
  struct queue_deleter {
    void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  };
  std::unique_ptr<rd_kafka_t, handle_deleter> handle_;
  std::unique_ptr<rd_kafka_queue_t, queue_deleter> queue_;  // declared after: destroyed first
};

TEST_CASE("kafka: the events topic must keep every event: fewer copies, retention or compaction are refused") {
  topic_admin admin;
  SUBCASE("the default asks 3 copies, which a single broker cannot keep: a clear error, no topic") {
    auto o = options_for(unique_prefix("rf3"));
    o.replication_factor = 3;
    auto opened = open_kafka_log(o);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == errc::invalid_argument);
    CHECK(opened.error().field() == "kafka_replication");
    CHECK_MESSAGE(opened.error().rule().find("--kafka-replication 1") != std::string::npos, opened.error().rule());
    CHECK(kafka_log_options{}.replication_factor == 3);
  }
  SUBCASE("an existing topic with fewer copies than required") {
    auto o = options_for(unique_prefix("fewer"));
    admin.create(kafka_events_topic(o.topic_prefix), 3, {{"retention.ms", "-1"}, {"retention.bytes", "-1"}});
    o.replication_factor = 2;
    auto opened = open_kafka_log(o);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().field() == "kafka_replication");
    CHECK_MESSAGE(opened.error().rule().find("replication factor 1, fewer than the 2 required") != std::string::npos,
                  opened.error().rule());
  }
  const auto refused_with = [&](const std::map<std::string, std::string>& configs, const std::string& named) {
    auto o = options_for(unique_prefix("unsafe"));
    admin.create(kafka_events_topic(o.topic_prefix), 3, configs);
    auto opened = open_kafka_log(o);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == errc::invalid_argument);
    CHECK_MESSAGE(opened.error().rule().find(named) != std::string::npos, opened.error().rule());
    // Nothing was written: a follower finds the topic empty.
    o.follower = true;
    auto reader = open_log(o);
    CHECK(read_everything(*reader).empty());
  };
  SUBCASE("time retention") { refused_with({{"retention.ms", "604800000"}, {"retention.bytes", "-1"}}, "retention.ms=604800000"); }
  SUBCASE("size retention") { refused_with({{"retention.ms", "-1"}, {"retention.bytes", "1000000"}}, "retention.bytes=1000000"); }
  SUBCASE("compaction") {
    refused_with({{"retention.ms", "-1"}, {"retention.bytes", "-1"}, {"cleanup.policy", "compact"}}, "cleanup.policy=compact");
  }
  SUBCASE("a topic this log made passes, and is made to keep everything") {
    auto o = options_for(unique_prefix("made"));
    auto log = open_log(o);
    REQUIRE(log->append(request("case-1", 0, "cmd-1", {"e"})).has_value());
    log.reset();
    auto again = open_kafka_log(o);
    REQUIRE_MESSAGE(again.has_value(), again.error().message());
  }
}

TEST_CASE("kafka: settings that would break one writer per log, or what readers see, are refused") {
  for (const std::string setting : {"transactional.id", "enable.idempotence", "acks", "isolation.level", "group.id"}) {
    auto o = options_for(unique_prefix("config"));
    o.config[setting] = "x";
    auto opened = open_kafka_log(o);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().field() == "--kafka-config");
    CHECK_MESSAGE(opened.error().rule().rfind(setting + " is set by Sazesh", 0) == 0, opened.error().rule());
  }
  scratch_dir dir;
  auto r = [&] {
    std::ostringstream out, err;
    const int code = cli::run({"--data-dir", dir.path().string(), "--kafka", broker(), "--kafka-replication", "1",
                               "--kafka-config", "transactional.id=mine", "--as", "auditor:audit", "verify"},
                              out, err);
    return std::make_pair(code, err.str());
  }();
  CHECK(r.first == 2);
  CHECK_MESSAGE(r.second.find("transactional.id is set by Sazesh") != std::string::npos, r.second);

  // Settings are NAME=VALUE, from $SAZESH_KAFKA_CONFIG (comma-separated) and --kafka-config alike.
  std::map<std::string, std::string> config;
  REQUIRE(add_kafka_settings(split_kafka_settings("client.id=a,socket.timeout.ms=5000"), config, "--kafka-config"));
  REQUIRE(add_kafka_settings({"client.id=b"}, config, "--kafka-config"));
  CHECK(config == std::map<std::string, std::string>{{"client.id", "b"}, {"socket.timeout.ms", "5000"}});
  for (const std::string bad : {"nope", "=x", ""}) {
    auto refused = add_kafka_settings({bad}, config, "--kafka-config");
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().field() == "--kafka-config");
    CHECK(refused.error().rule() == "must be KEY=VALUE, e.g. security.protocol=SSL, not " + bad);
  }
  CHECK(split_kafka_settings("a=1,,b=2") == std::vector<std::string>{"a=1", "", "b=2"});
  CHECK(split_kafka_settings("").empty());
}

TEST_CASE("kafka: a writer whose local store no longer matches the topic refuses to open") {
  topic_admin admin;
  scratch_dir dir;
  auto o = options_for(unique_prefix("reuse"));
  o.local_dir = dir.path() / "store";
  const std::string topic = kafka_events_topic(o.topic_prefix);
  {
    auto log = open_log(o);
    for (int i = 0; i < 3; ++i)
      REQUIRE(log->append(request("case-1", i, fmt::format("cmd-{}", i), {fmt::format("first history {}", i)})).has_value());
  }
  // The store and the topic agree: it opens.
  REQUIRE(open_kafka_log(o).has_value());

  SUBCASE("the topic is gone: no new, empty one is made in its place") {
    admin.remove(topic);
    auto opened = open_kafka_log(o);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == errc::corrupt);
    CHECK_MESSAGE(opened.error().rule().find("has no topic " + topic) != std::string::npos, opened.error().rule());
    auto fo = o;
    fo.follower = true;
    CHECK(open_kafka_log(fo).error().code() == errc::not_found);  // still none
  }
  SUBCASE("the topic made again, shorter: it ends before where the store read") {
    admin.remove(topic);
    admin.create(topic, 3, {{"retention.ms", "-1"}, {"retention.bytes", "-1"}});
    auto opened = open_kafka_log(o);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == errc::corrupt);
    CHECK_MESSAGE(opened.error().rule().find("before offset") != std::string::npos, opened.error().rule());
  }
  SUBCASE("the offsets reused by other events") {
    admin.remove(topic);
    {
      auto other = o;
      other.local_dir.clear();  // another writer, another store
      auto log = open_log(other);
      for (int i = 0; i < 4; ++i)
        REQUIRE(log->append(request("case-1", i, fmt::format("other-{}", i), {fmt::format("second history {}", i)})).has_value());
    }
    auto opened = open_kafka_log(o);
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == errc::corrupt);
    CHECK_MESSAGE(opened.error().rule().find("no longer holds at offset") != std::string::npos, opened.error().rule());
    CHECK_MESSAGE(opened.error().rule().find("remove this writer's local store") != std::string::npos, opened.error().rule());
    // As the error says: without the store, the topic is read whole, as it now is.
    std::filesystem::remove_all(o.local_dir);
    auto fresh = open_log(o);
    CHECK(fresh->version("case-1").value() == stream_version{4});
  }
}

// ---- 3. The engine and the projector on Kafka -----------------------------------------------------

// A replay folds partition by partition, so a business's score events from cases in different
// partitions come in another order than the live engine appended them (kafka_log.h, "Order");
// everything else must be equal as is.
world normalized(world w) {
  for (auto& [business, events] : w.score_events)
    std::sort(events.begin(), events.end(), [](const score_event& a, const score_event& b) {
      return std::tie(a.time, a.case_id, a.sequence) < std::tie(b.time, b.case_id, b.sequence);
    });
  return w;
}

// What differs between two worlds, for a failure message.
std::string world_difference(const world& a, const world& b) {
  if (a.cases.size() != b.cases.size()) return fmt::format("{} vs {} cases", a.cases.size(), b.cases.size());
  for (const auto& [id, c] : a.cases) {
    auto it = b.cases.find(id);
    if (it == b.cases.end()) return "case " + id + " is missing";
    if (!(it->second == c)) return "case " + id + " differs";
  }
  if (a.consumers != b.consumers) return "consumers differ";
  if (a.businesses != b.businesses) return "businesses differ";
  if (a.agencies != b.agencies) return "agencies differ";
  if (a.mediators != b.mediators) return "mediators differ";
  if (a.open_case_by_order != b.open_case_by_order) return "open_case_by_order differs";
  if (a.deadline_index != b.deadline_index) return "deadline_index differs";
  if (a.score_events != b.score_events) return "score_events differ";
  return a == b ? "" : "some index differs";
}

// Every event of the log, partition by partition, folded into a fresh world.
world fold_in_memory(event_log& log) {
  world w;
  for (const auto& stored : read_everything(log)) {
    auto rec = decode(stored.bytes);
    REQUIRE_MESSAGE(rec.has_value(), rec.error().message());
    evolve(w, *rec);
  }
  return w;
}

// The projections' rows without their log positions (which differ between an embedded log and
// a partitioned one by design).
std::map<std::string, std::string> rows_of(const std::filesystem::path& folder, std::uint32_t partitions) {
  auto store = pj::projection_store::open(folder, pj::store_mode::read_only);
  REQUIRE_MESSAGE(store.has_value(), store.error().message());
  std::set<std::string> positions;
  for (std::uint32_t p = 0; p < std::max<std::uint32_t>(partitions, 1); ++p) positions.insert(pj::keys::position(p));
  std::map<std::string, std::string> rows;
  REQUIRE((*store)->scan(std::string(), std::string(1, '\xFF'), [&](std::string_view k, std::string_view v) {
                    if (!positions.count(std::string(k))) rows.emplace(k, v);
                    return true;
                  }).has_value());
  return rows;
}

// An engine on a Kafka writer, driven by the history generator.
struct kafka_history {
  kafka_log_options options;
  std::unique_ptr<event_log> log;
  fixed_clock clock{history_generator::default_start()};
  std::unique_ptr<engine> eng;
  std::unique_ptr<history_generator> gen;

  kafka_history(const std::string& name, std::uint64_t seed, history_options o)
      : options(options_for(unique_prefix(name))) {
    log = open_log(options);
    auto e = engine::open(*log, clock);
    REQUIRE_MESSAGE(e.has_value(), e.error().message());
    eng = std::move(*e);
    gen = std::make_unique<history_generator>(*eng, clock, seed, o);
  }
  void run(const history_generator::hook& after = {}) {
    const auto started = std::chrono::steady_clock::now();
    gen->register_parties(after);
    gen->run(after);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto& st = gen->stats();
    MESSAGE(fmt::format("history on Kafka: {} commands, {} refused, {} ticks, {} events, {} cases in {:.2f}s "
                        "({:.0f} commands/s)",
                        st.commands, st.refused, st.ticks, st.events, st.cases_filed, seconds, st.commands / seconds));
    INFO("last unexpected: " << st.last_unexpected);
    REQUIRE(st.unexpected == 0);
  }
  kafka_log_options follower_options() const {
    auto o = options;
    o.follower = true;
    return o;
  }
};

TEST_CASE("kafka: the engine runs random lifecycles on Kafka; a replay of the topic and a fold in memory equal it") {
  const std::uint64_t seed = test_seed("engine on Kafka");
  history_options o;
  o.cases = 40;
  o.in_flight = 8;
  kafka_history h("engine", seed, o);
  h.run();
  const world live = normalized(h.eng->snapshot().value());
  CHECK(live.cases.size() == 40);

  // Every stream's hash chain, as the log gives it back.
  for (const auto& [id, c] : live.cases) {
    auto history = h.eng->history(id);
    REQUIRE_MESSAGE(history.has_value(), id << ": " << history.error().message());
    CHECK(history->size() == c.head.version.value());
  }

  // A fresh engine, in a fresh client, replaying the topic.
  auto follower = open_log(h.follower_options());
  auto replay = engine::open(*follower, h.clock);
  REQUIRE_MESSAGE(replay.has_value(), replay.error().message());
  if (!((*replay)->snapshot().value() == h.eng->snapshot().value()))
    MESSAGE("unnormalized replay differs from live: " << world_difference((*replay)->snapshot().value(), h.eng->snapshot().value()));
  const world replayed = normalized((*replay)->snapshot().value());
  CHECK_MESSAGE(replayed == live, world_difference(replayed, live));
  const world folded = normalized(fold_in_memory(*follower));
  CHECK_MESSAGE(folded == live, world_difference(folded, live));

  // A restarted writer catches up, equals the live world, and its scheduler finds nothing left
  // to do that was done.
  h.eng.reset();
  h.log.reset();
  h.log = open_log(h.options);
  auto restarted = engine::open(*h.log, h.clock);
  REQUIRE_MESSAGE(restarted.has_value(), restarted.error().message());
  CHECK(normalized((*restarted)->snapshot().value()) == live);
  const auto before = read_everything(*h.log).size();
  auto t = (*restarted)->tick();
  REQUIRE_MESSAGE(t.has_value(), t.error().message());
  CHECK(t->applied.empty());
  CHECK(read_everything(*h.log).size() == before);
}

TEST_CASE("kafka: projections kept up from Kafka equal a rebuild, and equal projections of an embedded copy") {
  const std::uint64_t seed = test_seed("projections on Kafka");
  history_options o;
  o.cases = 40;
  o.in_flight = 10;
  kafka_history h("projections", seed, o);
  scratch_dir dir;

  // A projector following the writer's log, catching up every few commands.
  auto live = pj::projection_store::open(dir.path() / "live", pj::store_mode::read_write);
  REQUIRE(live.has_value());
  pj::projector live_projector(*h.log, **live, 7);
  std::uint64_t commands = 0;
  h.run([&] {
    if (++commands % 4 != 0) return;
    auto n = live_projector.catch_up();
    REQUIRE_MESSAGE(n.has_value(), n.error().message());
  });
  REQUIRE(live_projector.catch_up().has_value());

  auto follower = open_log(h.follower_options());
  auto from_kafka = pj::rebuild(*follower, dir.path() / "from-kafka");
  REQUIRE_MESSAGE(from_kafka.has_value(), from_kafka.error().message());
  CHECK(from_kafka->events == h.gen->stats().events);
  auto live_digest = (*live)->digest();
  REQUIRE(live_digest.has_value());
  CHECK(*live_digest == from_kafka->digest);
  live->reset();

  // The same events copied into an embedded log, byte for byte and command by command.
  auto embedded = open_embedded_log(dir.path() / "embedded-log", embedded_log_options{.sync = false});
  REQUIRE_MESSAGE(embedded.has_value(), embedded.error().message());
  auto copied = copy_log(*follower, **embedded);
  REQUIRE_MESSAGE(copied.has_value(), copied.error().message());
  CHECK(copied->events == from_kafka->events);
  auto again = copy_log(*follower, **embedded);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code() == errc::already_exists);

  auto from_embedded = pj::rebuild(**embedded, dir.path() / "from-embedded");
  REQUIRE_MESSAGE(from_embedded.has_value(), from_embedded.error().message());
  const auto kafka_rows = rows_of(dir.path() / "from-kafka", follower->partitions());
  const auto embedded_rows = rows_of(dir.path() / "from-embedded", 1);
  CHECK(kafka_rows.size() == embedded_rows.size());
  std::string first_difference;
  for (const auto& [k, v] : kafka_rows) {
    auto it = embedded_rows.find(k);
    if (it == embedded_rows.end() || it->second != v) {
      first_difference = fmt::format("key of {} bytes starting '{}' {}", k.size(), k.substr(0, 12),
                                     it == embedded_rows.end() ? "is missing from the embedded copy" : "differs");
      break;
    }
  }
  CHECK_MESSAGE(first_difference.empty(), first_difference);

  // And back: the embedded copy into a new Kafka topic, every stream byte for byte.
  auto back_options = options_for(unique_prefix("copy-back"));
  auto back = open_log(back_options);
  auto copied_back = copy_log(**embedded, *back);
  REQUIRE_MESSAGE(copied_back.has_value(), copied_back.error().message());
  CHECK(copied_back->events == copied->events);
  CHECK(copied_back->commands == copied->commands);
  std::set<std::string> streams;
  for (const auto& e : read_everything(*follower)) streams.insert(e.stream);
  for (const auto& stream : streams) {
    auto original = follower->read_stream(stream, stream_version{1});
    auto in_embedded = (*embedded)->read_stream(stream, stream_version{1});
    auto in_back = back->read_stream(stream, stream_version{1});
    REQUIRE(original.has_value());
    REQUIRE(in_embedded.has_value());
    REQUIRE(in_back.has_value());
    REQUIRE(original->size() == in_embedded->size());
    REQUIRE(original->size() == in_back->size());
    for (std::size_t i = 0; i < original->size(); ++i) {
      CHECK((*original)[i].bytes == (*in_embedded)[i].bytes);
      CHECK((*original)[i].bytes == (*in_back)[i].bytes);
    }
    // Each command of the stream has the same outcome everywhere.
    auto rec = decode(original->back().bytes);
    REQUIRE(rec.has_value());
    auto a = follower->find_command(rec->command_id);
    auto b = (*embedded)->find_command(rec->command_id);
    auto c = back->find_command(rec->command_id);
    REQUIRE((a.has_value() && a->has_value() && b.has_value() && b->has_value() && c.has_value() && c->has_value()));
    CHECK((*a)->first_sequence == (*b)->first_sequence);
    CHECK((*a)->count == (*b)->count);
    CHECK((*a)->first_sequence == (*c)->first_sequence);
    CHECK((*a)->count == (*c)->count);
  }
}

// ---- The projector's consumer group ----------------------------------------------------------

// A consumer group on the events topic as any Kafka client sees it: per partition, the group's
// committed offset (RD_KAFKA_OFFSET_INVALID if none) and the partition's end (its high
// watermark: one past the last record, transaction markers included).
struct group_view {
  std::vector<std::int64_t> committed, end;
};

group_view view_group(const std::string& group, const std::string& topic, std::uint32_t partitions) {
  struct consumer_deleter {
    void operator()(rd_kafka_t* rk) const {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  };
  struct list_deleter {
    void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
  };
  char problem[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::vector<std::pair<std::string, std::string>> settings{
      {"bootstrap.servers", broker()}, {"group.id", group}, {"enable.auto.commit", "false"}, {"log_level", "0"}};
  for (const auto& [key, value] : settings)
    REQUIRE(rd_kafka_conf_set(conf, key.c_str(), value.c_str(), problem, sizeof problem) == RD_KAFKA_CONF_OK);
  std::unique_ptr<rd_kafka_t, consumer_deleter> rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf, problem, sizeof problem));
  REQUIRE_MESSAGE(rk != nullptr, problem);
  std::unique_ptr<rd_kafka_topic_partition_list_t, list_deleter> list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions)));
  for (std::uint32_t p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), static_cast<std::int32_t>(p));
  // Never subscribed: this reads the group's offsets without joining it.
  const auto e = rd_kafka_committed(rk.get(), list.get(), 15'000);
  REQUIRE_MESSAGE(e == RD_KAFKA_RESP_ERR_NO_ERROR, "committed(): " << rd_kafka_err2str(e));
  group_view v;
  for (int i = 0; i < list->cnt; ++i) v.committed.push_back(list->elems[i].offset);
  for (std::uint32_t p = 0; p < partitions; ++p) {
    std::int64_t low = 0, high = 0;
    const auto w = rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), static_cast<std::int32_t>(p), &low,
                                                    &high, 15'000);
    REQUIRE_MESSAGE(w == RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks: " << rd_kafka_err2str(w));
    v.end.push_back(high);
  }
  return v;
}

// Commits are asynchronous: waits until the group's offset of `partition` is `offset`.
bool committed_becomes(const std::string& group, const std::string& topic, std::uint32_t partitions,
                       std::uint32_t partition, std::int64_t offset) {
  const auto until = std::chrono::steady_clock::now() + 15s;
  for (;;) {
    if (view_group(group, topic, partitions).committed.at(partition) == offset) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(100ms);
  }
}

TEST_CASE("kafka: the projector's positions are the committed offsets of consumer group PREFIX projector") {
  const std::uint64_t seed = test_seed("projector offsets");
  history_options o;
  o.cases = 12;
  o.in_flight = 6;
  kafka_history h("offsets", seed, o);
  h.run();
  const std::string topic = kafka_events_topic(h.options.topic_prefix);
  const std::string group = h.options.topic_prefix + "projector";
  const std::uint32_t partitions = h.log->partitions();
  scratch_dir dir;
  auto store = pj::projection_store::open(dir.path() / "projections", pj::store_mode::read_write);
  REQUIRE(store.has_value());
  {
    auto follower = open_log(h.follower_options());
    pj::projector p(*follower, **store, 5);
    // Mid-partition, the group's offset is the projector's position as stored: the next offset
    // it will read.
    std::optional<pj::progress> midway;
    auto n = p.catch_up([&](const pj::progress& pr) {
      if (midway || pr.position == *follower->partition_end(pr.partition)) return;
      midway = pr;
      CHECK_MESSAGE(committed_becomes(group, topic, partitions, pr.partition, static_cast<std::int64_t>(pr.position.value())),
                    "partition " << pr.partition << " position " << pr.position.value());
    });
    REQUIRE_MESSAGE(n.has_value(), n.error().message());
    CHECK(*n == h.gen->stats().events);
    CHECK(midway.has_value());
  }  // closing the log waits a moment for its last commit
  const auto v = view_group(group, topic, partitions);
  for (std::uint32_t part = 0; part < partitions; ++part) {
    INFO("partition " << part);
    const std::uint64_t stored = pj::stored_position(**store, part).value().value();
    // Projected to the end, the group is at the partition's end, past the last transaction's
    // marker, where a read_committed consumer would be: Kafka shows lag 0 ...
    CHECK(v.committed[part] == v.end[part]);
    // ... and past no event the projector has not applied.
    CHECK(v.committed[part] >= static_cast<std::int64_t>(stored));
    auto after = h.log->read_partition(part, log_position{stored}, 1);
    REQUIRE(after.has_value());
    CHECK(after->empty());
  }
}

// ---- A broker restart in the middle of appends ------------------------------------------------

// A valid national code (check digit included) and a mobile number, distinct for each i.
std::string national_code_for(int i) {
  std::string v = fmt::format("{:09d}", 100'000'000 + i * 7919);
  int sum = 0;
  for (int k = 0; k < 9; ++k) sum += (v[static_cast<std::size_t>(k)] - '0') * (10 - k);
  const int r = sum % 11;
  return v + static_cast<char>('0' + (r < 2 ? r : 11 - r));
}
std::string mobile_for(int i) { return fmt::format("0912{:07d}", i); }

TEST_CASE("kafka: tools/kafka.sh start after the broker was killed -9 starts it again on its data") {
  const std::string bs = broker();
  const auto kafka_sh = (source_root() / "tools" / "kafka.sh").string();
  const auto [bs_status, managed] = run_shell("'" + kafka_sh + "' bootstrap 2>&1");
  REQUIRE_MESSAGE((bs_status == 0 && managed.find(bs) == 0),
                  "tools/kafka.sh does not manage the broker at " << bs << " (" << managed
                      << "); run the suite through tools/test.sh or export the same SAZESH_KAFKA_DIR");
  const char* state = std::getenv("SAZESH_KAFKA_DIR");
  REQUIRE_MESSAGE((state != nullptr && *state != '\0'), "SAZESH_KAFKA_DIR names the broker's state folder");
  auto o = options_for(unique_prefix("killed-broker"));
  {
    auto log = open_log(o);
    for (int i = 0; i < 5; ++i)
      REQUIRE(log->append(request(fmt::format("case-{}", i), 0, fmt::format("cmd-{}", i), {fmt::format("e{}", i)})).has_value());
  }
  std::string pid;
  std::ifstream(std::filesystem::path(state) / "pid") >> pid;
  REQUIRE_FALSE(pid.empty());
  REQUIRE(run_shell("kill -9 " + pid + " && while kill -0 " + pid + " 2>/dev/null; do sleep 0.1; done").first == 0);
  const auto [started, printed] = run_shell("'" + kafka_sh + "' start 2>/dev/null");
  REQUIRE(started == 0);
  CHECK(printed == bs + "\n");  // the same address, so every client finds it again
  auto fo = o;
  fo.follower = true;
  auto reader = open_log(fo);
  CHECK(read_everything(*reader).size() == 5);  // the topic and its events survived
}

// After a failure in the middle of appends: every acknowledged command is in the topic once, and
// nothing else is; and the projections kept up meanwhile equal a rebuild from the topic.
void check_once_and_rebuilt(const kafka_log_options& o, const std::vector<std::string>& acknowledged,
                            pj::projection_store& live, const std::filesystem::path& scratch) {
  auto fo = o;
  fo.follower = true;
  auto reader = open_log(fo);
  std::map<std::string, int> in_topic;
  for (const auto& e : read_everything(*reader)) {
    auto rec = decode(e.bytes);
    REQUIRE(rec.has_value());
    ++in_topic[rec->command_id];
  }
  CHECK(in_topic.size() == acknowledged.size());
  for (const auto& id : acknowledged) CHECK_MESSAGE(in_topic[id] == 1, id << " is in the topic " << in_topic[id] << " times");
  auto rebuilt = pj::rebuild(*reader, scratch / "rebuilt");
  REQUIRE_MESSAGE(rebuilt.has_value(), rebuilt.error().message());
  CHECK(rebuilt->events == acknowledged.size());
  CHECK(*live.digest() == rebuilt->digest);
}

TEST_CASE("kafka: a broker restart while commands run loses and duplicates nothing that was acknowledged") {
  const std::string bs = broker();
  // The restart goes through tools/kafka.sh, which must manage the broker under test.
  const auto kafka_sh = (source_root() / "tools" / "kafka.sh").string();
  const auto [bs_status, managed] = run_shell("'" + kafka_sh + "' bootstrap 2>&1");
  const bool manages_it = bs_status == 0 && managed.find(bs) == 0;
  REQUIRE_MESSAGE(manages_it,
                  "tools/kafka.sh does not manage the broker at " << bs << " (" << managed
                      << "); run the suite through tools/test.sh or export the same SAZESH_KAFKA_DIR");

  auto o = options_for(unique_prefix("restart-broker"));
  // Shorter than the restart, so that appends in the outage fail (some with an unknown outcome)
  // and are retried, rather than all waiting it out inside librdkafka.
  o.timeout = 3s;
  auto log = open_log(o);
  fixed_clock clock(history_generator::default_start());
  auto eng = engine::open(*log, clock);
  REQUIRE(eng.has_value());
  scratch_dir dir;
  auto live = pj::projection_store::open(dir.path() / "live", pj::store_mode::read_write);
  REQUIRE(live.has_value());
  pj::projector live_projector(*log, **live, 16);

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, retried_ok{0}, repeats{0};
  std::vector<std::string> acknowledged;  // command ids
  std::string last_failure;
  double longest = 0;  // seconds, of one execute
  std::thread appender([&] {
    for (int i = 0; !stop; ++i) {
      const std::string id = fmt::format("reg-{}", i);
      const command cmd = register_consumer{national_code_for(i), mobile_for(i), fmt::format("مشتری {}", i)};
      // Retry the same command id until it is acknowledged: never a second registration.
      for (int attempt = 0; attempt < 30; ++attempt) {
        const auto started = std::chrono::steady_clock::now();
        auto out = (*eng)->execute({fb::Role_consumer, ""}, id, cmd);
        longest = std::max(longest, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        if (out) {
          acknowledged.push_back(id);
          if (attempt > 0) ++retried_ok;
          if (out->repeated) ++repeats;
          break;
        }
        ++failures;
        last_failure = out.error().message();
        std::this_thread::sleep_for(200ms);
      }
      if (i % 5 == 0) REQUIRE(live_projector.catch_up().has_value());
    }
  });
  std::this_thread::sleep_for(1500ms);
  const auto [restart_status, restart_out] = run_shell("'" + kafka_sh + "' restart 2>&1");
  REQUIRE_MESSAGE(restart_status == 0, restart_out);
  std::this_thread::sleep_for(2s);
  stop = true;
  appender.join();
  MESSAGE(fmt::format("{} commands acknowledged; {} failed attempts (last: {}); {} acknowledged after a retry, {} of "
                      "them as repeats of an attempt that had committed; longest execute {:.1f}s",
                      acknowledged.size(), failures.load(), last_failure, retried_ok.load(), repeats.load(), longest));
  REQUIRE(live_projector.catch_up().has_value());
  CHECK((failures.load() > 0 || longest > 1.0));  // the restart was felt
  check_once_and_rebuilt(o, acknowledged, **live, dir.path());
}

// ---- A three-broker cluster --------------------------------------------------------------------

// A partition as the cluster's metadata describes it: its leader's node id (-1: none) and how
// many replicas are in sync.
struct partition_view {
  int leader = -1;
  int in_sync = 0;
};
std::vector<partition_view> partitions_of(const std::string& bootstrap, const std::string& topic) {
  char problem[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), problem, sizeof problem);
  rd_kafka_conf_set(conf, "log_level", "0", problem, sizeof problem);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, problem, sizeof problem);
  REQUIRE_MESSAGE(rk != nullptr, problem);
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  std::vector<partition_view> out;
  if (rd_kafka_metadata(rk, 0, t, &md, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topic_cnt; ++i) {
      const auto& tp = md->topics[i];
      out.resize(static_cast<std::size_t>(tp.partition_cnt));
      for (int p = 0; p < tp.partition_cnt; ++p)
        if (tp.partitions[p].id >= 0 && tp.partitions[p].id < tp.partition_cnt)
          out[static_cast<std::size_t>(tp.partitions[p].id)] = {tp.partitions[p].leader, tp.partitions[p].isr_cnt};
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  return out;
}

// Waits until every partition of each topic has all `copies` replicas in sync (a broker started
// again has caught up), so that killing a leader leaves a replica to take over.
void wait_in_sync(const std::string& bootstrap, const std::vector<std::string>& topics, int copies) {
  for (int waited = 0; waited < 600; ++waited) {
    bool all = true;
    for (const auto& topic : topics) {
      const auto ps = partitions_of(bootstrap, topic);
      all = all && !ps.empty() && std::all_of(ps.begin(), ps.end(), [&](const partition_view& p) { return p.in_sync == copies; });
    }
    if (all) return;
    std::this_thread::sleep_for(100ms);
  }
  FAIL("the cluster's replicas did not all come back in sync within 60 s");
}

TEST_CASE("kafka (3 brokers): a broker killed -9 and started again, then a leader killed: nothing acknowledged is lost or doubled") {
  scratch_dir dir;
  const auto kafka_sh = (source_root() / "tools" / "kafka.sh").string();
  const std::string env = fmt::format("SAZESH_KAFKA_DIR='{}' SAZESH_KAFKA_HEAP=384m '{}' ", (dir.path() / "cluster").string(), kafka_sh);
  struct stop_cluster {
    std::string command;
    ~stop_cluster() { run_shell(command + "cluster stop >/dev/null 2>&1"); }
  } stopper{env};  // also after a start that failed half way
  const auto [started, started_out] = run_shell(env + "cluster start --nodes 3 2>/dev/null");
  REQUIRE_MESSAGE(started == 0, started_out);
  const std::string bs = started_out.substr(0, started_out.find('\n'));
  REQUIRE(std::count(bs.begin(), bs.end(), ',') == 2);

  auto o = options_for(unique_prefix("cluster"));
  o.bootstrap_servers = bs;
  o.replication_factor = 3;
  o.timeout = 5s;
  auto log = open_log(o);
  fixed_clock clock(history_generator::default_start());
  auto eng = engine::open(*log, clock);
  REQUIRE(eng.has_value());
  auto live = pj::projection_store::open(dir.path() / "live", pj::store_mode::read_write);
  REQUIRE(live.has_value());
  pj::projector live_projector(*log, **live, 16);

  // Four clients, each retrying its command under the same id until it is acknowledged.
  using steady = std::chrono::steady_clock;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::mutex m;
  std::vector<std::pair<std::string, steady::time_point>> acknowledged;
  std::vector<std::string> gave_up;  // commands never acknowledged (their outcome unknown)
  std::string last_failure;
  std::vector<std::thread> clients;
  for (int k = 0; k < 4; ++k)
    clients.emplace_back([&, k] {
      for (int i = 0; !stop; ++i) {
        const int n = i * 4 + k;  // distinct across the clients
        const std::string id = fmt::format("reg-{}", n);
        const command cmd = register_consumer{national_code_for(n), mobile_for(n), fmt::format("مشتری {}", n)};
        for (int attempt = 0;; ++attempt) {
          auto out = (*eng)->execute({fb::Role_consumer, ""}, id, cmd);
          if (out) {
            std::lock_guard g(m);
            acknowledged.emplace_back(id, steady::now());
            break;
          }
          if (attempt == 300) {  // a minute: the cluster never came back
            std::lock_guard g(m);
            gave_up.push_back(id + ": " + out.error().message());
            break;
          }
          ++failures;
          {
            std::lock_guard g(m);
            last_failure = out.error().message();
          }
          std::this_thread::sleep_for(200ms);
        }
      }
    });
  // The projector keeps up meanwhile, through both failures (a catch-up the outage interrupts
  // is tried again).
  std::atomic<int> projector_failures{0};
  std::thread projecting([&] {
    while (!stop) {
      if (!live_projector.catch_up()) ++projector_failures;
      std::this_thread::sleep_for(200ms);
    }
  });
  const auto acks_since = [&](steady::time_point t) {
    std::lock_guard g(m);
    return std::count_if(acknowledged.begin(), acknowledged.end(), [&](const auto& a) { return a.second > t; });
  };
  std::this_thread::sleep_for(2s);
  // One broker killed and started again while the clients write.
  const auto [killed, killed_out] = run_shell(env + "cluster kill 3 2>&1");
  REQUIRE_MESSAGE(killed == 0, killed_out);
  std::this_thread::sleep_for(3s);
  const auto [restarted, restarted_out] = run_shell(env + "cluster start-node 3 2>&1");
  REQUIRE_MESSAGE(restarted == 0, restarted_out);
  std::this_thread::sleep_for(2s);
  // Then, once the restarted broker has caught up, the leader of the events topic's first
  // partition.
  wait_in_sync(bs, {o.topic_prefix + "events", "__transaction_state"}, 3);
  const int leader = partitions_of(bs, o.topic_prefix + "events").at(0).leader;
  REQUIRE(leader >= 1);
  REQUIRE(leader <= 3);
  const auto before_kill = acks_since({});
  const auto kill_time = steady::now();
  const auto [leader_killed, leader_out] = run_shell(env + fmt::format("cluster kill {} 2>&1", leader));
  REQUIRE_MESSAGE(leader_killed == 0, leader_out);
  // Appends resume once the partitions it led have new leaders (and the coordinators it held
  // have moved): wait for a round of acknowledgements from after the kill.
  double resumed_after = -1;
  for (int waited = 0; waited < 1200 && resumed_after < 0; ++waited) {
    std::this_thread::sleep_for(50ms);
    if (acks_since(kill_time + 1ms) >= 4)
      resumed_after = std::chrono::duration<double>(steady::now() - kill_time).count();
  }
  std::this_thread::sleep_for(2s);
  stop = true;
  for (auto& c : clients) c.join();
  projecting.join();
  MESSAGE(fmt::format("{} commands acknowledged ({} before the leader, node {}, was killed); {} failed attempts (last: {}); "
                      "appends resumed {:.1f} s after the leader was killed; {} projector catch-ups interrupted",
                      acknowledged.size(), before_kill, leader, failures.load(), last_failure, resumed_after,
                      projector_failures.load()));
  CHECK(resumed_after > 0);
  REQUIRE_MESSAGE(gave_up.empty(), "never acknowledged: " << gave_up.front());
  REQUIRE(live_projector.catch_up().has_value());
  std::vector<std::string> ids;
  for (const auto& a : acknowledged) ids.push_back(a.first);
  check_once_and_rebuilt(o, ids, **live, dir.path());
}

// ---- Agencies' referral feeds ------------------------------------------------------------------

// The writer's signing, as `sazesh` does after its writes: the trees extended to the log's end,
// checkpoints signed and published with the agencies' dossiers of the events they newly cover.
struct feed_signer {
  scratch_dir dir;
  signing_key key = generate_signing_key("test.example/log").value();
  std::unique_ptr<checkpoint_store> store;
  feed_signer() {
    auto opened = checkpoint_store::open(dir.path() / "checkpoints", checkpoint_store::access::write);
    REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
    store = std::move(*opened);
  }
  relay_report publish(event_log& log, relay_limits limits = {}) {
    auto extended = store->extend(log);
    REQUIRE_MESSAGE(extended.has_value(), extended.error().message());
    auto r = publish_signed(log, *store, key, log, limits);
    REQUIRE_MESSAGE(r.has_value(), r.error().message());
    return *r;
  }
};

// Every record of a feed topic, read to its end with a consumer group of its own.
std::vector<feed_record> read_feed(const kafka_log_options& o, const std::string& topic, const std::string& group) {
  kafka_feed_options f;
  f.bootstrap_servers = o.bootstrap_servers;
  f.topic = topic;
  f.group_id = group;
  f.timeout = 20s;
  auto feed = open_kafka_feed(f);
  REQUIRE_MESSAGE(feed.has_value(), feed.error().message());
  std::vector<feed_record> out;
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (!(*feed)->at_end()) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < until, "the feed never reached its end");
    auto batch = (*feed)->poll(200ms, 512);
    REQUIRE_MESSAGE(batch.has_value(), batch.error().message());
    out.insert(out.end(), batch->begin(), batch->end());
  }
  REQUIRE((*feed)->commit().has_value());
  return out;
}

// What an agency holds of each case after reading its feed: the records' windows, appended.
std::map<std::string, std::vector<std::string>> reassemble(const std::vector<feed_record>& records) {
  std::map<std::string, std::vector<std::string>> held;
  for (const auto& r : records) {
    flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(r.value.data()), r.value.size());
    REQUIRE(fb::VerifyDossierBuffer(verifier));
    const fb::Dossier* d = fb::GetDossier(r.value.data());
    auto& mine = held[r.key];
    CHECK(std::max<std::uint64_t>(d->history_from(), 1) == mine.size() + 1);
    for (flatbuffers::uoffset_t i = 0; i < d->history()->size(); ++i)
      mine.emplace_back(reinterpret_cast<const char*>(d->history()->Get(i)->bytes()->data()),
                        d->history()->Get(i)->bytes()->size());
  }
  return held;
}

struct referral_cast {
  actor op{fb::Role_operator_, "ops"}, agency{fb::Role_agency, "tazirat"}, consumer{fb::Role_consumer, ""};
  std::string case_id;
  explicit referral_cast(engine& e) {
    const auto ok = [](auto r) {
      REQUIRE_MESSAGE(r.has_value(), r.error().message());
      return std::move(*r);
    };
    ok(e.execute(op, "r1", register_business{"1001", "kalaland.ir", "کالالند", 3}));
    ok(e.execute(op, "r2", register_agency{"tazirat", "تعزیرات", {fb::Category_other}}));
    consumer.id = ok(e.execute({fb::Role_consumer, ""}, "r3", register_consumer{"5260181591", "09121234567", "سارا"})).stream;
    case_id = ok(e.execute(consumer, "r4", file_case{"1001", "ORD-1", 20'000, 1000, fb::Category_other, "x",
                                                      fb::RemedyKind_refund, {}}))
                  .stream;
    ok(e.execute(op, "r5", accept_case{case_id, std::nullopt, fb::Route_referral, "tazirat", ""}));
  }
};

TEST_CASE("regression: after a commit whose outcome is unknown, nothing is decided before the log settles") {
  // The commit went through but its answer was lost. The engine used to fold its state again
  // from an index that had not read the topic yet, so a retry under a new command id passed the
  // one-open-case-per-order rule (two open cases for one order), and a retry under the same id
  // could be refused by a rule although the first attempt was in the log.
  auto o = options_for(unique_prefix("unknown-outcome"));
  std::atomic<int> lose{0};
  o.lose_commit_outcome = [&] { return lose.exchange(0) == 1; };
  auto log = open_log(o);
  fixed_clock clock(parse_time("t", "2026-03-01T08:00:00Z").value());
  auto eng = engine::open(*log, clock);
  REQUIRE(eng.has_value());
  referral_cast cast(**eng);  // a shop, an agency, a consumer, one referred case
  const file_case order{"1001", "ORD-2", 20'000, 1000, fb::Category_other, "x", fb::RemedyKind_refund, {}};
  lose = 1;
  auto first = (*eng)->execute(cast.consumer, "file-a", order);
  REQUIRE_FALSE(first.has_value());
  CHECK(first.error().code() == errc::unavailable);
  SUBCASE("a retry under a new command id is a duplicate of what was committed") {
    auto again = (*eng)->execute(cast.consumer, "file-b", order);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code() == errc::duplicate);
  }
  SUBCASE("a retry under the same id gets the first outcome") {
    auto again = (*eng)->execute(cast.consumer, "file-a", order);
    REQUIRE_MESSAGE(again.has_value(), again.error().message());
    CHECK(again->repeated);
  }
  // Either way one case for the order, in the log and in the engine's rows.
  int filed = 0;
  for (const auto& e : read_everything(*log)) filed += decode(e.bytes)->payload.type == fb::Event_CaseFiled;
  CHECK(filed == 2);  // the referred case, and this one once
  CHECK((*eng)->state_digest().value() == fold_state_digest(*log).value());
}

TEST_CASE("regression: an acknowledgement decided after an overdue notice of the same call publishes an unbroken history") {
  // The overdue notice is written first, as the scheduler's command, in the same unit as the
  // late acknowledgement; the dossier of the acknowledgement used to be built from durable
  // events only, so the agency received a history with the notice missing.
  auto o = options_for(unique_prefix("late-ack"));
  auto log = open_log(o);
  fixed_clock clock(parse_time("t", "2026-03-01T08:00:00Z").value());
  auto eng = engine::open(*log, clock);
  REQUIRE(eng.has_value());
  referral_cast cast(**eng);
  clock.advance(30LL * 24 * 3'600'000);  // past the acknowledgement deadline, no tick
  auto ack = (*eng)->execute(cast.agency, "late-ack", acknowledge_referral{cast.case_id});
  REQUIRE_MESSAGE(ack.has_value(), ack.error().message());
  REQUIRE_FALSE(ack->deadlines_first.empty());  // the overdue notice came first, in the same call
  // A document the consumer attaches while the agency holds the case reaches its feed at the
  // next signing.
  auto attached = (*eng)->execute(cast.consumer, "attach",
                                  attach_document{cast.case_id, {fb::DocumentKind_invoice, sha256("invoice"), "invoice.pdf", 7}});
  REQUIRE_MESSAGE(attached.has_value(), attached.error().message());
  feed_signer signer;
  signer.publish(*log);
  const auto records = read_feed(o, kafka_agency_topic(o.topic_prefix, "tazirat"), o.topic_prefix + "g");
  REQUIRE_FALSE(records.empty());
  auto last_event = decode(std::string(reinterpret_cast<const char*>(fb::GetDossier(records.back().value.data())->event()->data()),
                                       fb::GetDossier(records.back().value.data())->event()->size()));
  REQUIRE(last_event.has_value());
  CHECK(last_event->payload.type == fb::Event_DocumentAttached);
  CHECK(fb::GetDossier(records.back().value.data())->documents()->size() == 1);
  const auto held = reassemble(records);
  auto events = log->read_stream(cast.case_id, stream_version{1});
  REQUIRE(events.has_value());
  std::vector<std::string> log_bytes;
  for (const auto& e : *events) log_bytes.push_back(e.bytes);
  REQUIRE(held.count(cast.case_id));
  CHECK(held.at(cast.case_id) == log_bytes);
}

TEST_CASE("regression: a long case stays writable: its dossiers are cut to size, never refused") {
  // Every dossier used to carry the case's whole history: once a case had about 125 long
  // messages, every record for its agency passed the cluster's record limit and each refusal
  // failed the commands queued behind it.
  auto o = options_for(unique_prefix("long-case"));
  auto log = open_log(o);
  fixed_clock clock(parse_time("t", "2026-03-01T08:00:00Z").value());
  auto eng = engine::open(*log, clock);
  REQUIRE(eng.has_value());
  referral_cast cast(**eng);
  const std::string long_text(7000, 'x');
  for (int i = 0; i < 160; ++i) {
    auto m = (*eng)->execute(cast.op, fmt::format("m{}", i), post_message{cast.case_id, long_text});
    REQUIRE_MESSAGE(m.has_value(), m.error().message());
  }
  auto ack = (*eng)->execute(cast.agency, "ack", acknowledge_referral{cast.case_id});
  REQUIRE_MESSAGE(ack.has_value(), ack.error().message());
  auto decided = (*eng)->execute(cast.agency, "decide", decide_referral{cast.case_id, fb::AgencyVerdict_upheld, "done"});
  REQUIRE_MESSAGE(decided.has_value(), decided.error().message());
  feed_signer signer;
  signer.publish(*log);
  const auto records = read_feed(o, kafka_agency_topic(o.topic_prefix, "tazirat"), o.topic_prefix + "g");
  std::size_t largest = 0, parts = 0;
  for (const auto& r : records) {
    largest = std::max(largest, r.value.size());
    parts += fb::GetDossier(r.value.data())->parts() > 1;
    // Every part proven on its own: an earlier part by its history's last envelope.
    auto line = cli::feed_line(kafka_agency_topic(o.topic_prefix, "tazirat"), r, signer.key.verifier());
    CHECK_MESSAGE(line.has_value(), line.error().message());
  }
  MESSAGE(records.size() << " records, the largest " << largest << " bytes");
  CHECK(largest < 1'000'000 / 2);
  CHECK(parts > 0);  // the acknowledgement's window (the 160 messages) came in parts
  const auto held = reassemble(records);
  auto events = log->read_stream(cast.case_id, stream_version{1});
  REQUIRE(events.has_value());
  // The agency holds the case's whole log: its decision, and the closing that follows it.
  std::vector<std::string> log_bytes;
  for (const auto& e : *events) log_bytes.push_back(e.bytes);
  REQUIRE(log_bytes.size() > decided->events.front().sequence.value());
  CHECK(held.at(cast.case_id) == log_bytes);
}

TEST_CASE("kafka: agencies' topics carry one Dossier per concerned agency, each once, with its checkpoint and proof") {
  const std::uint64_t seed = test_seed("agency feeds");
  history_options o;
  o.cases = 60;
  o.in_flight = 12;
  kafka_history h("feeds", seed, o);
  h.run();
  // Published in transactions of at most 50 events, each with a checkpoint of its own.
  feed_signer signer;
  const relay_report relayed = signer.publish(*h.log, relay_limits{.leaves = 50});
  MESSAGE(relayed.records << " dossiers with " << relayed.published.size() << " checkpoints over " << relayed.events << " events");
  CHECK(relayed.published.size() > h.log->partitions());

  // What the feeds must hold, from the log, by the rule written out here on its own:
  // (agency, case, event id) for every event an agency is told of. An event's own agencies;
  // a document attached while an agency holds the case (from the referral or transfer to it
  // until its decision, a transfer away, or the case's end); the closing or withdrawal, to the
  // agency that held the case last.
  std::multiset<std::tuple<std::string, std::string, std::string>> expected;
  std::map<std::string, std::vector<std::string>> case_bytes;  // every event of every case, in order
  std::size_t told_as_holder = 0, told_of_closing = 0;
  for (const auto& c : h.gen->cases()) {
    auto events = h.log->read_stream(c, stream_version{1});
    REQUIRE(events.has_value());
    std::string holder, last_holder;
    for (const auto& e : *events) {
      case_bytes[c].push_back(e.bytes);
      auto rec = decode(e.bytes);
      REQUIRE(rec.has_value());
      std::set<std::string> told;
      for (const auto& agency : agencies_concerned(*rec)) told.insert(agency);
      const auto type = rec->payload.type;
      if (type == fb::Event_DocumentAttached && !holder.empty()) {
        told.insert(holder);
        ++told_as_holder;
      }
      if ((type == fb::Event_CaseClosed || type == fb::Event_CaseWithdrawn) && !last_holder.empty()) {
        told.insert(last_holder);
        ++told_of_closing;
      }
      if (type == fb::Event_CaseClosed || type == fb::Event_CaseWithdrawn) holder.clear();
      if (type == fb::Event_ReferredToAgency) holder = last_holder = rec->payload.AsReferredToAgency()->agency_id;
      if (type == fb::Event_ReferralTransferred) holder = last_holder = rec->payload.AsReferralTransferred()->to_agency_id;
      if (type == fb::Event_AgencyDecided && rec->payload.AsAgencyDecided()->agency_id == holder) holder.clear();
      for (const auto& agency : told) expected.emplace(agency, rec->stream, rec->event_id);
    }
  }
  REQUIRE_MESSAGE(!expected.empty(), "the history referred no case to an agency; try another seed");
  MESSAGE("told as the holder of a document: " << told_as_holder << "; of a closing: " << told_of_closing);

  std::multiset<std::tuple<std::string, std::string, std::string>> found;
  std::map<std::string, std::size_t> per_agency;
  const world state = h.eng->snapshot().value();
  for (const auto& agency : h.gen->agencies()) {
    const std::string topic = kafka_agency_topic(h.options.topic_prefix, agency);
    bool referred = false;
    for (const auto& x : expected) referred = referred || std::get<0>(x) == agency;
    if (!referred) continue;
    const auto records = read_feed(h.options, topic, h.options.topic_prefix + "test-group");
    per_agency[agency] = records.size();
    // Each record carries the case's events the agency has not had yet: appended in the feed's
    // order, they are the case's log.
    std::map<std::string, std::vector<std::string>> held;
    for (const auto& r : records) {
      flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(r.value.data()), r.value.size());
      REQUIRE(fb::VerifyDossierBuffer(verifier));  // nested envelopes included
      // What `subscribe` checks, the event's proof against its signed checkpoint included.
      auto line = cli::feed_line(topic, r, signer.key.verifier());
      CHECK_MESSAGE(line.has_value(), line.error().message());
      const fb::Dossier* d = fb::GetDossier(r.value.data());
      CHECK(d->agency_id()->str() == agency);
      CHECK(d->case_id()->str() == r.key);
      const std::string event(reinterpret_cast<const char*>(d->event()->data()), d->event()->size());
      auto rec = decode(event);
      REQUIRE(rec.has_value());
      CHECK(rec->stream == r.key);
      CHECK(may_be_told(*rec, agency));
      if (d->part() == d->parts()) found.emplace(agency, rec->stream, rec->event_id);
      // The last part names the parties: each the first event of its own stream, as logged.
      if (d->part() == d->parts()) {
        REQUIRE(d->parties() != nullptr);
        REQUIRE(d->parties()->size() == 2);
        const case_state& filed = state.cases.at(r.key);
        const std::vector<std::string> party_ids{filed.consumer_id, filed.business_id};
        for (flatbuffers::uoffset_t i = 0; i < 2; ++i) {
          const auto* b = d->parties()->Get(i)->bytes();
          auto registration = h.log->read_stream(party_ids[i], stream_version{1});
          REQUIRE(registration.has_value());
          REQUIRE_FALSE(registration->empty());
          CHECK(std::string(reinterpret_cast<const char*>(b->data()), b->size()) == registration->front().bytes);
        }
      } else {
        CHECK(d->parties() == nullptr);
      }
      CHECK(d->part() >= 1);
      CHECK(d->part() <= d->parts());
      CHECK(r.value.size() < 1'000'000);
      // The window continues what the agency holds of the case, byte for byte as in the log;
      // the last part ends with the event.
      const auto& log_bytes = case_bytes[r.key];
      auto& mine = held[r.key];
      CHECK(std::max<std::uint64_t>(d->history_from(), 1) == mine.size() + 1);
      for (flatbuffers::uoffset_t i = 0; i < d->history()->size(); ++i) {
        const auto* b = d->history()->Get(i)->bytes();
        mine.emplace_back(reinterpret_cast<const char*>(b->data()), b->size());
        REQUIRE(mine.size() <= log_bytes.size());
        CHECK(mine.back() == log_bytes[mine.size() - 1]);
      }
      if (d->part() == d->parts()) CHECK(mine.size() == rec->sequence.value());
      const case_state& c = state.cases.at(r.key);
      CHECK(d->documents()->size() <= c.documents.size());
    }
  }
  CHECK(found == expected);
  for (const auto& [agency, n] : per_agency) MESSAGE("feed of " << agency << ": " << n << " dossiers");

  // Signing again publishes nothing twice: not this signer, not a writer that opens the log anew
  // with a store of its own (what was published, it reads from the checkpoints topic).
  const auto nothing = [](const relay_report& r) { return r.records == 0 && r.events == 0 && r.published.empty(); };
  CHECK(nothing(signer.publish(*h.log)));
  CHECK(relayed.skipped.empty());
  {
    auto again = open_log(h.options);
    feed_signer other;
    other.key = signer.key;  // the log's key, a store of its own
    CHECK(nothing(other.publish(*again)));
    // A range already published is refused, naming it, and writes nothing.
    auto note = again->published_checkpoint(0);
    REQUIRE(note.has_value());
    auto latest = open_log_checkpoint(*note, signer.key.verifier(), again->partitions(), "checkpoint", 0);
    REQUIRE_MESSAGE(latest.has_value(), *note);
    CHECK(latest->second.size == signer.store->size(0));
    auto refused = again->publish_checkpoint(0, 0, latest->second.size, *note, {});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code() == errc::conflict);
    CHECK(refused.error().field() == "after");
  }
  // The group resumes where it committed: nothing twice.
  const std::string some_agency = per_agency.begin()->first;
  const std::string topic = kafka_agency_topic(h.options.topic_prefix, some_agency);
  CHECK(read_feed(h.options, topic, h.options.topic_prefix + "test-group").empty());

  // An independent client: kcat takes one record's raw bytes, flatc decodes them with the schema.
  scratch_dir dir;
  const auto raw = dir.path() / "dossier.bin";
  const auto [kcat_status, kcat_out] = run_shell(fmt::format(
      "kcat -b '{}' -C -t '{}' -o beginning -c 1 -e -q -X isolation.level=read_committed -f '%s' > '{}' 2>&1",
      h.options.bootstrap_servers, topic, raw.string()));
  REQUIRE_MESSAGE(kcat_status == 0, "kcat failed (install kcat: tools/install-deps.sh): " << kcat_out);
  // dossier.fbs alone: flatc 2.0.8 decodes a binary with the last schema named, and given
  // envelope.fbs and events.fbs after it, silently writes nothing; the includes find them anyway.
  const auto [flatc_status, flatc_out] = run_shell(
      fmt::format("flatc --json --strict-json --raw-binary -o '{}' '{}' -- '{}' 2>&1", dir.path().string(),
                  (source_root() / "schemas" / "dossier.fbs").string(), raw.string()));
  REQUIRE_MESSAGE(flatc_status == 0, "flatc failed: " << flatc_out);
  std::ifstream json_file(dir.path() / "dossier.json");
  REQUIRE(json_file.good());
  std::stringstream json;
  json << json_file.rdbuf();
  CHECK_MESSAGE(json.str().find(fmt::format("\"agency_id\": \"{}\"", some_agency)) != std::string::npos, json.str());
  CHECK(json.str().find("\"payload_type\": \"ReferredToAgency\"") != std::string::npos);  // a feed opens with its referral
  CHECK(json.str().find("\"history\"") != std::string::npos);
  // And the embedded schema renders it the same way for the CLI.
  std::ifstream raw_file(raw, std::ios::binary);
  const std::string raw_bytes((std::istreambuf_iterator<char>(raw_file)), std::istreambuf_iterator<char>());
  const std::string one_line = dossier_to_json(raw_bytes);
  CHECK(one_line.find("ReferredToAgency") != std::string::npos);
}

// ---- The command line on Kafka ----------------------------------------------------------------

struct cli_result {
  int code;
  std::string out, err;
};

cli_result sazesh_cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = cli::run(args, out, err);
  return {code, out.str(), err.str()};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

TEST_CASE("kafka: the CLI copies a log to Kafka and back, verifies it there, and reads an agency's feed") {
  scratch_dir dir;
  const std::string bs = broker();
  const std::string prefix = unique_prefix("cli");
  const std::string data = (dir.path() / "data").string();
  const std::vector<std::string> on_kafka{"--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1"};
  const auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  auto demo = sazesh_cli({"demo", "--data-dir-fresh", data});
  REQUIRE_MESSAGE(demo.code == 0, demo.err);

  auto copied = sazesh_cli(with({"--data-dir", data, "copy-log", "--to-kafka"}, on_kafka));
  REQUIRE_MESSAGE(copied.code == 0, copied.err);
  CHECK(copied.out.find("copied") == 0);
  auto again = sazesh_cli(with({"--data-dir", data, "copy-log", "--to-kafka"}, on_kafka));
  CHECK(again.code == 1);
  CHECK(again.err.find("already has events") != std::string::npos);

  auto verified = sazesh_cli(with({"--data-dir", data, "--as", "auditor:audit", "verify"}, on_kafka));
  REQUIRE_MESSAGE(verified.code == 0, verified.err);
  auto embedded_verified = sazesh_cli({"--data-dir", data, "--as", "auditor:audit", "verify"});
  // Same events, streams and chains (the embedded log has its Merkle tree besides).
  const auto first_line = [](const std::string& text) { return text.substr(0, text.find('\n')); };
  CHECK(first_line(verified.out) == first_line(embedded_verified.out));

  auto feed = sazesh_cli(with({"--data-dir", data, "--as", "agency:tazirat", "subscribe", "--agency", "tazirat"}, on_kafka));
  REQUIRE_MESSAGE(feed.code == 0, feed.err);
  const auto lines = lines_of(feed.out);
  REQUIRE_FALSE(lines.empty());
  for (const auto& line : lines) {
    CHECK(line.find("\"agency\":\"tazirat\"") != std::string::npos);
    CHECK(line.find("\"event\":{") != std::string::npos);
    CHECK(line.find("\"leaf_index\":") != std::string::npos);  // each proven against its checkpoint
  }
  // Checked against another key, the first record is refused, named, and nothing is committed.
  auto stranger = generate_signing_key("someone.else/log");
  REQUIRE(stranger.has_value());
  auto wrong_key = sazesh_cli(with({"--data-dir", data, "--as", "agency:tazirat", "subscribe", "--agency", "tazirat",
                                    "--group", prefix + "wrong-key", "--key", verifier_key_text(stranger->verifier())},
                                   on_kafka));
  CHECK(wrong_key.code != 0);
  CHECK(wrong_key.out.empty());
  CHECK_MESSAGE(wrong_key.err.find("offset 0") != std::string::npos, wrong_key.err);
  auto no_key = sazesh_cli(with({"--data-dir", (dir.path() / "agency").string(), "--as", "agency:tazirat", "subscribe",
                                 "--agency", "tazirat"},
                                on_kafka));
  CHECK(no_key.code != 0);
  CHECK_MESSAGE(no_key.err.find("--key") != std::string::npos, no_key.err);
  // The default group committed what it printed; another group starts from the beginning.
  auto resumed = sazesh_cli(with({"--data-dir", data, "--as", "agency:tazirat", "subscribe", "--agency", "tazirat"}, on_kafka));
  REQUIRE(resumed.code == 0);
  CHECK(resumed.out.empty());
  auto other_group = sazesh_cli(with({"--data-dir", data, "--as", "operator:ali", "subscribe", "--agency", "tazirat",
                                      "--group", prefix + "audit"},
                                     on_kafka));
  REQUIRE(other_group.code == 0);
  CHECK(lines_of(other_group.out).size() == lines.size());
  auto not_theirs = sazesh_cli(with({"--data-dir", data, "--as", "agency:cyber-police", "subscribe", "--agency", "tazirat"}, on_kafka));
  CHECK(not_theirs.code == 1);

  const std::string back = (dir.path() / "back").string();
  auto returned = sazesh_cli(with({"--data-dir", back, "copy-log", "--from-kafka"}, on_kafka));
  REQUIRE_MESSAGE(returned.code == 0, returned.err);
  auto back_verified = sazesh_cli({"--data-dir", back, "--as", "auditor:audit", "verify"});
  REQUIRE_MESSAGE(back_verified.code == 0, back_verified.err);
  CHECK(first_line(back_verified.out) == first_line(embedded_verified.out));
  CHECK(back_verified.out.find("1 signed checkpoint(s)") != std::string::npos);  // signed by the copy
  // The keys came back with the log: the folder opens every sealed field, as the topic's keys did.
  CHECK_MESSAGE(returned.out.find("people's keys") != std::string::npos, returned.out);
  CHECK(returned.out.find("with 0 people's keys") == std::string::npos);
  auto back_events = sazesh_cli({"--data-dir", back, "--as", "auditor:audit", "events", "--all"});
  REQUIRE(back_events.code == 0);
  CHECK(back_events.out.find("\"personal_state\":\"opened\"") != std::string::npos);
  CHECK(back_events.out.find("\"personal_state\":\"sealed\"") == std::string::npos);

  auto bad_config = sazesh_cli(with({"--data-dir", data, "--kafka-config", "no-equals-sign", "--as", "auditor:audit", "verify"}, on_kafka));
  CHECK(bad_config.code == 2);
  // Readers never create the log: a query on a prefix with no topic says there is none.
  auto no_topic = sazesh_cli({"--data-dir", (dir.path() / "empty").string(), "--kafka", bs, "--kafka-prefix",
                              prefix + "none.", "--kafka-replication", "1", "stats"});
  CHECK(no_topic.code == 1);
  CHECK_MESSAGE(no_topic.err.find("no event log") != std::string::npos, no_topic.err);
}

// Every topic of the cluster whose name starts with `prefix`.
std::vector<std::string> topics_with_prefix(const std::string& bootstrap, const std::string& prefix) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK);
  std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> handle(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err),
                                                            rd_kafka_destroy);
  REQUIRE_MESSAGE(handle != nullptr, err);
  const rd_kafka_metadata_t* md = nullptr;
  REQUIRE(rd_kafka_metadata(handle.get(), 1, nullptr, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<std::string> out;
  for (int i = 0; i < md->topic_cnt; ++i)
    if (std::string_view(md->topics[i].topic).rfind(prefix, 0) == 0) out.emplace_back(md->topics[i].topic);
  rd_kafka_metadata_destroy(md);
  return out;
}

// The values of every "personal":{…} object in `events` output, but "erased" and very short ones.
std::set<std::string> personal_values(const std::string& text) {
  std::set<std::string> out;
  const std::regex object(R"re("personal":\{([^}]*)\})re"), value(R"re("[a-z_]+":"([^"]*)")re");
  for (auto o = std::sregex_iterator(text.begin(), text.end(), object); o != std::sregex_iterator(); ++o) {
    const std::string fields = (*o)[1];
    for (auto v = std::sregex_iterator(fields.begin(), fields.end(), value); v != std::sregex_iterator(); ++v)
      if ((*v)[1].length() >= 5 && (*v)[1] != "erased") out.insert((*v)[1]);
  }
  return out;
}

// Produces one record with a plain librdkafka producer of these settings (and quiet); the
// delivery's outcome.
rd_kafka_resp_err_t produce_one(const std::vector<std::pair<std::string, std::string>>& settings, const std::string& topic,
                                std::int32_t partition, const std::string& key, const std::string& value,
                                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  char problem[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : settings) REQUIRE(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), problem, sizeof problem) == RD_KAFKA_CONF_OK);
  rd_kafka_conf_set(conf, "log_level", "0", problem, sizeof problem);
  static rd_kafka_resp_err_t delivered;
  delivered = RD_KAFKA_RESP_ERR__TIMED_OUT;
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) { delivered = m->err; });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, problem, sizeof problem);
  REQUIRE_MESSAGE(rk != nullptr, problem);
  rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
  for (const auto& [name, v] : headers) rd_kafka_header_add(h, name.c_str(), -1, v.data(), static_cast<ssize_t>(v.size()));
  const auto err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                     RD_KAFKA_V_KEY(key.data(), key.size()),
                                     RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_headers_destroy(h);  // not handed over
    delivered = err;
  }
  rd_kafka_flush(rk, 20'000);
  rd_kafka_destroy(rk);
  return delivered;
}

// Writes records straight into a topic, bypassing the log, as a second writer or anyone with
// write access could.
void produce_raw(const std::string& topic, std::int32_t partition, const std::string& key, const std::string& value,
                 const std::vector<std::pair<std::string, std::string>>& headers) {
  CHECK(produce_one({{"bootstrap.servers", broker()}}, topic, partition, key, value, headers) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

// The value of the last record of each key of the keys topic: what compaction keeps.
std::map<std::string, std::string> last_key_records(const kafka_log_options& o) {
  static std::atomic<int> reads{0};  // a group of its own each time: the whole topic
  std::map<std::string, std::string> last;
  for (const auto& r : read_feed(o, kafka_keys_topic(o.topic_prefix), fmt::format("{}keys-search-{}", o.topic_prefix, reads++)))
    last[r.key] = r.value;
  return last;
}

TEST_CASE("kafka: a reader that fetches only while reading holds nothing between reads and goes on where told") {
  const std::string topic = unique_prefix("reader") + "records";
  topic_admin admin;
  admin.create(topic, 2, {});
  for (int i = 0; i < 5; ++i) produce_raw(topic, 0, "k", fmt::format("a{}", i), {});
  for (int i = 0; i < 3; ++i) produce_raw(topic, 1, "k", fmt::format("b{}", i), {});
  const auto open_reader = [&](kafka::partition_reader::fetch when) {
    auto context = std::make_unique<kafka::client_context>(broker());
    auto client = kafka::make_client(RD_KAFKA_CONSUMER, kafka::reader_settings(broker()), *context);
    REQUIRE(client.has_value());
    auto reader = kafka::partition_reader::open(std::move(context), std::move(*client), topic, 2, when);
    REQUIRE_MESSAGE(reader.has_value(), reader.error().message());
    return std::move(*reader);
  };
  auto ahead = open_reader(kafka::partition_reader::fetch::ahead);
  auto resting = open_reader(kafka::partition_reader::fetch::while_reading);
  const auto read = [](kafka::partition_reader& r) {
    std::vector<std::pair<std::int32_t, std::int64_t>> got;
    auto s = r.read_to_end(
        [&](const rd_kafka_message_t& m) {
          got.emplace_back(m.partition, m.offset);
          return ok;
        },
        kafka::deadline_after(20s));
    REQUIRE_MESSAGE(s.has_value(), s.error().message());
    std::sort(got.begin(), got.end());  // partitions share one queue: no order across them
    return got;
  };
  CHECK(read(ahead).size() == 8);
  CHECK(read(resting).size() == 8);

  for (int i = 5; i < 9; ++i) produce_raw(topic, 0, "k", fmt::format("a{}", i), {});
  // The one fetching ahead has the new records before it is asked; the other fetched nothing.
  for (int i = 0; i < 100 && ahead.queued() == 0; ++i) std::this_thread::sleep_for(50ms);
  CHECK(ahead.queued() > 0);
  CHECK(resting.queued() == 0);

  // Told that it has offsets 5 and 6 already, the resting reader hands on 7 and 8 only.
  REQUIRE(resting.reposition({7, 3}).has_value());
  CHECK(read(resting) == std::vector<std::pair<std::int32_t, std::int64_t>>{{0, 7}, {0, 8}});
  CHECK(resting.read_through(0) == 9);
  CHECK(resting.read_through(1) == 3);
  // Moved back, it reads again what it read before.
  REQUIRE(resting.reposition({8, 1}).has_value());
  CHECK(read(resting) == std::vector<std::pair<std::int32_t, std::int64_t>>{{0, 8}, {1, 1}, {1, 2}});
  // A record refused midway stops the read, and every read after it, until the reader is moved
  // back to it (a writer moves to where its index stands): then it is read again.
  REQUIRE(resting.reposition({6, 3}).has_value());
  const auto refuse_7 = [](const rd_kafka_message_t& m) -> status {
    return m.partition == 0 && m.offset == 7 ? status(error(errc::io, "store", "full")) : ok;
  };
  CHECK_FALSE(resting.read_to_end(refuse_7, kafka::deadline_after(20s)).has_value());
  CHECK(resting.read_through(0) == 7);
  auto again = resting.read_to_end([](const rd_kafka_message_t&) { return ok; }, kafka::deadline_after(20s));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().field() == "store");
  REQUIRE(resting.reposition({7, 3}).has_value());
  CHECK(read(resting) == std::vector<std::pair<std::int32_t, std::int64_t>>{{0, 7}, {0, 8}});
  // One that fetches ahead has fetched past where it stands: it is not moved.
  auto moved = ahead.reposition({0, 0});
  REQUIRE_FALSE(moved.has_value());
  CHECK(moved.error().field() == "reader");
  CHECK(resting.reposition({0}).error().field() == "partition");
  CHECK(read(ahead) == std::vector<std::pair<std::int32_t, std::int64_t>>{{0, 5}, {0, 6}, {0, 7}, {0, 8}});
  // Nothing new: the resting reader starts no fetch at all, and holds nothing after a read.
  CHECK(read(resting).empty());
  produce_raw(topic, 1, "k", "b3", {});
  std::this_thread::sleep_for(300ms);
  CHECK(resting.queued() == 0);
  CHECK(read(resting) == std::vector<std::pair<std::int32_t, std::int64_t>>{{1, 3}});
}

TEST_CASE("kafka: the keys live on the log's compacted keys topic, one for every machine; racing writers agree on the first") {
  const auto o = options_for(unique_prefix("keys"));
  auto a = open_kafka_keys(o);  // two machines on one log
  REQUIRE_MESSAGE(a.has_value(), a.error().message());
  auto b = open_kafka_keys(o);
  REQUIRE_MESSAGE(b.has_value(), b.error().message());
  const std::string digest = (*a)->digest_key().value();
  CHECK(digest.size() == 32);
  CHECK((*b)->digest_key().value() == digest);

  // Both make U-1's key before either wrote it: the one written first is U-1's; the other
  // writer's flush is refused (its unit is not written), and it seals under the first from then on.
  const std::string first = (*a)->key_for_sealing("U-1").value();
  const std::string second = (*b)->key_for_sealing("U-1").value();
  REQUIRE(first != second);
  REQUIRE((*a)->flush().has_value());
  const auto refused = (*b)->flush();
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == errc::unavailable);
  CHECK(refused.error().field() == "keys");
  CHECK((*b)->key_for_sealing("U-1").value() == first);
  REQUIRE((*b)->flush().has_value());
  auto c = open_kafka_keys(o);  // a third machine, later
  REQUIRE(c.has_value());
  CHECK((*c)->key_of("U-1").value() == first);
  // Compaction keeps each key's last record: the first key was written again after the second.
  CHECK(last_key_records(o)["subject/U-1"] == "K" + first);

  // Erased on one machine, erased on all (the others read the keys again within a second).
  REQUIRE((*a)->destroy("U-1").has_value());
  CHECK_FALSE((*a)->key_of("U-1").value().has_value());
  std::this_thread::sleep_for(1100ms);
  CHECK_FALSE((*b)->key_of("U-1").value().has_value());
  CHECK((*b)->forgotten("U-1").value());
  CHECK((*c)->key_for_sealing("U-1").error().code() == errc::wrong_state);
  CHECK(last_key_records(o)["subject/U-1"] == "F");
  // A key written after the erasure (a writer that had not read it) opens nothing, and the next
  // writer to open writes the erasure again after it, so compaction cannot bring the key back.
  produce_raw(kafka_keys_topic(o.topic_prefix), 0, "subject/U-1", "K" + second, {});
  auto d = open_kafka_keys(o);
  REQUIRE(d.has_value());
  CHECK((*d)->forgotten("U-1").value());
  REQUIRE((*d)->digest_key().has_value());
  CHECK(last_key_records(o)["subject/U-1"] == "F");

  // A folder holding people's keys of its own, on a log whose keys topic has none, is refused:
  // the log would get keys (and a digest key) beside the ones its events were sealed with.
  scratch_dir dir;
  const std::string folder = (dir.path() / "folder").string();
  REQUIRE(sazesh_cli({"demo", "--data-dir-fresh", folder}).code == 0);
  const auto refused_folder =
      sazesh_cli({"--data-dir", folder, "--kafka", broker(), "--kafka-prefix", unique_prefix("keys-folder"),
                  "--kafka-replication", "1", "--as", "operator:ops", "register-business", "--seal-id", "7001", "--domain",
                  "folder.example.ir", "--name", "x"});
  CHECK(refused_folder.code != 0);
  CHECK_MESSAGE(refused_folder.err.find("subjects.keys holds people's keys") != std::string::npos, refused_folder.err);

  // A keys topic that deletes old records would lose keys still needed: refused, named.
  const auto deleting = options_for(unique_prefix("keys-deleting"));
  const auto [made, out] = run_shell(fmt::format(
      "'{}' topics --bootstrap-server {} --create --topic {} --partitions 1 --replication-factor 1 2>&1",
      (source_root() / "tools" / "kafka.sh").string(), broker(), kafka_keys_topic(deleting.topic_prefix)));
  REQUIRE_MESSAGE(made == 0, out);
  const auto wrong = open_kafka_keys(deleting);
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().code() == errc::invalid_argument);
  CHECK(wrong.error().rule().find("cleanup.policy") != std::string::npos);
}

TEST_CASE("kafka: after forget, no topic of the log and no file of the folder holds the person's data; readers on Kafka read erased") {
  scratch_dir dir;
  const std::string bs = broker();
  const std::string prefix = unique_prefix("erasure");
  const std::string demo_data = (dir.path() / "demo").string(), data = (dir.path() / "data").string();
  const std::vector<std::string> to_kafka{"--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1"};
  const auto kafka_cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), to_kafka.begin(), to_kafka.end());
    args.insert(args.begin(), {"--data-dir", data});
    return sazesh_cli(args);
  };
  auto demo = sazesh_cli({"demo", "--data-dir-fresh", demo_data});
  REQUIRE_MESSAGE(demo.code == 0, demo.err);
  // The keys topic made ahead with a segment a second long and no compaction lag, so the
  // cleaner removes an erased key within the test rather than within a day.
  const auto kafka_sh = (source_root() / "tools" / "kafka.sh").string();
  const std::string keys_topic = kafka_keys_topic(prefix);
  const auto [made, made_out] = run_shell(fmt::format(
      "'{}' topics --bootstrap-server {} --create --topic {} --partitions 1 --replication-factor 1 --config "
      "cleanup.policy=compact --config segment.ms=1000 --config min.compaction.lag.ms=0 --config "
      "min.cleanable.dirty.ratio=0.01 --config file.delete.delay.ms=0 2>&1",
      kafka_sh, bs, keys_topic));
  REQUIRE_MESSAGE(made == 0, made_out);
  std::vector<std::string> copy{"--data-dir", demo_data, "copy-log", "--to-kafka"};
  copy.insert(copy.end(), to_kafka.begin(), to_kafka.end());
  auto copied = sazesh_cli(copy);
  REQUIRE_MESSAGE(copied.code == 0, copied.err);
  CHECK(copied.out.find("people's keys") != std::string::npos);
  // The log now lives on Kafka with its keys, written from `data`, which takes the documents and
  // the key that signs checkpoints; the demo's folder goes.
  std::filesystem::create_directories(std::filesystem::path(data) / "keys");
  std::filesystem::rename(std::filesystem::path(demo_data) / "documents", std::filesystem::path(data) / "documents");
  std::filesystem::rename(std::filesystem::path(demo_data) / "keys" / "signing.key",
                          std::filesystem::path(data) / "keys" / "signing.key");
  std::filesystem::remove_all(demo_data);
  kafka_log_options keys_options = options_for(prefix);
  const auto keys_before = last_key_records(keys_options);

  // Every consumer of the demo whose cases are all closed, with what each reads of themselves.
  const auto all = kafka_cli({"--as", "auditor:audit", "events", "--all"});
  REQUIRE(all.code == 0);
  std::set<std::string> consumers;
  const std::regex consumer_stream(R"re("stream_id": "(U-[A-Z0-9]+)")re");
  for (auto m = std::sregex_iterator(all.out.begin(), all.out.end(), consumer_stream); m != std::sregex_iterator(); ++m)
    consumers.insert((*m)[1]);
  REQUIRE(consumers.size() >= 3);
  std::set<std::string> secrets;
  std::vector<std::string> forgotten_cases;
  for (const auto& u : consumers) {
    const std::string me = "consumer:" + u;
    auto own = kafka_cli({"--as", me, "events", "--party", u});
    REQUIRE(own.code == 0);
    std::set<std::string> theirs = personal_values(own.out);
    auto cases = kafka_cli({"--as", me, "--json", "cases", "--consumer", u});
    REQUIRE_MESSAGE(cases.code == 0, cases.err);
    std::vector<std::string> ids;
    const std::regex case_id(R"(C-[A-Z0-9]{10})");
    for (auto m = std::sregex_iterator(cases.out.begin(), cases.out.end(), case_id); m != std::sregex_iterator(); ++m)
      ids.push_back((*m)[0]);
    for (const auto& c : ids) {
      auto events = kafka_cli({"--as", me, "events", "--case", c});
      REQUIRE(events.code == 0);
      const auto values = personal_values(events.out);
      theirs.insert(values.begin(), values.end());
    }
    auto forgot = kafka_cli({"--as", "operator:ops", "forget", "--party", u, "--reason", "the person asked"});
    if (forgot.code != 0) {
      CHECK_MESSAGE(forgot.err.find("open case") != std::string::npos, forgot.err);  // still needed
      continue;
    }
    REQUIRE(theirs.size() >= 3);  // at least the national code, the mobile and the name
    secrets.insert(theirs.begin(), theirs.end());
    forgotten_cases.insert(forgotten_cases.end(), ids.begin(), ids.end());
  }
  REQUIRE_FALSE(secrets.empty());
  REQUIRE_FALSE(forgotten_cases.empty());

  // The forgotten people's keys leave the keys topic, and the broker's files, once the cleaner
  // compacts it: their 'F' records are followed by another record after the segment's second,
  // so the segment holding them rolls and can be cleaned.
  std::vector<std::string> erased_keys;
  for (const auto& [key, value] : last_key_records(keys_options))
    if (value == "F" && keys_before.count(key) && keys_before.at(key).size() == 33)
      erased_keys.push_back(keys_before.at(key).substr(1));
  REQUIRE_FALSE(erased_keys.empty());
  std::this_thread::sleep_for(1100ms);
  const auto digest_record = last_key_records(keys_options).at("digest");
  produce_raw(keys_topic, 0, "digest", digest_record, {});
  const char* broker_state = std::getenv("SAZESH_KAFKA_DIR");
  REQUIRE_MESSAGE((broker_state != nullptr && *broker_state != '\0'), "SAZESH_KAFKA_DIR names the broker's state folder");
  const auto topic_folder = std::filesystem::path(broker_state) / "data" / (keys_topic + "-0");
  REQUIRE(std::filesystem::is_directory(topic_folder));
  int reads = 0;
  const auto key_left = [&]() -> std::string {
    for (const auto& r : read_feed(keys_options, keys_topic, fmt::format("{}keys-left-{}", prefix, ++reads)))
      for (const auto& k : erased_keys)
        if (r.value.find(k) != std::string::npos) return "record at offset " + std::to_string(r.offset);
    for (const auto& f : std::filesystem::directory_iterator(topic_folder)) {
      std::ifstream in(f.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (const auto& k : erased_keys)
        if (bytes.find(k) != std::string::npos) return f.path().filename().string();
    }
    return {};
  };
  std::string left = key_left();
  for (const auto until = std::chrono::steady_clock::now() + 90s; !left.empty() && std::chrono::steady_clock::now() < until;
       left = key_left())
    std::this_thread::sleep_for(1s);
  CHECK_MESSAGE(left.empty(), "an erased key is still in " << left);

  // Every record of every topic of the log (events, checkpoints, each agency's), aborted ones too.
  const auto topics = topics_with_prefix(bs, prefix);
  CHECK(topics.size() >= 3);
  std::uint64_t records = 0, naming_a_case = 0;
  for (const auto& topic : topics) {
    kafka_log_options o;
    o.bootstrap_servers = bs;
    for (const auto& r : read_feed(o, topic, prefix + "search")) {
      ++records;
      // The search sees what the records do hold: the forgotten person's case ids stay.
      naming_a_case += r.value.find(forgotten_cases.front()) != std::string::npos;
      for (const auto& secret : secrets) {
        INFO("topic " << topic << " offset " << r.offset << " secret " << secret);
        CHECK(r.value.find(secret) == std::string::npos);
        CHECK(r.key.find(secret) == std::string::npos);
      }
    }
  }
  CHECK(records > 0);
  CHECK(naming_a_case > 0);
  for (const auto& f : std::filesystem::recursive_directory_iterator(data)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const auto& secret : secrets) {
      INFO("file " << f.path() << " secret " << secret);
      CHECK(bytes.find(secret) == std::string::npos);
    }
  }
  // Readers on Kafka show erased in place of the data, and the log still verifies.
  for (const auto& c : forgotten_cases) {
    auto shown = kafka_cli({"--as", "operator:ops", "events", "--case", c});
    REQUIRE(shown.code == 0);
    CHECK(shown.out.find("\"personal_state\":\"erased\"") != std::string::npos);
    for (const auto& secret : secrets) CHECK(shown.out.find(secret) == std::string::npos);
  }
  auto verified = kafka_cli({"--as", "auditor:audit", "verify"});
  CHECK_MESSAGE(verified.code == 0, verified.err);
  // A referred case's bundle marks its documents erased and proves the erasure by the consumer's
  // PartyForgotten, in the tree of whichever partition holds the consumer's stream.
  const auto vkey = kafka_cli({"keys-show"});
  REQUIRE(vkey.code == 0);
  int proven = 0;
  for (const auto& c : forgotten_cases)
    for (const std::string agency : {"tazirat", "consumer-protection", "cyber-police"}) {
      const auto bundle = (dir.path() / (c + "-" + agency + ".tar")).string();
      auto written = kafka_cli({"--as", "operator:ops", "dossier", "--agency", agency, "--case", c, "--bundle", bundle});
      if (written.code != 0) {
        CHECK_MESSAGE(written.err.find("never held") != std::string::npos, written.err);
        continue;
      }
      const auto [status, out] = run_shell("python3 '" + (source_root() / "tools" / "verify-bundle.py").string() + "' '" +
                                           bundle + "' --vkey '" + lines_of(vkey.out).front() + "' 2>&1");
      CHECK_MESSAGE(status == 0, out);
      proven += out.find("erased; the consumer's PartyForgotten proven") != std::string::npos;
    }
  CHECK(proven > 0);
}

// The rows of `project --json` on a partitioned log: partition -> {position, end, lag}.
std::map<std::uint32_t, std::array<std::uint64_t, 3>> projected_partitions(const std::string& json) {
  std::map<std::uint32_t, std::array<std::uint64_t, 3>> rows;
  const std::regex row(R"(\{"partition":(\d+),"position":(\d+),"end":(\d+),"lag":(\d+)\})");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), row); it != std::sregex_iterator(); ++it)
    rows[static_cast<std::uint32_t>(std::stoul((*it)[1]))] = {std::stoull((*it)[2]), std::stoull((*it)[3]),
                                                               std::stoull((*it)[4])};
  return rows;
}

// ---- Prefixed ACLs on authenticated principals ----------------------------------------------
//
// tools/kafka.sh start --acls (tools/test.sh starts the suite's broker so): a SASL_PLAINTEXT
// listener with SCRAM-SHA-512 users (engine, agency1, agency2 …) and the StandardAuthorizer;
// PLAINTEXT stays a super user's, for the admin tools and the other tests.

std::string sasl_broker() {
  const char* bs = std::getenv("SAZESH_TEST_KAFKA_SASL");
  if (bs == nullptr || *bs == '\0')
    FAIL("SAZESH_TEST_KAFKA_SASL is not set: the ACL test needs the broker started with `tools/kafka.sh start --acls` "
         "and its `tools/kafka.sh sasl-bootstrap` address (tools/test.sh does both)");
  return bs;
}

// The --kafka-config options that sign in as a SCRAM user of tools/kafka.sh (password NAME-secret).
std::vector<std::string> signed_in_as(const std::string& user) {
  return {"--kafka-config", "security.protocol=SASL_PLAINTEXT", "--kafka-config", "sasl.mechanisms=SCRAM-SHA-512",
          "--kafka-config", "sasl.username=" + user, "--kafka-config", "sasl.password=" + user + "-secret"};
}

// Adds ACLs with Kafka's own tool, over PLAINTEXT (a super user there).
void add_acls(const std::string& arguments) {
  const auto [status, out] = run_shell(fmt::format("'{}' acls --bootstrap-server {} --add {} 2>&1",
                                                   (source_root() / "tools" / "kafka.sh").string(), broker(), arguments));
  REQUIRE_MESSAGE(status == 0, out);
}

// What the broker answers a record produced by `user` to `topic`: the delivery's error.
rd_kafka_resp_err_t produce_as(const std::string& user, const std::string& topic) {
  return produce_one({{"bootstrap.servers", sasl_broker()},
                      {"security.protocol", "SASL_PLAINTEXT"},
                      {"sasl.mechanisms", "SCRAM-SHA-512"},
                      {"sasl.username", user},
                      {"sasl.password", user + "-secret"},
                      {"message.timeout.ms", "15000"}},
                     topic, 0, "", "not a dossier");
}

TEST_CASE("kafka: prefixed ACLs: the engine's principal writes its prefix, an agency's reads its own topic and group only") {
  scratch_dir dir;
  const std::string sasl = sasl_broker();
  const std::string prefix = unique_prefix("acl");
  const std::string data = (dir.path() / "data").string();
  REQUIRE(sazesh_cli({"demo", "--data-dir-fresh", data}).code == 0);
  // The engine: everything under its prefix (topics, groups, its transactional id). Agencies:
  // read their own topic (a literal name: a prefix would also match a longer agency id) and
  // the groups under it; nothing else.
  add_acls(fmt::format("--allow-principal User:engine --operation All --topic {0} --group {0} --transactional-id {0} "
                       "--resource-pattern-type prefixed",
                       prefix));
  const std::string tazirat_topic = prefix + "agency.tazirat", protection_topic = prefix + "agency.consumer-protection";
  add_acls(fmt::format("--allow-principal User:agency1 --operation Read --operation Describe --topic {}", tazirat_topic));
  add_acls(fmt::format("--allow-principal User:agency1 --operation Read --group {}. --resource-pattern-type prefixed",
                       tazirat_topic));
  add_acls(fmt::format("--allow-principal User:agency2 --operation Read --operation Describe --topic {}", protection_topic));
  add_acls(fmt::format("--allow-principal User:agency2 --operation Read --group {}. --resource-pattern-type prefixed",
                       protection_topic));

  const auto on = [&](const std::string& user, std::vector<std::string> args, const std::string& as_prefix = "") {
    std::vector<std::string> a{"--data-dir", data, "--kafka", sasl, "--kafka-prefix", as_prefix.empty() ? prefix : as_prefix,
                               "--kafka-replication", "1", "--kafka-timeout", "20000"};
    const auto who = signed_in_as(user);
    a.insert(a.end(), who.begin(), who.end());
    a.insert(a.end(), args.begin(), args.end());
    return sazesh_cli(a);
  };
  const auto denied = [](const cli_result& r, const char* what) {
    CHECK(r.code != 0);
    CHECK_MESSAGE(r.err.find(what) != std::string::npos, r.err);
  };

  // Allowed: the engine copies the log in (creating its topics, writing in transactions,
  // relaying the Dossiers) and reads it back.
  auto copied = on("engine", {"copy-log", "--to-kafka"});
  REQUIRE_MESSAGE(copied.code == 0, copied.err);
  auto verified = on("engine", {"--as", "auditor:audit", "verify"});
  CHECK_MESSAGE(verified.code == 0, verified.err);
  // Denied: the engine's principal outside its prefix.
  denied(on("engine", {"copy-log", "--to-kafka"}, unique_prefix("other")), "AUTHORIZATION_FAILED");

  // Allowed: each agency reads its own feed in its own group, every record proven.
  for (const auto& [user, agency] : std::vector<std::pair<std::string, std::string>>{{"agency1", "tazirat"},
                                                                                     {"agency2", "consumer-protection"}}) {
    auto feed = on(user, {"--as", "agency:" + agency, "subscribe", "--agency", agency});
    INFO(user << ": " << feed.err);
    REQUIRE(feed.code == 0);
    const auto lines = lines_of(feed.out);
    CHECK_FALSE(lines.empty());
    for (const auto& line : lines) CHECK(line.find("\"agency\":\"" + agency + "\"") != std::string::npos);
  }
  // Denied: another agency's topic, a group outside its own, the events topic (anything that
  // reads the log), and writing even to its own topic.
  denied(on("agency1", {"--as", "agency:consumer-protection", "subscribe", "--agency", "consumer-protection"}),
         "TOPIC_AUTHORIZATION_FAILED");
  denied(on("agency2", {"--as", "agency:tazirat", "subscribe", "--agency", "tazirat"}), "TOPIC_AUTHORIZATION_FAILED");
  denied(on("agency1", {"--as", "agency:tazirat", "subscribe", "--agency", "tazirat", "--group", prefix + "someone-else"}),
         "GROUP_AUTHORIZATION_FAILED");
  denied(on("agency1", {"--as", "auditor:audit", "verify"}), "TOPIC_AUTHORIZATION_FAILED");
  denied(on("agency1", {"--as", "operator:ops", "register-agency", "--id", "x", "--name", "x", "--categories", "other"}),
         "AUTHORIZATION_FAILED");
  CHECK(produce_as("agency1", tazirat_topic) == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  // The keys that open the people's data: the engine's principal reads them, no agency's.
  const auto keys_as = [&](const std::string& user) {
    kafka_log_options o = options_for(prefix);
    o.bootstrap_servers = sasl;
    o.config = {{"security.protocol", "SASL_PLAINTEXT"},
                {"sasl.mechanisms", "SCRAM-SHA-512"},
                {"sasl.username", user},
                {"sasl.password", user + "-secret"}};
    return open_kafka_keys(o);
  };
  auto engine_keys = keys_as("engine");
  REQUIRE_MESSAGE(engine_keys.has_value(), engine_keys.error().message());
  CHECK_FALSE((*engine_keys)->entries().value().empty());
  const auto agency_keys = keys_as("agency1");
  REQUIRE_FALSE(agency_keys.has_value());
  CHECK(agency_keys.error().code() == errc::unauthorized);
  CHECK(produce_as("agency1", kafka_keys_topic(prefix)) == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  CHECK(produce_as("agency1", prefix + "events") == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  // The engine's principal may write there (the feed is not read again: this is no Dossier).
  CHECK(produce_as("engine", tazirat_topic) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST_CASE("kafka: a Dossier forged onto an agency's topic, its chain re-hashed, is refused by subscribe, named") {
  scratch_dir dir;
  const std::string prefix = unique_prefix("forged-feed");
  const std::string data = (dir.path() / "data").string();
  const std::vector<std::string> on_kafka{"--data-dir", data, "--kafka", broker(), "--kafka-prefix", prefix,
                                          "--kafka-replication", "1"};
  const auto with = [&](std::vector<std::string> b) {
    auto a = on_kafka;
    a.insert(a.end(), b.begin(), b.end());
    return sazesh_cli(a);
  };
  REQUIRE(sazesh_cli({"demo", "--data-dir-fresh", data}).code == 0);
  auto copied = with({"copy-log", "--to-kafka"});
  REQUIRE_MESSAGE(copied.code == 0, copied.err);
  const std::string topic = kafka_agency_topic(prefix, "tazirat");
  const auto records = read_feed(options_for(prefix), topic, prefix + "peek");
  REQUIRE_FALSE(records.empty());

  // The last record's event changed by one byte; it is the last of its history too, so the
  // chain still holds (nothing follows it), exactly as a forger who re-hashes would leave it.
  fb::DossierT d;
  fb::GetDossier(records.back().value.data())->UnPackTo(&d);
  REQUIRE(d.part == d.parts);
  auto rec = decode(std::string(d.event.begin(), d.event.end()));
  REQUIRE(rec.has_value());
  const std::string bytes(d.event.begin(), d.event.end());
  const auto at = bytes.find(rec->command_id);
  REQUIRE(at != std::string::npos);
  d.event[at] ^= 0x01;
  d.history.back()->bytes = d.event;
  flatbuffers::FlatBufferBuilder b;
  b.Finish(fb::Dossier::Pack(b, &d), fb::DossierIdentifier());
  produce_raw(topic, 0, d.case_id, std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize()), {});

  const auto subscribe = [&] {
    return with({"--as", "agency:tazirat", "subscribe", "--agency", "tazirat", "--group", prefix + "agency"});
  };
  auto first = subscribe();
  CHECK(first.code == 1);
  CHECK(lines_of(first.out).size() == records.size());  // every genuine record, then the stop
  const auto forged = read_feed(options_for(prefix), topic, prefix + "peek");  // the peek group's next record
  REQUIRE(forged.size() == 1);
  const std::string offset = fmt::format("offset {}", forged.front().offset);
  CHECK_MESSAGE(first.err.find(offset) != std::string::npos, first.err);
  CHECK_MESSAGE(first.err.find("inclusion proof does not hold") != std::string::npos, first.err);
  // The group stays before it: the next run stops at it again, printing nothing.
  auto again = subscribe();
  CHECK(again.code == 1);
  CHECK(again.out.empty());
  CHECK(again.err.find(offset) != std::string::npos);
}

TEST_CASE("kafka: each partition's Merkle tree is signed and published; verify, proofs and bundles hold against them") {
  scratch_dir dir;
  const std::string bs = broker();
  const std::string prefix = unique_prefix("signed");
  const std::string data = (dir.path() / "data").string();
  const std::vector<std::string> on_kafka{"--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1"};
  const auto with = [&](std::vector<std::string> a) {
    a.insert(a.begin(), on_kafka.begin(), on_kafka.end());
    return sazesh_cli(a);
  };
  REQUIRE(sazesh_cli({"demo", "--data-dir-fresh", data}).code == 0);
  // The copy signs the topic's three trees with the folder's key and publishes them.
  auto copied = with({"--data-dir", data, "copy-log", "--to-kafka"});
  REQUIRE_MESSAGE(copied.code == 0, copied.err);
  const std::string vkey = lines_of(sazesh_cli({"--data-dir", data, "keys", "show"}).out).front();
  auto key = parse_verifier_key(vkey);
  REQUIRE(key.has_value());
  const auto published = [&] {
    auto r = with({"--data-dir", data, "--json", "checkpoint"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return lines_of(r.out);
  };
  auto first = published();
  REQUIRE(first.size() == 3);
  std::uint64_t covered = 0;
  for (std::uint32_t p = 0; p < 3; ++p) {
    CHECK(first[p].find(fmt::format("\"partition\":{}", p)) != std::string::npos);
    CHECK(first[p].find(fmt::format("/partition-{}\\n", p)) != std::string::npos);
    covered += std::stoull(json_member(first[p], "tree_size"));
  }
  CHECK(covered == 90);

  // An auditor with nothing but the verifier key: a folder of its own, the topics, the key.
  const std::string auditor = (dir.path() / "auditor").string();
  auto audited = with({"--data-dir", auditor, "--as", "auditor:audit", "verify", "--key", vkey});
  INFO(audited.out << audited.err);
  REQUIRE(audited.code == 0);
  CHECK(audited.out.find("Merkle trees of 3 partitions: 3 signed checkpoint(s)") != std::string::npos);
  CHECK(audited.out.find("covering 90 events together") != std::string::npos);
  auto other = generate_signing_key("someone.else/log");
  REQUIRE(other.has_value());
  CHECK(with({"--data-dir", auditor, "--as", "auditor:audit", "verify", "--key", verifier_key_text(other->verifier())}).code != 0);

  // A writer on another machine, given the key: it rebuilds the trees from the topic, finds the
  // published roots, and signs on without being told to start over.
  const auto second = dir.path() / "second";
  std::filesystem::create_directories(second / "keys");
  std::filesystem::copy_file(dir.path() / "data" / "keys" / "signing.key", second / "keys" / "signing.key");
  auto wrote = with({"--data-dir", second.string(), "--as", "operator:ops", "register-business", "--seal-id", "1950",
                     "--domain", "second.ir", "--name", "second"});
  INFO(wrote.err);
  REQUIRE(wrote.code == 0);
  CHECK(wrote.err.find("no checkpoint signed") == std::string::npos);
  audited = with({"--data-dir", auditor, "--as", "auditor:audit", "verify", "--key", vkey});
  REQUIRE_MESSAGE(audited.code == 0, audited.err);
  CHECK(audited.out.find("4 signed checkpoint(s)") != std::string::npos);
  CHECK(audited.out.find("covering 91 events together") != std::string::npos);

  // A writer without the key makes none of its own for a topic that has published checkpoints:
  // its command stands, nothing is signed.
  const auto keyless = dir.path() / "keyless";
  auto unsigned_write = with({"--data-dir", keyless.string(), "--as", "operator:ops", "register-business", "--seal-id",
                              "1951", "--domain", "keyless.ir", "--name", "keyless"});
  REQUIRE_MESSAGE(unsigned_write.code == 0, unsigned_write.err);
  CHECK_MESSAGE(unsigned_write.err.find("no signing key") != std::string::npos, unsigned_write.err);
  CHECK_FALSE(std::filesystem::exists(keyless / "keys" / "signing.key"));
  audited = with({"--data-dir", auditor, "--as", "auditor:audit", "verify", "--key", vkey});
  REQUIRE_MESSAGE(audited.code == 0, audited.err);
  CHECK(audited.out.find("4 signed checkpoint(s)") != std::string::npos);
  CHECK(audited.out.find("(1 since, not yet signed)") != std::string::npos);

  // An inclusion proof of an event, checked here against the published checkpoint's root.
  for (std::uint32_t p = 0; p < 3; ++p) {
    auto proof = with({"--data-dir", second.string(), "proof", "--partition", std::to_string(p), "--position", "0"});
    REQUIRE_MESSAGE(proof.code == 0, proof.err);
    std::string note = json_member(proof.out, "checkpoint");
    note = std::regex_replace(note.substr(1, note.size() - 2), std::regex("\\\\n"), "\n");
    auto c = open_log_checkpoint(note, *key, 3, "checkpoint");
    REQUIRE_MESSAGE(c.has_value(), note);
    CHECK(c->first == p);
    const auto leaf = base64_hashes("[" + json_member(proof.out, "leaf_hash") + "]").front();
    CHECK(merkle::verify_inclusion(std::stoull(json_member(proof.out, "leaf_index")), c->second.size, leaf,
                                   base64_hashes(json_member(proof.out, "inclusion_proof")), c->second.root));
  }

  // The referred case's bundle, from the topic and the documents (the document store is the
  // folder's: copied here; the keys that seal them are the log's, read from its keys topic by
  // this machine as by any), checked by the standalone verifier.
  const auto queue = with({"--data-dir", second.string(), "--as", "auditor:audit", "--json", "queue", "--agency",
                           "consumer-protection", "--all"});
  REQUIRE_MESSAGE(queue.code == 0, queue.err);
  const std::string case_id = json_member(queue.out, "case");
  REQUIRE(case_id.size() > 2);
  const auto bundle = dir.path() / "case.tar";
  std::filesystem::copy(dir.path() / "data" / "documents", second / "documents", std::filesystem::copy_options::recursive);
  CHECK_FALSE(std::filesystem::exists(second / "keys" / "subjects.keys"));
  auto b = with({"--data-dir", second.string(), "--as", "auditor:audit", "dossier", "--agency", "consumer-protection", "--case",
                 case_id.substr(1, case_id.size() - 2), "--bundle", bundle.string()});
  REQUIRE_MESSAGE(b.code == 0, b.err);
  const auto [verified, output] = run_bundle_verifier(bundle, vkey);
  CHECK_MESSAGE(verified == 0, output);
  CHECK_MESSAGE(output.find("/partition-") != std::string::npos, output);

  // Checkpoints forged on the topic: by another key, or by the key over another root.
  const std::string topic = kafka_checkpoints_topic(prefix);
  const auto forged = [&](const signing_key& k, std::uint64_t size) {
    return sign_note(checkpoint_text({checkpoint_origin(key->name, 0, 3), size, sha256("another history")}), k);
  };
  produce_raw(topic, 0, "0", forged(*other, 1), {});
  auto refused = with({"--data-dir", auditor, "--as", "auditor:audit", "verify", "--key", vkey});
  CHECK(refused.code != 0);
  CHECK_MESSAGE(refused.err.find("is not signed by the key") != std::string::npos, refused.err);
}

TEST_CASE("kafka: a stream forked from outside is contained: refused, named by verify, the rest goes on") {
  scratch_dir dir;
  const std::string bs = broker();
  const std::string prefix = unique_prefix("fork");
  const std::string data = (dir.path() / "data").string();
  const std::vector<std::string> on_kafka{"--data-dir", data, "--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1"};
  const auto with = [&](std::vector<std::string> b) {
    auto a = on_kafka;
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const std::string demo_dir = (dir.path() / "demo").string();
  REQUIRE(sazesh_cli({"demo", "--data-dir-fresh", demo_dir}).code == 0);
  REQUIRE(sazesh_cli({"--data-dir", demo_dir, "--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1",
                      "copy-log", "--to-kafka"}).code == 0);
  REQUIRE(sazesh_cli(with({"--as", "auditor:audit", "verify"})).code == 0);

  // A case's last event written again, as a second writer deciding on the same version would,
  // and a record that is no event at all.
  auto o = options_for(prefix);
  auto fo = o;
  fo.follower = true;
  std::string forked;
  stored_event last;
  {
    auto reader = open_log(fo);
    for (const auto& e : read_everything(*reader))
      if (e.stream.rfind("C-", 0) == 0 && e.sequence.value() >= 3) {
        forked = e.stream;
        last = e;
      }
  }
  REQUIRE_FALSE(forked.empty());
  const std::string topic = kafka_events_topic(prefix);
  produce_raw(topic, static_cast<std::int32_t>(last.partition), forked, last.bytes,
              {{"sazesh-stream", forked}, {"sazesh-sequence", std::to_string(last.sequence.value())}, {"sazesh-command", "forked"}});
  produce_raw(topic, 0, "junk", "not an event", {});
  // verify names both and exits 1; everything else verified.
  auto verified = sazesh_cli(with({"--as", "auditor:audit", "verify"}));
  CHECK(verified.code == 1);
  CHECK_MESSAGE(verified.out.find("damaged: " + forked + ": ") != std::string::npos, verified.out);
  CHECK_MESSAGE(verified.out.find("two events with one sequence") != std::string::npos, verified.out);
  CHECK_MESSAGE(verified.out.find("damaged: (not an event): ") != std::string::npos, verified.out);
  CHECK_MESSAGE(verified.err.find("stream " + forked + " is damaged (and 1 more)") != std::string::npos, verified.err);

  // The writer refuses the forked stream and takes every other.
  o.local_dir = dir.path() / "writer";
  auto writer = open_log(o);
  auto refused = writer->append(request(forked, last.sequence.value(), "after-fork", {"x"}));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == errc::corrupt);
  CHECK(refused.error().field() == "stream");
  CHECK(writer->version(forked).value() == last.sequence);
  auto damaged = writer->damaged_streams();
  REQUIRE(damaged.has_value());
  CHECK(damaged->size() == 2);
  writer.reset();
  auto registered = sazesh_cli(with({"register-consumer", "--national-code", national_code_for(777), "--mobile",
                                     mobile_for(777), "--name", "سارا"}));
  CHECK_MESSAGE(registered.code == 0, registered.err);

  // Queries and projections go on: every other case is there.
  auto stats = sazesh_cli(with({"--as", "analyst:a1", "--json", "cases"}));
  CHECK_MESSAGE(stats.code == 0, stats.err);
  auto project = sazesh_cli(with({"project"}));
  CHECK_MESSAGE(project.code == 0, project.err);
  auto store = pj::projection_store::open(dir.path() / "follower-projections", pj::store_mode::read_write);
  REQUIRE(store.has_value());
  auto follower = open_log(fo);
  pj::projector projector(*follower, **store);
  auto applied = projector.catch_up();
  REQUIRE_MESSAGE(applied.has_value(), applied.error().message());
  auto mark = (*store)->get(pj::keys::damaged(forked));
  REQUIRE(mark.has_value());
  CHECK(mark->has_value());
}

TEST_CASE("kafka: subscribe cut off by a closed pipe leaves its group, so the next run reads at once") {
  scratch_dir dir;
  const std::string bs = broker();
  const std::string prefix = unique_prefix("pipe");
  const std::string data = (dir.path() / "data").string();
  REQUIRE(sazesh_cli({"demo", "--data-dir-fresh", data}).code == 0);
  REQUIRE(sazesh_cli({"--data-dir", data, "--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1",
                      "copy-log", "--to-kafka"}).code == 0);
  const std::string subscribe = fmt::format("'{}' --data-dir '{}' --kafka {} --kafka-prefix {} --as agency:tazirat "
                                            "subscribe --agency tazirat",
                                            SAZESH_BINARY, data, bs, prefix);
  // The first run's reader is gone before anything is printed: its first write meets the
  // closed pipe.
  const auto [first_status, first] = run_shell(subscribe + " 2>/dev/null | true");
  REQUIRE(first_status == 0);
  // The group's member left with the first run: the next run gets the partition at once
  // (else it would wait out the session timeout, 45 s, and `timeout` would stop it first);
  // and nothing was committed of what the first could not print, so it is all there.
  const auto [second_status, second] = run_shell("timeout 20 " + subscribe + " 2>&1");
  CHECK_MESSAGE(second_status == 0, second);
  CHECK(lines_of(second).size() >= 2);
  CHECK(second.find("\"agency\":\"tazirat\"") != std::string::npos);
}

TEST_CASE("kafka: project lists every partition's position, end and lag; Kafka's tool shows the group's lag") {
  scratch_dir dir;
  const std::string bs = broker();
  const std::string prefix = unique_prefix("lag");
  const std::string topic = kafka_events_topic(prefix);
  const std::vector<std::string> on_kafka{"--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1"};
  const auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const std::string demo_dir = (dir.path() / "demo").string();
  REQUIRE(sazesh_cli({"demo", "--data-dir-fresh", demo_dir}).code == 0);
  auto copied = sazesh_cli(with({"--data-dir", demo_dir, "copy-log", "--to-kafka"}, on_kafka));
  REQUIRE_MESSAGE(copied.code == 0, copied.err);
  const auto events = sazesh_cli({"--data-dir", demo_dir, "--as", "auditor:audit", "events", "--all"});
  REQUIRE(events.code == 0);
  const std::size_t event_count = lines_of(events.out).size();

  // Projections of the Kafka log in a folder of their own.
  const std::string data = (dir.path() / "data").string();
  auto projected = sazesh_cli(with({"--data-dir", data, "--json", "project"}, on_kafka));
  REQUIRE_MESSAGE(projected.code == 0, projected.err);
  INFO("project --json: " << projected.out);
  CHECK(projected.out.rfind(fmt::format("{{\"applied\":{},\"lag\":0,\"partitions\":[", event_count), 0) == 0);
  const auto rows = projected_partitions(projected.out);
  REQUIRE(rows.size() == 3);
  std::uint64_t total = 0;
  for (const auto& [partition, row] : rows) {
    INFO("partition " << partition);
    CHECK(row[0] == row[1]);  // at the end
    CHECK(row[2] == 0);
    total += row[0];
  }
  CHECK(total >= event_count);  // offsets: the events and the transactions' markers between them

  auto text = sazesh_cli(with({"--data-dir", data, "project"}, on_kafka));
  REQUIRE(text.code == 0);
  const auto text_lines = lines_of(text.out);
  REQUIRE(text_lines.size() == 5);
  CHECK(text_lines[0] == "applied 0 events; projections at these log positions:");
  CHECK(text_lines[1] == "partition  position  end  lag");
  for (std::uint32_t p = 0; p < 3; ++p)
    CHECK(std::regex_match(text_lines[1 + 1 + p], std::regex(fmt::format(R"(\s*{}\s+{}\s+{}\s+0)", p, rows.at(p)[0], rows.at(p)[1]))));

  // Kafka's own tool shows the projector's group like any consumer's: at the end, lag 0.
  const auto kafka_sh = (source_root() / "tools" / "kafka.sh").string();
  const auto [describe_status, describe] = run_shell(fmt::format(
      "'{}' consumer-groups --bootstrap-server '{}' --describe --group '{}projector' 2>&1", kafka_sh, bs, prefix));
  INFO("kafka-consumer-groups: " << describe);
  REQUIRE(describe_status == 0);
  int described = 0;
  for (const auto& line : lines_of(describe)) {
    std::istringstream fields(line);
    std::string group, line_topic, partition, current, end, lag;
    if (!(fields >> group >> line_topic >> partition >> current >> end >> lag) || line_topic != topic) continue;
    ++described;
    CHECK(group == prefix + "projector");
    CHECK(lag == "0");
    CHECK(current == end);
    CHECK(std::stoull(current) >= rows.at(static_cast<std::uint32_t>(std::stoul(partition)))[0]);
  }
  CHECK(described == 3);

  // Another writer's command moves the log on: the group falls behind in that partition, and
  // the next run catches up and reports it. (That writer's own projections, in another folder,
  // report to a group of their own.)
  const std::string other = (dir.path() / "other").string();
  auto wrote = sazesh_cli(with({"--data-dir", other, "--kafka-projector-group", prefix + "other", "--as", "operator:ali",
                                "register-business", "--seal-id", "990001", "--domain", "lag-check.example.ir", "--name", "Lag check"},
                               on_kafka));
  REQUIRE_MESSAGE(wrote.code == 0, wrote.err);
  const auto behind = view_group(prefix + "projector", topic, 3);
  std::int64_t lag = 0;
  for (std::uint32_t p = 0; p < 3; ++p) lag += behind.end[p] - behind.committed[p];
  CHECK(lag >= 2);  // the event and its transaction's marker
  const auto others = view_group(prefix + "other", topic, 3);
  for (std::uint32_t p = 0; p < 3; ++p) CHECK(others.committed[p] >= 0);
  auto caught_up = sazesh_cli(with({"--data-dir", data, "--json", "project"}, on_kafka));
  REQUIRE_MESSAGE(caught_up.code == 0, caught_up.err);
  CHECK(caught_up.out.rfind("{\"applied\":1,\"lag\":0,", 0) == 0);
  const auto after = view_group(prefix + "projector", topic, 3);
  CHECK(after.committed == after.end);
}

TEST_CASE("kafka: a query with the cluster unreachable answers from the projections, warning on stderr") {
  scratch_dir dir;
  const std::string bs = broker();
  const std::string prefix = unique_prefix("stale");
  const std::string demo_dir = (dir.path() / "demo").string();
  REQUIRE(sazesh_cli({"demo", "--data-dir-fresh", demo_dir}).code == 0);
  auto copied = sazesh_cli({"--data-dir", demo_dir, "--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1", "copy-log", "--to-kafka"});
  REQUIRE_MESSAGE(copied.code == 0, copied.err);
  const std::string data = (dir.path() / "data").string();
  const std::vector<std::string> reachable{"--data-dir", data, "--kafka", bs, "--kafka-prefix", prefix, "--kafka-replication", "1"};
  // Nothing listens on port 1; the timeout bounds the wait for it.
  const std::vector<std::string> unreachable{"--data-dir", data, "--kafka", "127.0.0.1:1", "--kafka-prefix", prefix,
                                             "--kafka-timeout", "1500"};
  const auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };

  SUBCASE("no projections yet: a clear error, and nothing on stdout") {
    auto r = sazesh_cli(with(unreachable, {"stats", "--by", "status"}));
    CHECK(r.code == 75);  // unavailable for now: worth retrying
    CHECK(r.out.empty());
    CHECK(lines_of(r.err).size() == 1);
    CHECK_MESSAGE(r.err.rfind("error: ", 0) == 0, r.err);
    CHECK(r.err.find("127.0.0.1:1") != std::string::npos);
    CHECK(r.err.find("no projections") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path() / "data" / "projections" / "CURRENT"));
  }
  SUBCASE("projections there: the answer as they hold it, and one warning naming the cluster") {
    const auto fresh_json = sazesh_cli(with(reachable, {"--as", "analyst:a1", "--json", "cases"}));
    REQUIRE_MESSAGE(fresh_json.code == 0, fresh_json.err);
    CHECK(fresh_json.err.empty());
    const auto fresh_text = sazesh_cli(with(reachable, {"stats", "--by", "status"}));
    REQUIRE(fresh_text.code == 0);

    const auto started = std::chrono::steady_clock::now();
    const auto stale_json = sazesh_cli(with(unreachable, {"--as", "analyst:a1", "--json", "cases"}));
    CHECK(std::chrono::steady_clock::now() - started < 1500ms + 5s);
    CHECK(stale_json.code == 0);
    CHECK(stale_json.out == fresh_json.out);  // stdout is the answer alone
    INFO("stderr: " << stale_json.err);
    REQUIRE(lines_of(stale_json.err).size() == 1);
    CHECK(stale_json.err.rfind("{\"warning\":{\"code\":\"unavailable\",\"field\":\"kafka\",", 0) == 0);
    CHECK(stale_json.err.find("\"bootstrap_servers\":\"127.0.0.1:1\"") != std::string::npos);
    CHECK(stale_json.err.find("\"stale\":true") != std::string::npos);

    const auto stale_text = sazesh_cli(with(unreachable, {"stats", "--by", "status"}));
    CHECK(stale_text.code == 0);
    CHECK(stale_text.out == fresh_text.out);
    INFO("stderr: " << stale_text.err);
    REQUIRE(lines_of(stale_text.err).size() == 1);
    CHECK(stale_text.err.rfind("warning: Kafka at 127.0.0.1:1 cannot be reached", 0) == 0);
    CHECK(stale_text.err.find("may be stale") != std::string::npos);

    // A bad command line is still a usage error, not a warning.
    CHECK(sazesh_cli(with(unreachable, {"--as", "analyst:a1", "cases", "--limit", "x"})).code == 1);
    CHECK(sazesh_cli({"--data-dir", data, "--kafka-timeout", "1500", "--as", "analyst:a1", "cases"}).code == 2);
  }
}

// ---- 4. Faults the real broker cannot produce on demand: librdkafka's mock cluster -----------------
//
// The mock cluster (librdkafka 2.0.2) speaks enough of the protocol for a transactional producer
// and a reader, and fails requests on demand. It does not apply transactions: it never hides
// aborted records from read_committed readers and writes no markers, so what it can show is the
// log's side of a fault (retried, reported, refused afterwards), not what other readers would see;
// the real-broker tests above and below cover that. It has no CreateTopics either, so topics are
// made with rd_kafka_mock_topic_create first.

// Kafka protocol request types (librdkafka's rdkafka_protocol.h, which Debian does not install).
constexpr std::int16_t k_api_produce = 0;
constexpr std::int16_t k_api_add_partitions_to_txn = 24;
constexpr std::int16_t k_api_end_txn = 26;

class mock_cluster {
 public:
  explicit mock_cluster(int brokers) {
    char problem[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", problem, sizeof problem);  // its own client stays quiet
    handle_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, problem, sizeof problem));
    REQUIRE_MESSAGE(handle_ != nullptr, problem);
    cluster_.reset(rd_kafka_mock_cluster_new(handle_.get(), brokers));
    REQUIRE(cluster_ != nullptr);
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_.get()); }
  rd_kafka_mock_cluster_t* get() { return cluster_.get(); }
  void create_topic(const std::string& topic, int partitions) {
    REQUIRE(rd_kafka_mock_topic_create(cluster_.get(), topic.c_str(), partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  struct handle_deleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  };
  struct cluster_deleter {
    void operator()(rd_kafka_mock_cluster_t* c) const { rd_kafka_mock_cluster_destroy(c); }
  };
  std::unique_ptr<rd_kafka_t, handle_deleter> handle_;                // declared first: destroyed last
  std::unique_ptr<rd_kafka_mock_cluster_t, cluster_deleter> cluster_;
};

kafka_log_options mock_options(mock_cluster& mock, const std::string& prefix) {
  kafka_log_options o;
  o.bootstrap_servers = mock.bootstrap();
  o.topic_prefix = prefix;
  o.timeout = 5s;
  o.replication_factor = 1;
  o.check_topic_settings = false;  // the mock cluster cannot describe a topic's settings
  mock.create_topic(kafka_events_topic(prefix), 3);
  return o;
}

TEST_CASE("kafka: a cluster that is down or absent at start gives errc::unavailable within the timeout") {
  SUBCASE("every mock broker down") {
    mock_cluster mock(1);
    auto o = mock_options(mock, "down.");
    REQUIRE(rd_kafka_mock_broker_set_down(mock.get(), -1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    o.timeout = 2s;
    const auto started = std::chrono::steady_clock::now();
    auto opened = open_kafka_log(o);
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == errc::unavailable);
    CHECK_MESSAGE(opened.error().rule().find(mock.bootstrap()) != std::string::npos, opened.error().rule());
    CHECK(took < 2s + 3s);
    MESSAGE("broker down: " << opened.error().message());
  }
  SUBCASE("nothing listening at the address") {
    kafka_log_options o;
    o.bootstrap_servers = "127.0.0.1:1";
    o.timeout = 1500ms;
    const auto started = std::chrono::steady_clock::now();
    auto opened = open_kafka_log(o);
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(opened.has_value());
    CHECK(opened.error().code() == errc::unavailable);
    CHECK(opened.error().rule().find("127.0.0.1:1") != std::string::npos);
    CHECK(took < 1500ms + 3s);
    MESSAGE("no broker: " << opened.error().message());
    o.follower = true;
    auto follower = open_kafka_log(o);
    REQUIRE_FALSE(follower.has_value());
    CHECK(follower.error().code() == errc::unavailable);
  }
}

TEST_CASE("regression: the broker going away after the log opened bounds every wait by the timeout") {
  // librdkafka 2.0.2's offset query waits for a broker that went away until it comes back,
  // whatever its timeout; a read must not.
  mock_cluster mock(1);
  auto o = mock_options(mock, "gone.");
  o.timeout = 2s;
  auto writer = open_log(o);
  REQUIRE(writer->append(request("case-1", 0, "cmd-1", {"e1"})).has_value());
  auto follower_options = o;
  follower_options.follower = true;
  auto follower = open_log(follower_options);
  REQUIRE(follower->partition_end(0).has_value());

  REQUIRE(rd_kafka_mock_broker_set_down(mock.get(), -1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  // Each call runs in a thread; if it is still waiting well past its timeout, the broker is
  // brought back so that the thread ends, and the check fails.
  const auto bounded = [&](const std::string& what, auto call) {
    auto done = std::async(std::launch::async, call);
    const bool in_time = done.wait_for(2s + 6s) == std::future_status::ready;
    if (!in_time) rd_kafka_mock_broker_set_up(mock.get(), -1);
    const status s = done.get();
    CHECK_MESSAGE(in_time, what << " outlived its timeout");
    CHECK_MESSAGE(!s, what << " succeeded with the broker down");
    if (in_time && !s) CHECK_MESSAGE(s.error().code() == errc::unavailable, s.error().message());
    rd_kafka_mock_broker_set_down(mock.get(), -1);
  };
  bounded("the writer's refresh", [&]() -> status { return writer->refresh(); });
  bounded("the follower's partition_end", [&]() -> status {
    auto e = follower->partition_end(0);
    return e ? status(ok) : status(e.error());
  });
  bounded("the follower's read", [&]() -> status {
    auto r = follower->read_partition(1, log_position{0}, 10);
    return r ? status(ok) : status(r.error());
  });
}

TEST_CASE("kafka (mock): injected request errors on produce and commit are retried, or reported, never duplicated") {
  mock_cluster mock(3);
  const auto o = mock_options(mock, "faults.");
  auto log = open_log(o);
  std::uint64_t version = 0;
  int command = 0;
  std::vector<std::string> acknowledged;
  const auto append_one = [&](const std::string& bytes) {
    auto r = log->append(request("case-1", version, fmt::format("cmd-{}", command++), {bytes, bytes + "+"}));
    if (r && !r->repeated) {
      version += 2;
      acknowledged.push_back(bytes);
      acknowledged.push_back(bytes + "+");
    }
    return r;
  };
  REQUIRE(append_one("before").has_value());
  bool records_left_in_mock = false;  // records of a failed transaction, which the mock never hides

  SUBCASE("retriable produce errors: the idempotent producer retries, each record lands once") {
    rd_kafka_mock_push_request_errors(mock.get(), k_api_produce, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    auto r = append_one("through produce errors");
    REQUIRE_MESSAGE(r.has_value(), r.error().message());
  }
  SUBCASE("retriable transaction errors: AddPartitionsToTxn and EndTxn are retried") {
    rd_kafka_mock_push_request_errors(mock.get(), k_api_add_partitions_to_txn, 2,
                                      RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    rd_kafka_mock_push_request_errors(mock.get(), k_api_end_txn, 2, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                      RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
    auto r = append_one("through transaction errors");
    REQUIRE_MESSAGE(r.has_value(), r.error().message());
  }
  SUBCASE("a refused produce aborts the transaction, which is tried once more with a new producer") {
    rd_kafka_mock_push_request_errors(mock.get(), k_api_produce, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
    auto r = append_one("refused once");
    REQUIRE_MESSAGE(r.has_value(), r.error().message());
  }
  SUBCASE("a produce refused twice is reported as nothing written; the next append works") {
    rd_kafka_mock_push_request_errors(mock.get(), k_api_produce, 2, RD_KAFKA_RESP_ERR_INVALID_RECORD,
                                      RD_KAFKA_RESP_ERR_INVALID_RECORD);
    auto r = append_one("refused twice");
    REQUIRE_FALSE(r.has_value());
    MESSAGE("produce refused twice: " << r.error().message());
    CHECK(r.error().rule().find("nothing was written") != std::string::npos);
    auto next = append_one("after the aborts");
    REQUIRE_MESSAGE(next.has_value(), next.error().message());
    CHECK(next->first_sequence == stream_version{3});
  }
  SUBCASE("a fencing answer to the commit: nothing written, in the one wording for a fence") {
    rd_kafka_mock_push_request_errors(mock.get(), k_api_end_txn, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    auto r = append_one("fenced at commit");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == errc::unavailable);
    CHECK_MESSAGE(r.error().rule().rfind("fenced: another writer of ", 0) == 0, r.error().rule());
    CHECK_MESSAGE(r.error().rule().find("nothing was written") != std::string::npos, r.error().rule());
    // The writer's own view never included the fenced group; the mock, applying no
    // transactions, keeps its records readable (a real broker's readers never see them), so
    // the writer's next append, which re-reads the topic, is for the real broker's tests.
    CHECK(log->version("case-1").value() == stream_version{version});
    records_left_in_mock = true;
  }
  SUBCASE("a commit that does not answer in time: outcome unknown, and a retry with the same id is safe") {
    // EndTxn answers after 7 s, past the log's 5 s timeout.
    rd_kafka_mock_broker_push_request_error_rtts(mock.get(), 1, k_api_end_txn, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 7000);
    rd_kafka_mock_broker_push_request_error_rtts(mock.get(), 2, k_api_end_txn, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 7000);
    rd_kafka_mock_broker_push_request_error_rtts(mock.get(), 3, k_api_end_txn, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 7000);
    const int id = command;
    auto r = append_one("slow commit");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == errc::unavailable);
    CHECK_MESSAGE(r.error().rule().find("outcome is unknown") != std::string::npos, r.error().rule());
    // The retry starts a new producer (settling the old transaction) and re-reads the topic:
    // either the first attempt is there (a repeat) or it is appended now; never both.
    auto retry = log->append(request("case-1", version, fmt::format("cmd-{}", id), {"slow commit", "slow commit+"}));
    REQUIRE_MESSAGE(retry.has_value(), retry.error().message());
    MESSAGE("after an unknown outcome the retry was " << (retry->repeated ? "a repeat" : "appended"));
    version += 2;
    acknowledged.push_back("slow commit");
    acknowledged.push_back("slow commit+");
    CHECK(log->version("case-1").value() == stream_version{version});
  }

  // What the writer holds is what it acknowledged, once each; a reader of the mock agrees.
  auto mine = log->read_stream("case-1", stream_version{1});
  REQUIRE(mine.has_value());
  std::vector<std::string> held;
  for (const auto& e : *mine) held.push_back(e.bytes);
  CHECK(held == acknowledged);
  auto fo = o;
  fo.follower = true;
  auto reader = open_kafka_log(fo);
  REQUIRE_MESSAGE(reader.has_value(), reader.error().message());
  if (!records_left_in_mock) {
    auto theirs = (*reader)->read_stream("case-1", stream_version{1});
    REQUIRE(theirs.has_value());
    std::vector<std::string> seen;
    for (const auto& e : *theirs) seen.push_back(e.bytes);
    CHECK(seen == acknowledged);
  }
}

TEST_CASE("kafka (mock): progress commits to a cluster gone away never fail or slow the projector") {
  mock_cluster mock(1);
  auto o = mock_options(mock, "away.");
  auto log = open_log(o);
  scratch_dir dir;
  auto store = pj::projection_store::open(dir.path() / "projections", pj::store_mode::read_write);
  REQUIRE(store.has_value());
  REQUIRE(rd_kafka_mock_broker_set_down(mock.get(), -1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  {
    pj::projector p(*log, **store);
    const auto started = std::chrono::steady_clock::now();
    auto n = p.catch_up();  // reports every partition's position: commits that cannot get through
    REQUIRE_MESSAGE(n.has_value(), n.error().message());
    CHECK(*n == 0);
    CHECK(std::chrono::steady_clock::now() - started < 500ms);
  }
  // Closing waits for the last commit a moment (2 s, and what is left of the commit's own 2 s
  // wait for a coordinator), then drops it.
  const auto started = std::chrono::steady_clock::now();
  log.reset();
  const auto took = std::chrono::steady_clock::now() - started;
  MESSAGE("closing with a commit outstanding took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 2s + 3s);
}

}  // namespace
}  // namespace sazesh
