// Durability of the engine on the real embedded (RocksDB) log: a child process runs a long
// scripted sequence of commands and reports each one the engine acknowledged; the parent kills
// it with SIGKILL at a random point, reopens the folder and checks that every acknowledged
// command is there, intact, and that retrying the whole script completes the log exactly as an
// uninterrupted run writes it.

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/time/clock.h"
#include "engine/record/codec.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/record/hash.h"
#include "engine/domain/state.h"
#include "engine/log/document_store.h"
#include "projections/projector.h"
#include "projections/store.h"
#include "tests/engine_harness.h"
#include "tests/fault_fs.h"
#include "tests/projections_support.h"
#include "tests/temp_dir.h"

namespace sazesh {
namespace {

std::vector<stored_event> read_everything(event_log& log) {
  auto all = log.read_all(log_position{0}, 10'000'000);
  REQUIRE_MESSAGE(all.has_value(), all.error().message());
  return std::move(all).value();
}

// ---- The script --------------------------------------------------------------------------------

// One step: a command (with its id) or a scheduler tick, at a time.
struct step {
  timestamp_ms time = 0;
  bool is_tick = false;
  actor who;
  std::string id;
  command cmd = apply_deadlines{};
};

std::string national_code_from(std::uint32_t n) {
  std::string v = std::to_string(100'000'000 + n % 900'000'000);
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (v[static_cast<std::size_t>(i)] - '0') * (10 - i);
  const int r = sum % 11;
  v += static_cast<char>('0' + (r < 2 ? r : 11 - r));
  return v;
}

document_input doc(fb::DocumentKind kind, const std::string& content) {
  return document_input{kind, sha256(content), content + ".pdf", content.size()};
}

// Registrations, then `cases` complaints taking four paths (negotiated, mediated and settled,
// failed and referred, left unanswered for the scheduler), their steps interleaved round robin,
// half an hour apart, with a tick every 20 steps. Ids are fixed, so every run writes the same
// bytes.
std::vector<step> make_script(int cases) {
  const timestamp_ms start = parse_time("start", "2026-11-28T09:00:00Z").value();
  const actor op{fb::Role_operator_, "ops-1"};
  std::vector<step> setup;
  const auto add = [](std::vector<step>& to, actor who, std::string id, command cmd) {
    to.push_back(step{0, false, std::move(who), std::move(id), std::move(cmd)});
  };
  const std::vector<std::string> seals{"3001", "3002", "3003"};
  for (std::size_t b = 0; b < seals.size(); ++b)
    add(setup, op, "reg-b" + std::to_string(b),
        register_business{seals[b], "shop" + std::to_string(b) + ".ir", "فروشگاه " + std::to_string(b), 3});
  add(setup, op, "reg-a0", register_agency{"consumer-protection", "حمایت", {fb::Category_defective, fb::Category_non_delivery}});
  add(setup, op, "reg-m0", register_mediator{"میانجی", "09350000000"});
  const std::string mediator = derive_id("M-", "reg-m0", 8);
  std::vector<std::string> consumers;
  for (int i = 0; consumers.size() < 6; ++i) {
    const std::string code = national_code_from(static_cast<std::uint32_t>(7919 * i + 12345));
    const std::string id = "reg-c" + std::to_string(i);
    add(setup, {fb::Role_consumer, ""}, id, register_consumer{code, "0912000000" + std::to_string(consumers.size()), "مصرف‌کننده"});
    consumers.push_back(derive_id("U-", id, 8));
  }

  std::vector<std::vector<step>> lanes;
  const std::int32_t purchase = static_cast<std::int32_t>(days_from_civil({2026, 11, 1}));
  for (int i = 0; i < cases; ++i) {
    std::vector<step> lane;
    const std::string n = std::to_string(i);
    const std::string file_id = "file-" + n;
    const std::string c = derive_id("C-", file_id, 10);
    const actor consumer{fb::Role_consumer, consumers[static_cast<std::size_t>(i) % consumers.size()]};
    const actor business{fb::Role_business, seals[static_cast<std::size_t>(i) % seals.size()]};
    const bool short_of_documents = i % 5 == 4;
    file_case f{business.id, "ORD-" + n, purchase, 1'000'000u * static_cast<std::uint64_t>(i + 1),
                short_of_documents ? fb::Category_non_delivery : fb::Category_defective,
                "شکایت شماره " + n + " — the order " + n, fb::RemedyKind_refund,
                {doc(fb::DocumentKind_invoice, "invoice-" + n)}};
    if (!short_of_documents) f.documents.push_back(doc(fb::DocumentKind_photo, "photo-" + n));
    add(lane, consumer, file_id, f);
    if (short_of_documents) add(lane, consumer, "attach-" + n, attach_document{c, doc(fb::DocumentKind_payment_receipt, "receipt-" + n)});
    add(lane, op, "accept-" + n, accept_case{c, std::nullopt, fb::Route_negotiation, "", ""});
    switch (i % 4) {
      case 0:
        add(lane, business, "respond-" + n, respond{c, "پاسخ " + n});
        add(lane, business, "offer-" + n, make_offer{c, fb::RemedyKind_refund, 500'000, "refund", 7});
        add(lane, consumer, "accept-offer-" + n, accept_offer{c, 1});
        add(lane, business, "fulfilled-" + n, mark_remedy_fulfilled{c, "paid"});
        add(lane, consumer, "confirm-" + n, confirm_remedy{c, "received"});
        add(lane, consumer, "rate-" + n, rate_case{c, 5, true, "عالی"});
        break;
      case 1:
        add(lane, business, "respond-" + n, respond{c, "no"});
        add(lane, consumer, "mediation-" + n, request_mediation{c, "please mediate"});
        add(lane, op, "assign-" + n, assign_mediator{c, mediator});
        add(lane, {fb::Role_mediator, mediator}, "propose-" + n, propose_settlement{c, "half", fb::RemedyKind_partial_refund, 250'000});
        add(lane, {fb::Role_mediator, mediator}, "conclude-" + n, conclude_mediation{c, fb::MediationOutcome_settled, "settled"});
        break;
      case 2:
        add(lane, business, "respond-" + n, respond{c, "maybe"});
        add(lane, business, "offer-" + n, make_offer{c, fb::RemedyKind_apology, 0, "sorry", 1});
        add(lane, consumer, "reject-offer-" + n, reject_offer{c, 1, "not enough"});
        add(lane, consumer, "mediation-" + n, request_mediation{c, "please mediate"});
        add(lane, op, "assign-" + n, assign_mediator{c, mediator});
        add(lane, {fb::Role_mediator, mediator}, "conclude-" + n, conclude_mediation{c, fb::MediationOutcome_failed, "failed"});
        add(lane, op, "refer-" + n, refer_case{c, "consumer-protection", "dossier"});
        add(lane, {fb::Role_agency, "consumer-protection"}, "ack-" + n, acknowledge_referral{c});
        add(lane, {fb::Role_agency, "consumer-protection"}, "decide-" + n, decide_referral{c, fb::AgencyVerdict_upheld, "upheld"});
        break;
      default:
        add(lane, consumer, "message-" + n, post_message{c, "any news? ۱۲۳"});
        break;  // then unanswered: the scheduler's ticks walk it up the ladder
    }
    lanes.push_back(std::move(lane));
  }

  std::vector<step> out = std::move(setup);
  for (std::size_t round = 0;; ++round) {
    bool any = false;
    for (auto& lane : lanes) {
      if (round >= lane.size()) continue;
      out.push_back(lane[round]);
      any = true;
    }
    if (!any) break;
  }
  std::vector<step> timed;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i % 20 == 19) timed.push_back(step{0, true, {}, "", apply_deadlines{}});
    timed.push_back(std::move(out[i]));
  }
  timed.push_back(step{0, true, {}, "", apply_deadlines{}});
  for (std::size_t i = 0; i < timed.size(); ++i) timed[i].time = start + static_cast<timestamp_ms>(i) * 30 * 60'000;
  return timed;
}

// One acknowledged command: its id, its stream, and the stream's version and (for a case) its
// status right after it.
struct ack {
  std::string id, stream;
  std::uint64_t version = 0;
  std::string status;
};

ack ack_of(engine& eng, const std::string& id, const std::string& stream) {
  return eng.inspect([&](const world& w) {
    const case_state* c = w.find_case(stream);
    return ack{id, stream, w.head_of(stream).version.value(), c ? std::string(to_string(c->status)) : "-"};
  });
}

std::string ack_line(engine& eng, const std::string& id, const std::string& stream) {
  const ack a = ack_of(eng, id, stream);
  return "A " + a.id + " " + a.stream + " " + std::to_string(a.version) + " " + a.status + "\n";
}

// Runs in the forked child: executes the script and reports each acknowledged command on `fd`
// (lines shorter than PIPE_BUF from one thread, so the parent reads them whole and in order).
// Never returns into doctest.
[[noreturn]] void run_child(const std::filesystem::path& folder, int fd, const std::vector<step>& script) {
  const auto say = [fd](const std::string& line) {
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
  };
  auto log = open_embedded_log(folder);
  if (!log) {
    say("E open_embedded_log: " + log.error().message() + "\n");
    _exit(2);
  }
  fixed_clock clock(0);
  auto eng = engine::open(**log, clock);
  if (!eng) {
    say("E engine::open: " + eng.error().message() + "\n");
    _exit(2);
  }
  for (const auto& s : script) {
    clock.set(s.time);
    if (s.is_tick) {
      auto report = (*eng)->tick();
      if (!report) {
        say("E tick: " + report.error().message() + "\n");
        _exit(3);
      }
      for (const auto& o : report->applied) say(ack_line(**eng, o.events.front().command_id, o.stream));
      continue;
    }
    auto out = (*eng)->execute(s.who, s.id, s.cmd);
    if (!out || out->repeated) {
      say("E " + s.id + ": " + (out ? std::string("repeated") : out.error().message()) + "\n");
      _exit(3);
    }
    say(ack_line(**eng, s.id, out->stream));
  }
  say("D\n");
  _exit(0);
}

// The uninterrupted run: every event, and the world after each step with the log's end then.
struct reference_run {
  std::vector<stored_event> events;
  std::map<std::uint64_t, world> world_at_end;
  std::size_t acks = 0;
};

reference_run run_reference(const std::vector<step>& script) {
  temp_dir dir;
  reference_run ref;
  auto log = open_embedded_log(dir.path() / "log", embedded_log_options{.sync = false});
  REQUIRE(log.has_value());
  fixed_clock clock(0);
  auto eng = engine::open(**log, clock);
  REQUIRE(eng.has_value());
  ref.world_at_end[0] = (*eng)->snapshot().value();
  for (const auto& s : script) {
    clock.set(s.time);
    if (s.is_tick) {
      auto report = (*eng)->tick();
      REQUIRE_MESSAGE(report.has_value(), report.error().message());
      ref.acks += report->applied.size();
    } else {
      auto out = (*eng)->execute(s.who, s.id, s.cmd);
      REQUIRE_MESSAGE(out.has_value(), "script step " << s.id << ": " << out.error().message());
      REQUIRE_FALSE(out->repeated);
      ++ref.acks;
    }
    ref.world_at_end[(*log)->end().value().value()] = (*eng)->snapshot().value();
  }
  ref.events = read_everything(**log);
  eng->reset();
  return ref;
}

// SAZESH_SEED, or a fresh random seed; printed either way.
std::uint64_t seed_from_environment(const char* what) {
  std::uint64_t seed = 0;
  if (const char* env = std::getenv("SAZESH_SEED"); env != nullptr && *env != '\0') seed = std::stoull(env);
  else seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
  MESSAGE(std::string(what) << " seed: " << seed << " (rerun with SAZESH_SEED=" << seed << ")");
  return seed;
}

// What a crash left in `folder`, checked from the folder alone: every acknowledged command is
// there once and whole, the log is the uninterrupted run's cut at a command boundary, the engine
// opens on it with state rows equal to a fresh fold, and retrying the whole script completes the
// log exactly as the uninterrupted run wrote it.
void check_recovered(const std::filesystem::path& folder, const std::vector<ack>& acked,
                     const std::vector<step>& script, const reference_run& ref, bool verbose) {
  auto log = open_embedded_log(folder);
  REQUIRE_MESSAGE(log.has_value(), log.error().message());

  // Every acknowledged command is in the log, whole, and its events decode.
  std::uint64_t acked_end = 0;
  for (const auto& a : acked) {
    auto found = (*log)->find_command(a.id);
    REQUIRE(found.has_value());
    REQUIRE_MESSAGE(found->has_value(), "acknowledged command " << a.id << " is missing after the crash");
    const append_outcome& o = **found;
    CHECK(o.stream == a.stream);
    CHECK(o.first_sequence.value() + o.count - 1 == a.version);
    auto events = (*log)->read_stream(o.stream, o.first_sequence);
    REQUIRE(events.has_value());
    REQUIRE(events->size() >= o.count);
    for (std::uint64_t k = 0; k < o.count; ++k) {
      auto r = decode((*events)[k].bytes);
      REQUIRE_MESSAGE(r.has_value(), r.error().message());
      CHECK(r->command_id == a.id);
      CHECK((*events)[k].position.value() == o.first_position.value() + k);
    }
    acked_end = std::max(acked_end, o.first_position.value() + o.count);
  }

  // The log is the uninterrupted run's log cut at a command boundary no earlier than the last
  // acknowledgement: nothing lost, nothing torn, nothing reordered.
  const auto crashed = read_everything(**log);
  REQUIRE(crashed.size() >= acked_end);
  REQUIRE(crashed.size() <= ref.events.size());
  for (std::size_t i = 0; i < crashed.size(); ++i) {
    INFO("position " << i);
    CHECK(crashed[i].position.value() == i);
    CHECK(crashed[i].stream == ref.events[i].stream);
    CHECK(crashed[i].sequence == ref.events[i].sequence);
    CHECK(crashed[i].bytes == ref.events[i].bytes);
  }
  if (!crashed.empty()) {
    auto last = decode(crashed.back().bytes);
    REQUIRE(last.has_value());
    auto o = (*log)->find_command(last->command_id);
    REQUIRE(o.has_value());
    REQUIRE(o->has_value());
    CHECK((*o)->first_position.value() + (*o)->count == crashed.size());
  }
  if (verbose) MESSAGE("  log holds " << crashed.size() << " events; the acknowledged commands end at " << acked_end);

  // The engine opens cleanly, every chain verifies, and the acknowledged cases are where the
  // child saw them (or, for the commands after the last acknowledgement, further on).
  fixed_clock clock(0);
  auto eng = engine::open(**log, clock);
  REQUIRE_MESSAGE(eng.has_value(), eng.error().message());
  std::map<std::string, ack> last_ack;
  for (const auto& a : acked) last_ack[a.stream] = a;
  int further = 0;
  for (const auto& [stream, a] : last_ack) {
    auto history = (*eng)->history(stream);
    REQUIRE_MESSAGE(history.has_value(), stream << ": " << history.error().message());
    REQUIRE(history->size() >= a.version);
    const world now = (*eng)->snapshot().value();
    const std::uint64_t version = now.head_of(stream).version.value();
    CHECK(version == history->size());
    const case_state* c = now.find_case(stream);
    if (version == a.version) {
      CHECK(std::string(c ? to_string(c->status) : "-") == a.status);
    } else {
      ++further;
      CHECK(version > a.version);
      CHECK(acked_end < crashed.size());
    }
  }
  if (verbose) MESSAGE("  " << last_ack.size() << " acknowledged streams, " << further << " moved on by unacknowledged commands");
  // The state rows the killed engine left are those a fresh fold of the log makes.
  {
    testing::stateless_log hidden(**log);
    fixed_clock fold_clock(0);
    auto fresh = engine::open(hidden, fold_clock);
    REQUIRE_MESSAGE(fresh.has_value(), fresh.error().message());
    CHECK((*fresh)->state_digest().value() == (*eng)->state_digest().value());
  }
  if (auto w = ref.world_at_end.find(crashed.size()); w != ref.world_at_end.end()) {
    CHECK((*eng)->snapshot().value() == w->second);
  } else {
    if (verbose) MESSAGE("  (the log ends inside a tick: no step boundary to compare the world with)");
  }

  // A client retrying every command of the script (same ids) and the scheduler ticking again
  // complete the log exactly as the uninterrupted run wrote it.
  std::size_t repeated = 0;
  for (const auto& s : script) {
    clock.set(s.time);
    if (s.is_tick) {
      auto report = (*eng)->tick();
      REQUIRE_MESSAGE(report.has_value(), report.error().message());
      continue;
    }
    auto out = (*eng)->execute(s.who, s.id, s.cmd);
    REQUIRE_MESSAGE(out.has_value(), "retrying " << s.id << ": " << out.error().message());
    repeated += out->repeated;
  }
  const auto completed = read_everything(**log);
  REQUIRE(completed.size() == ref.events.size());
  bool identical = true;
  for (std::size_t i = 0; i < completed.size(); ++i)
    identical = identical && completed[i].bytes == ref.events[i].bytes && completed[i].stream == ref.events[i].stream;
  CHECK(identical);
  CHECK((*eng)->snapshot().value() == ref.world_at_end.rbegin()->second);
  if (verbose) MESSAGE("  retry: " << repeated << " commands were already in the log");
  eng->reset();
}

TEST_CASE("acknowledged commands survive SIGKILL, intact, and a retried script completes the log exactly") {
  const std::vector<step> script = make_script(40);
  const reference_run ref = run_reference(script);
  std::map<std::string, std::string> final_status;
  for (const auto& [id, c] : ref.world_at_end.rbegin()->second.cases) final_status[to_string(c.status)] += ".";
  std::ostringstream summary;
  for (const auto& [s, dots] : final_status) summary << " " << s << "=" << dots.size();
  MESSAGE("script: " << script.size() << " steps, " << ref.acks << " acknowledgements, " << ref.events.size()
                     << " events; final cases:" << summary.str());
  REQUIRE(ref.acks > 300);

  std::mt19937_64 rng(seed_from_environment("durability"));

  constexpr int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    // Spread the kill points over the script: one in each fifth, at random within it.
    const std::size_t lo = 1 + ref.acks * static_cast<std::size_t>(round) / rounds;
    const std::size_t hi = ref.acks * static_cast<std::size_t>(round + 1) / rounds;
    const std::size_t kill_after = std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
    CAPTURE(round);
    CAPTURE(kill_after);
    temp_dir dir;
    const std::filesystem::path folder = dir.path() / "log";

    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    std::fflush(nullptr);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(pipe_fds[0]);
      run_child(folder, pipe_fds[1], script);
    }
    close(pipe_fds[1]);

    std::vector<ack> acked;
    std::vector<std::string> failures;
    bool done = false, killed = false;
    std::string buffer;
    for (;;) {
      pollfd p{pipe_fds[0], POLLIN, 0};
      if (poll(&p, 1, 60'000) <= 0) {
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
        close(pipe_fds[0]);
        FAIL("the child stopped acknowledging for a minute");
      }
      char chunk[4096];
      const ssize_t n = read(pipe_fds[0], chunk, sizeof chunk);
      if (n <= 0) break;  // the child is gone and the pipe drained
      buffer.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
        const std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (line == "D") {
          done = true;
        } else if (line.rfind("E ", 0) == 0) {
          failures.push_back(line);
        } else {
          std::istringstream in(line.substr(2));
          ack a;
          in >> a.id >> a.stream >> a.version >> a.status;
          acked.push_back(a);
        }
      }
      if (!killed && acked.size() >= kill_after) {
        kill(child, SIGKILL);
        killed = true;
      }
    }
    close(pipe_fds[0]);
    int wait_status = 0;
    REQUIRE(waitpid(child, &wait_status, 0) == child);
    CHECK_MESSAGE(failures.empty(), (failures.empty() ? std::string() : failures.front()));
    const bool killed_by_us = WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL;
    const bool finished = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0 && done;
    REQUIRE_MESSAGE((killed_by_us || finished), "child status " << wait_status);
    CHECK(buffer.empty());
    REQUIRE(acked.size() >= kill_after);
    MESSAGE("round " << round << ": killed after " << acked.size() << " of " << ref.acks
                     << " acknowledgements (asked for " << kill_after << ")" << std::string(finished ? ", but it had finished" : ""));

    check_recovered(folder, acked, script, ref, true);
  }
}

// ---- Below the engine: a disk that fails, fills up, or loses power ------------------------------

namespace pj = projections;


// A run of the script in this process, its log in FOLDER/log and the projector catching up into
// FOLDER/projections every 16 steps, all through `fs`.
struct faulty_run {
  std::vector<ack> acked;
  std::vector<std::string> failures;  // each step that failed, and why
  std::uint64_t opened_at = 0;        // operations of the file system once everything was open
  std::uint64_t operations = 0;       // of the file system, at the end
  bool finished = false;              // every step acknowledged
  int restarts = 0;                   // the folder opened again after a fault
};

struct run_policy {
  // After a step fails: how many more tries fail before the disk is healed (fs.heal()), the
  // step being retried each time as a client would. Negative: stop at the first failure.
  int heal_after = -1;
};

// The log, the engine and the projections of FOLDER, opened through the storage env in place.
struct opened_folder {
  std::unique_ptr<event_log> log;
  std::unique_ptr<engine> eng;
  std::unique_ptr<pj::projection_store> store;
  std::unique_ptr<pj::projector> projector;

  // Empty if all opened, else what failed.
  std::string open(const std::filesystem::path& folder, clock& clk) {
    auto l = open_embedded_log(folder / "log");
    if (!l) return "open_embedded_log: " + l.error().message();
    log = std::move(*l);
    auto e = engine::open(*log, clk);
    if (!e) return "engine::open: " + e.error().message();
    eng = std::move(*e);
    auto st = pj::projection_store::open(folder / "projections", pj::store_mode::read_write);
    if (!st) return "projections: " + st.error().message();
    store = std::move(*st);
    projector = std::make_unique<pj::projector>(*log, *store);
    return "";
  }
  void close() {
    projector.reset();
    store.reset();
    eng.reset();
    log.reset();
  }
  ~opened_folder() { close(); }
};

faulty_run run_faulty(testing::fault_fs& fs, const std::filesystem::path& folder, const std::vector<step>& script,
                      run_policy policy = {}) {
  faulty_run out;
  testing::storage_env_guard guard(fs.env());
  fixed_clock clock(0);
  opened_folder db;
  if (auto failed = db.open(folder, clock); !failed.empty()) {
    out.failures.push_back(failed);
    return out;
  }
  out.opened_at = fs.operations();
  for (std::size_t i = 0; i < script.size(); ++i) {
    const step& s = script[i];
    clock.set(s.time);
    bool done = false;
    for (int tries = 0; !done; ++tries) {
      std::string failure;
      if (s.is_tick) {
        auto report = db.eng->tick();
        if (report) {
          for (const auto& o : report->applied) out.acked.push_back(ack_of(*db.eng, o.events.front().command_id, o.stream));
          done = true;
        } else {
          failure = "tick at step " + std::to_string(i) + ": " + report.error().message();
        }
      } else {
        auto r = db.eng->execute(s.who, s.id, s.cmd);
        // A retry after a failure may find the command already written: its outcome is known now.
        if (r && (!r->repeated || tries > 0)) {
          out.acked.push_back(ack_of(*db.eng, s.id, r->stream));
          done = true;
        } else {
          failure = s.id + ": " + (r ? std::string("repeated") : r.error().message());
        }
      }
      if (done) break;
      const bool reopen = failure.find("open the data folder again") != std::string::npos;
      out.failures.push_back(std::move(failure));
      if (policy.heal_after < 0 || tries >= policy.heal_after + 60) return out;
      if (tries == policy.heal_after) fs.heal();
      if (tries < policy.heal_after) continue;
      if (reopen) {
        // What an operator does once the disk is sound again: restart.
        db.close();
        ++out.restarts;
        if (auto failed = db.open(folder, clock); !failed.empty()) {
          out.failures.push_back("reopening: " + failed);
          return out;
        }
      } else {
        // A full disk is checked again by RocksDB every few seconds: a client waits a moment.
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
    }
    if (i % 16 == 15) {
      if (auto p = db.projector->catch_up(); !p) {
        out.failures.push_back("projector: " + p.error().message());
        if (policy.heal_after < 0) return out;
      }
    }
  }
  if (auto p = db.projector->catch_up(); !p) out.failures.push_back("projector: " + p.error().message());
  out.operations = fs.operations();
  out.finished = true;
  return out;
}

// After check_recovered completed the log: the projections the crashed run left catch up on it
// and equal a rebuild, key for key.
void check_projections_recover(const std::filesystem::path& folder) {
  auto log = open_embedded_log(folder / "log");
  REQUIRE_MESSAGE(log.has_value(), log.error().message());
  {
    auto live = pj::projection_store::open(folder / "projections", pj::store_mode::read_write);
    REQUIRE_MESSAGE(live.has_value(), "reopening the projections after the crash: " << live.error().message());
    pj::projector projector(**log, **live);
    auto caught = projector.catch_up();
    REQUIRE_MESSAGE(caught.has_value(), "catching up after the crash: " << caught.error().message());
  }
  auto rebuilt = pj::rebuild(**log, folder / "rebuilt", {}, false);
  REQUIRE_MESSAGE(rebuilt.has_value(), rebuilt.error().message());
  const auto live = testing::dump(*testing::open_store(folder / "projections", pj::store_mode::read_only));
  const auto fresh = testing::dump(*testing::open_store(folder / "rebuilt", pj::store_mode::read_only));
  const std::string diff = testing::first_difference(live, fresh, "the recovered projections", "a rebuild");
  CHECK_MESSAGE(diff.empty(), diff);
}

int count_from_environment(const char* name, int otherwise) {
  const char* env = std::getenv(name);
  return env != nullptr && *env != '\0' ? std::stoi(env) : otherwise;
}

// A whole run of the script without a fault: how many file system operations it takes.
faulty_run clean_run(const std::vector<step>& script) {
  temp_dir dir("/dev/shm");
  testing::fault_fs fs;
  faulty_run run = run_faulty(fs, dir.path(), script);
  REQUIRE_MESSAGE(run.failures.empty(), run.failures.front());
  REQUIRE(run.finished);
  return run;
}

TEST_CASE("a power cut at any of hundreds of points loses nothing acknowledged; state rows and projections recover") {
  const std::vector<step> script = make_script(8);
  const reference_run ref = run_reference(script);
  const std::uint64_t total = clean_run(script).operations;
  const int cuts = count_from_environment("SAZESH_POWER_CUTS", 200);
  std::mt19937_64 rng(seed_from_environment("power cut"));
  MESSAGE("script: " << script.size() << " steps, " << ref.events.size() << " events, " << total
                     << " file system operations; " << cuts << " power cuts");
  std::uint64_t acked = 0, torn = 0, removed = 0, bytes_lost = 0;
  for (int round = 0; round < cuts; ++round) {
    // One cut in each slice of the run, at random within it.
    const std::uint64_t lo = 1 + total * static_cast<std::uint64_t>(round) / static_cast<std::uint64_t>(cuts);
    const std::uint64_t hi = std::max(lo, total * static_cast<std::uint64_t>(round + 1) / static_cast<std::uint64_t>(cuts));
    const std::uint64_t point = std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
    // Half the cuts lose every unsynced byte, half keep a random part of each unsynced tail.
    const std::uint64_t tear = round % 2 == 0 ? 0 : rng() | 1;
    CAPTURE(round);
    CAPTURE(point);
    CAPTURE(tear);
    temp_dir dir("/dev/shm");
    testing::fault_fs fs;
    fs.power_off_at(point);
    const faulty_run run = run_faulty(fs, dir.path(), script);
    const auto lost = fs.lose_unsynced(tear);
    acked += run.acked.size();
    torn += lost.files_cut;
    removed += lost.files_removed;
    bytes_lost += lost.bytes_lost;
    check_recovered(dir.path() / "log", run.acked, script, ref, false);
    check_projections_recover(dir.path());
  }
  MESSAGE(cuts << " power cuts: " << acked << " acknowledged commands all found; unsynced data lost: " << bytes_lost
               << " bytes, " << torn << " files cut, " << removed << " never-synced files gone");
}

TEST_CASE("a disk that fails or fills up: a clear error, nothing half-written, and all is well once it recovers") {
  const std::vector<step> script = make_script(8);
  const reference_run ref = run_reference(script);
  const faulty_run clean = clean_run(script);
  const int rounds = count_from_environment("SAZESH_DISK_FAULTS", 24);
  std::mt19937_64 rng(seed_from_environment("disk fault"));
  std::uint64_t failed_steps = 0;
  int restarts = 0;
  for (int round = 0; round < rounds; ++round) {
    // Once the databases are open (a disk failing at startup is a failed start, covered by the
    // power cuts), anywhere in the run.
    const std::uint64_t point = std::uniform_int_distribution<std::uint64_t>(clean.opened_at + 1, clean.operations)(rng);
    // A full disk in one round of four (RocksDB takes a few seconds to notice it has room again).
    const auto kind = round % 4 == 0 ? testing::disk_fault::no_space : testing::disk_fault::io_error;
    CAPTURE(round);
    CAPTURE(point);
    temp_dir dir("/dev/shm");
    testing::fault_fs fs;
    fs.fail_from(point, kind);
    // The engine goes on in the same process: each failed step is retried, as a client would,
    // and the disk recovers after 0, 1 or 2 more failed tries.
    const faulty_run run = run_faulty(fs, dir.path(), script, run_policy{round % 3});
    for (const auto& f : run.failures) {
      INFO(f);
      // The error says what happened to the disk.
      CHECK(f.find(kind == testing::disk_fault::no_space ? "no space left" : "input/output error") != std::string::npos);
    }
    failed_steps += run.failures.size();
    restarts += run.restarts;
    REQUIRE_MESSAGE(run.finished, "the engine did not recover once the disk did: " << run.failures.back());
    CHECK(run.acked.size() == ref.acks);
    // Then the power goes: everything acknowledged, before the fault and after, is on the disk.
    fs.power_off_at(fs.operations() + 1);
    fs.lose_unsynced(0);
    check_recovered(dir.path() / "log", run.acked, script, ref, false);
    check_projections_recover(dir.path());
  }
  MESSAGE(rounds << " disk faults: " << failed_steps << " refused tries, every one retried to completion; " << restarts
                 << " needed the folder opened again");
}

// A real small disk (a tmpfs of its own) filled up: the engine and the document store refuse
// with the system's own words, and once there is room again the same engine goes on.
TEST_CASE("a real full disk: refused in the disk's own words, nothing half-written, and on again once there is room") {
  REQUIRE_MESSAGE(geteuid() == 0, "this test mounts a small tmpfs of its own: run it as root (CI does)");
  temp_dir dir;
  const std::filesystem::path disk = dir.path() / "disk";
  std::filesystem::create_directories(disk);
  REQUIRE_MESSAGE(::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=48m") == 0, "mount: " << std::strerror(errno));
  struct unmount_at_end {
    std::filesystem::path at;
    ~unmount_at_end() { ::umount2(at.c_str(), MNT_DETACH); }
  } unmount{disk};

  const std::vector<step> script = make_script(8);
  std::vector<ack> acked;
  std::string refused_id;
  std::uint64_t posted = 0, retries = 0;
  {
    auto log = open_embedded_log(disk / "log");
    REQUIRE_MESSAGE(log.has_value(), log.error().message());
    fixed_clock clock(0);
    auto eng = engine::open(**log, clock);
    REQUIRE_MESSAGE(eng.has_value(), eng.error().message());
    actor consumer;
    for (const auto& s : script) {
      clock.set(s.time);
      if (s.is_tick) {
        REQUIRE((*eng)->tick().has_value());
        continue;
      }
      auto r = (*eng)->execute(s.who, s.id, s.cmd);
      REQUIRE_MESSAGE(r.has_value(), r.error().message());
      acked.push_back(ack_of(**eng, s.id, r->stream));
      if (s.id == "file-3") consumer = s.who;
    }
    const std::string c = derive_id("C-", "file-3", 10);  // left with the shop: still open

    // Everything but 1 MiB is taken by another file.
    const std::filesystem::path filler = disk / "filler";
    {
      struct statvfs v {};
      REQUIRE(::statvfs(disk.c_str(), &v) == 0);
      const std::uint64_t free_bytes = static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
      const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      REQUIRE(fd >= 0);
      const std::string chunk(1 << 20, 'f');
      for (std::uint64_t left = free_bytes > (1u << 20) ? free_bytes - (1u << 20) : 0; left > 0;) {
        const auto n = ::write(fd, chunk.data(), std::min<std::uint64_t>(left, chunk.size()));
        if (n <= 0) break;
        left -= static_cast<std::uint64_t>(n);
      }
      ::close(fd);
    }

    // Messages of 7,000 bytes until the disk is full.
    const auto message = [](std::uint64_t i) { return std::to_string(i) + " " + std::string(7000, 'm'); };
    std::optional<error> full;
    for (std::uint64_t i = 0; i < 20'000 && !full; ++i) {
      const std::string id = "message-full-" + std::to_string(i);
      auto r = (*eng)->execute(consumer, id, post_message{c, message(i)});
      if (r) {
        acked.push_back(ack_of(**eng, id, r->stream));
        ++posted;
      } else {
        full = r.error();
        refused_id = id;
      }
    }
    REQUIRE_MESSAGE(full.has_value(), "the disk never filled up");
    INFO(full->message());
    CHECK((full->code() == errc::io || full->code() == errc::unavailable));
    CHECK(full->field() == "data_dir");
    CHECK(full->message().find("No space left on device") != std::string::npos);
    // A document refused alike, and no temporary file left behind.
    document_store documents(disk / "documents");
    auto stored = documents.put_bytes(std::string(2 << 20, 'd'), "document");
    REQUIRE_FALSE(stored.has_value());
    CHECK(stored.error().message().find("No space left on device") != std::string::npos);
    std::size_t leftovers = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(disk / "documents"))
      leftovers += e.is_regular_file();
    CHECK(leftovers == 0);

    // Room again: the refused command goes through on this same engine (RocksDB checks the disk
    // again every few seconds), and so do the next ones.
    std::filesystem::remove(filler);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      auto r = (*eng)->execute(consumer, refused_id, post_message{c, message(posted)});
      if (r) {
        acked.push_back(ack_of(**eng, refused_id, r->stream));
        break;
      }
      ++retries;
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < give_up, "still refused a minute after the disk had room: " << r.error().message());
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    for (int i = 0; i < 5; ++i) {
      const std::string id = "message-after-" + std::to_string(i);
      auto r = (*eng)->execute(consumer, id, post_message{c, "after " + std::to_string(i)});
      REQUIRE_MESSAGE(r.has_value(), r.error().message());
      acked.push_back(ack_of(**eng, id, r->stream));
    }
  }
  MESSAGE("full after " << posted << " messages of 7,000 bytes; the refused one went through after " << retries
                        << " more tries once there was room");

  // Opened again: every acknowledged command is there, once, and the state rows are the log's fold.
  auto log = open_embedded_log(disk / "log");
  REQUIRE_MESSAGE(log.has_value(), log.error().message());
  for (const auto& a : acked) {
    auto found = (*log)->find_command(a.id);
    REQUIRE(found.has_value());
    REQUIRE_MESSAGE(found->has_value(), "acknowledged command " << a.id << " is missing");
    CHECK((**found).first_sequence.value() + (**found).count - 1 == a.version);
  }
  fixed_clock clock(0);
  auto eng = engine::open(**log, clock);
  REQUIRE_MESSAGE(eng.has_value(), eng.error().message());
  testing::stateless_log hidden(**log);
  auto fresh = engine::open(hidden, clock);
  REQUIRE_MESSAGE(fresh.has_value(), fresh.error().message());
  CHECK((*fresh)->state_digest().value() == (*eng)->state_digest().value());
}

}  // namespace
}  // namespace sazesh
