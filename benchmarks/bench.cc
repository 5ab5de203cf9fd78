// sazesh-bench: the benchmark programs, one subcommand each, every one printing a single line
// of JSON (figures, the raw limit measured beside them where there is one, and the process's
// peak RSS). benchmarks/run.py runs them in order and builds the report.
//
//   sazesh-bench generate   --dir D --events N            a workload log, through the engine
//   sazesh-bench engine-open --dir D                      fold a log into the engine (time, RSS)
//   sazesh-bench append     --dir D --clients K --events N [--kafka B --prefix P]
//                                                         commands decided and made durable
//   sazesh-bench messages   --dir D --clients K --seconds S [--project 1]
//                                                         messages on 64 cases, in process
//   sazesh-bench raw-append --source D --dir D2 --clients K --events N
//                                                         synced RocksDB writes of the same bytes
//   sazesh-bench raw-kafka  --source D --kafka B --topic T   librdkafka, acks=all, same bytes
//   sazesh-bench rebuild    --dir D --out P [--kafka B --prefix P]   projector rebuild
//   sazesh-bench raw-keys   --dir D --keys N              RocksDB batch writes of N keys
//   sazesh-bench replay     --dir D --samples S           one case's history, read and folded
//   sazesh-bench queries    --projections P --samples S   point and list queries
//   sazesh-bench forget     --dir D --cases N             erasing a person with N cases (forget)
//   (generate and append take --seal 1: personal data sealed, as the CLI and serve write it)
//   sazesh-bench tree       --dir D --out P [--samples S]  the Merkle tree: verify's work per event
//                                                         beside raw SHA-256, building and signing
//                                                         the checkpoint store, proof sizes and times
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
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "benchmarks/bench_support.h"
#include "engine/record/codec.h"
#include "engine/record/hash.h"
#include "engine/engine.h"
#include "engine/log/checkpoint_store.h"
#include "engine/log/event_log.h"
#include "engine/record/merkle.h"
#include "engine/domain/evolve.h"
#include "engine/feed_relay.h"
#include "engine/kafka/kafka_key_store.h"
#include "engine/kafka/kafka_log.h"
#include "projections/projector.h"
#include "projections/queries.h"
#include "projections/store.h"
#include "workload/history_generator.h"

namespace sazesh::bench {
namespace {

namespace pj = sazesh::projections;

// With --seal 1, the engine seals personal data as the CLI and serve do (engine/record/sealing.h),
// with a key store in --keys (default DIR/keys), or on Kafka the log's keys topic; without, it
// writes it in the clear: the two side by side are what sealing costs.
engine_options sealing_options(const args& a, std::unique_ptr<key_store>& keys) {
  engine_options o;
  if (a.num("seal", 0) == 0) return o;
  const fs::path folder = a.has("keys") ? fs::path(a.str("keys")) : fs::path(a.str("dir")) / "keys";
  keys = a.has("kafka") ? must(open_kafka_keys(kafka_options(a)), "open_kafka_keys")
                        : must(open_key_folder(folder), "open_key_folder");
  o.keys = keys.get();
  return o;
}

// ---- generate ---------------------------------------------------------------------------------

int generate(const args& a) {
  const std::uint64_t target = a.num("events", 100'000);
  auto l = open_log(a, false);
  fixed_clock clock(history_generator::default_start());
  std::unique_ptr<key_store> keys;
  auto eng = must(engine::open(*l.log, clock, {}, sealing_options(a, keys)), "engine::open");
  history_generator gen(*eng, clock, a.num("seed", 1), workload(target));
  const auto t = clk::now();
  gen.register_parties();
  while (gen.stats().events < target && gen.step()) {
  }
  const double s = seconds_since(t);
  const world w = must(eng->snapshot(), "snapshot");
  std::map<std::string, std::uint64_t> statuses, outcomes;
  for (const auto& [id, c] : w.cases) {
    statuses[std::string(to_string(c.status))] += 1;
    if (c.close_reason) outcomes[fb::EnumNameCloseReason(*c.close_reason)] += 1;
  }
  std::uint64_t chatty = 0;
  for (const auto& [id, c] : w.cases) chatty += c.head.version.value() >= 45;
  const auto to_json = [](const std::map<std::string, std::uint64_t>& m) {
    std::string out = "{";
    for (const auto& [k, v] : m) out += fmt::format("{}\"{}\":{}", out.size() > 1 ? "," : "", k, v);
    return out + "}";
  };
  if (a.has("actions"))
    for (const auto& [k, v] : gen.stats().actions) std::fprintf(stderr, "%s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  // Ids the whole-process command benchmarks act on: a consumer, the busiest business, a case.
  std::string consumer, business, some_case;
  if (!w.consumers.empty()) consumer = w.consumers.begin()->first;
  std::map<std::string, std::size_t> per_business;
  for (const auto& [id, c] : w.cases) {
    ++per_business[c.business_id];
    if (some_case.empty() || c.head.version > w.cases.at(some_case).head.version) some_case = id;
  }
  for (const auto& [b, n] : per_business)
    if (business.empty() || n > per_business[business]) business = b;
  std::fprintf(stderr, "sample ids: consumer %s business %s case %s\n", consumer.c_str(), business.c_str(), some_case.c_str());
  std::printf(R"({"sample":{"consumer":"%s","business":"%s","case":"%s","now":"%s"},"events":%llu,"commands":%llu,"refused":%llu,"unexpected":%llu,"cases":%zu,"businesses":%zu,"long_cases":%llu,"seconds":%.3f,"events_per_second":%.0f,"log_bytes":%llu,"peak_rss_mib":%.1f,"statuses":%s,"close_reasons":%s})"
              "\n", consumer.c_str(), business.c_str(), some_case.c_str(), format_iso_utc(clock.now()).c_str(),
              static_cast<unsigned long long>(gen.stats().events), static_cast<unsigned long long>(gen.stats().commands),
              static_cast<unsigned long long>(gen.stats().refused), static_cast<unsigned long long>(gen.stats().unexpected),
              w.cases.size(), w.businesses.size(), static_cast<unsigned long long>(chatty), s,
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
  // Opening no longer folds the log (the state rows are kept with it): what it costs is the
  // engine's open time and memory, whatever the log's size.
  (void)eng;
  std::printf(R"({"events":%llu,"log_open_seconds":%.3f,"engine_open_seconds":%.3f,"peak_rss_mib":%.1f})"
              "\n",
              static_cast<unsigned long long>(events), l.open_seconds, s, peak_rss_mib());
  return 0;
}

// ---- append: the engine, K clients ------------------------------------------------------------


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
  std::unique_ptr<key_store> keys;
  auto eng = must(engine::open(*l.log, clock, {}, sealing_options(a, keys)), "engine::open");
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
  // --checkpoint-ms N: the writer's checkpointer beside the appends, as `sazesh serve` runs it.
  const std::uint64_t checkpoint_ms = a.num("checkpoint-ms", 0);
  std::unique_ptr<checkpoint_store> checkpoints;
  std::optional<signing_key> key;
  if (checkpoint_ms > 0) {
    fs::remove_all(fs::path(a.str("dir")) / "checkpoints-bench");
    checkpoints = must(checkpoint_store::open(fs::path(a.str("dir")) / "checkpoints-bench", checkpoint_store::access::write),
                       "open checkpoints");
    key = must(generate_signing_key("bench.local/log"), "key");
    must(checkpoints->extend(*l.log), "extend");
  }
  std::atomic<bool> appending{true};
  std::uint64_t signed_checkpoints = 0;
  std::thread checkpointer([&] {
    while (checkpoint_ms > 0 && appending) {
      std::this_thread::sleep_for(std::chrono::milliseconds(checkpoint_ms));
      must(checkpoints->extend(*l.log), "extend");
      if (l.log->publishes_side_records()) {
        // On Kafka a signing also publishes the agencies' dossiers of what it covers.
        signed_checkpoints += must(publish_signed(*l.log, *checkpoints, *key, *l.log), "publish").published.size();
      } else if (!must(checkpoints->sign(*key), "sign").empty()) {
        ++signed_checkpoints;
      }
    }
  });
  const std::uint64_t groups_before = l.log->groups_written();
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
  // Units (synced batches, or transactions) the appends went in; the mean is wall time per
  // unit, which is a unit's own time while they run back to back.
  const std::uint64_t units = l.log->groups_written() - groups_before;
  appending = false;
  checkpointer.join();
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
  std::printf(R"({"clients":%zu,"checkpoint_ms":%llu,"checkpoints":%llu,"commands":%llu,"events":%llu,"unexpected":%llu,"seconds":%.3f,"units":%llu,"mean_unit_ms":%.3f,"commands_per_second":%.0f,"events_per_second":%.0f,"latency":%s,"peak_rss_mib":%.1f})"
              "\n",
              clients, static_cast<unsigned long long>(checkpoint_ms), static_cast<unsigned long long>(signed_checkpoints), static_cast<unsigned long long>(commands), static_cast<unsigned long long>(total_events),
              static_cast<unsigned long long>(unexpected), s, static_cast<unsigned long long>(units),
              units > 0 ? s * 1000 / static_cast<double>(units) : 0.0, static_cast<double>(commands) / s,
              static_cast<double>(total_events) / s, latency_json(all).c_str(), peak_rss_mib());
  return 0;
}

// ---- messages: what serve_load.sh asks over HTTP, through the engine in process ----------------

// K threads, each posting messages (every one a new command, made durable) on 64 cases of one
// consumer for S seconds: the in-process figure beside `POST /v1/message` at K connections.
// With --project 1, each write also brings the projections up to date before it returns, as
// serve does so that the queries after a write see it.
int messages(const args& a) {
  const std::size_t clients = a.num("clients", 16);
  const double duration = static_cast<double>(a.num("seconds", 5));
  auto l = open_log(a, true);
  system_clock_source clock;
  auto eng = must(engine::open(*l.log, clock), "engine::open");
  std::unique_ptr<pj::projection_store> store;
  std::unique_ptr<pj::projector> projector;
  std::mutex projector_mutex;
  if (a.num("project", 0) != 0) {
    store = must(pj::projection_store::open(fs::path(a.str("dir")) / "projections", pj::store_mode::read_write),
                 "open projections");
    projector = std::make_unique<pj::projector>(*l.log, *store);
  }
  const auto project = [&] {
    if (!projector) return;
    std::lock_guard lock(projector_mutex);
    must(projector->catch_up(), "projector");
  };
  const actor op{fb::Role_operator_, "bench"};
  const auto run = [&](const actor& who, const command& c) {
    auto out = eng->execute(who, random_hex(16), c);
    if (!out) die("setup: " + out.error().message());
    return out->stream;
  };
  run(op, register_business{"1002", "load.example.ir", "بار", 3});
  const actor consumer{fb::Role_consumer, run({fb::Role_consumer, ""}, register_consumer{"0013542419", "09121234567", "مریم"})};
  std::vector<std::string> cases;
  for (int i = 0; i < 64; ++i) {
    file_case f;
    f.business = "1002";
    f.order_reference = fmt::format("L-{}", i);
    f.purchase_date_days = static_cast<std::int32_t>(clock.now() / 86'400'000) - 30;
    f.amount_rials = 1000;
    f.description = "x";
    cases.push_back(run(consumer, f));
  }
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> failed{0};
  std::vector<std::vector<double>> latencies(clients);
  const auto t = clk::now();
  {
    std::vector<std::thread> ts;
    for (std::size_t k = 0; k < clients; ++k)
      ts.emplace_back([&, k] {
        for (std::uint64_t n = k; !stop.load(std::memory_order_relaxed); n += clients) {
          const auto start = clk::now();
          auto out = eng->execute(consumer, random_hex(16), post_message{cases[n % cases.size()], fmt::format("پیام {}", n)});
          if (!out) failed += 1;
          project();
          latencies[k].push_back(std::chrono::duration<double, std::micro>(clk::now() - start).count());
        }
      });
    while (seconds_since(t) < duration) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop = true;
    for (auto& th : ts) th.join();
  }
  const double s = seconds_since(t);
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::printf(R"({"clients":%zu,"projected":%s,"commands":%zu,"failed":%llu,"seconds":%.3f,"commands_per_second":%.0f,"latency":%s,"peak_rss_mib":%.1f})"
              "\n",
              clients, projector ? "true" : "false", all.size(), static_cast<unsigned long long>(failed.load()), s, static_cast<double>(all.size()) / s,
              latency_json(all).c_str(), peak_rss_mib());
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


// ---- forget: erasing one person ---------------------------------------------------------------

// A consumer with --cases N cases (each filed, then withdrawn), in a fresh folder; then the time
// `forget` takes: deciding, writing PartyForgotten, destroying the key.
int forget(const args& a) {
  const std::size_t cases = a.num("cases", 100);
  auto l = open_log(a, true);
  fixed_clock clock(history_generator::default_start());
  std::unique_ptr<key_store> keys;
  args sealed = a;
  sealed.values["seal"] = "1";
  auto eng = must(engine::open(*l.log, clock, {}, sealing_options(sealed, keys)), "engine::open");
  const actor op{fb::Role_operator_, "bench"};
  must(eng->execute(op, "b-1", register_business{"5001", "bench-shop.ir", "فروشگاه آزمون", 3}), "register_business");
  const std::string consumer =
      must(eng->execute({fb::Role_consumer, ""}, "c-1", register_consumer{"5260181591", "09121234567", "سارا محمدی"}), "register_consumer").stream;
  const actor me{fb::Role_consumer, consumer};
  for (std::size_t i = 0; i < cases; ++i) {
    const auto today = static_cast<std::int32_t>(days_from_civil(tehran_date(clock.now())));
    file_case f{"5001", fmt::format("ORD-{}", i), today - 1, 1'000'000, fb::Category_other, "کالا نرسید", fb::RemedyKind_refund, {}};
    const std::string id = must(eng->execute(me, fmt::format("f-{}", i), f), "file_case").stream;
    must(eng->execute(me, fmt::format("w-{}", i), withdraw_case{id, "حل شد"}), "withdraw_case");
  }
  const auto t = clk::now();
  must(eng->execute(op, "forget-1", forget_party{consumer, "درخواست حذف"}), "forget_party");
  const double s = seconds_since(t);
  const bool gone = !must(keys->key_of(consumer), "key_of").has_value();
  std::printf(R"({"cases":%zu,"events":%llu,"forget_ms":%.2f,"key_destroyed":%s,"peak_rss_mib":%.1f})"
              "\n",
              cases, static_cast<unsigned long long>(must(l.log->end(), "end").value()), s * 1000, gone ? "true" : "false",
              peak_rss_mib());
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
  must(store->scan("c", pj::keys::prefix_end("c"),
                   [&](std::string_view k, std::string_view) {
                     if (cases.size() < 200'000) cases.emplace_back(k.substr(1));
                     return true;
                   }),
       "scan cases");
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
  // The lists the projector keeps indexes for, each cut at 50 rows as the CLI's pages are.
  std::vector<std::string> busiest;  // the 20 shops with the most complaints (Zipf's head)
  for (const auto& sc : must(pj::top_businesses(*store, "complaints", 20), "top")) busiest.push_back(sc.business_id);
  std::vector<std::string> agencies;
  must(store->scan("xa", pj::keys::prefix_end("xa"),
                   [&](std::string_view k, std::string_view) {
                     const std::string agency(k.substr(2, k.find('\0') - 2));
                     if (agencies.empty() || agencies.back() != agency) agencies.push_back(agency);
                     return true;
                   }),
       "scan agencies");
  if (agencies.empty()) agencies.push_back("tazirat");
  timestamp_ms latest = 0;
  std::vector<timestamp_ms> filed;
  for (std::size_t i = 0; i < 1000; ++i) {
    auto r = must(pj::find_case(*store, cases[rng() % cases.size()]), "find_case");
    if (r) {
      filed.push_back(r->state.filed_at);
      latest = std::max(latest, r->state.filed_at);
    }
  }
  const auto list = [&](auto shape) {
    return time([&] {
      pj::case_filter f;
      f.limit = 50;
      shape(f);
      found += must(pj::list_cases(*store, f), "list_cases").size();
    });
  };
  auto business_status = list([&](pj::case_filter& f) {
    f.business = busiest[rng() % busiest.size()];
    f.status = rng() % 2 ? case_status::closed : case_status::withdrawn;
  });
  auto agency_status = list([&](pj::case_filter& f) {
    f.agency = agencies[rng() % agencies.size()];
    f.status = case_status::referred;
  });
  auto category_month = list([&](pj::case_filter& f) {
    f.category = static_cast<fb::Category>(rng() % (fb::Category_MAX + 1));
    const timestamp_ms at = filed[rng() % filed.size()];
    f.filed_from = at - 15 * 86'400'000LL;
    f.filed_to = at + 15 * 86'400'000LL;
  });
  // A month past the last filing: every open case is overdue by then.
  auto overdue = list([&](pj::case_filter& f) { f.overdue_at = latest + 30 * 86'400'000LL; });
  std::printf(R"({"cases":%zu,"businesses":%zu,"found":%zu,"case":%s,"scorecard":%s,"top20":%s,"filtered_list":%s,"agency_status":%s,"category_month":%s,"overdue":%s,"peak_rss_mib":%.1f})"
              "\n",
              cases.size(), businesses.size(), found, latency_json(one_case).c_str(), latency_json(one_scorecard).c_str(),
              latency_json(top20).c_str(), latency_json(business_status).c_str(), latency_json(agency_status).c_str(),
              latency_json(category_month).c_str(), latency_json(overdue).c_str(), peak_rss_mib());
  return 0;
}


// ---- tree -------------------------------------------------------------------------------------

int tree(const args& a) {
  auto l = open_log(a, false, true);
  // 1. What verify does per event (decode, the stream's chain, the leaf hash, the tree), timed
  // apart from reading, beside SHA-256 alone over the same bytes.
  double raw_s = 0, verify_s = 0;
  std::uint64_t events = 0, bytes = 0;
  std::unordered_map<std::string, std::string> heads;
  merkle::compact_range range;
  const auto wall = clk::now();
  std::vector<stored_event> batch;
  const auto run_batch = [&] {
    auto t0 = clk::now();
    std::string sink;
    for (const auto& e : batch) sink = sha256(e.bytes);
    raw_s += seconds_since(t0);
    t0 = clk::now();
    for (const auto& e : batch) {
      auto r = must(decode(e.bytes), "decode");
      auto& head = heads[r.stream];
      if (r.previous_hash != head) die("a broken chain at position " + std::to_string(e.position.value()));
      head = r.hash;
      range.push(merkle::leaf_hash(e.bytes));
    }
    verify_s += seconds_since(t0);
    batch.clear();
  };
  for_each_event(*l.log, [&](stored_event& e) {
    ++events;
    bytes += e.bytes.size();
    batch.push_back(std::move(e));
    if (batch.size() == 4096) run_batch();
  });
  run_batch();
  const double wall_s = seconds_since(wall);
  // 2. The checkpoint store built from nothing, and one checkpoint signed.
  const fs::path out = a.str("out");
  fs::remove_all(out);
  auto store = must(checkpoint_store::open(out, checkpoint_store::access::write), "open checkpoints");
  auto t = clk::now();
  must(store->extend(*l.log), "extend");
  const double extend_s = seconds_since(t);
  if (store->root(0) != range.root()) die("the store's root differs from the one computed here");
  auto key = must(generate_signing_key("bench.local/log"), "key");
  t = clk::now();
  auto made = must(store->sign(key), "sign");
  const double sign_s = seconds_since(t);
  const std::uint64_t size = store->size(0);
  // 3. Proofs: inclusion of random events against that checkpoint, consistency from random sizes.
  const std::size_t samples = a.num("samples", 2000);
  std::mt19937_64 rng(5);
  std::vector<double> inclusion_us, consistency_us;
  std::size_t inclusion_hashes = 0, consistency_hashes = 0;
  for (std::size_t i = 0; i < samples && size > 0; ++i) {
    const std::uint64_t p = rng() % size;
    auto t0 = clk::now();
    auto proof = must(store->inclusion_proof(0, p, size, *l.log), "inclusion proof");
    inclusion_us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
    inclusion_hashes += proof.size();
    const std::uint64_t m = 1 + rng() % size;
    t0 = clk::now();
    auto c = must(store->consistency_proof(0, m, size, *l.log), "consistency proof");
    consistency_us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
    consistency_hashes += c.size();
  }
  const double n = static_cast<double>(std::max<std::size_t>(1, inclusion_us.size()));
  std::printf(R"({"events":%llu,"envelope_bytes":%llu,"read_and_verify_seconds":%.3f,"verify_events_per_second":%.0f,"raw_sha256_events_per_second":%.0f,"ratio_to_raw_sha256":%.2f,"tree_build_seconds":%.3f,"tree_build_events_per_second":%.0f,"store_bytes":%llu,"sign_ms":%.3f,"checkpoint_bytes":%zu,"inclusion_proof_hashes":%.1f,"inclusion_proof_bytes":%.0f,"inclusion_latency":%s,"consistency_proof_hashes":%.1f,"consistency_latency":%s,"peak_rss_mib":%.1f})"
              "\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(bytes), wall_s,
              static_cast<double>(events) / verify_s, static_cast<double>(events) / raw_s, raw_s / verify_s, extend_s,
              static_cast<double>(events) / extend_s, static_cast<unsigned long long>(folder_bytes(out)), sign_s * 1000,
              made.empty() ? 0 : made.front().note.size(), static_cast<double>(inclusion_hashes) / n, 32.0 * static_cast<double>(inclusion_hashes) / n,
              latency_json(inclusion_us).c_str(), static_cast<double>(consistency_hashes) / n, latency_json(consistency_us).c_str(),
              peak_rss_mib());
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
  if (cmd == "messages") return messages(a);
  if (cmd == "raw-append") return raw_append(a);
  if (cmd == "raw-kafka") return raw_kafka(a);
  if (cmd == "rebuild") return rebuild(a);
  if (cmd == "raw-keys") return raw_keys(a);
  if (cmd == "replay") return replay(a);
  if (cmd == "forget") return forget(a);
  if (cmd == "queries") return queries(a);
  if (cmd == "tree") return tree(a);
  die("unknown subcommand " + cmd);
}
