// sazesh-bench's raw limits: the bytes the engine writes, written by RocksDB and librdkafka
// alone, so every figure of the engine stands beside what the storage itself can do.
#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "benchmarks/bench_support.h"
#include "engine/kafka/kafka_log.h"
#include "engine/record/codec.h"

namespace sazesh::bench {

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

}  // namespace sazesh::bench
