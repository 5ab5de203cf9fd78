// Tests of the read side: the projector and its RocksDB projections, the queries on them, and
// the CLI queries, each on real RocksDB folders (a fresh temp folder per test). ctest runs them
// with the embedded log and again with the log on a Kafka broker, in a 3-partition topic
// (tests/test_log.h), where the projector keeps one position per partition.
//
// The central property: for random but valid histories (history_generator.h), projections
// kept up to date incrementally, in small batches that split commands, equal a full rebuild
// (by digest) and equal every event of the log folded in memory with apply_event (key by key),
// and agree with the engine's own state.

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/app.h"
#include "engine/time/calendar.h"
#include "engine/record/codec.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/record/hash.h"
#include "engine/kafka/kafka_log.h"
#include "workload/history_generator.h"
#include "projections/apply.h"
#include "projections/kv.h"
#include "projections/projector.h"
#include "projections/queries.h"
#include "projections/rows.h"
#include "projections/store.h"
#include "tests/engine_harness.h"
#include "tests/projections_support.h"
#include "tests/temp_dir.h"
#include "tests/test_log.h"

namespace sazesh {
namespace {

namespace pj = sazesh::projections;
using testing::dump;
using testing::first_difference;
using testing::open_store;
using workload::history_generator;
using workload::history_options;
using testing::log_cut;
using testing::on_kafka;

// ---- Folders, seeds ----------------------------------------------------------------------------

// The seed of a randomised test: SAZESH_SEED if set, else a fresh one. Always printed.
std::uint64_t test_seed(const char* what) {
  std::uint64_t seed = 0;
  if (const char* env = std::getenv("SAZESH_SEED"); env && *env) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = std::random_device{}();
    seed = (seed << 32) ^ std::random_device{}();
    seed %= 1'000'000'000ULL;
  }
  MESSAGE(std::string(what) << " seed: " << seed << " (rerun with SAZESH_SEED=" << seed << ")");
  return seed;
}

// ---- Store helpers -----------------------------------------------------------------------------

// Every event of the log before `cut` (in each partition, the events before its position),
// folded in memory one event at a time, partition by partition as a projector reads them, plus
// the meta keys the store holds (format, and the position of each partition the cut names).
pj::memory_kv fold_in_memory(event_log& log, const log_cut& cut) {
  pj::memory_kv mem;
  {
    pj::change_set meta(mem);
    meta.put(pj::keys::format(), pj::encode_u64(pj::row_format_version));
    mem.commit(meta);
  }
  for (std::uint32_t p = 0; p < cut.size(); ++p) {
    if (!cut[p]) continue;
    const log_position end = *cut[p];
    std::optional<pj::applied_event> last;
    for (log_position at(0); at < end;) {
      auto batch = log.read_partition(p, at, 1024);
      REQUIRE_MESSAGE(batch.has_value(), batch.error().message());
      REQUIRE_FALSE(batch->empty());
      for (const auto& stored : *batch) {
        if (stored.position >= end) {
          at = end;  // Kafka's positions have gaps: the cut may fall between two events
          break;
        }
        auto rec = decode(stored.bytes);
        REQUIRE_MESSAGE(rec.has_value(), "position " << stored.position.value() << ": " << rec.error().message());
        pj::change_set c(mem);
        auto s = pj::apply_event(c, *rec);
        REQUIRE_MESSAGE(s.has_value(), "position " << stored.position.value() << ": " << s.error().message());
        mem.commit(c);
        at = log_position(stored.position.value() + 1);
        last = pj::applied_event{stored.position, rec->hash};
      }
    }
    pj::change_set pos(mem);
    pj::store_position(pos, end, p, last);
    mem.commit(pos);
  }
  return mem;
}

log_position log_end(event_log& log) {
  auto e = log.end();
  REQUIRE_MESSAGE(e.has_value(), e.error().message());
  return *e;
}

// The positions a store holds, per partition (nullopt where it stored none).
log_cut stored_cut(const pj::kv_reader& kv, std::uint32_t partitions) {
  log_cut cut(partitions);
  for (std::uint32_t p = 0; p < partitions; ++p)
    if (kv.get(pj::keys::position(p)).value()) cut[p] = pj::stored_position(kv, p).value();
  return cut;
}

// The projections stand at the end of every partition of the log (on the embedded log: their
// position is the log's end).
void check_at_end(const pj::kv_reader& kv, event_log& log) {
  const log_cut end = testing::end_cut(log);
  for (std::uint32_t p = 0; p < end.size(); ++p) {
    INFO("partition " << p);
    CHECK(pj::stored_position(kv, p).value() == end[p].value_or(log_position(0)));
  }
  if (log.partitions() == 1) CHECK(pj::stored_position(kv).value() == log_end(log));
}

// ---- A log, an engine and a generator on it ----------------------------------------------------

struct history_fixture {
  temp_dir dir;
  std::unique_ptr<event_log> log;
  std::unique_ptr<fixed_clock> clock;
  std::unique_ptr<engine> eng;
  std::unique_ptr<history_generator> gen;

  history_fixture(std::uint64_t seed, history_options options, const std::filesystem::path& log_folder = {}) {
    auto opened = testing::open_test_log(log_folder.empty() ? dir.path() / "log" : log_folder,
                                         embedded_log_options{.sync = false});
    REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
    log = std::move(*opened);
    clock = std::make_unique<fixed_clock>(history_generator::default_start());
    auto e = engine::open(*log, *clock);
    REQUIRE_MESSAGE(e.has_value(), e.error().message());
    eng = std::move(*e);
    gen = std::make_unique<history_generator>(*eng, *clock, seed, options);
  }
  std::filesystem::path projections() const { return dir.path() / "projections"; }
};

void require_no_unexpected(const history_generator& gen) {
  INFO("last unexpected: " << gen.stats().last_unexpected);
  REQUIRE(gen.stats().unexpected == 0);
}

// ---- Invariants against the engine's own state --------------------------------------------------

void check_against_engine(const pj::kv_reader& kv, const world& w) {
  // Every case has a row, with the engine's status (and, as evolve is shared, its whole state).
  std::size_t rows = 0;
  for (const auto& [id, c] : w.cases) {
    auto row = pj::find_case(kv, id);
    REQUIRE(row.has_value());
    REQUIRE_MESSAGE(row->has_value(), "no row for case " << id);
    ++rows;
    const auto& s = (**row).state;
    INFO("case " << id);
    CHECK(std::string(to_string(s.status)) == to_string(c.status));
    CHECK(s == c);
    CHECK((**row).events == c.head.version.value());
  }
  std::size_t row_keys = 0;
  REQUIRE(kv.scan("c", pj::keys::prefix_end("c"), [&](std::string_view, std::string_view) {
              ++row_keys;
              return true;
            }).has_value());
  CHECK(row_keys == rows);

  // Scorecards: complaints and open cases per business, restriction flags.
  std::map<std::string, std::uint64_t> complaints, open;
  for (const auto& [id, c] : w.cases) {
    complaints[c.business_id] += 1;
    if (is_open(c.status)) open[c.business_id] += 1;
  }
  for (const auto& [id, b] : w.businesses) {
    auto sc = pj::find_scorecard(kv, id);
    REQUIRE(sc.has_value());
    REQUIRE_MESSAGE(sc->has_value(), "no scorecard for business " << id);
    INFO("business " << id);
    CHECK((**sc)[pj::counter::complaints] == complaints[id]);
    CHECK((**sc)[pj::counter::open_cases] == open[id]);
    CHECK((**sc).restricted == b.restricted);
    CHECK((**sc).domain == b.domain);
    // Counters of what happens once per case and cannot be undone.
    std::uint64_t rejected = 0, withdrawn = 0, incomplete = 0, decided = 0, reopened = 0;
    for (const auto& [cid, c] : w.cases) {
      if (c.business_id != id) continue;
      rejected += c.status == case_status::rejected;
      withdrawn += c.status == case_status::withdrawn;
      incomplete += c.close_reason == fb::CloseReason_incomplete;
      decided += c.close_reason == fb::CloseReason_agency_decided;
      reopened += static_cast<std::uint64_t>(c.reopened);
    }
    CHECK((**sc)[pj::counter::rejected] == rejected);
    CHECK((**sc)[pj::counter::withdrawn] == withdrawn);
    CHECK((**sc)[pj::counter::incomplete] == incomplete);
    CHECK((**sc)[pj::counter::reopened] == reopened);
    CHECK((**sc)[pj::counter::decisions_upheld] + (**sc)[pj::counter::decisions_partially_upheld] +
              (**sc)[pj::counter::decisions_dismissed] + (**sc)[pj::counter::decisions_not_competent] ==
          decided);
    CHECK((**sc)[pj::counter::rating_sum] >= (**sc)[pj::counter::ratings]);
    CHECK((**sc)[pj::counter::rating_sum] <= 5 * (**sc)[pj::counter::ratings]);
  }

  // Statistics by status: one count per case, matching the engine's statuses.
  std::map<std::string, std::uint64_t> by_status;
  for (const auto& [id, c] : w.cases) by_status[to_string(c.status)] += 1;
  auto stats = pj::statistics(kv, "status");
  REQUIRE(stats.has_value());
  std::uint64_t sum = 0;
  std::map<std::string, std::uint64_t> projected;
  for (const auto& [k, v] : *stats) {
    sum += v;
    projected[k] = v;
  }
  CHECK(sum == w.cases.size());
  CHECK(projected == by_status);
  for (const char* dim : {"month", "category", "outcome", "month_category"}) {
    auto d = pj::statistics(kv, dim);
    REQUIRE(d.has_value());
    std::uint64_t total = 0;
    for (const auto& [k, v] : *d) total += v;
    INFO("dimension " << dim);
    CHECK(total == w.cases.size());
  }
  // By month, category and outcome, from the engine's cases.
  std::map<std::string, std::uint64_t> by_month, by_category, by_outcome;
  for (const auto& [id, c] : w.cases) {
    by_month[pj::filing_month(c)] += 1;
    by_category[fb::EnumNameCategory(c.category)] += 1;
    if (is_open(c.status)) by_outcome["open"] += 1;
    else if (c.status == case_status::rejected) by_outcome["rejected"] += 1;
    else if (c.status == case_status::withdrawn) by_outcome["withdrawn"] += 1;
    else if (c.close_reason == fb::CloseReason_incomplete) by_outcome["incomplete"] += 1;
    else if (c.close_reason == fb::CloseReason_agency_decided) by_outcome["agency_*"] += 1;
    else if (c.resolution == fb::Resolution_mediation) by_outcome["settled_mediation"] += 1;
    else by_outcome["settled_negotiation"] += 1;
  }
  const auto as_map = [&](const char* dim) {
    std::map<std::string, std::uint64_t> m;
    const auto counts = pj::statistics(kv, dim);
    REQUIRE(counts.has_value());
    for (const auto& [k, v] : *counts) m[k.rfind("agency_", 0) == 0 ? "agency_*" : k] += v;
    return m;
  };
  CHECK(as_map("month") == by_month);
  CHECK(as_map("category") == by_category);
  CHECK(as_map("outcome") == by_outcome);

  // The agency index holds exactly the referred cases, under the agency holding each.
  std::set<std::pair<std::string, std::string>> expected_xa, actual_xa;
  for (const auto& [id, c] : w.cases)
    if (c.status == case_status::referred) expected_xa.insert({c.agency_id, id});
  REQUIRE(kv.scan("xa", pj::keys::prefix_end("xa"), [&](std::string_view k, std::string_view) {
              const auto rest = k.substr(2);
              const auto zero = rest.find('\0');
              REQUIRE(zero != std::string_view::npos);
              REQUIRE(rest.size() > zero + 9);  // <agency> 0 <filed_at u64> <case>
              actual_xa.insert({std::string(rest.substr(0, zero)), std::string(rest.substr(zero + 9))});
              return true;
            }).has_value());
  CHECK(actual_xa == expected_xa);
  // And the queues agree with it.
  for (const auto& [agency, a] : w.agencies) {
    auto q = pj::agency_queue(kv, agency, false);
    REQUIRE(q.has_value());
    std::set<std::string> held;
    for (const auto& e : *q) held.insert(e.row.state.id);
    std::set<std::string> expected;
    for (const auto& [ag, id] : expected_xa)
      if (ag == agency) expected.insert(id);
    INFO("agency " << agency);
    CHECK(held == expected);
  }
}

std::vector<std::string> ids_of(const std::vector<pj::case_row>& rows) {
  std::vector<std::string> ids;
  for (const auto& r : rows) ids.push_back(r.state.id);
  return ids;
}

// The cases of the engine that satisfy `keep`, in the queries' order (filing time, then id).
template <class F>
std::vector<std::string> expected_cases(const world& w, F keep) {
  std::vector<const case_state*> v;
  for (const auto& [id, c] : w.cases)
    if (keep(c)) v.push_back(&c);
  std::sort(v.begin(), v.end(), [](const case_state* a, const case_state* b) {
    return std::tie(a->filed_at, a->id) < std::tie(b->filed_at, b->id);
  });
  std::vector<std::string> ids;
  for (const auto* c : v) ids.push_back(c->id);
  return ids;
}

std::vector<std::string> listed(const pj::kv_reader& kv, const pj::case_filter& f) {
  auto rows = pj::list_cases(kv, f);
  REQUIRE_MESSAGE(rows.has_value(), rows.error().message());
  return ids_of(*rows);
}

// list_cases and top_businesses give what the engine's state says, filter by filter.
void check_queries_against_engine(const pj::kv_reader& kv, const world& w, timestamp_ms now, std::mt19937_64& rng) {
  const std::size_t all = 1'000'000;
  pj::case_filter none;
  none.limit = all;
  CHECK(listed(kv, none) == expected_cases(w, [](const case_state&) { return true; }));
  for (int i = 0; i <= static_cast<int>(case_status::withdrawn); ++i) {
    const auto st = static_cast<case_status>(i);
    pj::case_filter f;
    f.status = st;
    f.limit = all;
    INFO("status " << to_string(st));
    CHECK(listed(kv, f) == expected_cases(w, [&](const case_state& c) { return c.status == st; }));
  }
  for (const auto& [id, b] : w.businesses) {
    pj::case_filter f;
    f.business = id;
    f.limit = all;
    INFO("business " << id);
    CHECK(listed(kv, f) == expected_cases(w, [&](const case_state& c) { return c.business_id == id; }));
    f.status = case_status::closed;
    CHECK(listed(kv, f) == expected_cases(w, [&](const case_state& c) {
      return c.business_id == id && c.status == case_status::closed;
    }));
  }
  for (const auto& [id, a] : w.agencies) {
    pj::case_filter f;
    f.agency = id;
    f.limit = all;
    INFO("agency " << id);
    CHECK(listed(kv, f) == expected_cases(w, [&](const case_state& c) {
      return c.status == case_status::referred && c.agency_id == id;
    }));
    // Every case it ever held, in its queue's history.
    auto q = pj::agency_queue(kv, id, true);
    REQUIRE(q.has_value());
    std::set<std::string> ever;
    for (const auto& e : *q) ever.insert(e.row.state.id);
    std::set<std::string> expected;
    for (const auto& [cid, c] : w.cases)
      if (std::find(c.agencies.begin(), c.agencies.end(), id) != c.agencies.end()) expected.insert(cid);
    CHECK(ever == expected);
  }
  for (int i = 0; i <= fb::Category_MAX; ++i) {
    const auto cat = static_cast<fb::Category>(i);
    pj::case_filter f;
    f.category = cat;
    f.limit = all;
    INFO("category " << fb::EnumNameCategory(cat));
    CHECK(listed(kv, f) == expected_cases(w, [&](const case_state& c) { return c.category == cat; }));
  }
  // Filing windows, overdue cases, and the limit.
  timestamp_ms first = now, last = 0;
  for (const auto& [id, c] : w.cases) {
    first = std::min(first, c.filed_at);
    last = std::max(last, c.filed_at);
  }
  for (int i = 0; i < 6; ++i) {
    const timestamp_ms span = last - first + 2;
    timestamp_ms from = first - 1 + static_cast<timestamp_ms>(rng() % static_cast<std::uint64_t>(span));
    timestamp_ms to = first - 1 + static_cast<timestamp_ms>(rng() % static_cast<std::uint64_t>(span));
    if (to < from) std::swap(from, to);
    pj::case_filter f;
    f.filed_from = from;
    f.filed_to = to;
    f.limit = all;
    INFO("filed in [" << from << ", " << to << ")");
    CHECK(listed(kv, f) == expected_cases(w, [&](const case_state& c) { return c.filed_at >= from && c.filed_at < to; }));
  }
  for (const timestamp_ms at : {first, (first + last) / 2, now, now + 40 * day_ms}) {
    pj::case_filter f;
    f.overdue_at = at;
    f.limit = all;
    INFO("overdue at " << at);
    CHECK(listed(kv, f) == expected_cases(w, [&](const case_state& c) {
      return is_open(c.status) &&
             std::any_of(c.deadlines.begin(), c.deadlines.end(), [&](const deadline& d) { return d.due < at; });
    }));
  }
  pj::case_filter limited;
  limited.limit = 5;
  auto everything = expected_cases(w, [](const case_state&) { return true; });
  everything.resize(std::min<std::size_t>(everything.size(), 5));
  CHECK(listed(kv, limited) == everything);
  // The top businesses by complaints are the ones with the most cases.
  auto top = pj::top_businesses(kv, "complaints", w.businesses.size());
  REQUIRE(top.has_value());
  CHECK(top->size() == w.businesses.size());
  for (std::size_t i = 1; i < top->size(); ++i)
    CHECK((*top)[i - 1][pj::counter::complaints] >= (*top)[i][pj::counter::complaints]);
  auto best = pj::top_businesses(kv, "satisfaction", 100);
  REQUIRE(best.has_value());
  for (const auto& sc : *best) CHECK(sc[pj::counter::ratings] > 0);
  for (std::size_t i = 1; i < best->size(); ++i) CHECK((*best)[i - 1].satisfaction() >= (*best)[i].satisfaction());

  // Every ranking, whole and cut, is the scorecards sorted by it (ties by id), as read from the
  // scorecards themselves: the ranking index agrees with the rows.
  auto cards = pj::all_scorecards(kv);
  REQUIRE(cards.has_value());
  for (std::size_t which = 0; which <= pj::counter_count; ++which) {
    const bool by_satisfaction = which == pj::counter_count;
    const std::string by = by_satisfaction ? "satisfaction" : pj::counter_name(static_cast<pj::counter>(which));
    std::vector<pj::scorecard> expected = *cards;
    if (by_satisfaction) std::erase_if(expected, [](const pj::scorecard& sc) { return sc[pj::counter::ratings] == 0; });
    std::stable_sort(expected.begin(), expected.end(), [&](const pj::scorecard& a, const pj::scorecard& b) {
      return by_satisfaction ? a.satisfaction() > b.satisfaction() : a.counters[which] > b.counters[which];
    });
    for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{20}, cards->size() + 1}) {
      INFO("top " << n << " by " << by);
      auto got = pj::top_businesses(kv, by, n);
      REQUIRE(got.has_value());
      std::vector<std::string> got_ids, expected_ids;
      for (const auto& sc : *got) got_ids.push_back(sc.business_id);
      for (std::size_t i = 0; i < std::min(n, expected.size()); ++i) expected_ids.push_back(expected[i].business_id);
      CHECK(got_ids == expected_ids);
    }
  }

  // Filters combined at random, each with a random limit: the first cases (filing time, then
  // id) of those that satisfy every condition.
  std::vector<std::string> business_ids, agency_ids, consumer_ids, mediator_ids;
  for (const auto& [id, b] : w.businesses) business_ids.push_back(id);
  for (const auto& [id, a] : w.agencies) agency_ids.push_back(id);
  for (const auto& [id, c] : w.cases) {
    consumer_ids.push_back(c.consumer_id);
    if (!c.mediator_id.empty()) mediator_ids.push_back(c.mediator_id);
  }
  const auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  for (int round = 0; round < 300; ++round) {
    pj::case_filter f;
    f.limit = rng() % 3 == 0 ? all : 1 + rng() % 12;
    if (rng() % 2 && !business_ids.empty()) f.business = pick(business_ids);
    if (rng() % 2) f.status = static_cast<case_status>(rng() % (static_cast<int>(case_status::withdrawn) + 1));
    if (rng() % 5 == 0 && !agency_ids.empty()) f.agency = pick(agency_ids);
    if (rng() % 6 == 0 && !consumer_ids.empty()) f.consumer = pick(consumer_ids);
    if (rng() % 6 == 0 && !mediator_ids.empty()) f.mediator = pick(mediator_ids);
    if (rng() % 3 == 0) f.category = static_cast<fb::Category>(rng() % (fb::Category_MAX + 1));
    if (rng() % 3 == 0) {
      const timestamp_ms span = last - first + 2;
      f.filed_from = first - 1 + static_cast<timestamp_ms>(rng() % static_cast<std::uint64_t>(span));
      f.filed_to = *f.filed_from + static_cast<timestamp_ms>(rng() % static_cast<std::uint64_t>(span));
    }
    if (rng() % 4 == 0) f.overdue_at = first + static_cast<timestamp_ms>(rng() % static_cast<std::uint64_t>(now - first + 40 * day_ms));
    auto expected = expected_cases(w, [&](const case_state& c) {
      if (f.business && c.business_id != *f.business) return false;
      if (f.status && c.status != *f.status) return false;
      if (f.agency && (c.status != case_status::referred || c.agency_id != *f.agency)) return false;
      if (f.consumer && c.consumer_id != *f.consumer) return false;
      if (f.mediator && c.mediator_id != *f.mediator) return false;
      if (f.category && c.category != *f.category) return false;
      if (f.filed_from && c.filed_at < *f.filed_from) return false;
      if (f.filed_to && c.filed_at >= *f.filed_to) return false;
      if (f.overdue_at && !(is_open(c.status) && std::any_of(c.deadlines.begin(), c.deadlines.end(),
                                                               [&](const deadline& d) { return d.due < *f.overdue_at; })))
        return false;
      return true;
    });
    if (expected.size() > f.limit) expected.resize(f.limit);
    INFO("round " << round << ": business " << f.business.value_or("-") << ", status "
                  << (f.status ? to_string(*f.status) : "-") << ", agency " << f.agency.value_or("-") << ", limit " << f.limit);
    CHECK(listed(kv, f) == expected);
  }
}

// ---- 1. The central property ---------------------------------------------------------------------

TEST_CASE("projections kept up incrementally equal a rebuild and a fold in memory, for random histories") {
  const std::uint64_t base = test_seed("projector property");
  struct run_spec {
    std::size_t batch;
    history_options options;
  };
  history_options small;
  small.cases = 300;
  small.in_flight = 10;
  history_options crowded;
  crowded.cases = 500;
  crowded.in_flight = 30;
  crowded.consumers = 12;
  crowded.businesses = 4;
  crowded.refuse_rate = 0.08;
  crowded.seal_rate = 0.03;
  history_options slow;  // few cases at a time, long waits between steps: deadlines everywhere
  slow.cases = 200;
  slow.in_flight = 4;
  slow.max_step_minutes = 12 * 60;
  // On Kafka every command is a transaction: a third of the histories keeps the run short.
  if (on_kafka()) {
    small.cases /= 3;
    crowded.cases /= 3;
    slow.cases /= 3;
  }
  const std::vector<run_spec> runs{{7, small}, {1, crowded}, {13, slow}};

  for (std::size_t r = 0; r < runs.size(); ++r) {
    const std::uint64_t seed = base + r;
    CAPTURE(seed);
    CAPTURE(runs[r].batch);
    history_fixture h(seed, runs[r].options);
    auto live = open_store(h.projections(), pj::store_mode::read_write);
    pj::projector live_projector(*h.log, *live, runs[r].batch);

    // Catch up after every 1..5 commands (ticks included), at random.
    std::mt19937_64 rng(seed ^ 0x9E3779B97F4A7C15ULL);
    std::uint64_t commands = 0, next = 1, catch_ups = 0;
    const auto after = [&] {
      if (++commands < next) return;
      next = commands + 1 + rng() % 5;
      auto n = live_projector.catch_up();
      REQUIRE_MESSAGE(n.has_value(), "catch_up: " << n.error().message());
      ++catch_ups;
    };
    const auto started = std::chrono::steady_clock::now();
    h.gen->register_parties(after);
    h.gen->run(after);
    const double gen_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    require_no_unexpected(*h.gen);
    auto n = live_projector.catch_up();
    REQUIRE_MESSAGE(n.has_value(), n.error().message());

    const auto& st = h.gen->stats();
    const log_position end = log_end(*h.log);
    MESSAGE(fmt::format("history {}: {} events ({} commands, {} refused, {} ticks, {} cases) in {:.2f}s "
                        "with {} incremental catch-ups of batch {}",
                        seed, end.value(), st.commands, st.refused, st.ticks, st.cases_filed, gen_seconds,
                        catch_ups, runs[r].batch));
    CHECK(st.events == end.value());
    CHECK(st.refused > 0);
    check_at_end(*live, *h.log);

    // (b) a full rebuild into another folder.
    const auto rebuilt_dir = h.dir.path() / "rebuilt";
    auto report = pj::rebuild(*h.log, rebuilt_dir);
    REQUIRE_MESSAGE(report.has_value(), "rebuild: " << report.error().message());
    CHECK(report->events == end.value());
    auto rebuilt = open_store(rebuilt_dir, pj::store_mode::read_only);
    auto live_digest = live->digest();
    auto rebuilt_digest = rebuilt->digest();
    REQUIRE(live_digest.has_value());
    REQUIRE(rebuilt_digest.has_value());
    CHECK(*rebuilt_digest == report->digest);
    const auto live_rows = dump(*live);
    if (*live_digest != *rebuilt_digest) {
      FAIL_CHECK("incremental and rebuilt projections differ: "
                 << first_difference(live_rows, dump(*rebuilt), "incremental", "rebuilt"));
    }

    // (c) every event folded in memory.
    const pj::memory_kv mem = fold_in_memory(*h.log, testing::end_cut(*h.log));
    const std::string diff = first_difference(live_rows, mem.data(), "incremental", "memory fold");
    CHECK_MESSAGE(diff.empty(), diff);
    CHECK(live_rows.size() == mem.data().size());

    // And what they say agrees with the engine.
    check_against_engine(*live, h.eng->snapshot().value());
    check_against_engine(mem, h.eng->snapshot().value());
    check_queries_against_engine(*live, h.eng->snapshot().value(), h.clock->now(), rng);
  }
}

TEST_CASE("the generator covers the whole lifecycle") {
  const std::uint64_t seed = test_seed("generator coverage");
  history_options options;
  options.cases = 300;
  options.in_flight = 15;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  const auto& actions = h.gen->stats().actions;
  std::string seen;
  for (const auto& [name, n] : actions) seen += fmt::format("{}={} ", name, n);
  MESSAGE("actions: " << seen);
  for (const char* a : {"file_case", "attach_document", "accept_case", "accept_case(referral)", "reject_case",
                        "request_documents", "respond", "make_offer", "accept_offer", "reject_offer",
                        "mark_remedy_fulfilled", "confirm_remedy", "report_remedy_not_fulfilled", "request_mediation",
                        "assign_mediator", "propose_settlement", "conclude_mediation(settled)",
                        "conclude_mediation(failed)", "refer_case", "acknowledge_referral", "extend_referral",
                        "transfer_referral", "decide_referral", "withdraw_case", "rate_case", "reopen_case",
                        "restrict_seal", "reinstate_seal", "wait"}) {
    INFO("action " << a);
    CHECK(actions.count(a) == 1);
  }
  // The scheduler did its part: each rung of each ladder appears in the log.
  std::set<fb::Event> types;
  auto all = h.log->read_all(log_position(0), 10'000'000);
  REQUIRE(all.has_value());
  for (const auto& e : *all) types.insert(decode(e.bytes)->payload.type);
  for (auto t : {fb::Event_ResponseDelayed, fb::Event_ResponseUnanswered, fb::Event_ReferralOverdue,
                 fb::Event_CaseClosed, fb::Event_RemedyNotFulfilled, fb::Event_ReferralTransferred,
                 fb::Event_CaseReopened, fb::Event_CaseRated, fb::Event_SealRestricted, fb::Event_SealReinstated}) {
    INFO("event type " << fb::EnumNameEvent(t));
    CHECK(types.count(t) == 1);
  }
  std::set<case_status> statuses;
  for (const auto& [id, c] : h.eng->snapshot().value().cases) statuses.insert(c.status);
  CHECK(statuses.count(case_status::closed) == 1);
  CHECK(statuses.count(case_status::withdrawn) == 1);
  CHECK(statuses.count(case_status::rejected) == 1);
}

// ---- 2. Corruption ---------------------------------------------------------------------------------

fb::EventUnion consumer_registered(std::string code, std::string mobile, std::string name) {
  fb::ConsumerRegisteredT e;
  e.national_code = std::move(code);
  e.mobile = std::move(mobile);
  e.name = std::move(name);
  fb::EventUnion u;
  u.Set(std::move(e));
  return u;
}

fb::EventUnion message_posted(std::string text) {
  fb::MessagePostedT e;
  e.text = std::move(text);
  fb::EventUnion u;
  u.Set(std::move(e));
  return u;
}

// Where the record went: its partition and position.
append_outcome append_raw(event_log& log, const std::string& stream, const std::string& command_id, std::string bytes) {
  auto v = log.version(stream);
  REQUIRE(v.has_value());
  auto out = log.append(append_request{stream, *v, command_id, {std::move(bytes)}});
  REQUIRE_MESSAGE(out.has_value(), out.error().message());
  REQUIRE_FALSE(out->repeated);
  return *out;
}

// A valid registration of a new consumer: its own stream, sequence 1, after the bad record in
// the bad record's partition (on a partitioned log, "after" only means something within one);
// any projector that got past the bad record would write its party row. Returns the stream.
std::string append_valid_after(event_log& log, timestamp_ms time, const append_outcome& bad) {
  std::string stream = "U-AFTERBAD";
  for (int i = 1; kafka_partition_of(stream, log.partitions()) != bad.partition; ++i)
    stream = fmt::format("U-AFTERBAD{}", i);
  const std::string bytes =
      encode(envelope_fields{stream, stream_version(1), actor{fb::Role_consumer, ""}, time, "after-bad", 0, ""},
             consumer_registered("0013542419", "09120000000", "بعد از خرابی"));
  REQUIRE(decode(bytes).has_value());
  const append_outcome after = append_raw(log, stream, "after-bad", bytes);
  REQUIRE(after.partition == bad.partition);
  REQUIRE(after.first_position > bad.first_position);
  return stream;
}

// How many events of the bad record's partition come before it.
std::size_t events_before(event_log& log, const append_outcome& bad) {
  auto part = log.read_partition(bad.partition, log_position(0), 100'000'000);
  REQUIRE_MESSAGE(part.has_value(), part.error().message());
  return static_cast<std::size_t>(std::count_if(part->begin(), part->end(), [&](const stored_event& e) {
    return e.position < bad.first_position;
  }));
}

// The projector stops at `bad` with errc::corrupt naming it, and the projections hold exactly
// the events before it. On a partitioned log the projector reads the partitions in order, so
// "before it" is: the partitions before the bad record's, whole; its own, up to the bad record;
// the ones after it, as far as they had been projected.
void check_stopped_at(history_fixture& h, pj::projection_store& store, pj::projector& p, const append_outcome& bad,
                      const std::string& after) {
  log_cut expected = stored_cut(store, h.log->partitions());
  const log_cut end = testing::end_cut(*h.log);
  for (std::uint32_t q = 0; q < bad.partition; ++q) expected[q] = end[q];
  expected[bad.partition] = bad.first_position;
  auto n = p.catch_up();
  REQUIRE_FALSE(n.has_value());
  CHECK(n.error().code() == errc::corrupt);
  INFO("message: " << n.error().message());
  CHECK(n.error().message().find(fmt::format("position {}", bad.first_position.value())) != std::string::npos);
  if (bad.partition != 0)
    CHECK(n.error().message().find(fmt::format("position {} of partition {}", bad.first_position.value(), bad.partition)) !=
          std::string::npos);
  CHECK(pj::stored_position(store, bad.partition).value() == bad.first_position);
  CHECK(stored_cut(store, h.log->partitions()) == expected);
  const pj::memory_kv before = fold_in_memory(*h.log, expected);
  const auto rows = dump(store);
  const std::string diff = first_difference(rows, before.data(), "projections", "fold of the events before the bad one");
  CHECK_MESSAGE(diff.empty(), diff);
  CHECK_FALSE(pj::find_party(store, after)->has_value());
  // Asked again, it stops at the same place and changes nothing.
  auto again = p.catch_up();
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code() == errc::corrupt);
  CHECK(pj::stored_position(store, bad.partition).value() == bad.first_position);
  CHECK(dump(store) == rows);
}

TEST_CASE("a record that is not a FlatBuffer stops the projector at its position") {
  const std::uint64_t seed = test_seed("corrupt record");
  history_options options;
  options.cases = 25;
  history_fixture h(seed, options);
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  pj::projector p(*h.log, *store, 7);
  // Projections kept up for the first part of the history, then left behind.
  std::uint64_t commands = 0;
  h.gen->register_parties();
  h.gen->run([&] {
    if (++commands % 3 == 0 && h.gen->stats().cases_filed < 15) REQUIRE(p.catch_up().has_value());
  });
  require_no_unexpected(*h.gen);
  const log_position end_before = log_end(*h.log);
  const log_cut partitions_before = testing::end_cut(*h.log);
  const append_outcome bad = append_raw(*h.log, "junk-stream", "junk-1", "this is not a FlatBuffer, just bytes");
  // At the end of its partition: on the embedded log, the log's end; on Kafka, past the last
  // event's offset (by the commit marker between them).
  if (!on_kafka()) CHECK(bad.first_position == end_before);
  CHECK(bad.first_position >= partitions_before[bad.partition].value_or(log_position(0)));
  const std::string after = append_valid_after(*h.log, h.clock->now(), bad);
  const log_position projected = pj::stored_position(*store, bad.partition).value();
  MESSAGE("projected to " << projected.value() << " before; bad record at " << bad.first_position.value()
                          << " of partition " << bad.partition << ", log end " << log_end(*h.log).value());
  REQUIRE(projected < bad.first_position);
  check_stopped_at(h, *store, p, bad, after);

  // A rebuild from this log fails the same way and leaves the live projections as they were.
  const std::string before = *store->digest();
  store.reset();
  auto report = pj::rebuild(*h.log, h.projections());
  REQUIRE_FALSE(report.has_value());
  CHECK(report.error().code() == errc::corrupt);
  auto reopened = open_store(h.projections(), pj::store_mode::read_only);
  CHECK(*reopened->digest() == before);
  for (const auto& entry : std::filesystem::directory_iterator(h.dir.path())) {
    INFO("left in the data folder: " << entry.path().filename().string());
    CHECK((entry.path().filename() == "log" || entry.path().filename() == "projections"));
  }
}

// A batch size that puts the bad record, with `before` events before it in its partition, in
// the middle of a batch (at least two events before it), so the batch that fails also holds
// events that must be kept.
std::size_t batch_splitting(std::size_t before) {
  for (std::size_t b = 7; b < 64; ++b)
    if (before % b >= 2) return b;
  return 7;
}

// A case of the history with at least two events, to break the chain of.
case_state some_case(const world& w) {
  const case_state* best = nullptr;
  for (const auto& [id, c] : w.cases)
    if (c.head.version.value() >= 3 && (!best || c.head.version.value() > best->head.version.value())) best = &c;
  REQUIRE(best != nullptr);
  return *best;
}

// The projector left `stream` frozen at its last good event and went on: `after`, written
// after the bad record, is projected; the case's row is `good` (if given); the damage is
// recorded at the bad record's position; asked again, nothing changes.
void check_contained(pj::projection_store& store, pj::projector& p, const std::string& stream,
                     const append_outcome& bad, const std::string& after, const case_state* good) {
  auto n = p.catch_up();
  REQUIRE_MESSAGE(n.has_value(), n.error().message());
  CHECK(pj::find_party(store, after)->has_value());
  auto damage = store.get(pj::keys::damaged(stream));
  REQUIRE(damage.has_value());
  REQUIRE_MESSAGE(damage->has_value(), "no damage recorded for " << stream);
  CHECK_MESSAGE(damage->value().rfind(fmt::format("position {} of partition {}", bad.first_position.value(), bad.partition),
                                      0) == 0,
                damage->value());
  if (good) {
    auto row = pj::find_case(store, stream);
    REQUIRE(row.has_value());
    REQUIRE(row->has_value());
    CHECK((**row).state == *good);
  }
  const auto rows = dump(store);
  auto again = p.catch_up();
  REQUIRE(again.has_value());
  CHECK(*again == 0);
  CHECK(dump(store) == rows);
}

TEST_CASE("a well-formed event that breaks a case's hash chain freezes that case; every other goes on") {
  const std::uint64_t seed = test_seed("broken chain");
  history_options options;
  options.cases = 25;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  const case_state c = some_case(h.eng->snapshot().value());
  const std::uint64_t v = c.head.version.value();
  const actor consumer{fb::Role_consumer, c.consumer_id};
  const timestamp_ms now = h.clock->now();
  std::string bytes;
  SUBCASE("wrong previous hash") {
    bytes = encode(envelope_fields{c.id, stream_version(v + 1), consumer, now, "bad-chain", 0, std::string(32, 'x')},
                   message_posted("زنجیره شکسته"));
  }
  SUBCASE("skipped sequence") {
    bytes = encode(envelope_fields{c.id, stream_version(v + 2), consumer, now, "bad-chain", 0, c.head.last_hash},
                   message_posted("یک شماره جا افتاده"));
  }
  SUBCASE("the case's last event appended again") {
    auto last = h.log->read_stream(c.id, c.head.version);
    REQUIRE(last.has_value());
    REQUIRE(last->size() == 1);
    bytes = last->front().bytes;
  }
  REQUIRE(decode(bytes).has_value());
  const append_outcome bad = append_raw(*h.log, c.id, "bad-chain", bytes);
  // What a second writer would have appended next, chained to the last good event: left out
  // too, the case stays where it was before the fork.
  append_raw(*h.log, c.id, "after-fork",
             encode(envelope_fields{c.id, stream_version(v + 1), consumer, now, "after-fork", 0, c.head.last_hash},
                    message_posted("پس از انشعاب")));
  const std::string after = append_valid_after(*h.log, now, bad);
  const std::size_t batch = batch_splitting(events_before(*h.log, bad));
  MESSAGE("bad record for " << c.id << " at position " << bad.first_position.value() << " of partition "
                            << bad.partition << ", batch size " << batch);
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  pj::projector p(*h.log, *store, batch);
  check_contained(*store, p, c.id, bad, after, &c);
}

TEST_CASE("an event of a case never filed stops the projector at its position") {
  const std::uint64_t seed = test_seed("never filed");
  history_options options;
  options.cases = 25;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  const case_state c = some_case(h.eng->snapshot().value());
  const timestamp_ms now = h.clock->now();
  const std::string stream = "C-NEVERFILED";
  const std::string bytes =
      encode(envelope_fields{stream, stream_version(1), actor{fb::Role_consumer, c.consumer_id}, now, "bad-chain", 0, ""},
             message_posted("پرونده‌ای که ثبت نشده"));
  const append_outcome bad = append_raw(*h.log, stream, "bad-chain", bytes);
  const std::string after = append_valid_after(*h.log, now, bad);
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  pj::projector p(*h.log, *store, batch_splitting(events_before(*h.log, bad)));
  check_stopped_at(h, *store, p, bad, after);
}

TEST_CASE("regression: projections ahead of their log are an error, not a silent gap") {
  const std::uint64_t seed = test_seed("ahead of the log");
  history_options options;
  options.cases = 10;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  {
    auto store = open_store(h.projections(), pj::store_mode::read_write);
    pj::projector p(*h.log, *store);
    REQUIRE(p.catch_up().has_value());
  }
  // Another log with the same events but the last one of the last partition that has any, as
  // a log that lost its last append in an OS crash would be (the projections saw it first).
  std::vector<stored_event> all;
  std::uint32_t last_partition = 0;
  for (std::uint32_t q = 0; q < h.log->partitions(); ++q) {
    auto part = h.log->read_partition(q, log_position(0), 100'000'000);
    REQUIRE(part.has_value());
    if (!part->empty()) last_partition = q;
    all.insert(all.end(), part->begin(), part->end());
  }
  const auto lost = std::find_if(all.rbegin(), all.rend(), [&](const stored_event& e) { return e.partition == last_partition; });
  REQUIRE(lost != all.rend());
  const stored_event dropped = *lost;
  all.erase(std::next(lost).base());
  auto opened = testing::open_test_log(h.dir.path() / "shorter", embedded_log_options{.sync = false});
  REQUIRE(opened.has_value());
  auto& shorter = **opened;
  for (const auto& e : all) append_raw(shorter, e.stream, "copy-" + e.stream + "-" + std::to_string(e.sequence.value()), e.bytes);

  SUBCASE("the log ends before the projections' last event") {}
  SUBCASE("another event where the projections' last one was") {
    std::string stream = "U-INSTEAD";
    for (int i = 1; kafka_partition_of(stream, shorter.partitions()) != dropped.partition; ++i)
      stream = fmt::format("U-INSTEAD{}", i);
    append_raw(shorter, stream, "instead",
               encode(envelope_fields{stream, stream_version(1), actor{fb::Role_consumer, ""}, h.clock->now(), "instead", 0, ""},
                      consumer_registered("0013542419", "09120000000", "به جای آخرین")));
  }
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  const auto before = dump(*store);
  pj::projector p(shorter, *store);
  auto n = p.catch_up();
  REQUIRE_FALSE(n.has_value());
  CHECK(n.error().code() == errc::corrupt);
  CHECK(n.error().field() == "projections");
  CHECK_MESSAGE(n.error().rule().find("the projections applied the event at position") != std::string::npos,
                n.error().rule());
  CHECK(dump(*store) == before);  // nothing written
}

TEST_CASE("a second rating of a case, as an older engine wrote it, moves no scorecard counter") {
  const std::uint64_t seed = test_seed("second rating");
  history_options options;
  options.cases = 40;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  std::optional<case_state> rated;
  for (const auto& [id, c] : h.eng->snapshot().value().cases)
    if (c.status == case_status::closed && c.rating != 0) rated = c;
  REQUIRE_MESSAGE(rated.has_value(), "the history has no rated case");
  const case_state c = *rated;
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  pj::projector p(*h.log, *store);
  REQUIRE(p.catch_up().has_value());
  auto before = pj::find_scorecard(*store, c.business_id);
  REQUIRE(before.has_value());
  REQUIRE(before->has_value());

  fb::CaseRatedT again;
  again.stars = static_cast<std::uint8_t>(c.rating == 1 ? 5 : 1);
  again.resolved = false;
  fb::EventUnion u;
  u.Set(std::move(again));
  const actor consumer{fb::Role_consumer, c.consumer_id};
  append_raw(*h.log, c.id, "second-rating",
             encode(envelope_fields{c.id, stream_version(c.head.version.value() + 1), consumer, h.clock->now(),
                                    "second-rating", 0, c.head.last_hash},
                    u));
  REQUIRE(p.catch_up().has_value());
  auto after = pj::find_scorecard(*store, c.business_id);
  REQUIRE(after.has_value());
  REQUIRE(after->has_value());
  CHECK((**after)[pj::counter::ratings] == (**before)[pj::counter::ratings]);
  CHECK((**after)[pj::counter::rating_sum] == (**before)[pj::counter::rating_sum]);
  CHECK((**after)[pj::counter::rated_resolved] == (**before)[pj::counter::rated_resolved]);
  auto row = pj::find_case(*store, c.id);
  REQUIRE(row.has_value());
  REQUIRE(row->has_value());
  CHECK((**row).state.rating == c.rating);
  // The engine, folding the same log afresh, keeps the first rating too, and refuses a third.
  auto reopened = engine::open(*h.log, *h.clock);
  REQUIRE(reopened.has_value());
  CHECK((*reopened)->snapshot().value().find_case(c.id)->rating == c.rating);
  auto third = (*reopened)->execute(consumer, "third-rating", rate_case{c.id, 3, true, ""});
  REQUIRE_FALSE(third.has_value());
  CHECK(third.error().code() == errc::wrong_state);
}

// Passes reads through, but hides a partition's events from a position on while `hide_from` is
// set, so a test can stop the projector just before an event and change the projections there
// (nothing else is then writing them: the projector runs batches on several threads).
class cut_log final : public testing::forwarding_log {
 public:
  using forwarding_log::forwarding_log;
  std::uint32_t partition = 0;
  std::optional<log_position> hide_from;
  result<std::vector<stored_event>> read_partition(std::uint32_t part, log_position from,
                                                   std::size_t max) override {
    auto events = inner_.read_partition(part, from, max);
    if (events && hide_from && part == partition)
      std::erase_if(*events, [&](const stored_event& e) { return e.position >= *hide_from; });
    return events;
  }
};

TEST_CASE("regression: an event that fails part-way through the projections commits none of its changes") {
  // The projector used to stage an event's index keys, statistics and scorecard straight into
  // its batch; when the agency's dossier row then failed to decode, the failure path committed
  // them, and every retry counted them again.
  const std::uint64_t seed = test_seed("half an event");
  history_options options;
  options.cases = 80;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  // The first agency decision in the log: it moves statistics and a scorecard counter, and then
  // needs its agency's dossier row.
  std::optional<stored_event> decided;
  std::string agency;
  for (std::uint32_t part = 0; part < h.log->partitions() && !decided; ++part) {
    auto events = h.log->read_partition(part, log_position(0), 1'000'000);
    REQUIRE(events.has_value());
    for (auto& e : *events) {
      auto rec = decode(e.bytes);
      REQUIRE(rec.has_value());
      if (rec->payload.type == fb::Event_AgencyDecided) {
        agency = rec->payload.AsAgencyDecided()->agency_id;
        decided = std::move(e);
        break;
      }
    }
  }
  REQUIRE_MESSAGE(decided.has_value(), "the history has no agency decision");

  auto store = open_store(h.projections(), pj::store_mode::read_write);
  cut_log peek(*h.log);
  peek.partition = decided->partition;
  peek.hide_from = decided->position;
  pj::projector p(peek, *store, 1);
  auto upto = p.catch_up();
  REQUIRE_MESSAGE(upto.has_value(), upto.error().message());
  // Just before the decision: its dossier row goes bad.
  std::optional<std::string> good_dossier;
  {
    auto raw = store->get(pj::keys::dossier(agency, decided->stream));
    REQUIRE(raw.has_value());
    REQUIRE(raw->has_value());
    good_dossier = **raw;
    pj::change_set c(*store);
    c.put(pj::keys::dossier(agency, decided->stream), "not a dossier");
    REQUIRE(store->commit(c).has_value());
  }
  peek.hide_from.reset();
  auto failed = p.catch_up();
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code() == errc::corrupt);
  REQUIRE(good_dossier.has_value());
  // Nothing of the decision is in the projections: the case is still referred, and the
  // statistics and the shop's scorecard are as they were before it.
  const auto before = dump(*store);
  auto row = pj::find_case(*store, decided->stream);
  REQUIRE(row.has_value());
  REQUIRE(row->has_value());
  CHECK((**row).state.status == case_status::referred);
  for (int retry = 0; retry < 3; ++retry) {
    REQUIRE_FALSE(p.catch_up().has_value());
    CHECK(dump(*store) == before);  // a retry changes nothing either
  }
  // The row repaired, the projector goes on, and the result equals a fold in memory.
  pj::change_set c(*store);
  c.put(pj::keys::dossier(agency, decided->stream), *good_dossier);
  REQUIRE(store->commit(c).has_value());
  auto n = p.catch_up();
  REQUIRE_MESSAGE(n.has_value(), n.error().message());
  const pj::memory_kv mem = fold_in_memory(*h.log, testing::end_cut(*h.log));
  const std::string diff = first_difference(dump(*store), mem.data(), "projections", "fold in memory");
  CHECK_MESSAGE(diff.empty(), diff);
}

TEST_CASE("regression: a read the storage fails is an error, never an absent row or a short list") {
  // get() used to turn every RocksDB error into "not found" and scan() ignored the iterator's
  // status: a damaged table file made cases vanish from queries and the projector overwrite rows.
  const std::uint64_t seed = test_seed("storage errors");
  history_options options;
  options.cases = 150;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  std::filesystem::path generation;
  std::vector<std::string> case_ids;
  {
    auto store = open_store(h.projections(), pj::store_mode::read_write);
    pj::projector p(*h.log, *store);
    REQUIRE(p.catch_up().has_value());
    REQUIRE(store->flush().has_value());
    generation = store->location();
    auto all = pj::list_cases(*store, pj::case_filter{});
    REQUIRE(all.has_value());
    for (const auto& r : *all) case_ids.push_back(r.state.id);
  }
  REQUIRE(case_ids.size() > 20);
  // Damage the data blocks of every table file (not the index and footer after them, so the
  // files still open).
  std::size_t damaged = 0;
  for (const auto& e : std::filesystem::directory_iterator(generation)) {
    if (e.path().extension() != ".sst") continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    const auto size = std::filesystem::file_size(e.path());
    for (std::uintmax_t at = 64; at < size * 2 / 5; at += 512) {  // data blocks come first
      f.seekp(static_cast<std::streamoff>(at));
      f.put('\x5a');
      ++damaged;
    }
  }
  REQUIRE(damaged > 0);
  auto reader = pj::projection_store::open(h.projections(), pj::store_mode::read_only);
  MESSAGE("damaged " << damaged << " bytes; opening read-only: " << (reader ? std::string("ok") : reader.error().message()));
  if (!reader) {
    // Opening read the damaged blocks already: that too is an error, not empty projections.
    CHECK((reader.error().code() == errc::corrupt || reader.error().code() == errc::io));
    return;
  }
  std::size_t errors = 0, found = 0;
  for (const auto& id : case_ids) {
    auto row = pj::find_case(**reader, id);
    if (!row) {
      CHECK((row.error().code() == errc::corrupt || row.error().code() == errc::io));
      ++errors;
    } else if (*row) {
      ++found;
    }
  }
  // Every case is either read or reported as unreadable: none is "not there".
  CHECK(errors + found == case_ids.size());
  MESSAGE(errors << " unreadable, " << found << " read");
  CHECK(errors > 0);
  auto listed = pj::list_cases(**reader, pj::case_filter{});
  if (listed) CHECK(listed->size() == case_ids.size());
  else CHECK((listed.error().code() == errc::corrupt || listed.error().code() == errc::io));
}

TEST_CASE("a query opened before the projector compacts keeps reading: its table files stay open") {
  const std::uint64_t seed = test_seed("compaction under a reader");
  history_options options;
  options.cases = 120;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  auto writer = open_store(h.projections(), pj::store_mode::read_write);
  {
    pj::projector p(*h.log, *writer, 50);
    REQUIRE(p.catch_up().has_value());
  }
  REQUIRE(writer->flush().has_value());
  const auto before = dump(*writer);
  // Opened, not read yet: a reader that opened table files lazily would find them gone.
  auto reader = open_store(h.projections(), pj::store_mode::read_only);
  // The writer rewrites every table file; the old ones are deleted from the folder.
  pj::change_set c(*writer);
  c.put("zz-after", "x");
  REQUIRE(writer->commit(c).has_value());
  REQUIRE(writer->flush().has_value());
  REQUIRE(writer->compact().has_value());
  std::size_t tables = 0;
  for (const auto& e : std::filesystem::directory_iterator(writer->location())) tables += e.path().extension() == ".sst";
  CHECK(tables >= 1);
  // The reader sees the projections as they were when it opened, whole.
  CHECK(dump(*reader) == before);
  auto all = pj::list_cases(*reader, pj::case_filter{});
  REQUIRE_MESSAGE(all.has_value(), all.error().message());
  CHECK(all->size() == h.eng->snapshot().value().cases.size());
}

fb::EventUnion filed_again(const case_state& c) {
  fb::CaseFiledT e;
  e.consumer_id = c.consumer_id;
  e.business_id = c.business_id;
  const std::string digest = from_hex(c.order_digest);
  e.order_digest.assign(digest.begin(), digest.end());
  e.purchase_date_days = c.purchase_date_days;
  e.amount_rials = c.amount_rials;
  e.category = c.category;
  e.description = "همان پرونده، دوباره";
  e.requested_remedy = c.requested_remedy;
  fb::EventUnion u;
  u.Set(std::move(e));
  return u;
}

// Regression: this was once accepted.
TEST_CASE("a second filing of an existing case breaks its chain: the case is frozen, counted once") {
  const std::uint64_t seed = test_seed("second filing");
  history_options options;
  options.cases = 20;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  // The state before the bad record (once it is in the log, the engine refuses the log).
  const world before_bad = h.eng->snapshot().value();
  const case_state c = some_case(before_bad);
  // Sequence 1 with no previous hash, as a filing must be, but the case already has events:
  // the chain goes from version N back to 1. The engine refuses to open on such a log.
  const std::string bytes = encode(
      envelope_fields{c.id, stream_version(1), actor{fb::Role_consumer, c.consumer_id}, h.clock->now(), "refile", 0, ""},
      filed_again(c));
  const append_outcome bad = append_raw(*h.log, c.id, "refile", bytes);
  const std::string after = append_valid_after(*h.log, h.clock->now(), bad);
  {
    fixed_clock other(h.clock->now());
    auto reopened = engine::open(*h.log, other);
    REQUIRE_FALSE(reopened.has_value());
    CHECK(reopened.error().code() == errc::corrupt);
  }
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  pj::projector p(*h.log, *store, batch_splitting(events_before(*h.log, bad)));
  check_contained(*store, p, c.id, bad, after, &c);
  std::uint64_t against_business = 0;
  for (const auto& [id, k] : before_bad.cases) against_business += k.business_id == c.business_id;
  auto sc = pj::find_scorecard(*store, c.business_id);
  REQUIRE(sc.has_value());
  REQUIRE(sc->has_value());
  CHECK((**sc)[pj::counter::complaints] == against_business);  // the second filing counted nothing
}

// ---- 3. Queries on empty projections and with unknown ids ---------------------------------------

void check_queries_know_nothing_of(const pj::kv_reader& kv, event_log& log, const std::string& case_id,
                                   const std::string& business, const std::string& agency) {
  auto one = pj::find_case(kv, case_id);
  REQUIRE(one.has_value());
  CHECK_FALSE(one->has_value());
  pj::case_filter f;
  f.business = business;
  auto by_business = pj::list_cases(kv, f);
  REQUIRE(by_business.has_value());
  CHECK(by_business->empty());
  pj::case_filter g;
  g.agency = agency;
  auto by_agency = pj::list_cases(kv, g);
  REQUIRE(by_agency.has_value());
  CHECK(by_agency->empty());
  auto sc = pj::find_scorecard(kv, business);
  REQUIRE(sc.has_value());
  CHECK_FALSE(sc->has_value());
  for (bool history : {false, true}) {
    auto q = pj::agency_queue(kv, agency, history);
    REQUIRE(q.has_value());
    CHECK(q->empty());
  }
  auto d = pj::dossier(kv, log, agency, case_id);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code() == errc::not_found);
  auto party = pj::find_party(kv, business);
  REQUIRE(party.has_value());
  CHECK_FALSE(party->has_value());
  auto top = pj::top_businesses(kv, "no_such_counter", 10);
  REQUIRE_FALSE(top.has_value());
  CHECK(top.error().code() == errc::invalid_argument);
  CHECK(top.error().field() == "by");
  auto stats = pj::statistics(kv, "nothing");
  REQUIRE_FALSE(stats.has_value());
  CHECK(stats.error().code() == errc::invalid_argument);
  CHECK(stats.error().field() == "by");
}

TEST_CASE("queries on empty projections give empty results, and named errors for bad names") {
  temp_dir d;
  const auto folder = d.path() / "projections";
  auto missing = pj::projection_store::open(folder, pj::store_mode::read_only);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code() == errc::not_found);
  CHECK_FALSE(std::filesystem::exists(folder));
  {
    auto rw = open_store(folder, pj::store_mode::read_write);
    CHECK(pj::stored_position(*rw).value() == log_position(0));
  }
  auto ro = open_store(folder, pj::store_mode::read_only);
  CHECK(pj::stored_position(*ro).value() == log_position(0));
  CHECK(*ro->key_count() == 1);  // the row format, nothing else
  auto empty_log = testing::open_test_log(d.path() / "log");
  REQUIRE(empty_log.has_value());
  check_queries_know_nothing_of(*ro, **empty_log, "C-NOSUCHCAS", "nobody", "nobody");

  auto all_cases = pj::list_cases(*ro, pj::case_filter{});
  REQUIRE(all_cases.has_value());
  CHECK(all_cases->empty());
  pj::case_filter every;
  every.status = case_status::referred;
  every.category = fb::Category_fraud;
  every.filed_from = 0;
  every.filed_to = history_generator::default_start();
  every.overdue_at = history_generator::default_start();
  auto filtered = pj::list_cases(*ro, every);
  REQUIRE(filtered.has_value());
  CHECK(filtered->empty());
  auto cards = pj::all_scorecards(*ro);
  REQUIRE(cards.has_value());
  CHECK(cards->empty());
  for (const char* by : {"complaints", "unanswered", "satisfaction", "restrictions"}) {
    auto top = pj::top_businesses(*ro, by, 10);
    REQUIRE_MESSAGE(top.has_value(), by);
    CHECK(top->empty());
  }
  for (const char* dim : {"month", "category", "status", "outcome", "month_category"}) {
    auto s = pj::statistics(*ro, dim);
    REQUIRE_MESSAGE(s.has_value(), dim);
    CHECK(s->empty());
  }
  pj::change_set c(*ro);
  c.put("zzz", "x");
  auto committed = ro->commit(c);
  REQUIRE_FALSE(committed.has_value());
  CHECK(committed.error().code() == errc::unavailable);
}

TEST_CASE("queries with unknown ids on populated projections find nothing, and never crash") {
  const std::uint64_t seed = test_seed("unknown ids");
  history_options options;
  options.cases = 40;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  pj::projector p(*h.log, *store);
  REQUIRE(p.catch_up().has_value());
  check_queries_know_nothing_of(*store, *h.log, "C-NOSUCHCAS", "nobody", "nobody");
  // Prefixes of real ids are not ids.
  const std::string real_case = h.gen->cases().front();
  check_queries_know_nothing_of(*store, *h.log, real_case.substr(0, real_case.size() - 1), "100", "tazirat-x");
  // A real agency asking for a real case it never held.
  for (const auto& [id, c] : h.eng->snapshot().value().cases) {
    for (const auto& agency : h.gen->agencies()) {
      if (std::find(c.agencies.begin(), c.agencies.end(), agency) != c.agencies.end()) continue;
      auto d = pj::dossier(*store, *h.log, agency, id);
      REQUIRE_FALSE(d.has_value());
      CHECK(d.error().code() == errc::not_found);
      CHECK(d.error().field() == "case_id");
    }
  }
  auto none = pj::top_businesses(*store, "complaints", 0);
  REQUIRE(none.has_value());
  CHECK(none->empty());
  auto top = pj::top_businesses(*store, "complaints", 3);
  REQUIRE(top.has_value());
  CHECK(top->size() == 3);
  for (std::size_t i = 1; i < top->size(); ++i)
    CHECK((*top)[i - 1][pj::counter::complaints] >= (*top)[i][pj::counter::complaints]);
}

// ---- 4. The CLI queries ---------------------------------------------------------------------------

struct cli_result {
  int code = -1;
  std::string out, err;
};

// Runs the CLI on the log under test of its --data-dir (tests/test_log.h): on a Kafka run, the
// topic a history_fixture wrote for that folder.
cli_result run_cli(std::vector<std::string> args) {
  unsetenv("SAZESH_DATA_DIR");
  unsetenv("SAZESH_ACTOR");
  unsetenv("SAZESH_NOW");
  unsetenv("SAZESH_KAFKA");
  unsetenv("SAZESH_KAFKA_PREFIX");
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--data-dir") {
      const auto on_log = testing::test_log_cli_args(args[i + 1]);
      args.insert(args.begin() + static_cast<std::ptrdiff_t>(i + 2), on_log.begin(), on_log.end());
      break;
    }
  std::ostringstream out, err;
  const int code = cli::run(args, out, err);
  return {code, out.str(), err.str()};
}

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Non-zero exit, nothing on stdout, exactly one line "error: <field>: <rule>".
void check_one_error_line(const std::vector<std::string>& args, const std::string& field) {
  const auto r = run_cli(args);
  INFO("sazesh " << joined(args) << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.code != 0);
  CHECK(r.out.empty());
  REQUIRE_FALSE(r.err.empty());
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.back() == '\n');
  CHECK(r.err.rfind("error: " + field + ": ", 0) == 0);
}

TEST_CASE("CLI queries with bad arguments exit non-zero with one error line naming the field") {
  temp_dir d;
  const std::string dir = d.path().string();
  const std::vector<std::string> base{"--data-dir", dir};
  // Each read as someone (an auditor, who may read everything), unless it names who.
  const auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> a = base;
    if (std::find(args.begin(), args.end(), "--as") == args.end()) a.insert(a.end(), {"--as", "auditor:audit"});
    a.insert(a.end(), args.begin(), args.end());
    return a;
  };
  // A fresh data folder: a log with a shop and an agency, no projections yet.
  REQUIRE(run_cli(with({"--now", "2026-11-28T13:29:00Z", "--as", "operator:ops-ali", "register-business", "--seal-id",
                        "1001", "--domain", "kalaland.ir", "--name", "کالالند"})).code == 0);
  REQUIRE(run_cli(with({"--now", "2026-11-28T13:29:00Z", "--as", "operator:ops-ali", "register-agency", "--id",
                        "tazirat", "--name", "تعزیرات", "--categories", "pricing,other"})).code == 0);

  check_one_error_line(with({"cases", "--status", "bogus"}), "status");
  check_one_error_line(with({"cases", "--from", "2026-13-01"}), "from");
  check_one_error_line(with({"cases", "--to", "1404/12/30"}), "to");
  check_one_error_line(with({"cases", "--from", "2026-02-01", "--to", "2026-01-01"}), "to");
  check_one_error_line(with({"cases", "--limit", "ten"}), "limit");
  check_one_error_line(with({"cases", "--category", "gadgets"}), "category");
  check_one_error_line(with({"queue", "--agency", "nobody"}), "agency");
  check_one_error_line(with({"queue", "--agency", "1001"}), "agency");  // a business is no agency
  check_one_error_line(with({"scorecard", "--business", "nobody"}), "business");
  check_one_error_line(with({"stats", "--by", "nothing"}), "by");
  check_one_error_line(with({"top", "--by", "nothing"}), "by");
  check_one_error_line(with({"top", "--n", "0"}), "n");
  check_one_error_line(with({"case", "--case", "C-NOSUCHCAS"}), "case_id");
  check_one_error_line(with({"--as", "agency:tazirat", "dossier", "--agency", "tazirat", "--case", "C-NOSUCHCAS"}), "case_id");

  // With --json, the one line is a JSON error naming the code and the field.
  const auto j = run_cli(with({"--json", "stats", "--by", "nothing"}));
  CHECK(j.code != 0);
  CHECK(j.out.empty());
  CHECK(std::count(j.err.begin(), j.err.end(), '\n') == 1);
  CHECK(j.err.rfind(R"({"error":{"code":"invalid_argument","field":"by",)", 0) == 0);

  // The same queries that are fine give empty answers on the empty history.
  for (const std::vector<std::string>& ok : {std::vector<std::string>{"cases"}, {"cases", "--status", "referred"},
                                              {"queue", "--agency", "tazirat"}, {"scorecard", "--business", "1001"},
                                              {"stats", "--by", "status"}, {"top"}}) {
    const auto r = run_cli(with(ok));
    INFO("sazesh " << joined(ok) << "\nstderr: " << r.err);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
  }
}

TEST_CASE("CLI queries on a folder with no log give one clear error and create nothing") {
  temp_dir d;
  const auto empty_dir = d.path() / "empty";
  std::filesystem::create_directories(empty_dir);
  const auto absent_dir = d.path() / "absent";
  for (const auto& dir : {empty_dir, absent_dir}) {
    for (const std::vector<std::string>& q : {std::vector<std::string>{"cases"}, {"scorecard"}, {"stats"}, {"top"}}) {
      std::vector<std::string> args{"--data-dir", dir.string(), "--as", "analyst:a1"};
      args.insert(args.end(), q.begin(), q.end());
      const auto r = run_cli(args);
      INFO("sazesh " << joined(args) << "\nstdout: " << r.out << "\nstderr: " << r.err);
      CHECK(r.code == 1);
      CHECK(r.out.empty());
      REQUIRE_FALSE(r.err.empty());
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
      CHECK(r.err.rfind("error: ", 0) == 0);
      // Names the folder (on Kafka, the topic the folder's log would be in).
      const std::string where = on_kafka() ? kafka_events_topic(testing::kafka_prefix_for(dir / "log")) : dir.string();
      CHECK(r.err.find(where) != std::string::npos);
    }
    // Asking created nothing: no projections folder beside a log that is not there.
    if (dir == empty_dir) CHECK(std::filesystem::is_empty(dir));
    else CHECK_FALSE(std::filesystem::exists(dir));
  }
}

// Regression: this was once accepted.
TEST_CASE("CLI queries on a folder with no log say that there is no event log") {
  temp_dir d;
  const std::string dir = d.path().string();
  const auto project = run_cli({"--data-dir", dir, "project"});
  INFO("project: " << project.err);
  CHECK(project.code == 1);
  CHECK(project.err.find("no event log") != std::string::npos);
  const auto cases = run_cli({"--data-dir", dir, "--as", "analyst:a1", "cases"});
  INFO("cases: " << cases.err);
  CHECK(cases.code == 1);
  CHECK(cases.err.find("no event log") != std::string::npos);  // fails: "there are no projections ... yet"
  CHECK(cases.err.find("run: sazesh project") == std::string::npos);  // fails: advises a command that fails
}

// ---- 5. Analysts never see personal data ---------------------------------------------------------

TEST_CASE("analysts never see personal data in any query, in any format") {
  const std::uint64_t seed = test_seed("personal data");
  temp_dir d;
  history_options options;
  options.cases = 60;
  options.consumers = 10;
  std::vector<std::string> secrets;  // national codes, mobiles, names, descriptions
  std::vector<std::pair<std::string, std::string>> dossiers;  // (agency, case) it ever held
  std::vector<std::pair<std::string, std::string>> held_now;  // (agency, case) it holds now
  std::map<std::string, std::string> national_code_of_case;
  std::vector<std::string> case_ids;
  {
    history_fixture h(seed, options, d.path() / "log");
    h.gen->register_parties();
    h.gen->run();
    require_no_unexpected(*h.gen);
    for (const auto* list : {&h.gen->national_codes(), &h.gen->mobiles(), &h.gen->consumer_names(), &h.gen->descriptions()})
      for (const auto& s : *list) {
        secrets.push_back(s);
        if (to_persian_digits(s) != s) secrets.push_back(to_persian_digits(s));
      }
    for (const auto& [id, c] : h.eng->snapshot().value().cases) {
      case_ids.push_back(id);
      national_code_of_case[id] = h.eng->history(c.consumer_id).value().front().payload.AsConsumerRegistered()->national_code;
      for (const auto& a : c.agencies) dossiers.push_back({a, id});
      if (c.status == case_status::referred) held_now.push_back({c.agency_id, id});
    }
  }
  REQUIRE_FALSE(dossiers.empty());
  const std::string dir = d.path().string();

  std::vector<std::vector<std::string>> queries{
      {"cases"}, {"cases", "--overdue"}, {"cases", "--status", "closed"}, {"cases", "--status", "referred"},
      {"scorecard"}, {"scorecard", "--business", "1001"}, {"top"}, {"top", "--by", "satisfaction"},
      {"top", "--by", "unanswered"}, {"stats"}, {"stats", "--by", "month"}, {"stats", "--by", "category"},
      {"stats", "--by", "status"}, {"stats", "--by", "outcome"}};
  for (std::size_t i = 0; i < case_ids.size(); i += 7) queries.push_back({"case", "--case", case_ids[i]});
  for (const char* agency : {"consumer-protection", "tazirat", "cyber-police", "guild-union"}) {
    queries.push_back({"queue", "--agency", agency});
    queries.push_back({"queue", "--agency", agency, "--all"});
    queries.push_back({"cases", "--agency", agency});
  }
  std::size_t rows_seen = 0;
  for (const auto& q : queries) {
    for (const std::vector<std::string>& format : {std::vector<std::string>{}, {"--json"}, {"--csv"}, {"--digits", "persian"}}) {
      std::vector<std::string> args{"--data-dir", dir, "--as", "analyst:a1"};
      args.insert(args.end(), format.begin(), format.end());
      args.insert(args.end(), q.begin(), q.end());
      const auto r = run_cli(args);
      INFO("sazesh " << joined(args) << "\nstderr: " << r.err);
      REQUIRE(r.code == 0);
      CHECK(r.err.empty());
      rows_seen += static_cast<std::size_t>(std::count(r.out.begin(), r.out.end(), '\n'));
      for (const auto& secret : secrets) {
        INFO("personal data: " << secret);
        CHECK(r.out.find(secret) == std::string::npos);
      }
    }
  }
  CHECK(rows_seen > 200);  // the queries did show cases

  // The dossier: refused to an analyst (and to another agency), given to the holding agency.
  const auto& [agency, case_id] = dossiers.front();
  {
    const auto r = run_cli({"--data-dir", dir, "--as", "analyst:a1", "dossier", "--agency", agency, "--case", case_id});
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("error: actor: ", 0) == 0);
    const auto j = run_cli({"--data-dir", dir, "--as", "analyst:a1", "--json", "dossier", "--agency", agency, "--case", case_id});
    CHECK(j.code == 1);
    CHECK(j.err.find(R"("code":"unauthorized")") != std::string::npos);
    const std::string other = agency == "tazirat" ? "cyber-police" : "tazirat";
    const auto o = run_cli({"--data-dir", dir, "--as", "agency:" + other, "dossier", "--agency", agency, "--case", case_id});
    CHECK(o.code == 1);
    CHECK(o.err.find("error: actor: ") == 0);
  }
  for (const auto& format : {std::string("--json"), std::string("--digits=latin")}) {
    const auto r = run_cli({"--data-dir", dir, "--as", "agency:" + agency, format, "dossier", "--agency", agency, "--case", case_id});
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.find(national_code_of_case.at(case_id)) != std::string::npos);
  }
  // The projection API behind it names the same consumer.
  auto store = open_store(d.path() / "projections", pj::store_mode::read_only);
  auto log = testing::open_test_log(d.path() / "log", {.follower = true});
  REQUIRE(log.has_value());
  auto b = pj::dossier(*store, **log, agency, case_id);
  REQUIRE(b.has_value());
  CHECK(b->consumer.national_code == national_code_of_case.at(case_id));
  CHECK_FALSE(b->history.empty());
  // Its history is the log's own envelopes of the case, byte for byte, up to the event the
  // case row stands at.
  auto events = (*log)->read_stream(case_id, stream_version(1));
  REQUIRE(events.has_value());
  REQUIRE(b->history.size() == b->row.state.head.version.value());
  REQUIRE(b->history.size() <= events->size());
  for (std::size_t i = 0; i < b->history.size(); ++i) CHECK(b->history[i] == (*events)[i].bytes);
}

// ---- 6. Rebuild, swaps, formats, rows that do not decode, following ---------------------------

TEST_CASE("rebuild swaps in identical projections, refuses while a projector holds them, and finishes an interrupted swap") {
  const std::uint64_t seed = test_seed("rebuild");
  history_options options;
  options.cases = 60;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  const auto folder = h.projections();
  std::string live_digest;
  {
    auto live = open_store(folder, pj::store_mode::read_write);
    pj::projector p(*h.log, *live, 100);
    REQUIRE(p.catch_up().has_value());
    live_digest = *live->digest();
    // Held by a projector: refused, and nothing left behind.
    auto refused = pj::rebuild(*h.log, folder);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code() == errc::unavailable);
    CHECK(*live->digest() == live_digest);
  }
  // The Kafka log keeps nothing in the data folder.
  const std::set<std::string> expected_names =
      on_kafka() ? std::set<std::string>{"projections"} : std::set<std::string>{"log", "projections"};
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(h.dir.path())) names.insert(e.path().filename().string());
  CHECK(names == expected_names);

  // Not held: rebuilt beside, swapped in, the same digest.
  auto report = pj::rebuild(*h.log, folder);
  REQUIRE_MESSAGE(report.has_value(), report.error().message());
  CHECK(report->digest == live_digest);
  CHECK(report->events == log_end(*h.log).value());
  names.clear();
  for (const auto& e : std::filesystem::directory_iterator(h.dir.path())) names.insert(e.path().filename().string());
  CHECK(names == expected_names);
  {
    auto swapped = open_store(folder, pj::store_mode::read_only);
    CHECK(*swapped->digest() == live_digest);
  }

  // A rebuild that died before its flip left its folder and a generation ACTIVE does not name;
  // the next writer removes both, and the active projections are untouched.
  const auto active = pj::active_generation(folder);
  REQUIRE(active.has_value());
  const auto dead_building = folder / "building-999999999";
  const auto orphan = folder / pj::fmt_generation(900);
  std::filesystem::create_directories(dead_building);
  std::filesystem::create_directories(orphan);
  {
    auto writer = open_store(folder, pj::store_mode::read_write);
    pj::recover_interrupted_swap(folder);
  }
  CHECK_FALSE(std::filesystem::exists(dead_building));
  CHECK_FALSE(std::filesystem::exists(orphan));
  CHECK(pj::active_generation(folder).value() == *active);
  auto recovered = open_store(folder, pj::store_mode::read_only);
  CHECK(*recovered->digest() == live_digest);
}

TEST_CASE("projections from before generations become generation 1 when a writer opens them") {
  temp_dir d;
  const auto folder = d.path() / "projections";
  std::string digest;
  {
    // What an older build wrote: the RocksDB folder is the projections folder itself.
    auto legacy = open_store(folder / "x", pj::store_mode::bulk_load);
    pj::change_set c(*legacy);
    c.put(pj::keys::format(), pj::encode_u64(pj::row_format_version));
    c.put(pj::keys::case_row("C-LEGACY"), "row");
    REQUIRE(legacy->commit(c).has_value());
    REQUIRE(legacy->flush().has_value());
    digest = *legacy->digest();
  }
  std::filesystem::rename(folder / "x", d.path() / "old-layout");
  std::filesystem::remove_all(folder);
  std::filesystem::rename(d.path() / "old-layout", folder);
  REQUIRE(std::filesystem::exists(folder / "CURRENT"));
  {
    auto reader = open_store(folder, pj::store_mode::read_only);  // readable as it is
    CHECK(*reader->digest() == digest);
  }
  {
    auto writer = open_store(folder, pj::store_mode::read_write);
    CHECK(*writer->digest() == digest);
  }
  CHECK(pj::active_generation(folder).value() == pj::fmt_generation(1));
  CHECK_FALSE(std::filesystem::exists(folder / "CURRENT"));
  CHECK(*open_store(folder, pj::store_mode::read_only)->digest() == digest);
}

TEST_CASE("a projector opening the projections while a rebuild swaps them never writes into the retired ones") {
  const std::uint64_t seed = test_seed("rebuild race");
  history_options options;
  options.cases = 30;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  const auto folder = h.projections();
  {
    auto live = open_store(folder, pj::store_mode::read_write);
    pj::projector p(*h.log, *live);
    REQUIRE(p.catch_up().has_value());
  }
  // A writer that opens the projections and writes, over and over, while rebuilds run: whenever
  // a write of it succeeds, the generation it wrote into is the active one (never one a flip
  // has retired or is retiring), and it still exists.
  for (int round = 0; round < 3; ++round) {
    std::atomic<bool> done{false};
    std::atomic<int> writes{0}, misplaced{0};
    std::thread writer([&] {
      for (int i = 0; !done.load(); ++i) {
        auto s = pj::projection_store::open(folder, pj::store_mode::read_write);
        if (!s) {
          if (s.error().code() != errc::unavailable) ++misplaced;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        pj::change_set c(**s);
        c.put(fmt::format("zz-marker-{}-{}", round, i), "");
        if (!(*s)->commit(c)) continue;
        ++writes;
        const auto active = pj::active_generation(folder);
        if (!active || *active != (*s)->location().filename().string() || !std::filesystem::exists((*s)->location()))
          ++misplaced;
      }
    });
    auto report = pj::rebuild(*h.log, folder);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    done = true;
    writer.join();
    CHECK(misplaced.load() == 0);
    CHECK(writes.load() > 0);
    if (!report) CHECK(report.error().code() == errc::unavailable);  // the writer held them then
    for (const auto& e : std::filesystem::directory_iterator(folder)) {
      const auto name = e.path().filename().string();
      if (name.rfind("gen-", 0) == 0) CHECK(name == pj::active_generation(folder).value());
    }
  }
}

TEST_CASE("projections written in another row format are refused for writing") {
  temp_dir d;
  const auto folder = d.path() / "projections";
  {
    auto s = open_store(folder, pj::store_mode::read_write);
    pj::change_set c(*s);
    c.put(pj::keys::format(), pj::encode_u64(pj::row_format_version + 1));
    REQUIRE(s->commit(c).has_value());
  }
  auto again = pj::projection_store::open(folder, pj::store_mode::read_write);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code() == errc::corrupt);
  CHECK(again.error().message().find("rebuild") != std::string::npos);
}

TEST_CASE("a stored row that does not decode is reported as corrupt by every query, never guessed at") {
  const std::uint64_t seed = test_seed("undecodable rows");
  history_options options;
  options.cases = 50;
  history_fixture h(seed, options);
  h.gen->register_parties();
  h.gen->run();
  require_no_unexpected(*h.gen);
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  {
    pj::projector p(*h.log, *store);
    REQUIRE(p.catch_up().has_value());
  }
  // A referred case (so it has a dossier), or else any case.
  std::string case_id = h.gen->cases().front(), agency;
  for (const auto& [id, c] : h.eng->snapshot().value().cases)
    if (!c.agencies.empty()) {
      case_id = id;
      agency = c.agencies.front();
      break;
    }
  const std::string business = h.eng->snapshot().value().cases.at(case_id).business_id;
  const std::string good_row = store->get(pj::keys::case_row(case_id)).value().value();

  const auto expect_corrupt = [](const auto& r, const char* what) {
    INFO(what);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code() == errc::corrupt);
  };
  for (const std::string& bad : {good_row.substr(0, good_row.size() - 1), good_row + "x", std::string("garbage"),
                                 std::string(), std::string(5000, '\xFF')}) {
    CAPTURE(bad.size());
    pj::change_set c(*store);
    c.put(pj::keys::case_row(case_id), bad);
    REQUIRE(store->commit(c).has_value());
    expect_corrupt(pj::find_case(*store, case_id), "find_case");
    pj::case_filter f;
    f.business = business;
    expect_corrupt(pj::list_cases(*store, f), "list_cases");
    expect_corrupt(pj::list_cases(*store, pj::case_filter{}), "list_cases (all)");
    if (!agency.empty()) {
      expect_corrupt(pj::dossier(*store, *h.log, agency, case_id), "dossier");
      expect_corrupt(pj::agency_queue(*store, agency, true), "agency_queue");
    }
  }
  if (!agency.empty()) {
    // A case row whose head is not the log's event there: the dossier, read from the log,
    // refuses rather than show a history the projections did not apply.
    auto row = pj::decode_case_row(good_row);
    REQUIRE(row.has_value());
    row->state.head.last_hash = std::string(32, 'x');
    pj::change_set c(*store);
    c.put(pj::keys::case_row(case_id), pj::encode(*row));
    REQUIRE(store->commit(c).has_value());
    auto d = pj::dossier(*store, *h.log, agency, case_id);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code() == errc::corrupt);
    CHECK(d.error().field() == "log");
  }
  {
    pj::change_set c(*store);
    c.put(pj::keys::case_row(case_id), good_row);
    c.put(pj::keys::scorecard(business), "not a scorecard");
    REQUIRE(store->commit(c).has_value());
  }
  expect_corrupt(pj::find_scorecard(*store, business), "find_scorecard");
  expect_corrupt(pj::all_scorecards(*store), "all_scorecards");
  // A ranking reads the scorecards it answers with: all of them, so the bad one among them.
  expect_corrupt(pj::top_businesses(*store, "complaints", 1'000'000), "top_businesses");
  // An index that names a case with no row.
  {
    pj::change_set c(*store);
    c.put(pj::keys::scorecard(business), encode(pj::scorecard{}));
    c.erase(pj::keys::case_row(case_id));
    REQUIRE(store->commit(c).has_value());
  }
  pj::case_filter f;
  f.business = business;
  expect_corrupt(pj::list_cases(*store, f), "list_cases with a missing row");
}

TEST_CASE("projectors following the log in other threads while commands run end equal to a rebuild") {
  const std::uint64_t seed = test_seed("follow");
  history_options options;
  // On Kafka, fewer: the projector following the writer's own log object refreshes it without
  // pause, and a Kafka writer's refresh() holds its appends up while its reader fetches past
  // the last commit (about a quarter of a second each), so commands run at a few per second.
  options.cases = on_kafka() ? 40 : 150;
  history_fixture h(seed, options);
  // One on the writer's log, one on a read-only follower of the same folder (as a projector in
  // another process reads it; on Kafka, a follower of the same topic); the embedded follower
  // keeps its scratch files in our folder.
  const auto scratch = h.dir.path() / "scratch";
  std::filesystem::create_directories(scratch);
  const char* old_tmpdir = std::getenv("TMPDIR");
  const std::string saved_tmpdir = old_tmpdir ? old_tmpdir : "";
  setenv("TMPDIR", scratch.c_str(), 1);
  auto follower_log = testing::open_test_log(h.dir.path() / "log", embedded_log_options{.follower = true});
  if (old_tmpdir) setenv("TMPDIR", saved_tmpdir.c_str(), 1);
  else unsetenv("TMPDIR");
  REQUIRE_MESSAGE(follower_log.has_value(), follower_log.error().message());
  auto store = open_store(h.projections(), pj::store_mode::read_write);
  auto store2 = open_store(h.dir.path() / "projections-2", pj::store_mode::read_write);
  pj::projector p(*h.log, *store, 5);
  pj::projector p2(**follower_log, *store2, 64);
  std::atomic<bool> stop{false};
  std::optional<error> failure, failure2;
  std::thread t1([&] {
    auto st = p.follow([&] { return stop.load(); }, std::chrono::milliseconds(1));
    if (!st) failure = st.error();
  });
  std::thread t2([&] {
    auto st = p2.follow([&] { return stop.load(); }, std::chrono::milliseconds(2));
    if (!st) failure2 = st.error();
  });
  h.gen->register_parties();
  h.gen->run();
  stop = true;
  t1.join();
  t2.join();
  require_no_unexpected(*h.gen);
  REQUIRE_FALSE(failure.has_value());
  REQUIRE_FALSE(failure2.has_value());
  const log_cut end = testing::end_cut(*h.log);
  REQUIRE(p.catch_up().has_value());
  for (int i = 0; i < 100 && stored_cut(*store2, h.log->partitions()) != end; ++i) {
    REQUIRE((*follower_log)->refresh().has_value());
    REQUIRE(p2.catch_up().has_value());
  }
  check_at_end(*store, *h.log);
  check_at_end(*store2, *h.log);
  auto report = pj::rebuild(*h.log, h.dir.path() / "rebuilt");
  REQUIRE(report.has_value());
  CHECK(*store->digest() == report->digest);
  CHECK(*store2->digest() == report->digest);
  check_against_engine(*store, h.eng->snapshot().value());
}

TEST_CASE("the CLI project and rebuild commands agree with each other") {
  const std::uint64_t seed = test_seed("cli rebuild");
  temp_dir d;
  history_options options;
  options.cases = 40;
  std::uint64_t events = 0;
  log_cut end;
  {
    history_fixture h(seed, options, d.path() / "log");
    h.gen->register_parties();
    h.gen->run();
    require_no_unexpected(*h.gen);
    events = log_end(*h.log).value();
    end = testing::end_cut(*h.log);
  }
  const std::string dir = d.path().string();
  const auto projected = run_cli({"--data-dir", dir, "project"});
  INFO("project: " << projected.out << projected.err);
  REQUIRE(projected.code == 0);
  const auto again = run_cli({"--data-dir", dir, "--json", "project"});
  INFO("project again: " << again.out << again.err);
  if (end.size() == 1) {
    CHECK(projected.out == fmt::format("applied {} events; projections at log position {}\n", events, events));
    CHECK(again.out == fmt::format("{{\"applied\":0,\"position\":{}}}\n", events));
  } else {
    // A partitioned log (Kafka's) has a position per partition: each at its partition's end.
    CHECK(projected.out.rfind(fmt::format("applied {} events;", events), 0) == 0);
    CHECK(again.out.rfind("{\"applied\":0,", 0) == 0);
    for (std::uint32_t p = 0; p < end.size(); ++p) {
      const std::uint64_t at = end[p].value_or(log_position(0)).value();
      CHECK(again.out.find(fmt::format("{{\"partition\":{},\"position\":{},\"end\":{},\"lag\":0}}", p, at, at)) !=
            std::string::npos);
    }
  }
  const auto rebuilt = run_cli({"--data-dir", dir, "rebuild"});
  INFO("rebuild: " << rebuilt.out << rebuilt.err);
  CHECK(rebuilt.code == 0);
  CHECK(rebuilt.out.find("identical") != std::string::npos);
  const auto json = run_cli({"--data-dir", dir, "--json", "rebuild"});
  CHECK(json.code == 0);
  CHECK(json.out.find("\"identical\":true") != std::string::npos);
  CHECK(json.out.find(fmt::format("\"events\":{}", events)) != std::string::npos);
}

}  // namespace
}  // namespace sazesh
