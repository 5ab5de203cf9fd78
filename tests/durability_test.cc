// Durability of the engine on the real embedded (RocksDB) log: a child process runs a long
// scripted sequence of commands and reports each one the engine acknowledged; the parent kills
// it with SIGKILL at a random point, reopens the folder and checks that every acknowledged
// command is there, intact, and that retrying the whole script completes the log exactly as an
// uninterrupted run writes it.

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/time/clock.h"
#include "engine/record/codec.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/record/hash.h"
#include "engine/domain/state.h"
#include "tests/engine_harness.h"
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

std::string ack_line(engine& eng, const std::string& id, const std::string& stream) {
  return eng.inspect([&](const world& w) {
    const case_state* c = w.find_case(stream);
    return "A " + id + " " + stream + " " + std::to_string(w.head_of(stream).version.value()) + " " +
           (c ? to_string(c->status) : "-") + "\n";
  });
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

  std::uint64_t seed = 0;
  if (const char* env = std::getenv("SAZESH_SEED"); env != nullptr && *env != '\0') seed = std::stoull(env);
  else seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
  MESSAGE("durability seed: " << seed << " (rerun with SAZESH_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);

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

    auto log = open_embedded_log(folder);
    REQUIRE_MESSAGE(log.has_value(), log.error().message());

    // Every acknowledged command is in the log, whole, and its events decode.
    std::uint64_t acked_end = 0;
    for (const auto& a : acked) {
      auto found = (*log)->find_command(a.id);
      REQUIRE(found.has_value());
      REQUIRE_MESSAGE(found->has_value(), "acknowledged command " << a.id << " is missing after SIGKILL");
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
    MESSAGE("  log holds " << crashed.size() << " events; the acknowledged commands end at " << acked_end);

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
    MESSAGE("  " << last_ack.size() << " acknowledged streams, " << further << " moved on by unacknowledged commands");
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
      MESSAGE("  (the log ends inside a tick: no step boundary to compare the world with)");
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
    MESSAGE("  retry: " << repeated << " commands were already in the log");
    eng->reset();
  }
}

}  // namespace
}  // namespace sazesh
