// Tests of the embedded (RocksDB) event log, each on a real database in a fresh temp folder.

#include <doctest/doctest.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/log/event_log.h"
#include "tests/temp_dir.h"

namespace sazesh {
namespace {

std::unique_ptr<event_log> open_log(const std::filesystem::path& folder) {
  auto opened = open_embedded_log(folder);
  REQUIRE_MESSAGE(opened.has_value(), "open_embedded_log: " << opened.error().message());
  return std::move(opened).value();
}

append_request request(std::string stream, std::uint64_t expected, std::string command_id,
                       std::vector<std::string> events) {
  return append_request{std::move(stream), stream_version{expected}, std::move(command_id),
                        std::move(events)};
}

std::vector<stored_event> read_everything(event_log& log) {
  auto all = log.read_all(log_position{0}, 1'000'000);
  REQUIRE_MESSAGE(all.has_value(), all.error().message());
  return std::move(all).value();
}

// Events compare by every field, so "unchanged" means unchanged byte for byte.
bool same_events(const std::vector<stored_event>& a, const std::vector<stored_event>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].position != b[i].position || a[i].stream != b[i].stream ||
        a[i].sequence != b[i].sequence || a[i].bytes != b[i].bytes) {
      return false;
    }
  }
  return true;
}

// Deterministic, binary (NUL and high bytes included) event bytes for a command id, so a
// process that did not send them can recompute them.
std::vector<std::string> events_for(const std::string& command_id) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : command_id) h = (h ^ c) * 1099511628211ull;
  const std::size_t count = 1 + h % 3;
  std::vector<std::string> events;
  for (std::size_t i = 0; i < count; ++i) {
    std::string bytes = command_id + "#" + std::to_string(i) + ":";
    const std::size_t extra = (h >> 8) % 200;
    for (std::size_t j = 0; j < extra; ++j) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
      bytes.push_back(static_cast<char>(h >> 56));
    }
    events.push_back(std::move(bytes));
  }
  return events;
}

TEST_CASE("append and read back") {
  temp_dir dir;
  auto log = open_log(dir.path());

  auto first = log->append(request("case-1", 0, "cmd-1", {"a1", "a2", "a3"}));
  REQUIRE_MESSAGE(first.has_value(), first.error().message());
  CHECK(first->stream == "case-1");
  CHECK(first->first_sequence == stream_version{1});
  CHECK(first->count == 3);
  CHECK(first->first_position == log_position{0});
  CHECK_FALSE(first->repeated);

  auto second = log->append(request("case-2", 0, "cmd-2", {"b1", "b2"}));
  REQUIRE(second.has_value());
  CHECK(second->first_sequence == stream_version{1});
  CHECK(second->first_position == log_position{3});

  auto third = log->append(request("case-1", 3, "cmd-3", {"a4", "a5"}));
  REQUIRE(third.has_value());
  CHECK(third->first_sequence == stream_version{4});
  CHECK(third->first_position == log_position{5});

  auto stream = log->read_stream("case-1", stream_version{0});
  REQUIRE(stream.has_value());
  REQUIRE(stream->size() == 5);
  const std::vector<std::string> expected_bytes{"a1", "a2", "a3", "a4", "a5"};
  const std::vector<std::uint64_t> expected_positions{0, 1, 2, 5, 6};
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK((*stream)[i].stream == "case-1");
    CHECK((*stream)[i].sequence == stream_version{i + 1});
    CHECK((*stream)[i].bytes == expected_bytes[i]);
    CHECK((*stream)[i].position == log_position{expected_positions[i]});
  }

  auto tail = log->read_stream("case-1", stream_version{4});
  REQUIRE(tail.has_value());
  REQUIRE(tail->size() == 2);
  CHECK((*tail)[0].bytes == "a4");
  CHECK((*tail)[1].bytes == "a5");

  auto none = log->read_stream("case-9", stream_version{0});
  REQUIRE(none.has_value());
  CHECK(none->empty());

  auto all = read_everything(*log);
  REQUIRE(all.size() == 7);
  const std::vector<std::string> log_order{"a1", "a2", "a3", "b1", "b2", "a4", "a5"};
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].position == log_position{i});
    CHECK(all[i].bytes == log_order[i]);
  }
  CHECK(all[3].stream == "case-2");
  CHECK(all[4].sequence == stream_version{2});

  auto middle = log->read_all(log_position{3}, 2);
  REQUIRE(middle.has_value());
  REQUIRE(middle->size() == 2);
  CHECK((*middle)[0].position == log_position{3});
  CHECK((*middle)[0].bytes == "b1");
  CHECK((*middle)[1].bytes == "b2");

  auto past_end = log->read_all(log_position{7}, 10);
  REQUIRE(past_end.has_value());
  CHECK(past_end->empty());
  auto zero_max = log->read_all(log_position{0}, 0);
  REQUIRE(zero_max.has_value());
  CHECK(zero_max->empty());

  CHECK(log->end().value() == log_position{7});
  CHECK(log->version("case-1").value() == stream_version{5});
  CHECK(log->version("case-2").value() == stream_version{2});
  CHECK(log->version("case-9").value() == stream_version{0});

  SUBCASE("a command with no events is recorded and moves nothing") {
    auto empty = log->append(request("case-2", 2, "cmd-empty", {}));
    REQUIRE(empty.has_value());
    CHECK(empty->count == 0);
    CHECK(empty->first_position == log_position{7});
    CHECK(log->end().value() == log_position{7});
    CHECK(log->version("case-2").value() == stream_version{2});
    auto found = log->find_command("cmd-empty");
    REQUIRE(found.has_value());
    REQUIRE(found->has_value());
    CHECK((*found)->count == 0);
    CHECK((*found)->stream == "case-2");
    auto again = log->append(request("case-2", 2, "cmd-empty", {}));
    REQUIRE(again.has_value());
    CHECK(again->repeated);
  }

  SUBCASE("find_command returns the recorded outcome") {
    auto found = log->find_command("cmd-3");
    REQUIRE(found.has_value());
    REQUIRE(found->has_value());
    CHECK((*found)->stream == "case-1");
    CHECK((*found)->first_sequence == stream_version{4});
    CHECK((*found)->count == 2);
    CHECK((*found)->first_position == log_position{5});
    auto missing = log->find_command("cmd-unknown");
    REQUIRE(missing.has_value());
    CHECK_FALSE(missing->has_value());
  }
}

TEST_CASE("a stale expected version is a conflict and changes nothing") {
  temp_dir dir;
  auto log = open_log(dir.path());
  std::vector<std::string> seven(7, "e");
  REQUIRE(log->append(request("case-1", 0, "cmd-1", seven)).has_value());
  const auto before = read_everything(*log);

  auto stale = log->append(request("case-1", 5, "cmd-2", {"late"}));
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code() == errc::conflict);
  CHECK(stale.error().field() == "expected_version");
  CHECK(stale.error().rule().find('7') != std::string::npos);
  CHECK(stale.error().rule().find('5') != std::string::npos);

  auto ahead = log->append(request("case-1", 9, "cmd-3", {"early"}));
  REQUIRE_FALSE(ahead.has_value());
  CHECK(ahead.error().code() == errc::conflict);

  CHECK(same_events(before, read_everything(*log)));
  CHECK(log->end().value() == log_position{7});
  CHECK(log->version("case-1").value() == stream_version{7});
  // A refused command is not recorded, so it may be retried with the right version.
  auto found = log->find_command("cmd-2");
  REQUIRE(found.has_value());
  CHECK_FALSE(found->has_value());
  auto retried = log->append(request("case-1", 7, "cmd-2", {"late"}));
  REQUIRE(retried.has_value());
  CHECK_FALSE(retried->repeated);
  CHECK(retried->first_sequence == stream_version{8});
}

TEST_CASE("a repeated command id returns the first outcome and writes nothing") {
  temp_dir dir;
  auto log = open_log(dir.path());
  auto first = log->append(request("case-1", 0, "cmd-1", {"x", "y"}));
  REQUIRE(first.has_value());
  REQUIRE(log->append(request("case-1", 2, "cmd-2", {"z"})).has_value());
  const auto before = read_everything(*log);

  // Expected version 0 is now stale, and the events differ: the repeat still wins.
  auto again = log->append(request("case-1", 0, "cmd-1", {"other"}));
  REQUIRE_MESSAGE(again.has_value(), again.error().message());
  CHECK(again->repeated);
  CHECK(again->stream == first->stream);
  CHECK(again->first_sequence == first->first_sequence);
  CHECK(again->count == first->count);
  CHECK(again->first_position == first->first_position);

  // Same command id named for another stream: still the first outcome.
  auto elsewhere = log->append(request("case-2", 0, "cmd-1", {"w"}));
  REQUIRE(elsewhere.has_value());
  CHECK(elsewhere->repeated);
  CHECK(elsewhere->stream == "case-1");

  CHECK(same_events(before, read_everything(*log)));
  CHECK(log->version("case-2").value() == stream_version{0});
  CHECK(log->end().value() == log_position{3});
}

TEST_CASE("concurrent appends to owned streams all land, densely") {
  temp_dir dir;
  auto log = open_log(dir.path());
  constexpr int threads = 8;
  constexpr int appends_per_thread = 500;
  constexpr int streams_per_thread = 5;
  std::atomic<int> failures{0};
  std::atomic<int> repeats{0};
  std::string first_failure;
  std::mutex failure_mutex;

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<std::uint64_t> versions(streams_per_thread, 0);
      for (int i = 0; i < appends_per_thread; ++i) {
        const int s = i % streams_per_thread;
        const std::string stream = "t" + std::to_string(t) + "-s" + std::to_string(s);
        const std::uint64_t n = 1 + i % 2;  // one or two events
        std::vector<std::string> events;
        for (std::uint64_t k = 1; k <= n; ++k) {
          events.push_back(stream + "@" + std::to_string(versions[s] + k));
        }
        auto r = log->append(request(stream, versions[s], "c-" + std::to_string(t) + "-" +
                                                              std::to_string(i),
                                     events));
        if (!r) {
          std::lock_guard lock(failure_mutex);
          if (failures++ == 0) first_failure = r.error().message();
          continue;
        }
        if (r->repeated) ++repeats;
        versions[s] += n;
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK_MESSAGE(failures.load() == 0, first_failure);
  CHECK(repeats.load() == 0);

  const std::uint64_t total = threads * (appends_per_thread / 2) * 3;  // alternating 1, 2 events
  auto all = read_everything(*log);
  REQUIRE(all.size() == total);
  std::map<std::string, std::uint64_t> last_sequence;
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].position == log_position{i});
    // Log order within a stream is sequence order with no gaps.
    auto& last = last_sequence[all[i].stream];
    CHECK(all[i].sequence.value() == last + 1);
    last = all[i].sequence.value();
    CHECK(all[i].bytes == all[i].stream + "@" + std::to_string(last));
  }
  CHECK(last_sequence.size() == threads * streams_per_thread);
  CHECK(log->end().value() == log_position{total});
  for (const auto& [stream, last] : last_sequence) {
    CHECK(log->version(stream).value() == stream_version{last});
    auto events = log->read_stream(stream, stream_version{1});
    REQUIRE(events.has_value());
    REQUIRE(events->size() == last);
    for (std::size_t k = 0; k < events->size(); ++k) {
      CHECK((*events)[k].sequence == stream_version{k + 1});
    }
  }
}

TEST_CASE("racing appends to one stream at one version: exactly one wins") {
  temp_dir dir;
  auto log = open_log(dir.path());
  constexpr int threads = 8;
  constexpr int rounds = 25;
  for (int round = 0; round < rounds; ++round) {
    std::latch start(threads);
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    std::atomic<int> others{0};
    std::vector<std::thread> racers;
    for (int t = 0; t < threads; ++t) {
      racers.emplace_back([&, t] {
        start.arrive_and_wait();
        auto r = log->append(request("contested", round,
                                     "r" + std::to_string(round) + "-" + std::to_string(t),
                                     {"from " + std::to_string(t)}));
        if (r && !r->repeated) {
          ++wins;
        } else if (!r && r.error().code() == errc::conflict) {
          ++conflicts;
        } else {
          ++others;
        }
      });
    }
    for (auto& r : racers) r.join();
    CHECK(wins.load() == 1);
    CHECK(conflicts.load() == threads - 1);
    CHECK(others.load() == 0);
  }
  CHECK(log->version("contested").value() == stream_version{rounds});
  CHECK(log->end().value() == log_position{rounds});
}

// Group commit is not visible through event_log, but it is on disk: each RocksDB write is one
// WAL record. Reading the WAL back shows that one record can hold several commands, and that a
// command's keys never straddle two records. The grouping check depends on scheduling: with 8
// threads doing synced appends, a group of one for all 1200 commands would need no append ever
// to arrive during another's fsync (runs here show about 4 commands per record).
TEST_CASE("concurrent appends are grouped into shared atomic writes") {
  temp_dir dir;
  constexpr int threads = 8;
  constexpr int appends_per_thread = 150;
  {
    auto log = open_log(dir.path());
    std::vector<std::thread> workers;
    std::atomic<int> failures{0};
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const std::string stream = "g" + std::to_string(t);
        for (int i = 0; i < appends_per_thread; ++i) {
          auto r = log->append(request(stream, 2 * i, stream + "-" + std::to_string(i),
                                       {"one", "two"}));
          if (!r) ++failures;
        }
      });
    }
    for (auto& w : workers) w.join();
    REQUIRE(failures.load() == 0);
  }

  // Open the folder directly, keeping the recovered WAL readable (archived, not deleted).
  rocksdb::Options options;
  options.WAL_ttl_seconds = 3600;
  options.avoid_flush_during_recovery = true;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(options, dir.path().string(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);

  struct counter : rocksdb::WriteBatch::Handler {
    int commands = 0;
    int events = 0;
    int index_entries = 0;
    void Put(const rocksdb::Slice& key, const rocksdb::Slice&) override {
      if (key.size() == 0) return;
      if (key[0] == 'c') ++commands;
      if (key[0] == 'e') ++events;
      if (key[0] == 's') ++index_entries;
    }
  };
  std::unique_ptr<rocksdb::TransactionLogIterator> wal;
  REQUIRE(db->GetUpdatesSince(0, &wal).ok());
  int total_commands = 0;
  int largest_group = 0;
  int records_with_commands = 0;
  for (; wal->Valid(); wal->Next()) {
    rocksdb::BatchResult batch = wal->GetBatch();
    counter c;
    REQUIRE(batch.writeBatchPtr->Iterate(&c).ok());
    if (c.commands == 0) continue;  // the format-version record
    ++records_with_commands;
    total_commands += c.commands;
    largest_group = std::max(largest_group, c.commands);
    // Every command here has two events: its events and index entries are in its record.
    CHECK(c.events == 2 * c.commands);
    CHECK(c.index_entries == 2 * c.commands);
  }
  CHECK(wal->status().ok());
  CHECK(total_commands == threads * appends_per_thread);
  MESSAGE("WAL records: " << records_with_commands << " for " << total_commands
                          << " commands; largest group " << largest_group);
  CHECK(largest_group > 1);
  CHECK(records_with_commands < total_commands);
}

TEST_CASE("reopening recovers everything and continues at the right position") {
  temp_dir dir;
  std::vector<stored_event> before;
  {
    auto log = open_log(dir.path());
    REQUIRE(log->append(request("case-1", 0, "cmd-1", {"a", "b"})).has_value());
    REQUIRE(log->append(request("case-2", 0, "cmd-2", {"c"})).has_value());
    REQUIRE(log->append(request("case-1", 2, "cmd-3", {"d"})).has_value());
    before = read_everything(*log);
  }
  auto log = open_log(dir.path());
  CHECK(same_events(before, read_everything(*log)));
  CHECK(log->end().value() == log_position{4});
  CHECK(log->version("case-1").value() == stream_version{3});
  CHECK(log->version("case-2").value() == stream_version{1});

  auto repeat = log->append(request("case-1", 0, "cmd-1", {"again"}));
  REQUIRE(repeat.has_value());
  CHECK(repeat->repeated);
  CHECK(repeat->first_position == log_position{0});

  auto stale = log->append(request("case-1", 2, "cmd-4", {"e"}));
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().code() == errc::conflict);

  auto next = log->append(request("case-1", 3, "cmd-4", {"e"}));
  REQUIRE(next.has_value());
  CHECK(next->first_position == log_position{4});
  CHECK(next->first_sequence == stream_version{4});
  CHECK(log->end().value() == log_position{5});
}

TEST_CASE("a folder open in this process cannot be opened again") {
  temp_dir dir;
  auto log = open_log(dir.path());
  auto second = open_embedded_log(dir.path());
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code() == errc::unavailable);
  CHECK(second.error().field() == "data_dir");
  // The first is unaffected.
  CHECK(log->append(request("case-1", 0, "cmd-1", {"a"})).has_value());
}

TEST_CASE("a folder open in another process is unavailable") {
  temp_dir dir;
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  std::fflush(nullptr);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Forked before the parent opens, so this process's copy of RocksDB holds no lock of its
    // own and must meet the parent's lock on the file.
    close(ready[1]);
    char byte = 0;
    if (read(ready[0], &byte, 1) != 1) _exit(10);
    auto opened = open_embedded_log(dir.path());
    if (opened) _exit(11);
    _exit(opened.error().code() == errc::unavailable ? 0 : 12);
  }
  close(ready[0]);
  auto log = open_log(dir.path());
  REQUIRE(write(ready[1], "g", 1) == 1);
  close(ready[1]);
  int wait_status = 0;
  REQUIRE(waitpid(child, &wait_status, 0) == child);
  REQUIRE(WIFEXITED(wait_status));
  CHECK_MESSAGE(WEXITSTATUS(wait_status) == 0,
                "child exit 11: opened; 12: wrong error code; 10: pipe");
}

// Runs in a forked child: appends from four threads and reports each acknowledged command id
// on `ack_fd`, one line each (lines are shorter than PIPE_BUF, so they never interleave).
// RocksDB's background threads from earlier tests do not exist in the child, so it never flushes
// or compacts; a few hundred small appends stay well inside one memtable, so none is needed.
[[noreturn]] void run_acknowledging_child(const std::filesystem::path& folder, int ack_fd,
                                          int appends) {
  auto opened = open_embedded_log(folder);
  if (!opened) _exit(20);
  event_log& log = **opened;
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  constexpr int threads = 4;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::uint64_t versions[3] = {0, 0, 0};
      for (int i = t; i < appends; i += threads) {
        const int s = i % 3;
        const std::string stream = "kill-" + std::to_string(t) + "-" + std::to_string(s);
        const std::string id = "ack-" + std::to_string(i);
        const auto events = events_for(id);
        auto r = log.append(request(stream, versions[s], id, events));
        if (!r || r->repeated) {
          failed = true;
          return;
        }
        versions[s] += events.size();
        const std::string line = id + "\n";
        if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          failed = true;
          return;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  _exit(failed ? 21 : 0);
}

TEST_CASE("acknowledged appends survive SIGKILL") {
  temp_dir dir;
  constexpr int appends = 300;
  std::random_device device;
  const unsigned seed = device();
  MESSAGE("SIGKILL test seed: " << seed);
  std::mt19937 rng(seed);
  const int kill_after = std::uniform_int_distribution<int>(1, appends)(rng);

  int acks[2];
  REQUIRE(pipe(acks) == 0);
  std::fflush(nullptr);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(acks[0]);
    run_acknowledging_child(dir.path(), acks[1], appends);
  }
  close(acks[1]);

  // Read acknowledgements; past `kill_after`, kill, then keep reading what was already sent.
  std::vector<std::string> acknowledged;
  std::string buffer;
  bool killed = false;
  for (;;) {
    pollfd p{acks[0], POLLIN, 0};
    const int ready = poll(&p, 1, 60'000);
    if (ready <= 0) {
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
      close(acks[0]);
      FAIL("the child stopped acknowledging for a minute");
    }
    char chunk[4096];
    const ssize_t n = read(acks[0], chunk, sizeof chunk);
    if (n <= 0) break;  // the child is gone and the pipe is drained
    buffer.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      acknowledged.push_back(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
    if (!killed && static_cast<int>(acknowledged.size()) >= kill_after) {
      kill(child, SIGKILL);
      killed = true;
    }
  }
  close(acks[0]);
  int wait_status = 0;
  REQUIRE(waitpid(child, &wait_status, 0) == child);
  // Either killed, or it finished every append before the kill landed.
  const bool killed_by_us = WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL;
  const bool finished = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  REQUIRE_MESSAGE((killed_by_us || finished), "child status " << wait_status);
  CHECK(buffer.empty());
  MESSAGE("acknowledged " << acknowledged.size() << " appends (kill after " << kill_after << ")");
  REQUIRE(static_cast<int>(acknowledged.size()) >= kill_after);

  auto log = open_log(dir.path());
  for (const std::string& id : acknowledged) {
    auto found = log->find_command(id);
    REQUIRE(found.has_value());
    REQUIRE_MESSAGE(found->has_value(), "acknowledged command " << id << " is missing");
    const append_outcome& outcome = **found;
    const auto expected = events_for(id);
    REQUIRE(outcome.count == expected.size());
    auto events = log->read_stream(outcome.stream, outcome.first_sequence);
    REQUIRE(events.has_value());
    REQUIRE(events->size() >= expected.size());
    for (std::size_t k = 0; k < expected.size(); ++k) {
      CHECK((*events)[k].bytes == expected[k]);
      CHECK((*events)[k].position == log_position{outcome.first_position.value() + k});
    }
  }

  // The whole log is dense and every stream gap-free, acknowledged or not.
  auto all = read_everything(*log);
  std::map<std::string, std::uint64_t> last_sequence;
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].position == log_position{i});
    auto& last = last_sequence[all[i].stream];
    CHECK(all[i].sequence.value() == last + 1);
    last = all[i].sequence.value();
  }
  CHECK(log->end().value() == log_position{all.size()});
  auto after = log->append(request("after-crash", 0, "after-crash-1", {"ok"}));
  REQUIRE(after.has_value());
  CHECK(after->first_position == log_position{all.size()});
}

TEST_CASE("Persian text survives byte for byte") {
  temp_dir dir;
  const std::string stream = "پرونده-۱۴۰۳-۱۲";
  const std::string complaint = "شکایت از فروشگاه";
  // Opaque bytes too: NUL, 0xff and a lone continuation byte are not text at all.
  const std::string binary("\0\xff\x80 پایان", 12);
  {
    auto log = open_log(dir.path());
    auto r = log->append(request(stream, 0, "فرمان-۱", {complaint, binary}));
    REQUIRE_MESSAGE(r.has_value(), r.error().message());
  }
  auto log = open_log(dir.path());
  auto events = log->read_stream(stream, stream_version{1});
  REQUIRE(events.has_value());
  REQUIRE(events->size() == 2);
  CHECK((*events)[0].stream == stream);
  CHECK((*events)[0].bytes == complaint);
  CHECK((*events)[0].bytes.size() == complaint.size());
  CHECK((*events)[1].bytes == binary);
  CHECK((*events)[1].bytes.size() == 12);
  auto found = log->find_command("فرمان-۱");
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->stream == stream);
  CHECK(log->version(stream).value() == stream_version{2});
}

TEST_CASE("malformed requests are refused naming the field") {
  temp_dir dir;
  auto log = open_log(dir.path());
  REQUIRE(log->append(request("case-1", 0, "cmd-1", {"a"})).has_value());
  const auto before = read_everything(*log);

  auto no_stream = log->append(request("", 0, "cmd-2", {"x"}));
  REQUIRE_FALSE(no_stream.has_value());
  CHECK(no_stream.error().code() == errc::invalid_argument);
  CHECK(no_stream.error().field() == "stream");

  auto no_command = log->append(request("case-1", 1, "", {"x"}));
  REQUIRE_FALSE(no_command.has_value());
  CHECK(no_command.error().code() == errc::invalid_argument);
  CHECK(no_command.error().field() == "command_id");

  auto nul_stream = log->append(request(std::string("case\0x", 6), 0, "cmd-3", {"x"}));
  REQUIRE_FALSE(nul_stream.has_value());
  CHECK(nul_stream.error().code() == errc::invalid_argument);
  CHECK(nul_stream.error().field() == "stream");

  CHECK(same_events(before, read_everything(*log)));
  CHECK(log->end().value() == log_position{1});
  auto not_recorded = log->find_command("cmd-2");
  REQUIRE(not_recorded.has_value());
  CHECK_FALSE(not_recorded->has_value());

  auto bad_version = log->version("");
  REQUIRE_FALSE(bad_version.has_value());
  CHECK(bad_version.error().code() == errc::invalid_argument);
  auto bad_find = log->find_command("");
  REQUIRE_FALSE(bad_find.has_value());
  CHECK(bad_find.error().field() == "command_id");
}

// --- followers ------------------------------------------------------------------------------

std::unique_ptr<event_log> open_follower(const std::filesystem::path& folder) {
  auto opened = open_embedded_log(folder, embedded_log_options{.follower = true});
  REQUIRE_MESSAGE(opened.has_value(), "open follower: " << opened.error().message());
  return std::move(opened).value();
}

// Name and size of every file under `folder`, to show that nothing there changed.
std::map<std::string, std::uintmax_t> folder_listing(const std::filesystem::path& folder) {
  std::map<std::string, std::uintmax_t> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    files[entry.path().lexically_relative(folder).string()] =
        entry.is_regular_file() ? entry.file_size() : 0;
  }
  return files;
}

// Reads from `from` through read_all alone (no refresh) until `count` events have arrived or a
// minute has passed; every batch must continue the log densely.
std::vector<stored_event> follow(event_log& log, std::uint64_t from, std::size_t count) {
  std::vector<stored_event> events;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (events.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = log.read_all(log_position{from + events.size()}, 64);
    REQUIRE_MESSAGE(batch.has_value(), batch.error().message());
    if (batch->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (auto& e : *batch) {
      REQUIRE(e.position == log_position{from + events.size()});
      events.push_back(std::move(e));
    }
  }
  return events;
}

TEST_CASE("a follower sees the writer's appends made after it opened") {
  temp_dir dir;
  auto writer = open_log(dir.path());
  REQUIRE(writer->append(request("case-1", 0, "cmd-1", events_for("cmd-1"))).has_value());
  auto follower = open_follower(dir.path());
  CHECK(same_events(read_everything(*writer), read_everything(*follower)));
  CHECK(follower->end().value() == writer->end().value());
  const std::uint64_t case_1 = events_for("cmd-1").size();
  CHECK(follower->version("case-1").value() == stream_version{case_1});
  CHECK_FALSE(follower->find_command("cmd-2").value().has_value());

  REQUIRE(writer->append(request("case-2", 0, "cmd-2", events_for("cmd-2"))).has_value());
  REQUIRE(writer->append(request("case-1", case_1, "cmd-3", events_for("cmd-3"))).has_value());

  // Until it refreshes, a follower keeps the view it had, end and versions included.
  const log_position old_end = follower->end().value();
  CHECK(old_end == log_position{case_1});
  CHECK(follower->read_all(log_position{0}, 1000).value().size() == case_1);
  CHECK(follower->version("case-1").value() == stream_version{case_1});

  REQUIRE(follower->refresh().has_value());
  const auto all = read_everything(*writer);
  CHECK(same_events(all, read_everything(*follower)));
  CHECK(follower->end().value() == writer->end().value());
  // Versions are not cached stale: the follower read case-1 at its old version above.
  CHECK(follower->version("case-1").value() == writer->version("case-1").value());
  CHECK(follower->version("case-2").value() == writer->version("case-2").value());
  for (const std::string stream : {"case-1", "case-2"}) {
    CHECK(same_events(writer->read_stream(stream, stream_version{1}).value(),
                      follower->read_stream(stream, stream_version{1}).value()));
    CHECK(same_events(writer->read_stream(stream, stream_version{2}).value(),
                      follower->read_stream(stream, stream_version{2}).value()));
  }
  for (const std::string id : {"cmd-1", "cmd-2", "cmd-3"}) {
    auto mine = writer->find_command(id).value();
    auto theirs = follower->find_command(id).value();
    REQUIRE(theirs.has_value());
    CHECK(theirs->stream == mine->stream);
    CHECK(theirs->first_sequence == mine->first_sequence);
    CHECK(theirs->count == mine->count);
    CHECK(theirs->first_position == mine->first_position);
  }

  // Reading from the end catches up by itself: a read_all loop needs no refresh().
  const std::uint64_t at = follower->end().value().value();
  CHECK(follower->read_all(log_position{at}, 10).value().empty());
  std::vector<std::string> expected;
  for (int i = 4; i < 30; ++i) {
    const std::string id = "cmd-" + std::to_string(i);
    const std::string stream = "case-" + std::to_string(i % 4);
    const auto events = events_for(id);
    REQUIRE(writer->append(request(stream, writer->version(stream).value().value(), id, events))
                .has_value());
    expected.insert(expected.end(), events.begin(), events.end());
    if (i % 5 == 0) {  // read while the writer is still appending
      auto some = follower->read_all(log_position{at}, 1000);
      REQUIRE(some.has_value());
      CHECK(some->size() <= expected.size());
    }
  }
  auto followed = follow(*follower, at, expected.size());
  REQUIRE(followed.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(followed[i].bytes == expected[i]);
  CHECK(same_events(read_everything(*writer), read_everything(*follower)));
  CHECK(follower->end().value() == writer->end().value());

  // A writer's refresh does nothing.
  CHECK(writer->refresh().has_value());
}

TEST_CASE("a follower refuses appends") {
  temp_dir dir;
  auto writer = open_log(dir.path());
  REQUIRE(writer->append(request("case-1", 0, "cmd-1", {"a"})).has_value());
  auto follower = open_follower(dir.path());
  auto refused = follower->append(request("case-1", 1, "cmd-2", {"b"}));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == errc::unavailable);
  CHECK(refused.error().message() == "data_dir: opened read-only as a follower");
  // Refused before anything else is looked at, malformed or repeated alike.
  CHECK(follower->append(request("", 0, "", {})).error().code() == errc::unavailable);
  CHECK(follower->append(request("case-1", 0, "cmd-1", {"a"})).error().code() ==
        errc::unavailable);
  REQUIRE(follower->refresh().has_value());
  CHECK(read_everything(*follower).size() == 1);
  CHECK(writer->end().value() == log_position{1});
  CHECK_FALSE(writer->find_command("cmd-2").value().has_value());
}

TEST_CASE("a follower needs an existing log and changes nothing in its folder") {
  temp_dir dir;
  // Scratch folders go to TMPDIR; pointing it at a folder of our own shows they are removed.
  temp_dir scratch;
  const char* old_tmpdir = getenv("TMPDIR");
  const std::string saved = old_tmpdir ? old_tmpdir : "";
  REQUIRE(setenv("TMPDIR", scratch.path().c_str(), 1) == 0);

  const auto missing = dir.path() / "no-such-folder";
  auto none = open_embedded_log(missing, embedded_log_options{.follower = true});
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code() == errc::not_found);
  CHECK(none.error().message() == "data_dir: no event log in " + missing.string());
  CHECK_FALSE(std::filesystem::exists(missing));

  auto empty = open_embedded_log(dir.path(), embedded_log_options{.follower = true});
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().code() == errc::not_found);
  CHECK(empty.error().message() == "data_dir: no event log in " + dir.path().string());
  CHECK(std::filesystem::is_empty(dir.path()));
  CHECK(std::filesystem::is_empty(scratch.path()));

  {
    auto writer = open_log(dir.path());
    REQUIRE(writer->append(request("case-1", 0, "cmd-1", {"a", "b"})).has_value());
  }
  // The writer is gone: its WAL is still there, unflushed, and the follower reads it.
  const auto before = folder_listing(dir.path());
  {
    auto follower = open_follower(dir.path());
    CHECK(std::distance(std::filesystem::directory_iterator(scratch.path()),
                        std::filesystem::directory_iterator()) == 1);
    CHECK(read_everything(*follower).size() == 2);
    REQUIRE(follower->refresh().has_value());
    CHECK(follower->read_all(log_position{2}, 10).value().empty());
    CHECK(follower->version("case-1").value() == stream_version{2});
    CHECK(follower->find_command("cmd-1").value().has_value());
  }
  CHECK(folder_listing(dir.path()) == before);
  CHECK(std::filesystem::is_empty(scratch.path()));

  if (old_tmpdir) {
    setenv("TMPDIR", saved.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
}

TEST_CASE("a follower keeps working while writers close and reopen") {
  temp_dir dir;
  std::vector<std::string> expected;
  auto writer = open_log(dir.path());
  auto append = [&](event_log& log, const std::string& id) {
    const std::string stream = "case-" + std::to_string(expected.size() % 3);
    const auto events = events_for(id);
    auto r = log.append(request(stream, log.version(stream).value().value(), id, events));
    REQUIRE_MESSAGE(r.has_value(), r.error().message());
    expected.insert(expected.end(), events.begin(), events.end());
  };
  append(*writer, "first");
  auto follower = open_follower(dir.path());
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 20; ++i) {
      append(*writer, "r" + std::to_string(round) + "-" + std::to_string(i));
    }
    const std::uint64_t at = follower->end().value().value();
    auto followed = follow(*follower, at, expected.size() - at);
    REQUIRE(followed.size() == expected.size() - at);
    for (std::size_t i = 0; i < followed.size(); ++i) CHECK(followed[i].bytes == expected[at + i]);

    // Close the writer: the follower still reads, refreshes and sees nothing new.
    writer.reset();
    REQUIRE(follower->refresh().has_value());
    CHECK(read_everything(*follower).size() == expected.size());
    CHECK(follower->read_all(log_position{expected.size()}, 10).value().empty());

    // A new writer recovers the log (flushing it and starting a new MANIFEST and WAL); the
    // follower follows it too.
    writer = open_log(dir.path());
    REQUIRE(follower->refresh().has_value());
    CHECK(same_events(read_everything(*writer), read_everything(*follower)));
  }
  append(*writer, "last");
  auto followed = follow(*follower, 0, expected.size());
  REQUIRE(followed.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(followed[i].bytes == expected[i]);
  CHECK(same_events(read_everything(*writer), read_everything(*follower)));
}

// Runs in a forked child: appends `count` commands one after another to three streams, each
// command's events being events_for("f-<i>"), then exits without closing (like a crash).
[[noreturn]] void run_appending_child(const std::filesystem::path& folder, int ready_fd,
                                      int go_fd, int count) {
  auto opened = open_embedded_log(folder);
  if (!opened) _exit(30);
  event_log& log = **opened;
  if (!log.append(request("f-stream-0", 0, "f-0", events_for("f-0")))) _exit(31);
  // The log exists: the parent may open its follower; wait for it before appending more.
  if (write(ready_fd, "r", 1) != 1) _exit(32);
  char byte = 0;
  if (read(go_fd, &byte, 1) != 1) _exit(33);
  std::uint64_t versions[3] = {events_for("f-0").size(), 0, 0};
  for (int i = 1; i < count; ++i) {
    const std::string id = "f-" + std::to_string(i);
    const auto events = events_for(id);
    auto r = log.append(request("f-stream-" + std::to_string(i % 3), versions[i % 3], id, events));
    if (!r || r->repeated) _exit(34);
    versions[i % 3] += events.size();
  }
  _exit(0);
}

TEST_CASE("a follower follows a writer in another process, and the next writer after it") {
  temp_dir dir;
  constexpr int count = 300;
  int ready[2];
  int go[2];
  REQUIRE(pipe(ready) == 0);
  REQUIRE(pipe(go) == 0);
  std::fflush(nullptr);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(ready[0]);
    close(go[1]);
    run_appending_child(dir.path(), ready[1], go[0], count);
  }
  close(ready[1]);
  close(go[0]);
  char byte = 0;
  REQUIRE(read(ready[0], &byte, 1) == 1);
  close(ready[0]);

  auto follower = open_follower(dir.path());
  // The writer in the child holds the folder; a writer here is refused, a follower is not.
  CHECK(open_embedded_log(dir.path()).error().code() == errc::unavailable);
  REQUIRE(write(go[1], "g", 1) == 1);
  close(go[1]);

  std::vector<std::string> expected;
  for (int i = 0; i < count; ++i) {
    const auto events = events_for("f-" + std::to_string(i));
    expected.insert(expected.end(), events.begin(), events.end());
  }
  // Follows while the child appends, through read_all alone.
  auto followed = follow(*follower, 0, expected.size());
  int wait_status = 0;
  REQUIRE(waitpid(child, &wait_status, 0) == child);
  REQUIRE(WIFEXITED(wait_status));
  REQUIRE_MESSAGE(WEXITSTATUS(wait_status) == 0, "child exit " << WEXITSTATUS(wait_status));
  REQUIRE(followed.size() == expected.size());
  std::map<std::string, std::uint64_t> last_sequence;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(followed[i].bytes == expected[i]);
    auto& last = last_sequence[followed[i].stream];
    CHECK(followed[i].sequence.value() == last + 1);
    last = followed[i].sequence.value();
  }

  // The child died without closing; a writer here recovers its WAL and carries on, and the
  // follower opened beside the child sees both.
  auto writer = open_log(dir.path());
  CHECK(same_events(read_everything(*writer), followed));
  const auto tail = events_for("after-child");
  REQUIRE(writer->append(request("f-stream-0", last_sequence["f-stream-0"], "after-child", tail))
              .has_value());
  auto more = follow(*follower, expected.size(), tail.size());
  REQUIRE(more.size() == tail.size());
  for (std::size_t i = 0; i < tail.size(); ++i) CHECK(more[i].bytes == tail[i]);
  CHECK(same_events(read_everything(*writer), read_everything(*follower)));
}

// Big-endian bytes of an integer, as the log's keys and values hold them.
std::string be(std::uint64_t v, int bytes) {
  std::string out;
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
  return out;
}

TEST_CASE("a follower opened before the writer wrote the format version checks it later") {
  temp_dir dir;
  {
    // An empty RocksDB folder: what a writer leaves if it stops before its first write.
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.path().string(), &raw).ok());
    delete raw;
  }
  auto follower = open_follower(dir.path());
  CHECK(follower->end().value() == log_position{0});
  CHECK(read_everything(*follower).empty());
  auto writer = open_log(dir.path());
  REQUIRE(writer->append(request("case-1", 0, "cmd-1", {"a"})).has_value());
  auto followed = follow(*follower, 0, 1);
  REQUIRE(followed.size() == 1);
  CHECK(followed[0].bytes == "a");
}

TEST_CASE("a follower reports a hole in the log instead of skipping it") {
  temp_dir dir;
  {
    // Written by hand: positions 0, 1 and 3 of stream "s" (sequences 1, 2 and 4).
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.path().string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteBatch batch;
    REQUIRE(batch.Put("mformat_version", be(1, 4)).ok());
    for (std::uint64_t position : {0, 1, 3}) {
      const std::uint64_t sequence = position + 1;
      REQUIRE(batch.Put("e" + be(position, 8), be(sequence, 8) + be(1, 4) + "s" + "x").ok());
      REQUIRE(batch.Put("ss" + std::string(1, '\0') + be(sequence, 8), be(position, 8)).ok());
    }
    REQUIRE(db->Write(rocksdb::WriteOptions{}, &batch).ok());
  }
  auto follower = open_follower(dir.path());
  CHECK(follower->read_all(log_position{0}, 2).value().size() == 2);
  auto all = follower->read_all(log_position{0}, 10);
  REQUIRE_FALSE(all.has_value());
  CHECK(all.error().code() == errc::corrupt);
  CHECK(all.error().message() == "event: the log has no event at position 2 but has later ones");
  auto from_hole = follower->read_all(log_position{2}, 10);
  REQUIRE_FALSE(from_hole.has_value());
  CHECK(from_hole.error().code() == errc::corrupt);
  auto stream = follower->read_stream("s", stream_version{1});
  REQUIRE_FALSE(stream.has_value());
  CHECK(stream.error().code() == errc::corrupt);
  CHECK(follower->read_stream("s", stream_version{4}).value().size() == 1);
}

// Event bytes for the flush test: a header naming the position, then incompressible bytes.
std::string big_event(std::uint64_t position, std::size_t size) {
  std::string bytes = "big-" + std::to_string(position) + ":";
  std::uint64_t h = position * 0x9e3779b97f4a7c15ull + 1;
  while (bytes.size() < size) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    bytes.push_back(static_cast<char>(h >> 56));
  }
  return bytes;
}

TEST_CASE("followers keep up while the writer flushes and compacts") {
  temp_dir dir;
  // ~96 MiB of incompressible events: six 16 MiB memtable flushes, and L0 compactions after the
  // fourth, all while the followers read.
  constexpr std::uint64_t total = 384;
  constexpr std::size_t size = 256u << 10;
  auto opened = open_embedded_log(dir.path(), embedded_log_options{.sync = false});
  REQUIRE(opened.has_value());
  auto writer = std::move(opened).value();
  REQUIRE(writer->append(request("big-0", 0, "big-cmd-0", {big_event(0, size)})).has_value());
  auto shared = open_follower(dir.path());
  auto own = open_follower(dir.path());

  std::atomic<bool> failed{false};
  std::mutex failure_mutex;
  std::string failure;
  std::set<std::string> tables_seen;
  auto note_failure = [&](const std::string& what) {
    std::lock_guard lock(failure_mutex);
    if (!failed.exchange(true)) failure = what;
  };
  // Two threads share one follower, a third has its own; each checks every event it reads.
  auto reader = [&](event_log& log, bool watch_tables) {
    std::uint64_t next = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    while (next < total && !failed && std::chrono::steady_clock::now() < deadline) {
      auto batch = log.read_all(log_position{next}, 8);
      if (!batch) return note_failure("read_all: " + batch.error().message());
      for (const auto& e : *batch) {
        if (e.position.value() != next || e.bytes != big_event(next, size) ||
            e.sequence.value() != next / 2 + 1) {
          return note_failure("wrong event at " + std::to_string(next));
        }
        ++next;
      }
      if (batch->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (watch_tables) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir.path(), ec)) {
          if (entry.path().extension() == ".sst") tables_seen.insert(entry.path().filename());
        }
      }
    }
    if (next < total && !failed) note_failure("stopped at " + std::to_string(next));
  };
  std::vector<std::thread> readers;
  readers.emplace_back(reader, std::ref(*shared), true);
  readers.emplace_back(reader, std::ref(*shared), false);
  readers.emplace_back(reader, std::ref(*own), false);

  // Two streams, alternating, so read_stream has dense sequences to check as well.
  for (std::uint64_t p = 1; p < total && !failed; ++p) {
    const std::string stream = "big-" + std::to_string(p % 2);
    auto r = writer->append(request(stream, p / 2, "big-cmd-" + std::to_string(p),
                                    {big_event(p, size)}));
    if (!r) note_failure("append: " + r.error().message());
  }
  for (auto& t : readers) t.join();
  REQUIRE_MESSAGE(!failed, failure);

  std::set<std::string> tables_now;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".sst") tables_now.insert(entry.path().filename());
  }
  std::size_t deleted = 0;
  for (const auto& t : tables_seen) deleted += tables_now.count(t) == 0;
  MESSAGE("table files seen while following: " << tables_seen.size() << ", now "
                                               << tables_now.size() << ", deleted by compaction "
                                               << deleted);
  CHECK(!tables_seen.empty());
  for (event_log* log : {shared.get(), own.get()}) {
    REQUIRE(log->refresh().has_value());
    CHECK(log->end().value() == log_position{total});
    for (const std::string stream : {"big-0", "big-1"}) {
      auto events = log->read_stream(stream, stream_version{1});
      REQUIRE_MESSAGE(events.has_value(), events.error().message());
      CHECK(events->size() == total / 2);
      CHECK(log->version(stream).value() == stream_version{total / 2});
    }
  }
}

TEST_CASE("regression: a write reported failed that reached the disk is never overwritten by the next") {
  temp_dir dir;
  bool lose = false;
  embedded_log_options o;
  o.lose_write_outcome = [&] { return std::exchange(lose, false); };
  auto opened = open_embedded_log(dir.path() / "log", o);
  REQUIRE(opened.has_value());
  auto& log = **opened;
  REQUIRE(log.append(request("a", 0, "cmd-1", {"first"})).has_value());
  lose = true;
  auto lost = log.append(request("b", 0, "cmd-2", {"written, reported failed"}));
  REQUIRE_FALSE(lost.has_value());
  // No settle() in between: the log settles by itself before its next group.
  auto next = log.append(request("c", 0, "cmd-3", {"after"}));
  REQUIRE_MESSAGE(next.has_value(), next.error().message());
  auto all = log.read_all(log_position{0}, 100);
  REQUIRE(all.has_value());
  std::vector<std::string> bytes;
  for (const auto& e : *all) bytes.push_back(e.bytes);
  CHECK(bytes == std::vector<std::string>{"first", "written, reported failed", "after"});
  // And the repeat of the lost one is a repeat, not a second copy.
  auto again = log.append(request("b", 0, "cmd-2", {"written, reported failed"}));
  REQUIRE(again.has_value());
  CHECK(again->repeated);
  CHECK(log.version("b").value() == stream_version{1});
}

}  // namespace
}  // namespace sazesh
