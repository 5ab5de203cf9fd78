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
// Header-only; deterministic for a given seed and options.
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

#include "engine/calendar.h"
#include "engine/clock.h"
#include "engine/engine.h"
#include "engine/hash.h"
#include "engine/rules.h"

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
  void register_parties(const hook& after = {}) {
    const actor op = operator_actor();
    struct agency_spec {
      const char* id;
      const char* name;
      std::vector<fb::Category> categories;
    };
    const std::vector<agency_spec> agencies{
        {"consumer-protection", "سازمان حمایت مصرف‌کنندگان و تولیدکنندگان",
         {fb::Category_non_delivery, fb::Category_defective, fb::Category_not_as_described,
          fb::Category_refund_refused, fb::Category_warranty, fb::Category_service, fb::Category_other}},
        {"tazirat", "سازمان تعزیرات حکومتی",
         {fb::Category_pricing, fb::Category_refund_refused, fb::Category_non_delivery,
          fb::Category_not_as_described}},
        {"cyber-police", "پلیس فتا", {fb::Category_fraud, fb::Category_privacy}},
        {"guild-union", "اتحادیه کسب‌وکارهای مجازی",
         {fb::Category_defective, fb::Category_warranty, fb::Category_service, fb::Category_pricing,
          fb::Category_other, fb::Category_fraud, fb::Category_privacy}},
    };
    for (const auto& a : agencies) {
      if (opt_.party_offset == 0) must(op, register_agency{a.id, a.name, a.categories}, "register_agency", after);
      agencies_.push_back(a.id);
    }
    static const char* const shop_words[] = {"کالا", "بازار", "شیک", "دیجی", "تکنو", "سبز", "آبی", "نوین"};
    for (std::size_t i = 0; i < opt_.businesses; ++i) {
      const std::string seal = std::to_string(1001 + opt_.party_offset + i);
      const std::string domain = fmt::format("shop-{}.ir", opt_.party_offset + i + 1);
      const std::string name = fmt::format("فروشگاه {} {}", shop_words[i % 8], i + 1);
      must(op, register_business{seal, domain, name, static_cast<int>(pick(6))}, "register_business", after);
      businesses_.push_back(seal);
      domains_.push_back(domain);
    }
    static const char* const mediator_names[] = {"زهرا کریمی", "محمد صادقی", "مریم جعفری", "حسین قاسمی"};
    for (std::size_t i = 0; i < opt_.mediators; ++i) {
      auto out = must(op, register_mediator{mediator_names[i % 4], random_mobile()}, "register_mediator", after);
      mediators_.push_back(out.stream);
    }
    for (std::size_t i = 0; i < opt_.consumers; ++i) {
      const std::string code = random_national_code();
      const std::string mobile = random_mobile();
      const std::string name = consumer_name(i);
      auto out = must(actor{fb::Role_consumer, ""}, register_consumer{code, mobile, name}, "register_consumer", after);
      consumers_.push_back(out.stream);
      national_codes_.push_back(code);
      mobiles_.push_back(mobile);
      consumer_names_.push_back(name);
    }
  }

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
        auto it = w.agencies.find(id);
        if (it != w.agencies.end() && it->second.competent_for(c) && id != except) out.push_back(id);
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
  void file_new_case(const hook& after) {
    const std::size_t who = pick(consumers_.size());
    const std::size_t biz = opt_.business_skew > 0 ? zipf_pick() : pick(businesses_.size());
    const auto category = static_cast<fb::Category>(pick(fb::Category_MAX + 1));
    const auto& rules = eng_.rules();
    std::vector<document_input> docs;
    const auto& needed = rules.documents_for(category);
    const bool complete = chance(0.75);
    for (auto kind : needed)
      if (complete || chance(0.4)) docs.push_back(new_document(kind));
    if (chance(0.2)) docs.push_back(new_document(fb::DocumentKind_other));
    static const char* const complaints[] = {
        "کالا پس از دو هفته هنوز نرسیده است", "دستگاه سالم نبود و روشن نمی‌شود",
        "رنگ و جنس با عکس‌های سایت فرق دارد", "وجه کالای مرجوعی برگشت داده نشد",
        "گارانتی را نمی‌پذیرند", "قیمت فاکتور بیشتر از قیمت اعلام‌شده است",
        "پس از پرداخت هیچ کالایی ارسال نشد", "اطلاعات شخصی من بدون اجازه منتشر شد",
        "خدمات نصب انجام نشد", "پاسخی به پیام‌هایم داده نشد"};
    const std::string description =
        fmt::format("شرح شکایت {}: {}", descriptions_.size() + 1, complaints[pick(10)]);
    const auto today = static_cast<std::int32_t>(days_from_civil(tehran_date(clock_.now())));
    file_case f{chance(0.5) ? businesses_[biz] : domains_[biz],
                fmt::format("ORD-{}-{}", seed_ % 1000, ++order_counter_),
                today - static_cast<std::int32_t>(pick(90)),
                100'000 * (1 + pick(20'000)),
                category,
                description,
                static_cast<fb::RemedyKind>(pick(fb::RemedyKind_MAX + 1)),
                std::move(docs)};
    auto out = eng_.execute({fb::Role_consumer, consumers_[who]}, next_command_id(), f);
    if (!out) throw std::runtime_error("history_generator: file_case was refused: " + out.error().message());
    descriptions_.push_back(description);
    stats_.commands += 1;
    stats_.events += out->events.size() + out->deadlines_first.size();
    stats_.cases_filed += 1;
    stats_.actions["file_case"] += 1;
    in_flight_.push_back(out->stream);
    all_cases_.push_back(out->stream);
    if (opt_.chatty_rate > 0 && chance(opt_.chatty_rate)) chatty_.insert(out->stream);
    case_steps_[out->stream] = 0;
    if (after) after();
  }

  // Moves one case on by one action. Returns false once the case is finished.
  bool advance_case(const std::string& id, const hook& after) {
    settle(id, after);
    const case_state& c = state_of(id);
    if (++case_steps_[id] > opt_.max_steps_per_case) {
      if (is_open(c.status)) act(consumer_of(c), withdraw_case{id, "خسته شدم"}, "withdraw_case(limit)", after);
      return false;
    }
    const actor op = operator_actor();
    const actor consumer = consumer_of(c);
    const actor business = business_of(c);
    // A chatty case: its parties write back and forth before anything else happens.
    if (chatty_.count(id) && is_open(c.status) && c.head.version.value() + 1 < opt_.chatty_events) {
      act(consumer, post_message{id, text("پیام")}, "post_message(chatty)", after);
      return true;
    }
    switch (c.status) {
      case case_status::awaiting_documents: {
        switch (weighted({5, 1, 0.5, 0.3})) {
          case 0: {
            if (c.missing_documents.empty()) return true;
            act(consumer, attach_document{id, new_document(one_of(c.missing_documents))}, "attach_document", after);
            return true;
          }
          case 1: {
            auto d = c.deadline_of(deadline_kind::documents);
            if (d) wait_past(d->due, after);
            return true;
          }
          case 2:
            act(op, reject_case{id, chance(0.5) ? fb::RejectReason_out_of_scope : fb::RejectReason_abusive, text("رد"), ""},
                "reject_case", after);
            return true;
          default:
            act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
            return true;
        }
      }
      case case_status::awaiting_triage: {
        switch (weighted({6, opt_.escalation, 0.4, 0.3, 0.7, 0.3, 0.4})) {
          case 0: {
            // Sometimes triage corrects the category to "other", which needs no documents.
            std::optional<fb::Category> corrected;
            if (chance(0.1)) corrected = fb::Category_other;
            act(op, accept_case{id, corrected, fb::Route_negotiation, "", text("پذیرش")}, "accept_case", after);
            return true;
          }
          case 1: {
            auto agencies = competent_agencies(c.category);
            if (agencies.empty()) return true;
            act(op, accept_case{id, std::nullopt, fb::Route_referral, one_of(agencies), text("ارجاع مستقیم")},
                "accept_case(referral)", after);
            return true;
          }
          case 2:
            act(op, reject_case{id, fb::RejectReason_out_of_scope, text("خارج از صلاحیت"), ""}, "reject_case", after);
            return true;
          case 3: {
            if (all_cases_.size() < 2) return true;
            std::string other = one_of(all_cases_);
            if (other == id) return true;
            act(op, reject_case{id, fb::RejectReason_duplicate, text("تکراری"), other}, "reject_case(duplicate)", after);
            return true;
          }
          case 4: {
            const bool has_tracking = std::any_of(c.documents.begin(), c.documents.end(), [](const document_ref& d) {
              return d.kind == fb::DocumentKind_tracking_record;
            });
            if (has_tracking) return true;
            act(op, request_documents{id, {fb::DocumentKind_tracking_record}, text("کد رهگیری لازم است")},
                "request_documents", after);
            return true;
          }
          case 5:
            act(consumer, withdraw_case{id, ""}, "withdraw_case", after);
            return true;
          default:
            act(business, attach_document{id, new_document(fb::DocumentKind_correspondence)}, "attach_document(business)", after);
            return true;
        }
      }
      case case_status::with_business: {
        switch (weighted({5, 0.5, opt_.ignore_weight, 0.2})) {
          case 0:
            act(business, respond{id, text("پاسخ فروشگاه")}, "respond", after);
            return true;
          case 1:
            act(consumer, post_message{id, text("پیام مصرف‌کننده")}, "post_message", after);
            return true;
          case 2: {
            auto d = c.deadline_of(deadline_kind::response);
            if (d) wait_past(d->due, after);
            return true;
          }
          default:
            act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
            return true;
        }
      }
      case case_status::negotiation: {
        const offer* open_offer = nullptr;
        for (const auto& o : c.offers)
          if (o.status == offer_status::open) open_offer = &o;
        const double answer = open_offer ? 1.0 : 0.0;
        switch (weighted({3 * answer, 2 * answer * opt_.escalation, 3, 0.7, opt_.escalation, 0.5, 0.3})) {
          case 0: {
            const actor who = open_offer->by == fb::Role_business ? consumer : business;
            act(who, accept_offer{id, open_offer->number}, "accept_offer", after);
            return true;
          }
          case 1: {
            const actor who = open_offer->by == fb::Role_business ? consumer : business;
            act(who, reject_offer{id, open_offer->number, text("نمی‌پذیرم")}, "reject_offer", after);
            return true;
          }
          case 2:
          case 3: {
            const auto remedy = static_cast<fb::RemedyKind>(pick(fb::RemedyKind_MAX + 1));
            act(chance(0.8) ? business : consumer,
                make_offer{id, remedy, 100'000 * pick(10'000), text("پیشنهاد"), static_cast<std::uint32_t>(1 + pick(30))},
                "make_offer", after);
            return true;
          }
          case 4:
            act(consumer, request_mediation{id, text("درخواست میانجی")}, "request_mediation", after);
            return true;
          case 5:
            act(chance(0.5) ? consumer : business, post_message{id, text("پیام")}, "post_message", after);
            return true;
          default:
            act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
            return true;
        }
      }
      case case_status::remedy_due: {
        switch (weighted({4, 1, 0.7, 0.7})) {
          case 0:
            act(business, mark_remedy_fulfilled{id, text("انجام شد")}, "mark_remedy_fulfilled", after);
            return true;
          case 1:
            act(consumer, confirm_remedy{id, text("رسید")}, "confirm_remedy", after);
            return true;
          case 2:
            act(consumer, report_remedy_not_fulfilled{id, text("انجام نشد")}, "report_remedy_not_fulfilled", after);
            return true;
          default: {
            auto d = c.deadline_of(deadline_kind::remedy);
            if (d) wait_past(d->due, after);
            return true;
          }
        }
      }
      case case_status::remedy_confirmation: {
        switch (weighted({3, 1, 2})) {
          case 0:
            act(consumer, confirm_remedy{id, ""}, "confirm_remedy", after);
            return true;
          case 1:
            act(consumer, report_remedy_not_fulfilled{id, text("نرسید")}, "report_remedy_not_fulfilled", after);
            return true;
          default: {
            auto d = c.deadline_of(deadline_kind::remedy_confirmation);
            if (d) wait_past(d->due, after);
            return true;
          }
        }
      }
      case case_status::awaiting_mediator: {
        switch (weighted({5, 1, 0.3})) {
          case 0: {
            // After a reopening the case still names its earlier mediator: pick another.
            std::vector<std::string> candidates;
            for (const auto& m : mediators_)
              if (m != c.mediator_id) candidates.push_back(m);
            if (candidates.empty()) return true;
            act(op, assign_mediator{id, one_of(candidates)}, "assign_mediator", after);
            return true;
          }
          case 1: {
            auto agencies = competent_agencies(c.category);
            if (agencies.empty()) return true;
            act(op, refer_case{id, one_of(agencies), text("ارجاع")}, "refer_case", after);
            return true;
          }
          default:
            act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
            return true;
        }
      }
      case case_status::in_mediation: {
        const actor mediator{fb::Role_mediator, c.mediator_id};
        switch (weighted({1.5, 2, 2 * opt_.escalation, 0.3, 0.7, 0.4})) {
          case 0:
            act(mediator, propose_settlement{id, text("پیشنهاد سازش"), fb::RemedyKind_refund, 100'000 * pick(5'000)},
                "propose_settlement", after);
            return true;
          case 1:
            act(mediator, conclude_mediation{id, fb::MediationOutcome_settled, text("سازش شد")}, "conclude_mediation(settled)", after);
            return true;
          case 2:
            act(chance(0.7) ? mediator : op, conclude_mediation{id, fb::MediationOutcome_failed, text("سازش نشد")},
                "conclude_mediation(failed)", after);
            return true;
          case 3: {
            std::vector<std::string> others;
            for (const auto& m : mediators_)
              if (m != c.mediator_id) others.push_back(m);
            if (others.empty()) return true;
            act(op, assign_mediator{id, one_of(others)}, "assign_mediator(again)", after);
            return true;
          }
          case 4: {
            auto d = c.deadline_of(deadline_kind::mediation);
            if (d) wait_past(d->due, after);
            return true;
          }
          default:
            act(mediator, post_message{id, text("پیام میانجی")}, "post_message(mediator)", after);
            return true;
        }
      }
      case case_status::mediation_failed: {
        switch (weighted({5, 0.5})) {
          case 0: {
            auto agencies = competent_agencies(c.category);
            if (agencies.empty()) return true;
            act(op, refer_case{id, one_of(agencies), text("ارجاع پس از میانجی‌گری")}, "refer_case", after);
            return true;
          }
          default:
            act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
            return true;
        }
      }
      case case_status::referred: {
        const actor agency{fb::Role_agency, c.agency_id};
        const bool ack = c.referral_acknowledged;
        const auto others = competent_agencies(c.category, c.agency_id);
        switch (weighted({ack ? 0.0 : 4.0, ack && !c.referral_extended ? 0.7 : 0.0, others.empty() ? 0.0 : 1.0,
                          ack ? 4.0 : 0.0, 0.7, 0.3})) {
          case 0:
            act(agency, acknowledge_referral{id}, "acknowledge_referral", after);
            return true;
          case 1:
            act(agency, extend_referral{id}, "extend_referral", after);
            return true;
          case 2:
            act(chance(0.7) ? agency : op, transfer_referral{id, one_of(others), text("انتقال")}, "transfer_referral", after);
            return true;
          case 3:
            act(agency, decide_referral{id, static_cast<fb::AgencyVerdict>(pick(fb::AgencyVerdict_MAX + 1)), text("رأی")},
                "decide_referral", after);
            return true;
          case 4: {
            if (c.deadlines.empty()) return true;
            timestamp_ms earliest = c.deadlines.front().due;
            for (const auto& d : c.deadlines) earliest = std::min(earliest, d.due);
            wait_past(earliest, after);
            return true;
          }
          default:
            act(agency, post_message{id, text("پیام مرجع")}, "post_message(agency)", after);
            return true;
        }
      }
      case case_status::closed: {
        const bool can_rate = c.rating == 0;
        const bool can_reopen = c.close_reason == fb::CloseReason_resolved && clock_.now() <= c.reopen_until &&
                                eng_.inspect([&](const world& w) {
                                  return w.open_case_by_order.count({c.consumer_id, c.business_id, c.order_reference});
                                }) == 0;
        switch (weighted({can_rate ? 3.0 : 0.0, can_reopen ? 1.0 : 0.0, 2})) {
          case 0:
            act(consumer, rate_case{id, static_cast<int>(1 + pick(5)), chance(0.6), text("نظر")}, "rate_case", after);
            return true;
          case 1:
            act(consumer, reopen_case{id, text("بازگشایی")}, "reopen_case", after);
            return true;
          default:
            return false;
        }
      }
      case case_status::rejected:
      case case_status::withdrawn:
        return false;
    }
    return false;
  }

  // ---- refusals and seals ----
  void refused_command(const hook& after) {
    const std::string& id = one_of(all_cases_);
    settle(id, after);
    const case_state& c = state_of(id);
    switch (pick(7)) {
      case 0:
        if (c.status == case_status::closed) {
          refuse(consumer_of(c), withdraw_case{id, ""}, "withdraw_case(closed)", after);
        } else {
          refuse(consumer_of(c), rate_case{id, 3, false, ""}, "rate_case(open)", after);
        }
        return;
      case 1:
        if (c.status == case_status::awaiting_triage) {
          refuse(business_of(c), accept_case{id, std::nullopt, fb::Route_negotiation, "", ""}, "accept_case(business)", after);
        } else {
          refuse(operator_actor(), accept_case{id, std::nullopt, fb::Route_negotiation, "", ""}, "accept_case(state)", after);
        }
        return;
      case 2:
        refuse({fb::Role_analyst, "a1"}, decide_referral{id, fb::AgencyVerdict_upheld, "رأی"}, "decide_referral(analyst)", after);
        return;
      case 3:
        refuse(business_of(c), respond{"C-NOSUCHCASE", "پاسخ"}, "respond(unknown case)", after);
        return;
      case 4:
        if (is_open(c.status)) {
          refuse(consumer_of(c), file_case{c.business_id, c.order_reference, c.purchase_date_days, c.amount_rials,
                                           c.category, "همان سفارش دوباره", c.requested_remedy, {}},
                 "file_case(duplicate)", after);
        } else {
          refuse(consumer_of(c), reopen_case{id, ""}, "reopen_case(empty reason)", after);
        }
        return;
      case 5:
        refuse(operator_actor(), register_consumer{one_of(national_codes_), random_mobile(), "تکراری"},
               "register_consumer(duplicate)", after);
        return;
      default: {
        // Another consumer acting on someone else's case.
        std::string other = one_of(consumers_);
        if (other == c.consumer_id) other = "U-NOBODY00";
        refuse({fb::Role_consumer, other}, withdraw_case{id, ""}, "withdraw_case(stranger)", after);
        return;
      }
    }
  }

  void seal_action(const hook& after) {
    const std::string& b = one_of(businesses_);
    const auto restricted = eng_.inspect([&](const world& w) -> std::optional<bool> {
      const auto it = w.businesses.find(b);
      if (it == w.businesses.end()) return std::nullopt;
      return it->second.restricted;
    });
    if (!restricted) return;
    if (*restricted) {
      if (chance(0.2)) refuse(operator_actor(), restrict_seal{b, "دوباره", "rule-1"}, "restrict_seal(again)", after);
      else act(operator_actor(), reinstate_seal{b, text("رفع محدودیت"), "rule-2"}, "reinstate_seal", after);
    } else {
      act(operator_actor(), restrict_seal{b, text("شکایات بی‌پاسخ"), "rule-1"}, "restrict_seal", after);
    }
  }

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
  std::set<std::string> chatty_;
  std::vector<double> zipf_cdf_;
};

}  // namespace sazesh::workload
