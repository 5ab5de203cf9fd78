// The engine's pipelined commands (engine/engine.h): many clients at once are decided one after
// another on the state the ones before them left, and reach the log in shared units
// (event_log::append_group). These tests check what makes that safe: the log ends up exactly as
// the clients were told, a unit that is not written takes everything decided on it down with
// it and leaves nothing behind in memory, a command id in flight is never written twice, and
// the embedded log writes a unit as a prefix. Always on the embedded (RocksDB) log, with held
// and failed units injected by wrappers around it.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/time/clock.h"
#include "engine/record/codec.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/record/hash.h"
#include "engine/domain/state.h"
#include "workload/history_generator.h"
#include "tests/engine_harness.h"
#include "tests/temp_dir.h"

namespace sazesh {
namespace {

using workload::history_generator;
using workload::history_options;
using namespace std::chrono_literals;
using testing::day;
using testing::forwarding_log;

// ---- Harness ---------------------------------------------------------------------------------

// Counts the units the engine sends and remembers every command the log said it wrote, so the
// test can hold the log to what it acknowledged.
class counting_log final : public forwarding_log {
 public:
  using forwarding_log::forwarding_log;

  result<std::vector<result<append_outcome>>> append_group(std::vector<append_request> requests) override {
    const std::size_t n = requests.size();
    std::vector<std::string> ids;
    for (const auto& r : requests) ids.push_back(r.command_id);
    auto written = inner_.append_group(std::move(requests));
    std::lock_guard lock(mutex_);
    ++units_;
    requests_ += n;
    largest_ = std::max(largest_, n);
    if (written) {
      for (std::size_t i = 0; i < written->size(); ++i)
        if ((*written)[i] && !(*written)[i]->repeated) written_.emplace(ids[i], *(*written)[i]);
    }
    return written;
  }
  std::uint64_t plain_appends() const { return plain_appends_.load(); }
  result<append_outcome> append(append_request request) override {
    ++plain_appends_;
    return inner_.append(std::move(request));
  }

  std::uint64_t units() const { std::lock_guard lock(mutex_); return units_; }
  std::uint64_t requests() const { std::lock_guard lock(mutex_); return requests_; }
  std::size_t largest() const { std::lock_guard lock(mutex_); return largest_; }
  std::map<std::string, append_outcome> written() const { std::lock_guard lock(mutex_); return written_; }

 private:
  mutable std::mutex mutex_;
  std::uint64_t units_ = 0, requests_ = 0;
  std::size_t largest_ = 0;
  std::map<std::string, append_outcome> written_;
  std::atomic<std::uint64_t> plain_appends_{0};
};

// Holds the next units inside append_group until the test releases them, then writes them or
// fails them whole with errc::io (writing nothing): the test decides what arrives while a unit
// is "being written", which the timing of a real disk never lets it do reliably.
class gated_log final : public forwarding_log {
 public:
  enum class verdict { write, fail };
  using forwarding_log::forwarding_log;
  ~gated_log() override { release_all(); }

  // The next unit that arrives (after those already scripted) is held, then given `v`.
  void hold_next(verdict v) {
    std::lock_guard lock(mutex_);
    script_.push_back(v);
  }
  // Waits until `n` held units have arrived; false after a timeout (the engine never sent them).
  bool wait_held(std::size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return held_ >= n; });
  }
  // Lets the oldest held unit go on.
  void release_one() {
    std::lock_guard lock(mutex_);
    ++released_;
    changed_.notify_all();
  }
  // Never leaves a thread stuck in the log when a test gives up early.
  void release_all() {
    std::lock_guard lock(mutex_);
    released_ = static_cast<std::size_t>(-1) / 2;
    script_.clear();
    changed_.notify_all();
  }
  // The command ids of every unit that reached this log, in arrival order.
  std::vector<std::vector<std::string>> units() const {
    std::lock_guard lock(mutex_);
    return units_;
  }

  result<std::vector<result<append_outcome>>> append_group(std::vector<append_request> requests) override {
    std::unique_lock lock(mutex_);
    std::vector<std::string> ids;
    for (const auto& r : requests) ids.push_back(r.command_id);
    units_.push_back(ids);
    if (script_.empty()) {
      lock.unlock();
      return inner_.append_group(std::move(requests));
    }
    const verdict v = script_.front();
    script_.pop_front();
    const std::size_t me = ++held_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_ >= me; });
    lock.unlock();
    if (v == verdict::fail) return error(errc::io, "data_dir", "injected: the disk went away mid-write");
    return inner_.append_group(std::move(requests));
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<verdict> script_;
  std::size_t held_ = 0, released_ = 0;
  std::vector<std::vector<std::string>> units_;
};

// Fails one find_command with errc::io: the `nth` lookup of a command id starting `prefix`.
class flaky_lookup_log final : public forwarding_log {
 public:
  using forwarding_log::forwarding_log;
  void fail_lookup(std::string prefix, int nth) {
    std::lock_guard lock(mutex_);
    prefix_ = std::move(prefix);
    countdown_ = nth;
  }
  result<std::optional<append_outcome>> find_command(std::string_view id) override {
    {
      std::lock_guard lock(mutex_);
      if (countdown_ > 0 && id.rfind(prefix_, 0) == 0 && --countdown_ == 0)
        return error(errc::io, "command", "injected: the lookup failed");
    }
    return inner_.find_command(id);
  }

 private:
  std::mutex mutex_;
  std::string prefix_;
  int countdown_ = 0;
};

// Every fourth unit fails whole, writing nothing; every seventh (not also a fourth) is written
// and then reported as failed, which errc::io allows ("the events may or may not be stored").
class unreliable_log final : public forwarding_log {
 public:
  using forwarding_log::forwarding_log;
  result<std::vector<result<append_outcome>>> append_group(std::vector<append_request> requests) override {
    const std::uint64_t n = ++units_;
    if (n % 4 == 0) return error(errc::io, "data_dir", "injected: nothing written");
    auto written = inner_.append_group(std::move(requests));
    if (n % 7 == 0) return error(errc::io, "data_dir", "injected: written, then the answer was lost");
    return written;
  }

 private:
  std::atomic<std::uint64_t> units_{0};
};

// Polls until `done` holds; the engine gives no signal for "decided and queued".
bool eventually(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::vector<stored_event> everything(event_log& log) {
  auto all = log.read_all(log_position(0), 100'000'000);
  REQUIRE_MESSAGE(all.has_value(), all.error().message());
  return std::move(all).value();
}

// A valid Iranian national code for client k.
std::string national_code_of(int k) {
  std::string v = std::to_string(300'000'000 + 7919 * k);
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (v[static_cast<std::size_t>(i)] - '0') * (10 - i);
  const int r = sum % 11;
  v += static_cast<char>('0' + (r < 2 ? r : 11 - r));
  return v;
}

const actor op{fb::Role_operator_, "ops-maryam"};

// The engine writes through `Wrapper` on the embedded log (this suite never runs on Kafka).
template <class Wrapper>
using pipeline_harness = testing::engine_harness<Wrapper>;

// A shop, two consumers and three cases awaiting triage (no deadline is due while the clock
// stands still).
struct small_cast {
  actor sara, reza;
  std::string c1, c2, c3;
  template <class H>
  explicit small_cast(H& h) {
    h.act(op, "cast-1", register_business{"1001", "kalaland.ir", "فروشگاه کالالند", 4});
    sara = {fb::Role_consumer, h.act({fb::Role_consumer, ""}, "cast-2",
                                     register_consumer{"5260181591", "09121234567", "سارا احمدی"})
                                   .stream};
    reza = {fb::Role_consumer, h.act({fb::Role_consumer, ""}, "cast-3",
                                     register_consumer{"0830166130", "09187654321", "رضا موسوی"})
                                   .stream};
    const auto filing = [&](const char* order) {
      return file_case{"1001", order, day("2026-11-20"), 48'500'000, fb::Category_defective,
                       "دستگاه سالم نبود", fb::RemedyKind_replacement,
                       {document_input{fb::DocumentKind_invoice, sha256(order), "invoice.pdf", 1000},
                        document_input{fb::DocumentKind_photo, sha256(std::string(order) + "p"), "photo.jpg", 1000}}};
    };
    c1 = h.act(sara, "cast-4", filing("ORD-1")).stream;
    c2 = h.act(reza, "cast-5", filing("ORD-2")).stream;
    c3 = h.act(reza, "cast-6", filing("ORD-3")).stream;
  }
};

// ---- Concurrent clients -----------------------------------------------------------------------

TEST_CASE("concurrent clients share units and the log ends up exactly as they were told") {
  constexpr std::size_t threads = 8;
  history_options o;
  o.consumers = 6;
  o.businesses = 3;
  o.mediators = 2;
  o.in_flight = 6;
  o.cases = 150;
  o.max_steps_per_case = 30;

  temp_dir dir;
  auto opened = open_embedded_log(dir.path() / "log", {.sync = true});
  REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
  std::unique_ptr<event_log> log = std::move(opened).value();
  counting_log counting(*log);
  fixed_clock clock(history_generator::default_start());
  auto eng = engine::open(counting, clock);
  REQUIRE_MESSAGE(eng.has_value(), eng.error().message());

  std::vector<std::unique_ptr<history_generator>> gens;
  for (std::size_t k = 0; k < threads; ++k) {
    history_options mine = o;
    mine.party_offset = k * o.businesses;
    gens.push_back(std::make_unique<history_generator>(**eng, clock, 101 + k, mine));
  }
  // The agencies are the first generator's (the others only name them), so it registers first.
  gens[0]->register_parties();

  std::vector<std::string> failures(threads);
  {
    std::vector<std::thread> pool;
    for (std::size_t k = 0; k < threads; ++k)
      pool.emplace_back([&, k] {
        try {
          if (k > 0) gens[k]->register_parties();
          gens[k]->run();
        } catch (const std::exception& e) {
          failures[k] = e.what();
        }
      });
    for (auto& t : pool) t.join();
  }
  // A generator throws on errc::io, corrupt or unavailable, and on a refused registration or
  // filing, which another generator's commands cannot cause (it has parties of its own).
  for (std::size_t k = 0; k < threads; ++k) CHECK_MESSAGE(failures[k].empty(), "generator " << k << ": " << failures[k]);

  std::uint64_t commands = 0, events = 0, unexpected = 0;
  for (const auto& g : gens) {
    commands += g->stats().commands;
    events += g->stats().events;
    unexpected += g->stats().unexpected;
  }
  const double average = static_cast<double>(counting.requests()) / static_cast<double>(std::max<std::uint64_t>(counting.units(), 1));
  MESSAGE(commands << " commands accepted (" << unexpected << " unexpected refusals), " << events << " events, "
                   << counting.units() << " units of " << counting.requests() << " commands (average " << average
                   << ", largest " << counting.largest() << ")");
  // The group commit: while one unit is being synced, the others' commands queue into the next.
  CHECK(counting.units() > 0);
  CHECK(average > 1.0);
  CHECK(counting.largest() > 1);
  CHECK(counting.plain_appends() == 0);  // the engine writes through append_group only

  // (a) What the engine holds is what the log folds to.
  auto fresh = engine::open(*log, clock);
  REQUIRE_MESSAGE(fresh.has_value(), fresh.error().message());
  CHECK((*fresh)->snapshot().value() == (*eng)->snapshot().value());

  // (b) Every stream has sequences 1..n, in log order, with an unbroken hash chain.
  const auto all = everything(*log);
  std::map<std::string, std::uint64_t> last_sequence;
  for (std::size_t i = 0; i < all.size(); ++i) {
    REQUIRE(all[i].position == log_position(i));
    auto& last = last_sequence[all[i].stream];
    CHECK_MESSAGE(all[i].sequence.value() == last + 1, "stream " << all[i].stream << " jumps at position " << i);
    last = all[i].sequence.value();
  }
  for (const auto& [stream, n] : last_sequence) {
    auto h = (*eng)->history(stream);
    REQUIRE_MESSAGE(h.has_value(), stream << ": " << h.error().message());
    CHECK(h->size() == n);
    CHECK(verify_chain(*h).has_value());
  }

  // (c) Exactly what the clients were told was written is in the log. The generators count
  // every event of every command and tick they were told succeeded; the log holds those and
  // nothing else (no seal policy runs without trust rules), so the counts are equal.
  CHECK(all.size() == events);
  const auto written = counting.written();
  std::uint64_t written_events = 0;
  for (const auto& [id, outcome] : written) {
    written_events += outcome.count;
    auto found = log->find_command(id);
    REQUIRE_MESSAGE(found.has_value(), found.error().message());
    REQUIRE_MESSAGE(found->has_value(), "command " << id << " was acknowledged but is not in the log");
    CHECK((*found)->first_position == outcome.first_position);
    CHECK((*found)->count == outcome.count);
  }
  CHECK(written_events == all.size());
  // And every command id in the log was reported written, once. A generator's accepted commands
  // are g<seed>-…; it counts them in `commands`, except a command bound to be refused that was
  // accepted after all (one of its `unexpected`).
  std::map<std::string, std::set<std::string>> ids_by_generator;
  std::set<std::string> ids_in_log;
  for (const auto& s : all) {
    auto rec = decode(s.bytes);
    REQUIRE(rec.has_value());
    ids_in_log.insert(rec->command_id);
    if (rec->command_id.rfind("g", 0) == 0)
      ids_by_generator[rec->command_id.substr(0, rec->command_id.find('-'))].insert(rec->command_id);
  }
  CHECK(ids_in_log.size() == written.size());
  for (std::size_t k = 0; k < threads; ++k) {
    const auto& st = gens[k]->stats();
    const std::size_t in_log = ids_by_generator[fmt::format("g{}", 101 + k)].size();
    CHECK_MESSAGE(in_log >= st.commands, "generator " << k);
    CHECK_MESSAGE(in_log <= st.commands + st.unexpected, "generator " << k);
  }
}

// ---- A unit that fails -----------------------------------------------------------------------

TEST_CASE("a unit that is not written fails every command decided on it, and nothing of it stays") {
  pipeline_harness<gated_log> h;
  small_cast p(h);
  const std::size_t before = everything(*h.log).size();
  const stream_version c1_before = h.version_of(p.c1);
  const stream_version c2_before = h.version_of(p.c2);
  const stream_version c3_before = h.version_of(p.c3);

  // Unit 1 (x) is held and then written; unit 2 (b, c), queued behind it, is held and then
  // fails whole; d and e, queued while unit 2 is out, were decided on it.
  h.wrapper->hold_next(gated_log::verdict::write);
  h.wrapper->hold_next(gated_log::verdict::fail);
  const auto run = [&](actor who, std::string id, command cmd) {
    return std::async(std::launch::async, [&h, who, id, cmd] { return h.eng->execute(who, id, cmd); });
  };
  std::future<result<command_outcome>> x, b, c, d, e;
  struct releaser {
    gated_log& g;
    ~releaser() { g.release_all(); }
  } guard{*h.wrapper};  // after the futures: released before they are waited for

  x = run(p.sara, "x", post_message{p.c1, "پیام یک"});
  REQUIRE(h.wrapper->wait_held(1));
  b = run(p.sara, "b", post_message{p.c1, "پیام دو، پس از یک"});
  c = run(p.reza, "c", post_message{p.c2, "پیام سه"});
  // Both decided and folded, so both wait in the queue for the next unit.
  REQUIRE(eventually([&] {
    return h.version_of(p.c1).value() == c1_before.value() + 2 && h.version_of(p.c2).value() == c2_before.value() + 1;
  }));
  h.wrapper->release_one();
  REQUIRE(h.wrapper->wait_held(2));
  d = run(p.sara, "d", post_message{p.c1, "پیام چهار، پس از دو"});
  e = run(op, "e", accept_case{p.c3, std::nullopt, fb::Route_negotiation, "", ""});
  REQUIRE(eventually([&] {
    return h.version_of(p.c1).value() == c1_before.value() + 3 && h.version_of(p.c3).value() > c3_before.value();
  }));
  h.wrapper->release_one();

  auto rx = x.get(), rb = b.get(), rc = c.get(), rd = d.get(), re = e.get();
  REQUIRE_MESSAGE(rx.has_value(), rx.error().message());
  const auto units = h.wrapper->units();
  REQUIRE(units.size() >= 2);
  CHECK(units[units.size() - 2] == std::vector<std::string>{"x"});
  CHECK(std::set<std::string>(units.back().begin(), units.back().end()) == std::set<std::string>{"b", "c"});
  // The unit that failed: its own commands get the log's error.
  for (const auto* r : {&rb, &rc}) {
    REQUIRE_FALSE(r->has_value());
    CHECK(r->error().code() == errc::io);
  }
  // Decided on it (d on b's message, e on nothing of it at all): not written either.
  for (const auto* r : {&rd, &re}) {
    REQUIRE_FALSE(r->has_value());
    CHECK(r->error().code() == errc::conflict);
    CHECK_MESSAGE(r->error().rule().rfind("not written", 0) == 0, r->error().message());
  }
  for (const char* id : {"b", "c", "d", "e"}) {
    auto found = h.log->find_command(id);
    REQUIRE(found.has_value());
    CHECK_MESSAGE(!found->has_value(), id << " is in the log");
  }
  CHECK(everything(*h.log).size() == before + rx->events.size());

  // The next command is decided on the log, not on what the failed unit left in memory.
  const auto f = h.act(p.sara, "f", post_message{p.c1, "پیام پنج"});
  REQUIRE(f.events.size() == 1);
  CHECK(f.events.front().sequence.value() == c1_before.value() + 2);
  CHECK(f.events.front().previous_hash == rx->events.back().hash);
  h.check_same_as_fresh_fold();
  CHECK(h.eng->snapshot().value().find_case(p.c3)->status == case_status::awaiting_triage);

  // Each failed command, retried with its id, is written once; a second retry is a repeat.
  struct retry {
    actor who;
    std::string id;
    command cmd;
  };
  const std::vector<retry> retries{{p.sara, "b", post_message{p.c1, "پیام دو، پس از یک"}},
                                   {p.reza, "c", post_message{p.c2, "پیام سه"}},
                                   {p.sara, "d", post_message{p.c1, "پیام چهار، پس از دو"}},
                                   {op, "e", accept_case{p.c3, std::nullopt, fb::Route_negotiation, "", ""}}};
  std::size_t expected_events = before + rx->events.size() + f.events.size();
  for (const auto& r : retries) {
    INFO("retry of " << r.id);
    auto first = h.eng->execute(r.who, r.id, r.cmd);
    REQUIRE_MESSAGE(first.has_value(), first.error().message());
    CHECK_FALSE(first->repeated);
    expected_events += first->events.size();
    auto again = h.eng->execute(r.who, r.id, r.cmd);
    REQUIRE_MESSAGE(again.has_value(), again.error().message());
    CHECK(again->repeated);
    REQUIRE(again->events.size() == first->events.size());
    for (std::size_t i = 0; i < first->events.size(); ++i) CHECK(again->events[i].hash == first->events[i].hash);
  }
  CHECK(everything(*h.log).size() == expected_events);
  CHECK(h.eng->snapshot().value().find_case(p.c3)->status != case_status::awaiting_triage);
  h.check_same_as_fresh_fold();
}

TEST_CASE("concurrent clients through failing units: each command is written once, in order, after retries") {
  constexpr int clients = 6;
  constexpr int messages = 60;
  pipeline_harness<unreliable_log> h;
  // Registered and filed one at a time, retried through the injected failures.
  const auto until_accepted = [&](const actor& who, const std::string& id, const command& cmd) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto r = h.eng->execute(who, id, cmd);
      if (r) return std::move(r).value();
      REQUIRE_MESSAGE((r.error().code() == errc::io || r.error().code() == errc::conflict), r.error().message());
    }
    FAIL(id << " never got through");
    return command_outcome{};
  };
  until_accepted(op, "cast-1", register_business{"1001", "kalaland.ir", "فروشگاه کالالند", 4});
  struct client {
    actor who;
    std::string case_id;
    std::map<std::string, int> outcomes;  // by kind, over every attempt
    std::string trouble;                  // the first answer that should not have come
  };
  std::vector<client> cs(clients);
  for (std::size_t k = 0; k < cs.size(); ++k) {
    const int n = static_cast<int>(k);
    cs[k].who = {fb::Role_consumer,
                 until_accepted({fb::Role_consumer, ""}, fmt::format("reg-{}", n),
                                register_consumer{national_code_of(n), fmt::format("09120000{:03}", n), "مشتری"})
                     .stream};
    cs[k].case_id = until_accepted(cs[k].who, fmt::format("file-{}", n),
                                   file_case{"1001", fmt::format("ORD-{}", n), day("2026-11-20"), 1'000'000,
                                             fb::Category_service, "خدمات نصب انجام نشد", fb::RemedyKind_apology, {}})
                        .stream;
  }
  const std::size_t before = everything(*h.log).size();

  std::vector<std::thread> pool;
  for (std::size_t k = 0; k < cs.size(); ++k)
    pool.emplace_back([&, k] {
      client& c = cs[k];
      const auto trouble = [&](std::string what) {
        if (c.trouble.empty()) c.trouble = std::move(what);
      };
      for (int i = 0; i < messages; ++i) {
        const std::string id = fmt::format("m{}-{}", k, i);
        const command cmd = post_message{c.case_id, fmt::format("پیام {}", i)};
        for (int attempt = 0;; ++attempt) {
          auto r = h.eng->execute(c.who, id, cmd);
          // Only this client uses the id, so what the log holds now is what the answer was about.
          auto found = h.log->find_command(id);
          if (!found) trouble(found.error().message());
          const bool in_log = found && found->has_value();
          if (r) {
            ++c.outcomes[r->repeated ? "repeated" : "written"];
            if (!in_log) trouble(id + " was acknowledged but is not in the log");
            break;
          }
          const bool not_written = r.error().code() == errc::conflict && r.error().rule().rfind("not written", 0) == 0;
          ++c.outcomes[r.error().code() == errc::io ? "io" : not_written ? "not written" : "other"];
          if (!not_written && r.error().code() != errc::io) trouble(id + ": " + r.error().message());
          if (not_written && in_log) trouble(id + " was said not written but is in the log");
          if (attempt == 50) {
            trouble(id + " never got through");
            break;
          }
        }
      }
    });
  for (auto& t : pool) t.join();

  std::map<std::string, int> total;
  for (const auto& c : cs) {
    CHECK_MESSAGE(c.trouble.empty(), c.trouble);
    for (const auto& [kind, n] : c.outcomes) total[kind] += n;
  }
  MESSAGE("outcomes: written " << total["written"] << ", repeated " << total["repeated"] << ", io " << total["io"]
                               << ", not written " << total["not written"] << ", other " << total["other"]);
  CHECK(total["io"] > 0);
  CHECK(total["other"] == 0);
  CHECK(total["written"] + total["repeated"] == clients * messages);

  // Each message once, in the order its client sent them, on an unbroken chain.
  CHECK(everything(*h.log).size() == before + static_cast<std::size_t>(clients * messages));
  for (std::size_t k = 0; k < cs.size(); ++k) {
    auto hist = h.eng->history(cs[k].case_id);
    REQUIRE_MESSAGE(hist.has_value(), hist.error().message());
    std::vector<std::string> ids;
    for (const auto& e : *hist)
      if (e.command_id.rfind("m", 0) == 0) ids.push_back(e.command_id);
    REQUIRE(ids.size() == static_cast<std::size_t>(messages));
    for (int i = 0; i < messages; ++i) CHECK(ids[static_cast<std::size_t>(i)] == fmt::format("m{}-{}", k, i));
  }
  // One more command folds the log again if the last unit failed; then memory is the log.
  until_accepted(op, "last", restrict_seal{"1001", "شکایات بی‌پاسخ", "rule-1"});
  h.check_same_as_fresh_fold();
}

// ---- A command id in flight -------------------------------------------------------------------

TEST_CASE("a command id executed again while the first is in flight gets the first outcome, written once") {
  pipeline_harness<gated_log> h;
  small_cast p(h);
  const std::size_t before = everything(*h.log).size();
  const command accept = accept_case{p.c1, std::nullopt, fb::Route_negotiation, "", ""};
  const actor other_operator{fb::Role_operator_, "ops-other"};

  h.wrapper->hold_next(gated_log::verdict::write);
  std::future<result<command_outcome>> first, second, stranger;
  struct releaser {
    gated_log& g;
    ~releaser() { g.release_all(); }
  } guard{*h.wrapper};  // after the futures: released before they are waited for
  first = std::async(std::launch::async, [&] { return h.eng->execute(op, "accept-once", accept); });
  REQUIRE(h.wrapper->wait_held(1));
  // Decided again on the state the first left, the accept would be refused (the case is no
  // longer awaiting triage); only waiting for the first gives its outcome.
  second = std::async(std::launch::async, [&] { return h.eng->execute(op, "accept-once", accept); });
  stranger = std::async(std::launch::async, [&] { return h.eng->execute(other_operator, "accept-once", accept); });
  // The first is not durable yet, so neither may have an answer.
  CHECK(second.wait_for(100ms) == std::future_status::timeout);
  CHECK(stranger.wait_for(0ms) == std::future_status::timeout);
  h.wrapper->release_one();

  auto r1 = first.get(), r2 = second.get(), r3 = stranger.get();
  REQUIRE_MESSAGE(r1.has_value(), r1.error().message());
  REQUIRE_MESSAGE(r2.has_value(), r2.error().message());
  CHECK_FALSE(r1->repeated);
  CHECK(r2->repeated);
  CHECK(r2->stream == r1->stream);
  REQUIRE(r2->events.size() == r1->events.size());
  for (std::size_t i = 0; i < r1->events.size(); ++i) {
    CHECK(r2->events[i].event_id == r1->events[i].event_id);
    CHECK(r2->events[i].hash == r1->events[i].hash);
  }
  REQUIRE_FALSE(r3.has_value());
  CHECK(r3.error().code() == errc::conflict);
  CHECK(r3.error().field() == "command_id");

  // Sent to the log once, and there once.
  std::size_t sent = 0;
  for (const auto& unit : h.wrapper->units()) sent += static_cast<std::size_t>(std::count(unit.begin(), unit.end(), "accept-once"));
  CHECK(sent == 1);
  CHECK(everything(*h.log).size() == before + r1->events.size());
  CHECK(h.eng->snapshot().value().find_case(p.c1)->status == case_status::with_business);
  h.check_same_as_fresh_fold();
  // And the engine goes on: nothing was marked stale by a repeat in a unit.
  h.act(p.sara, "after", post_message{p.c1, "پیام"});
  h.check_same_as_fresh_fold();
}

// ---- A tick that fails part-way -------------------------------------------------------------

// tick() queues each due case's deadline command as it goes and waits for them all at the end.
// What it queued before a failure must not stay behind in memory with nobody waiting for it:
// written (then the log has it) or dropped (then the state has not).
// Regression: tick() once returned the error at once, leaving the first case's command queued
// and in flight; the engine was then never idle, catch_up() no longer read the log while the
// state held events the log lacked, and the next unit anyone wrote carried them (the next tick
// wrote 8 events and reported 4).
TEST_CASE("a tick that fails part-way leaves nothing decided in memory that the log lacks") {
  pipeline_harness<flaky_lookup_log> h;
  small_cast p(h);
  for (const auto& c : {p.c1, p.c2}) h.act(op, "accept-" + c, accept_case{c, std::nullopt, fb::Route_negotiation, "", ""});
  h.clock.advance(std::int64_t{40} * 24 * 60 * 60 * 1000);
  const std::size_t before = everything(*h.log).size();

  // The first due case's deadline command is queued; looking up the second's fails.
  h.wrapper->fail_lookup("deadline:", 2);
  auto failed = h.eng->tick();
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code() == errc::io);

  // Nothing runs now. The engine has looked at the log (catch_up), so what it holds is the log.
  REQUIRE(h.eng->catch_up().has_value());
  const auto written = everything(*h.log).size() - before;
  MESSAGE(written << " deadline event(s) written by the failed tick");
  h.check_same_as_fresh_fold();

  // A tick with nothing due in memory still writes nothing it did not report.
  auto again = h.eng->tick();
  REQUIRE_MESSAGE(again.has_value(), again.error().message());
  std::size_t reported = 0;
  for (const auto& o : again->applied) reported += o.events.size();
  CHECK(everything(*h.log).size() - before == written + reported);
  h.check_same_as_fresh_fold();
}

// ---- append_group on the embedded log ---------------------------------------------------------

append_request request(std::string stream, std::uint64_t expected, std::string id, std::size_t events) {
  append_request r{std::move(stream), stream_version(expected), id, {}};
  for (std::size_t i = 0; i < events; ++i) r.events.push_back(fmt::format("{} event {}", id, i));
  return r;
}

TEST_CASE("append_group on the embedded log writes a prefix of its requests") {
  temp_dir dir;
  auto opened = open_embedded_log(dir.path() / "log");
  REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
  event_log& log = **opened;

  SUBCASE("a refused request stops the unit: what follows it is not written") {
    // The third request is valid on what the first leaves; it is refused only for coming after
    // the second.
    auto out = log.append_group({request("S-a", 0, "p1", 2), request("S-b", 5, "p2", 1), request("S-a", 2, "p3", 1)});
    REQUIRE_MESSAGE(out.has_value(), out.error().message());
    REQUIRE(out->size() == 3);
    REQUIRE_MESSAGE((*out)[0].has_value(), (*out)[0].error().message());
    CHECK((*out)[0]->first_position == log_position(0));
    CHECK((*out)[0]->first_sequence == stream_version(1));
    CHECK((*out)[0]->count == 2);
    REQUIRE_FALSE((*out)[1].has_value());
    CHECK((*out)[1].error().code() == errc::conflict);
    CHECK((*out)[1].error().field() == "expected_version");
    REQUIRE_FALSE((*out)[2].has_value());
    CHECK((*out)[2].error().code() == errc::conflict);
    CHECK_MESSAGE((*out)[2].error().rule().rfind("not written", 0) == 0, (*out)[2].error().message());

    const auto all = everything(log);
    REQUIRE(all.size() == 2);
    for (const auto& e : all) CHECK(e.stream == "S-a");
    CHECK(log.version("S-a").value() == stream_version(2));
    CHECK(log.version("S-b").value() == stream_version(0));
    CHECK(log.find_command("p1").value().has_value());
    CHECK_FALSE(log.find_command("p2").value().has_value());
    CHECK_FALSE(log.find_command("p3").value().has_value());

    // A repeated command id stops a unit the same way, after whatever came before it.
    auto again = log.append_group({request("S-b", 0, "r1", 1), request("S-a", 2, "p1", 2), request("S-b", 1, "r2", 1)});
    REQUIRE(again.has_value());
    REQUIRE(again->size() == 3);
    REQUIRE((*again)[0].has_value());
    CHECK((*again)[0]->first_position == log_position(2));
    REQUIRE((*again)[1].has_value());
    CHECK((*again)[1]->repeated);
    CHECK((*again)[1]->first_position == log_position(0));
    REQUIRE_FALSE((*again)[2].has_value());
    CHECK((*again)[2].error().rule().rfind("not written", 0) == 0);
    CHECK(everything(log).size() == 3);
    CHECK_FALSE(log.find_command("r2").value().has_value());
  }

  SUBCASE("a valid unit is written whole, at consecutive positions") {
    REQUIRE(log.append(request("S-a", 0, "first", 1)).has_value());
    auto out = log.append_group({request("S-a", 1, "q1", 1), request("S-b", 0, "q2", 2), request("S-a", 2, "q3", 3)});
    REQUIRE_MESSAGE(out.has_value(), out.error().message());
    REQUIRE(out->size() == 3);
    std::uint64_t next = 1;
    for (const auto& o : *out) {
      REQUIRE_MESSAGE(o.has_value(), o.error().message());
      CHECK_FALSE(o->repeated);
      CHECK(o->first_position == log_position(next));
      next += o->count;
    }
    CHECK((*out)[2]->first_sequence == stream_version(3));
    const auto all = everything(log);
    REQUIRE(all.size() == 7);
    const std::vector<std::pair<std::string, std::uint64_t>> expected{
        {"S-a", 1}, {"S-a", 2}, {"S-b", 1}, {"S-b", 2}, {"S-a", 3}, {"S-a", 4}, {"S-a", 5}};
    for (std::size_t i = 0; i < all.size(); ++i) {
      CHECK(all[i].stream == expected[i].first);
      CHECK(all[i].sequence.value() == expected[i].second);
    }
    CHECK(all[4].bytes == "q3 event 0");
  }
}

}  // namespace
}  // namespace sazesh
