// The projector killed with SIGKILL at random moments, again and again, on a log of about
// 100,000 events: each run resumes from the position it last committed, so when one finally
// finishes, the projections equal a fresh rebuild and every event folded in memory. An event
// applied twice or missed would change a counter (scorecard complaints, statistics) or an index
// and the digest would differ.

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/record/codec.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/record/hash.h"
#include "workload/history_generator.h"
#include "projections/apply.h"
#include "projections/kv.h"
#include "projections/projector.h"
#include "projections/rows.h"
#include "projections/store.h"
#include "tests/projections_support.h"
#include "tests/temp_dir.h"

namespace sazesh {
namespace {

namespace pj = sazesh::projections;
using testing::dump;
using testing::first_difference;
using testing::open_store;
using workload::history_generator;
using workload::history_options;

constexpr std::uint64_t target_events = 100'000;
constexpr std::size_t child_batch = 512;
constexpr int min_kills = 10;

std::uint64_t test_seed() {
  std::uint64_t seed = 0;
  if (const char* env = std::getenv("SAZESH_SEED"); env && *env) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32 ^ std::random_device{}()) % 1'000'000'000ULL;
  }
  MESSAGE("projector kill test seed: " << seed << " (rerun with SAZESH_SEED=" << seed << ")");
  return seed;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::unique_ptr<event_log> open_log(const std::filesystem::path& folder) {
  auto opened = open_embedded_log(folder, embedded_log_options{.sync = false});
  REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
  return std::move(*opened);
}

// The same digest projection_store::digest() computes, over the memory fold.
std::string digest_of(const std::map<std::string, std::string, std::less<>>& data) {
  std::string all;
  for (const auto& [k, v] : data) {
    all += pj::encode_u64(k.size());
    all += k;
    all += pj::encode_u64(v.size());
    all += v;
  }
  return to_hex(sha256(all));
}

// Every event of the log before `end` folded in memory, with the format and position keys the
// store keeps. No doctest macros: it also runs in forked children. Returns the error, if any.
std::optional<std::string> fold_in_memory(event_log& log, log_position end, pj::memory_kv& mem) {
  pj::change_set meta(mem);
  meta.put(pj::keys::format(), pj::encode_u64(pj::row_format_version));
  mem.commit(meta);
  log_position at(0);
  std::optional<pj::applied_event> last;
  while (at < end) {
    auto batch = log.read_all(at, 4096);
    if (!batch) return batch.error().message();
    if (batch->empty()) return fmt::format("the log ends at {} before {}", at.value(), end.value());
    for (const auto& stored : *batch) {
      if (stored.position >= end) break;
      auto rec = decode(stored.bytes);
      if (!rec) return fmt::format("position {}: {}", stored.position.value(), rec.error().message());
      pj::change_set c(mem);
      if (auto st = pj::apply_event(c, *rec); !st)
        return fmt::format("position {}: {}", stored.position.value(), st.error().message());
      mem.commit(c);
      at = log_position(stored.position.value() + 1);
      last = pj::applied_event{stored.position, rec->hash};
    }
  }
  // A projector killed before its first commit has stored no position at all.
  if (end.value() > 0) {
    pj::change_set pos(mem);
    pj::store_position(pos, end, 0, last);
    mem.commit(pos);
  }
  return std::nullopt;
}

// ---- Children ------------------------------------------------------------------------------------
//
// RocksDB's background threads (flushes, compactions) belong to the process that started them;
// a child forked from a process that ever opened a database has none, and its database stalls
// once level 0 fills up. So this process opens no database until the last child is gone: the
// log is generated, projected and inspected in children, each a fresh fork of a process that
// never touched RocksDB. A child never returns into doctest.

struct child_result {
  int status = 0;      // as from waitpid
  std::string output;  // what it wrote to the pipe
};

// Runs `body(fd)` in a forked child, which exits with its return value; collects its output.
template <class F>
child_result in_child(F body) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    int code = 99;
    try {
      code = body(fds[1]);
    } catch (...) {
      code = 98;
    }
    _exit(code);
  }
  close(fds[1]);
  child_result r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.output.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  REQUIRE(waitpid(child, &r.status, 0) == child);
  return r;
}

void say(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// Generates the log; says "events commands refused cases seconds".
int generate(const std::filesystem::path& log_dir, std::uint64_t seed, int fd) {
  auto log = open_embedded_log(log_dir, embedded_log_options{.sync = false});
  if (!log) return 30;
  fixed_clock clock(history_generator::default_start());
  auto eng = engine::open(**log, clock);
  if (!eng) return 31;
  history_options options;
  options.consumers = 400;
  options.businesses = 40;
  options.mediators = 8;
  options.in_flight = 60;
  options.cases = 1'000'000;  // never runs out: the size decides
  history_generator gen(**eng, clock, seed, options);
  const auto started = std::chrono::steady_clock::now();
  gen.register_parties();
  while (gen.stats().events < target_events) gen.step();
  const double took = seconds_since(started);
  if (gen.stats().unexpected != 0) {
    say(fd, gen.stats().last_unexpected);
    return 32;
  }
  auto end = (*log)->end();
  if (!end || end->value() != gen.stats().events) return 33;
  say(fd, fmt::format("{} {} {} {} {}", end->value(), gen.stats().commands, gen.stats().refused,
                      gen.stats().cases_filed, took));
  return 0;
}

// Opens the log and the projections, says "r", and catches up until done or killed.
int project(const std::filesystem::path& log_dir, const std::filesystem::path& projections, int fd) {
  auto log = open_embedded_log(log_dir, embedded_log_options{.sync = false});
  if (!log) return 20;
  auto store = pj::projection_store::open(projections, pj::store_mode::read_write);
  if (!store) return 21;
  if (write(fd, "r", 1) != 1) return 22;
  pj::projector p(**log, **store, child_batch);
  auto n = p.catch_up();
  return n ? 0 : 23;
}

// Says the stored position of the projections, and with `full`, whether they hold exactly the
// events before it (the first difference with the memory fold, or "same").
int inspect(const std::filesystem::path& log_dir, const std::filesystem::path& projections, bool full, int fd) {
  auto store = pj::projection_store::open(projections, pj::store_mode::read_only);
  if (!store) return 40;
  auto stored = pj::stored_position(**store);
  if (!stored) return 42;
  const log_position at = *stored;
  std::string verdict = "unchecked";
  if (full) {
    auto log = open_embedded_log(log_dir, embedded_log_options{.sync = false});
    if (!log) return 41;
    pj::memory_kv mem;
    if (auto e = fold_in_memory(**log, at, mem)) {
      say(fd, fmt::format("{} fold failed: {}", at.value(), *e));
      return 0;
    }
    const auto rows = testing::try_dump(**store);
    if (!rows) return 43;
    const std::string diff = first_difference(*rows, mem.data(), "the projections", "the memory fold");
    verdict = diff.empty() ? "same" : diff;
  }
  say(fd, fmt::format("{} {}", at.value(), verdict));
  return 0;
}

TEST_CASE("a projector SIGKILLed again and again resumes where it committed: nothing applied twice or missed") {
  const std::uint64_t seed = test_seed();
  temp_dir dir;
  const auto log_dir = dir.path() / "log";
  const auto projections = dir.path() / "projections";

  // A log of about 100,000 events.
  const auto generated = in_child([&](int fd) { return generate(log_dir, seed, fd); });
  INFO("generator: " << generated.output);
  REQUIRE(WIFEXITED(generated.status));
  REQUIRE(WEXITSTATUS(generated.status) == 0);
  std::uint64_t events = 0, commands = 0, refused = 0, cases = 0;
  double took = 0;
  {
    std::istringstream in(generated.output);
    in >> events >> commands >> refused >> cases >> took;
  }
  REQUIRE(events >= target_events);
  const log_position end(events);
  MESSAGE(fmt::format("generated {} events ({} commands, {} refused, {} cases) in {:.2f}s: {:.0f} events/s", events,
                      commands, refused, cases, took, static_cast<double>(events) / took));

  // Projectors killed at random moments until one finishes.
  std::mt19937_64 rng(seed ^ 0xC0FFEEULL);
  int kills = 0, runs = 0, full_checks = 0;
  bool finished = false;
  std::uint64_t last = 0;
  std::vector<std::uint64_t> kill_positions;
  const auto started = std::chrono::steady_clock::now();
  while (!finished) {
    REQUIRE(runs < 400);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(fds[0]);
      int code = 99;
      try {
        code = project(log_dir, projections, fds[1]);
      } catch (...) {
        code = 98;
      }
      _exit(code);
    }
    ++runs;
    close(fds[1]);
    char byte = 0;
    const bool ready = read(fds[0], &byte, 1) == 1;
    close(fds[0]);
    int wait_status = 0;
    if (ready) {
      // A few ms to tens of ms for the first kills; then longer, growing, so that one run
      // finishes at last (each restart leaves RocksDB more to recover and compact).
      const std::uint64_t delay_us = kills < 2 * min_kills
                                         ? 2'000 + rng() % 48'000
                                         : (20'000 + rng() % 200'000) << std::min(4, (kills - 2 * min_kills) / 8);
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      const pid_t done = waitpid(child, &wait_status, WNOHANG);
      REQUIRE(done >= 0);
      if (done == 0) {
        REQUIRE(kill(child, SIGKILL) == 0);
        REQUIRE(waitpid(child, &wait_status, 0) == child);
      }
    } else {
      REQUIRE(waitpid(child, &wait_status, 0) == child);
    }
    if (WIFSIGNALED(wait_status)) {
      REQUIRE(WTERMSIG(wait_status) == SIGKILL);
      ++kills;
    } else {
      INFO("the projector exited with " << WEXITSTATUS(wait_status)
                                         << " (20: log, 21: projections, 22: pipe, 23: catch_up, 98: exception)");
      REQUIRE(WIFEXITED(wait_status));
      REQUIRE(WEXITSTATUS(wait_status) == 0);
      finished = true;
    }

    // What the dead projector left: never behind what an earlier one committed; now and then
    // checked in full against the fold of exactly the events before its position.
    const bool full = !finished && (kills == 1 || kills == min_kills / 2 || kills == min_kills);
    const auto inspected = in_child([&](int fd) { return inspect(log_dir, projections, full, fd); });
    INFO("inspector: " << inspected.output);
    REQUIRE(WIFEXITED(inspected.status));
    REQUIRE(WEXITSTATUS(inspected.status) == 0);
    std::uint64_t at = 0;
    std::string verdict;
    {
      std::istringstream in(inspected.output);
      in >> at;
      std::getline(in >> std::ws, verdict);
    }
    CHECK(at >= last);
    last = at;
    if (!finished) kill_positions.push_back(at);
    if (full) {
      ++full_checks;
      INFO("after kill " << kills << " at position " << at);
      CHECK(verdict == "same");
    }
  }
  const double projecting = seconds_since(started);
  std::string positions;
  for (auto p : kill_positions) positions += fmt::format("{} ", p);
  MESSAGE(fmt::format("{} runs, {} killed, {} checked in full, in {:.2f}s; positions left by the killed runs: {}",
                      runs, kills, full_checks, projecting, positions));
  CHECK(kills >= min_kills);
  CHECK(last == end.value());

  // The last child is gone: from here this process may open the databases itself.
  // The projections, a fresh rebuild and the memory fold are one and the same.
  auto log = open_log(log_dir);
  const auto rebuild_started = std::chrono::steady_clock::now();
  auto report = pj::rebuild(*log, dir.path() / "rebuilt");
  const double rebuild_took = seconds_since(rebuild_started);
  REQUIRE_MESSAGE(report.has_value(), report.error().message());
  CHECK(report->events == end.value());
  MESSAGE(fmt::format("rebuilt {} events in {:.2f}s: {:.0f} events/s", report->events, rebuild_took,
                      static_cast<double>(report->events) / rebuild_took));
  auto store = open_store(projections, pj::store_mode::read_only);
  CHECK(pj::stored_position(*store).value() == end);
  auto live_digest = store->digest();
  REQUIRE(live_digest.has_value());
  CHECK(*live_digest == report->digest);
  pj::memory_kv mem;
  const auto fold_started = std::chrono::steady_clock::now();
  const auto failed = fold_in_memory(*log, end, mem);
  REQUIRE_MESSAGE(!failed, *failed);
  MESSAGE(fmt::format("folded in memory in {:.2f}s", seconds_since(fold_started)));
  CHECK(digest_of(mem.data()) == *live_digest);
  const auto rows = dump(*store);
  const std::string diff = first_difference(rows, mem.data(), "the projections", "the memory fold");
  CHECK_MESSAGE(diff.empty(), diff);
  CHECK(rows.size() == mem.data().size());
}

}  // namespace
}  // namespace sazesh
