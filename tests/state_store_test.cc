// The engine's state store (engine/state_store.h): the rows the engine decides from instead of
// folding the log. They must always be what a fresh fold of the log makes, key for key; they
// are built for a log that has none, rebuilt when deleted, and read row by row, so a tick reads
// only the deadlines that are due and the working set stays within its bound. On the embedded
// log the rows live in the log's own database; a log that keeps none (Kafka, for now) gets them
// in memory, folded at open.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/log_copy.h"
#include "tests/engine_harness.h"
#include "tests/temp_dir.h"
#include "tests/test_log.h"
#include "workload/history_generator.h"

namespace sazesh {
namespace {

using testing::engine_harness;
using testing::forwarding_log;
using testing::stateless_log;
using workload::history_generator;
using workload::history_options;

std::uint64_t seed_for(const char* what) {
  std::uint64_t seed = std::random_device{}();
  if (const char* fixed = std::getenv("SAZESH_SEED")) seed = std::strtoull(fixed, nullptr, 10);
  MESSAGE(std::string(what) << " seed: " << seed << " (rerun with SAZESH_SEED=" << seed << ")");
  return seed;
}

// The digest of the rows a fresh engine folds from the whole log (its own rows, in memory).
std::string fresh_fold_digest(event_log& log, const clock& clk) {
  stateless_log hidden(log);
  auto fresh = engine::open(hidden, clk);
  REQUIRE_MESSAGE(fresh.has_value(), fresh.error().message());
  auto d = (*fresh)->state_digest();
  REQUIRE_MESSAGE(d.has_value(), d.error().message());
  return *d;
}

std::string digest_of(engine& e) {
  auto d = e.state_digest();
  REQUIRE_MESSAGE(d.has_value(), d.error().message());
  return *d;
}

TEST_CASE("after random histories the state rows equal a fresh fold of the log, key for key") {
  const std::uint64_t seed = seed_for("state rows");
  history_options options;
  options.cases = testing::on_kafka() ? 40 : 120;
  engine_harness<> h(embedded_log_options{.sync = false});
  history_generator gen(*h.eng, h.clock, seed, options);
  gen.register_parties();
  int checks = 0;
  std::uint64_t commands = 0;
  gen.run([&] {
    if (++commands % 97 == 0) {
      CHECK(digest_of(*h.eng) == fresh_fold_digest(*h.log, h.clock));
      ++checks;
    }
  });
  REQUIRE(gen.stats().unexpected == 0);
  h.check_same_as_fresh_fold();
  // Reopened, the engine reads the same rows and decides as before.
  const std::string before = digest_of(*h.eng);
  h.reopen();
  CHECK(digest_of(*h.eng) == before);
  MESSAGE((checks + 1) << " comparisons over " << gen.stats().events << " events");
}

TEST_CASE("state rows deleted: the next open builds them again from the log and decides the same") {
  const std::uint64_t seed = seed_for("rows deleted");
  history_options options;
  options.cases = 60;
  engine_harness<> h(embedded_log_options{.sync = false});
  history_generator gen(*h.eng, h.clock, seed, options);
  gen.register_parties();
  gen.run();
  REQUIRE(gen.stats().unexpected == 0);
  // An open case: refiling its order must still be refused as a duplicate once rebuilt.
  const world w = h.eng->snapshot().value();
  REQUIRE_FALSE(w.consumers.empty());
  REQUIRE_FALSE(w.businesses.empty());
  const std::string consumer = w.consumers.begin()->first, business = w.businesses.begin()->first;
  const file_case filing{business, "ORDER-OPEN", testing::day("2026-03-01"), 1000, fb::Category_other, "still open",
                         fb::RemedyKind_refund, {}};
  const std::string open_case = h.act({fb::Role_consumer, consumer}, filing).stream;
  const std::string before = digest_of(*h.eng);
  SUBCASE("the rows cleared") {
    h.close();
    {
      auto log = testing::open_test_log(h.log_dir());
      REQUIRE(log.has_value());
      if ((*log)->state() == nullptr) return;  // a log that keeps no rows builds them at every open
      REQUIRE((*log)->state()->clear().has_value());
      auto positions = (*log)->state()->positions();
      REQUIRE(positions.has_value());
      CHECK(std::all_of(positions->begin(), positions->end(), [](log_position p) { return p.value() == 0; }));
    }
    h.open();
  }
  SUBCASE("rebuilt in place") {
    auto folded = h.eng->rebuild_state();
    REQUIRE_MESSAGE(folded.has_value(), folded.error().message());
    CHECK(*folded == testing::read_partitions(*h.log).size());
  }
  CHECK(digest_of(*h.eng) == before);
  file_case again = filing;
  again.description = "the same order again";
  auto refused = h.eng->execute({fb::Role_consumer, consumer}, "refile-after-rebuild", again);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == errc::duplicate);
  CHECK(refused.error().rule().find(open_case) != std::string::npos);
}

TEST_CASE("events appended without their rows (a copied log, a raw append) are folded into rows at the next open") {
  const std::uint64_t seed = seed_for("rows behind");
  history_options options;
  options.cases = 50;
  engine_harness<> source(embedded_log_options{.sync = false});
  history_generator gen(*source.eng, source.clock, seed, options);
  gen.register_parties();
  gen.run();
  REQUIRE(gen.stats().unexpected == 0);
  // A copy writes events and command ids only: its rows are behind the log.
  temp_dir target_dir;
  auto target = testing::open_test_log(target_dir.path() / "log", embedded_log_options{.sync = false});
  REQUIRE(target.has_value());
  auto copied = copy_log(*source.log, **target);
  REQUIRE_MESSAGE(copied.has_value(), copied.error().message());
  if (state_rows* rows = (*target)->state()) {
    auto positions = rows->positions();
    REQUIRE(positions.has_value());
    CHECK(std::all_of(positions->begin(), positions->end(), [](log_position p) { return p.value() == 0; }));
  }
  auto eng = engine::open(**target, source.clock);
  REQUIRE_MESSAGE(eng.has_value(), eng.error().message());
  CHECK(digest_of(**eng) == digest_of(*source.eng));
}

TEST_CASE("a tick reads the rows of the deadlines that are due, not the cases") {
  const std::uint64_t seed = seed_for("tick rows");
  history_options options = {};
  options.cases = testing::on_kafka() ? 400 : 4000;
  options.in_flight = 200;
  options.jump_to_deadlines = false;
  options.max_step_minutes = 5;
  options.refuse_rate = 0;
  engine_harness<> h(embedded_log_options{.sync = false});
  history_generator gen(*h.eng, h.clock, seed, options);
  gen.register_parties();
  gen.run();
  REQUIRE(gen.stats().unexpected == 0);
  // Then cases forwarded to their shops in two waves, ten days apart: the first wave's answer
  // deadlines are due when the tick runs, the second's are not.
  const world parties = h.eng->snapshot().value();
  const actor op{fb::Role_operator_, "ops-tick"};
  std::vector<std::string> consumers;
  for (const auto& [id, c] : parties.consumers) consumers.push_back(id);
  const std::string business = parties.businesses.begin()->first;
  int order = 0;
  for (int wave = 0; wave < 2; ++wave) {
    for (int i = 0; i < 60; ++i) {
      const actor consumer{fb::Role_consumer, consumers[static_cast<std::size_t>(i) % consumers.size()]};
      const file_case f{business, "WAVE-" + std::to_string(++order), testing::day("2026-03-01"), 1000,
                        fb::Category_other, "wave", fb::RemedyKind_refund, {}};
      const std::string c = h.act(consumer, f).stream;
      h.act(op, accept_case{c, std::nullopt, fb::Route_negotiation, "", ""});
    }
    h.clock.advance((wave == 0 ? 10 : 1) * 24 * 3'600'000);
  }
  const world w = h.eng->snapshot().value();
  const timestamp_ms now = h.clock.now();
  std::size_t due = 0, with_deadlines = 0;
  for (const auto& [id, c] : w.cases) {
    if (c.deadlines.empty() || !is_open(c.status)) continue;
    ++with_deadlines;
    timestamp_ms earliest = c.deadlines.front().due;
    for (const auto& d : c.deadlines) earliest = std::min(earliest, d.due);
    due += earliest <= now;
  }
  auto report = h.eng->tick();
  REQUIRE_MESSAGE(report.has_value(), report.error().message());
  MESSAGE(gen.stats().events << " events, " << w.cases.size() << " cases, " << with_deadlines
                             << " with a deadline, " << due << " due; the tick read " << report->due_rows_read
                             << " due-index rows");
  CHECK(due >= 60);
  CHECK(with_deadlines >= due + 60);  // the second wave is not due
  CHECK(report->due_rows_read == due);
  CHECK(report->cases_due == due);
  CHECK(report->due_rows_read * 4 < w.cases.size());
  // Right after, nothing is due: the tick reads no row at all.
  auto again = h.eng->tick();
  REQUIRE(again.has_value());
  CHECK(again->due_rows_read == 0);
}

TEST_CASE("a reopened engine's tick starts where the last one left off, and still finds a deadline set earlier") {
  engine_harness<> h(embedded_log_options{.sync = false});
  const actor op{fb::Role_operator_, "ops-floor"};
  h.act(op, register_business{"1002", "floor.example.ir", "فروشگاه", 3});
  const std::string consumer = h.act(actor{fb::Role_consumer, ""},
                                     register_consumer{"0013542419", "09121234567", "مریم"}).stream;
  const actor me{fb::Role_consumer, consumer};
  const auto forwarded = [&](const std::string& order) {
    const std::string c = h.act(me, file_case{"1002", order, testing::day("2026-03-01"), 1000, fb::Category_other,
                                              "x", fb::RemedyKind_refund, {}}).stream;
    h.act(op, accept_case{c, std::nullopt, fb::Route_negotiation, "", ""});
    return c;
  };
  const std::string first = forwarded("F-1");
  const timestamp_ms start = h.clock.now();
  h.clock.advance(30LL * 24 * 3'600'000);  // every rung of the first case is due
  auto t1 = h.eng->tick();
  REQUIRE(t1.has_value());
  CHECK(t1->cases_due == 1);
  CHECK(h.case_of(first).unanswered);

  // A new process: the tick scans from where the last one stopped, so it reads nothing.
  h.reopen();
  auto t2 = h.eng->tick();
  REQUIRE(t2.has_value());
  CHECK(t2->due_rows_read == 0);
  // The clock set back (another process with an earlier time): a case forwarded then has its
  // deadline before that point, and a tick still finds it once it is due.
  h.clock.set(start);
  const std::string second = forwarded("F-2");
  h.reopen();
  h.clock.set(start + 5LL * 24 * 3'600'000);
  auto t3 = h.eng->tick();
  REQUIRE(t3.has_value());
  CHECK(t3->cases_due == 1);
  CHECK(h.case_of(second).response_level >= 1);
  // And the rows still equal a fresh fold: the floor is a hint beside them, not state.
  CHECK(digest_of(*h.eng) == fresh_fold_digest(*h.log, h.clock));
}

TEST_CASE("the working set stays within its bound, whatever the number of cases") {
  const std::uint64_t seed = seed_for("bounded cache");
  history_options options;
  options.cases = 300;
  options.consumers = 80;
  temp_dir dir;
  auto log = testing::open_test_log(dir.path() / "log", embedded_log_options{.sync = false});
  REQUIRE(log.has_value());
  fixed_clock clock(history_generator::default_start());
  engine_options small;
  small.cache_entries = 40;
  auto eng = engine::open(**log, clock, {}, small);
  REQUIRE(eng.has_value());
  history_generator gen(**eng, clock, seed, options);
  gen.register_parties();
  std::size_t largest = 0;
  gen.run([&] {
    // Between commands nothing is queued: the working set is trimmed to the bound.
    REQUIRE((*eng)->catch_up().has_value());
    const std::size_t held = (*eng)->inspect([](const world& w) {
      return w.cases.size() + w.consumers.size() + w.businesses.size() + w.agencies.size() + w.mediators.size();
    });
    largest = std::max(largest, held);
  });
  REQUIRE(gen.stats().unexpected == 0);
  const world all = (*eng)->snapshot().value();
  const std::size_t entities = all.cases.size() + all.consumers.size() + all.businesses.size() + all.agencies.size() +
                               all.mediators.size();
  MESSAGE("largest working set " << largest << " of " << entities << " entities");
  CHECK(entities > 4 * small.cache_entries);
  // The bound, plus what one command loads before the next trim.
  CHECK(largest <= small.cache_entries + 8);
}

// State rows whose reads fail on demand.
class failing_rows final : public state_rows {
 public:
  explicit failing_rows(state_rows& inner) : inner_(inner) {}
  bool fail = false;
  result<std::optional<std::string>> get(std::string_view key) override {
    if (fail) return error(errc::io, "state", "injected: the read failed");
    return inner_.get(key);
  }
  status scan(std::string_view from, std::string_view to,
              const std::function<bool(std::string_view, std::string_view)>& each) override {
    if (fail) return error(errc::io, "state", "injected: the read failed");
    return inner_.scan(from, to, each);
  }
  result<std::vector<log_position>> positions() override { return inner_.positions(); }
  status write(const std::vector<state_write>& w, const std::vector<log_position>& p) override { return inner_.write(w, p); }
  status clear() override { return inner_.clear(); }

 private:
  state_rows& inner_;
};

class log_with_failing_rows final : public forwarding_log {
 public:
  explicit log_with_failing_rows(event_log& inner) : forwarding_log(inner), rows_(*inner.state()) {}
  state_rows* state() override { return &rows_; }
  failing_rows rows_;
};

TEST_CASE("a command decided while a row failed to load is refused with the storage error and writes nothing") {
  temp_dir dir;
  auto log = open_embedded_log(dir.path() / "log");
  REQUIRE(log.has_value());
  log_with_failing_rows wrapped(**log);
  fixed_clock clock(testing::start_time());
  auto eng = engine::open(wrapped, clock);
  REQUIRE(eng.has_value());
  const actor op{fb::Role_operator_, "ops"};
  REQUIRE((*eng)->execute(op, "b1", register_business{"1001", "kalaland.ir", "کالالند", 3}).has_value());
  const auto end_before = (*log)->end().value();
  wrapped.rows_.fail = true;
  // Registering a new shop reads the rows of its seal id and domain: the read fails, so the
  // decision (which would have said "not registered yet") stands on nothing.
  auto r = (*eng)->execute(op, "b2", register_business{"1002", "shikposh.ir", "شیک‌پوش", 2});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code() == errc::io);
  CHECK((*log)->end().value() == end_before);
  wrapped.rows_.fail = false;
  auto retried = (*eng)->execute(op, "b2", register_business{"1002", "shikposh.ir", "شیک‌پوش", 2});
  REQUIRE_MESSAGE(retried.has_value(), retried.error().message());
  CHECK_FALSE(retried->repeated);
}

}  // namespace
}  // namespace sazesh
