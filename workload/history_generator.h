// The workload generator: random but valid histories, for the tests of the read side (and any
// other test that needs a realistic log) and for every benchmark (benchmarks/bench.cc, with the
// options that shape a realistic load: Zipf-skewed complaints per business, shops that mostly
// answer, few escalations, long "chatty" cases, time that passes case by case, several
// generators on one engine from several threads). It registers parties, then drives many cases at once
// through random lifecycle paths with engine::execute, exactly as the CLI would, moving a
// fixed_clock forward and letting the scheduler (engine::tick) walk the deadline ladders. Now
// and then it issues a command bound to be refused, which must write nothing.
//
//   fixed_clock clk(history_generator::default_start());
//   auto eng = engine::open(*log, clk);
//   history_generator gen(**eng, clk, seed);
//   gen.register_parties();
//   while (gen.step(after_each_command)) {}
//
// Every action is chosen from the engine's own state for the case, so whatever the scheduler
// did meanwhile, the next command fits. A command the generator believes valid that the engine
// refuses is counted in stats().unexpected (with its message), so tests can insist on zero.
// Storage failures (errc::io and the like) throw std::runtime_error.
//
// Deterministic for a given seed and options. The lifecycle walk is in history_generator.cc.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/time/clock.h"
#include "engine/engine.h"
#include "engine/record/hash.h"
#include "engine/domain/rules.h"

namespace sazesh::workload {

struct history_options {
  std::size_t consumers = 24;
  std::size_t businesses = 8;
  std::size_t mediators = 3;
  std::size_t in_flight = 12;     // cases worked on at the same time
  std::size_t cases = 120;        // how many cases to file in all
  std::size_t max_steps_per_case = 60;  // then an open case is withdrawn and left
  double refuse_rate = 0.04;      // share of steps that issue a command bound to be refused
  double seal_rate = 0.01;        // share of steps that restrict or reinstate a seal
  std::int64_t max_step_minutes = 60;   // the clock moves 0..this between steps
  // Workload shape (the benchmarks' realism; 0 keeps the tests' uniform random walk):
  double business_skew = 0;       // Zipf exponent of complaints per business (about 1 in life)
  double chatty_rate = 0;         // share of cases whose parties exchange many messages
  std::uint64_t chatty_events = 50;  // a chatty case's messages stop at this many events
  // Several generators can drive one engine from several threads at once, each with its own
  // parties: businesses get seal ids from 1001 + party_offset. The agencies are shared: the
  // generator with party_offset 0 registers them, and must do so before the others start.
  std::size_t party_offset = 0;
  // How often a business lets a case's answer deadline pass (up the ladder, towards referral)
  // rather than answering: the tests walk the ladder a lot; shops in life mostly answer.
  double ignore_weight = 2.5;
  // Waiting for a case's deadline moves the clock there at once (the tests reach every rung
  // quickly); off, a waiting case just lets time pass, as in life, and other cases' deadlines
  // are not dragged along.
  bool jump_to_deadlines = true;
  // Scales how often a case is escalated (referred at triage, an offer turned down, mediation
  // asked for or failing): the tests escalate often to cover every path.
  double escalation = 1.0;
};

struct history_stats {
  std::uint64_t commands = 0;     // executed and accepted
  std::uint64_t refused = 0;      // refused as intended
  std::uint64_t events = 0;       // events written (commands and ticks)
  std::uint64_t ticks = 0;
  std::uint64_t cases_filed = 0;
  std::uint64_t unexpected = 0;   // a valid-looking command refused, or a bad one accepted
  std::string last_unexpected;    // its description
  std::map<std::string, std::uint64_t> actions;  // by action name
};

class history_generator {
 public:
  using hook = std::function<void()>;

  // 2026-03-10 08:00 UTC: late Esfand 1404, so the history crosses a Jalali new year.
  static timestamp_ms default_start() { return 1773129600000; }

  history_generator(engine& eng, fixed_clock& clk, std::uint64_t seed, history_options opt = {})
      : eng_(eng), clock_(clk), rng_(seed), seed_(seed), opt_(opt) {}

  // Registers the agencies, businesses, mediators and consumers. Call once, first.
  void register_parties(const hook& after = {});

  // One step: files a case, or moves one case on, or waits and ticks, or issues a refused
  // command. `after` runs after every command executed (accepted or refused) and every tick.
  // Returns false once every case has been filed and has finished.
  bool step(const hook& after = {}) {
    if (consumers_.empty()) throw std::runtime_error("history_generator: register_parties() first");
    clock_.advance(static_cast<timestamp_ms>(pick(static_cast<std::uint64_t>(opt_.max_step_minutes) + 1)) * 60'000);
    if (++steps_ % 16 == 0) tick(after);
    if (chance(opt_.refuse_rate) && stats_.cases_filed > 0) {
      refused_command(after);
      return true;
    }
    if (chance(opt_.seal_rate)) {
      seal_action(after);
      return true;
    }
    if (in_flight_.size() < opt_.in_flight && stats_.cases_filed < opt_.cases &&
        (in_flight_.empty() || chance(0.3))) {
      file_new_case(after);
      return true;
    }
    if (in_flight_.empty()) return stats_.cases_filed < opt_.cases;
    const std::size_t i = pick(in_flight_.size());
    if (!advance_case(in_flight_[i], after)) {
      in_flight_[i] = in_flight_.back();
      in_flight_.pop_back();
    }
    return true;
  }

  // Runs steps until the generator is done.
  void run(const hook& after = {}) {
    while (step(after)) {}
  }

  const history_stats& stats() const { return stats_; }
  std::uint64_t seed() const { return seed_; }
  const std::vector<std::string>& consumers() const { return consumers_; }
  const std::vector<std::string>& businesses() const { return businesses_; }
  const std::vector<std::string>& agencies() const { return agencies_; }
  const std::vector<std::string>& mediators() const { return mediators_; }
  // The personal data and free text the history carries.
  const std::vector<std::string>& national_codes() const { return national_codes_; }
  const std::vector<std::string>& mobiles() const { return mobiles_; }
  const std::vector<std::string>& consumer_names() const { return consumer_names_; }
  const std::vector<std::string>& descriptions() const { return descriptions_; }
  // The case ids filed, in filing order.
  const std::vector<std::string>& cases() const { return all_cases_; }

  // Runs the scheduler once.
  void tick(const hook& after = {}) {
    auto report = eng_.tick();
    if (!report) throw std::runtime_error("history_generator: tick failed: " + report.error().message());
    stats_.ticks += 1;
    for (const auto& o : report->applied) stats_.events += o.events.size();
    if (after) after();
  }

 private:
  // ---- randomness ----
  std::uint64_t pick(std::uint64_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <class T>
  const T& one_of(const std::vector<T>& v) { return v[pick(v.size())]; }

  // Picks an index by weight; weights of 0 are never chosen.
  std::size_t weighted(std::initializer_list<double> weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = std::uniform_real_distribution<double>(0, total)(rng_);
    std::size_t i = 0;
    for (double w : weights) {
      if (w > 0 && x < w) return i;
      x -= w;
      ++i;
    }
    // Rounding: the last positive weight.
    std::size_t last = 0;
    i = 0;
    for (double w : weights) {
      if (w > 0) last = i;
      ++i;
    }
    return last;
  }

  std::string random_national_code() {
    for (;;) {
      std::string v;
      for (int i = 0; i < 9; ++i) v += static_cast<char>('0' + pick(10));
      int sum = 0;
      for (int i = 0; i < 9; ++i) sum += (v[static_cast<std::size_t>(i)] - '0') * (10 - i);
      const int r = sum % 11;
      v += static_cast<char>('0' + (r < 2 ? r : 11 - r));
      if (v.find_first_not_of(v[0]) == std::string::npos) continue;
      if (!used_codes_.insert(v).second) continue;
      return v;
    }
  }
  std::string random_mobile() {
    for (;;) {
      std::string v = "09";
      for (int i = 0; i < 9; ++i) v += static_cast<char>('0' + pick(10));
      if (used_mobiles_.insert(v).second) return v;
    }
  }
  static std::string consumer_name(std::size_t i) {
    static const char* const first[] = {"سارا", "رضا", "ندا", "امید", "لیلا", "علی", "فاطمه", "مهدی",
                                        "نرگس", "بهرام", "شیرین", "کاوه", "پریسا", "آرش", "مینا", "سهراب"};
    static const char* const last[] = {"احمدی", "موسوی", "حسینی", "رحیمی", "نادری", "کاظمی", "یزدانی",
                                       "شریفی", "طاهری", "بهرامی", "نوروزی", "فرهادی", "اکبری"};
    // 16 × 13 names; beyond that a middle initial keeps them distinct.
    std::string name = fmt::format("{} {}", first[i % 16], last[(i / 16) % 13]);
    if (i >= 16 * 13) name += fmt::format(" ({})", i / (16 * 13));
    return name;
  }

  // ---- actors ----
  static actor operator_actor() { return {fb::Role_operator_, "ops-generator"}; }
  static actor consumer_of(const case_state& c) { return {fb::Role_consumer, c.consumer_id}; }
  static actor business_of(const case_state& c) { return {fb::Role_business, c.business_id}; }

  std::string next_command_id() { return fmt::format("g{}-{}", seed_, ++command_counter_); }

  // Runs a command that must be accepted.
  command_outcome must(const actor& who, const command& cmd, const char* what, const hook& after) {
    auto out = eng_.execute(who, next_command_id(), cmd);
    if (!out) {
      if (out.error().code() == errc::io || out.error().code() == errc::corrupt ||
          out.error().code() == errc::unavailable)
        throw std::runtime_error(fmt::format("history_generator: {} failed: {}", what, out.error().message()));
      throw std::runtime_error(fmt::format("history_generator: {} was refused: {}", what, out.error().message()));
    }
    stats_.commands += 1;
    stats_.events += out->events.size() + out->deadlines_first.size();
    stats_.actions[what] += 1;
    if (after) after();
    return std::move(*out);
  }

  // Runs a command believed valid; a refusal is counted as unexpected. Returns whether accepted.
  bool act(const actor& who, const command& cmd, const char* what, const hook& after) {
    auto out = eng_.execute(who, next_command_id(), cmd);
    if (!out) {
      const errc code = out.error().code();
      if (code == errc::io || code == errc::corrupt || code == errc::unavailable)
        throw std::runtime_error(fmt::format("history_generator: {} failed: {}", what, out.error().message()));
      stats_.unexpected += 1;
      stats_.last_unexpected = fmt::format("{} refused: {}", what, out.error().message());
      if (after) after();
      return false;
    }
    stats_.commands += 1;
    stats_.events += out->events.size() + out->deadlines_first.size();
    stats_.actions[what] += 1;
    if (after) after();
    return true;
  }

  // Runs a command that must be refused.
  void refuse(const actor& who, const command& cmd, const char* what, const hook& after) {
    auto out = eng_.execute(who, next_command_id(), cmd);
    if (out) {
      stats_.unexpected += 1;
      stats_.last_unexpected = fmt::format("{} was accepted but should have been refused", what);
      stats_.events += out->events.size() + out->deadlines_first.size();
    } else {
      const errc code = out.error().code();
      if (code == errc::io || code == errc::corrupt || code == errc::unavailable)
        throw std::runtime_error(fmt::format("history_generator: {} failed: {}", what, out.error().message()));
      stats_.refused += 1;
      stats_.actions[std::string("refused:") + what] += 1;
    }
    if (after) after();
  }

  // Moves the clock just past `due` (never backwards) and runs the scheduler.
  // Without jump_to_deadlines, the case just waits (time moves on with the other cases' steps)
  // and the scheduler runs once the deadline is due.
  void wait_past(timestamp_ms due, const hook& after) {
    if (!opt_.jump_to_deadlines) {
      stats_.actions["wait"] += 1;
      if (clock_.now() > due) tick(after);
      return;
    }
    const timestamp_ms target = due + 1 + static_cast<timestamp_ms>(pick(3 * 60)) * 60'000;
    if (clock_.now() < target) clock_.set(target);
    stats_.actions["wait"] += 1;
    tick(after);
  }

  // The engine decides a command on its case as the clock sees it, applying due deadlines
  // first; the generator chooses on the same view by running the scheduler when the case has
  // a deadline due.
  void settle(const std::string& id, const hook& after) {
    const case_state& c = state_of(id);
    const timestamp_ms now = clock_.now();
    if (std::any_of(c.deadlines.begin(), c.deadlines.end(), [&](const deadline& d) { return d.due <= now; }))
      tick(after);
  }

  // A copy, taken with deciding paused: other threads' commands may change the engine's state
  // at any time (only this generator acts on its cases, but any tick applies their deadlines).
  case_state state_of(const std::string& id) const {
    auto c = eng_.inspect([&](const world& w) -> std::optional<case_state> {
      const case_state* found = w.find_case(id);
      if (found == nullptr) return std::nullopt;
      return *found;
    });
    if (!c) throw std::runtime_error("history_generator: lost case " + id);
    return std::move(*c);
  }

  document_input new_document(fb::DocumentKind kind) {
    const std::uint64_t n = ++document_counter_;
    return document_input{kind, sha256(fmt::format("document {} of history {}", n, seed_)),
                          fmt::format("{}-{}.pdf", fb::EnumNameDocumentKind(kind), n), 1000 + pick(5'000'000)};
  }

  std::vector<std::string> competent_agencies(fb::Category c, const std::string& except = "") const {
    std::vector<std::string> out;
    eng_.inspect([&](const world& w) {
      for (const auto& id : agencies_) {
        const agency_state* a = w.find_agency(id);
        if (a != nullptr && a->competent_for(c) && id != except) out.push_back(id);
      }
    });
    return out;
  }

  // Free text as parties write it: a label, a number, and a sentence or two of Persian.
  std::string text(const char* what) {
    static const char* const sentences[] = {
        "لطفاً هر چه زودتر پیگیری کنید، چون این کالا را برای هدیه خریده بودم.",
        "فاکتور و عکس بسته‌بندی را پیوست کرده‌ام.",
        "پشتیبانی فروشگاه تلفن را جواب نمی‌دهد و ایمیل‌ها بی‌پاسخ مانده است.",
        "ما آماده‌ایم کالا را تعویض کنیم یا وجه را ظرف سه روز کاری برگردانیم.",
        "مرسوله طبق رهگیری پست تحویل شده ولی مشتری می‌گوید نرسیده است.",
        "درخواست دارم مبلغ پرداختی به حساب من برگردانده شود.",
        "کالای ارسالی با مشخصات درج‌شده در سایت مطابقت ندارد.",
        "جلسهٔ سازش برای روز شنبه ساعت ۱۰ صبح هماهنگ شد.",
    };
    std::string t = fmt::format("{} شماره {}: {}", what, ++text_counter_, sentences[pick(8)]);
    if (chance(0.3)) t += fmt::format(" {}", sentences[pick(8)]);
    return t;
  }

  // A business index with a Zipf-like share: index i (from 0) has weight 1 / (i+1)^s.
  std::size_t zipf_pick() {
    if (zipf_cdf_.size() != businesses_.size()) {
      zipf_cdf_.clear();
      double total = 0;
      for (std::size_t i = 0; i < businesses_.size(); ++i) {
        total += 1.0 / std::pow(static_cast<double>(i + 1), opt_.business_skew);
        zipf_cdf_.push_back(total);
      }
    }
    const double x = std::uniform_real_distribution<double>(0, zipf_cdf_.back())(rng_);
    const auto it = std::upper_bound(zipf_cdf_.begin(), zipf_cdf_.end(), x);
    return std::min<std::size_t>(static_cast<std::size_t>(it - zipf_cdf_.begin()), businesses_.size() - 1);
  }

  // ---- filing ----
  void file_new_case(const hook& after);

  // Moves one case on by one action. Returns false once the case is finished.
  bool advance_case(const std::string& id, const hook& after);

  // ---- refusals and seals ----
  void refused_command(const hook& after);

  void seal_action(const hook& after);

  engine& eng_;
  fixed_clock& clock_;
  std::mt19937_64 rng_;
  std::uint64_t seed_;
  history_options opt_;
  history_stats stats_;
  std::uint64_t steps_ = 0, command_counter_ = 0, document_counter_ = 0, order_counter_ = 0, text_counter_ = 0;
  std::vector<std::string> agencies_, businesses_, domains_, mediators_, consumers_;
  std::vector<std::string> national_codes_, mobiles_, consumer_names_, descriptions_;
  std::set<std::string> used_codes_, used_mobiles_;
  std::vector<std::string> in_flight_, all_cases_;
  std::map<std::string, std::size_t> case_steps_;
  std::map<std::string, std::string> orders_;  // each case's order reference (the state keeps its digest)
  std::set<std::string> chatty_;
  std::vector<double> zipf_cdf_;
};

}  // namespace sazesh::workload
