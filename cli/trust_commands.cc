// The trust score on the command line: scores (as of any date), their explanation, a what-if
// comparison of two rule sets, and the long-running scheduler that applies deadlines and the
// seal policy.
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <atomic>
#include <cmath>
#include <csignal>
#include <thread>

#include "cli/app.h"
#include "cli/json.h"
#include "cli/table.h"
#include "engine/base/text_file.h"
#include "engine/domain/describe.h"
#include "engine/domain/validation.h"
#include "engine/log/checkpoint_store.h"
#include "engine/record/checkpoint.h"
#include "engine/rule_files.h"

namespace sazesh::cli {
namespace {

std::atomic<bool> stop_requested{false};
void on_stop(int) { stop_requested = true; }

output_format format_of(const session& s) {
  return s.json ? output_format::json : s.csv ? output_format::csv : output_format::text;
}

result<timestamp_ms> as_of(const parsed_args& a, const engine& eng) {
  if (!a.has("as-of")) return eng.time_source().now();
  return parse_as_of(a.get("as-of"));
}

// What the scores are computed from: each business with its score events, read from the
// engine's state rows.
struct business_record {
  business_state state;
  std::vector<score_event> events;
};
using business_records = std::map<std::string, business_record>;

result<business_record> load_business(engine& eng, const std::string& id) {
  auto b = eng.find_business(id);
  if (!b) return b.error();
  if (!*b) return error(errc::not_found, "business", fmt::format("no registered business {}", id));
  auto events = eng.score_events_of(id);
  if (!events) return events.error();
  return business_record{std::move(**b), std::move(*events)};
}

result<business_records> load_businesses(engine& eng) {
  auto ids = eng.businesses();
  if (!ids) return ids.error();
  business_records out;
  for (const auto& id : *ids) {
    auto r = load_business(eng, id);
    if (!r) return r.error();
    out.emplace(id, std::move(*r));
  }
  return out;
}

struct ranked {
  std::string business;
  trust_score score;
  std::size_t rank = 0;
};

std::vector<ranked> rank_all(const business_records& all, const trust_rules& rules, timestamp_ms when) {
  std::vector<ranked> out;
  for (const auto& [id, b] : all) out.push_back({id, compute_trust_score(rules, b.events, when), 0});
  std::stable_sort(out.begin(), out.end(), [](const ranked& x, const ranked& y) { return x.score.score > y.score.score; });
  for (std::size_t i = 0; i < out.size(); ++i) out[i].rank = i + 1;
  return out;
}

cell score_cell(double v) { return {fmt::format("{:.1f}", v), true}; }

int score_cmd(session& s, const parsed_args& a) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  const trust_rules& rules = (*eng)->rules().trust;
  if (rules.version == 0) return s.fail(error(errc::not_found, "rules", "no trust rules loaded (--rules FILE)"));
  auto when = as_of(a, **eng);
  if (!when) return s.fail(when.error());
  if (a.has("business"))
    if (auto one = (*eng)->find_business(a.get("business")); !one || !*one)
      return s.fail(one ? error(errc::not_found, "business", fmt::format("no registered business {}", a.get("business")))
                        : one.error());
  auto all = load_businesses(**eng);
  if (!all) return s.fail(all.error());
  table t;
  t.columns = {"rank", "business", "domain", "score", "standing", "restricted", "complaints", "rules"};
  for (const auto& r : rank_all(*all, rules, *when)) {
    if (a.has("business") && r.business != a.get("business")) continue;
    const auto& b = all->at(r.business).state;
    t.add({num(r.rank), txt(r.business), txt(b.domain), score_cell(r.score.score), txt(r.score.standing),
           txt(b.restricted ? (b.restriction_rule.empty() ? "yes (by hand)" : "yes (" + b.restriction_rule + ")") : "no"),
           score_cell(r.score.complaints), txt(fmt::format("v{}", rules.version))});
  }
  if (!s.json && !s.csv) fmt::print(s.out, "trust scores as of {} under rules v{} ({})\n", both_calendars(*when, s.jalali_digits), rules.version, rules.name);
  print(s.out, t, format_of(s));
  return exit_ok;
}

// ---- The public standings, signed ----------------------------------------------------------
//
// What the seal body publishes of every shop, as a signed note (C2SP signed-note, Ed25519) by
// the log's own key, so that a copy passed on can be checked against the verifier key
// (`sazesh keys show`) by `check-standings` or any signed-note reader. The note's text:
//
//   sazesh.local/log-5f2a…/standings      the log's key name, then "/standings"
//   as-of 2026-12-03T10:00:00.000Z        when they were computed (the server's clock)
//   rules v1 trust-v1                     the trust rules they were computed under
//   rank,seal,name,domain,stars,score,standing,complaints,unanswered,restricted,restriction
//   1,1001,کالالند,kalaland.ir,3,81.2,A,12,1,no,
//   …                                     one CSV line per shop (RFC 4180 quoting), best first

constexpr std::size_t k_max_standings = 64u << 20;
constexpr std::size_t k_max_standings_file = k_max_standings + 4096;  // the note's signature lines besides
const std::vector<std::string>& standings_columns() {
  static const std::vector<std::string> columns{"rank",     "seal",       "name",       "domain",     "stars",      "score",
                                                "standing", "complaints", "unanswered", "restricted", "restriction"};
  return columns;
}
// The columns' line of the note (a CSV line, its CRLF a newline).
const std::string& standings_header() {
  static const std::string header = [] {
    std::vector<cell> names;
    for (const auto& c : standings_columns()) names.push_back(txt(c));
    std::string line = csv_line(names);
    return line.substr(0, line.size() - 2);
  }();
  return header;
}

// Text in a signed note holds no control characters but its newlines.
std::string note_safe(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return text;
}

int standings_cmd(session& s, const parsed_args&) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  const trust_rules& rules = (*eng)->rules().trust;
  if (rules.version == 0) return s.fail(error(errc::not_found, "rules", "no trust rules loaded (--rules FILE)"));
  auto key = read_signing_key_file(s.signing_key_file());
  if (!key)
    return s.fail(key.error().code() == errc::not_found
                      ? error(errc::not_found, "signing_key",
                              fmt::format("no signing key at {}: the log's key signs the standings, and is made when the log "
                                          "is first signed (sazesh checkpoint)",
                                          s.signing_key_file().string()))
                      : key.error());
  const timestamp_ms now = (*eng)->time_source().now();
  auto all = load_businesses(**eng);
  if (!all) return s.fail(all.error());
  std::string text = fmt::format("{}/standings\nas-of {}\nrules v{} {}\n{}\n", key->name, format_iso_utc(now), rules.version,
                                 note_safe(rules.name), standings_header());
  json_array shops;
  for (const auto& r : rank_all(*all, rules, now)) {
    const auto& b = all->at(r.business);
    std::uint64_t complaints = 0, unanswered = 0;
    for (const auto& e : b.events) {
      if (e.time > now) continue;
      complaints += e.kind == score_kind::complaint;
      unanswered += e.kind == score_kind::unanswered;
    }
    const std::string restriction =
        b.state.restricted ? (b.state.restriction_rule.empty() ? "by hand" : b.state.restriction_rule) : "";
    const std::vector<cell> row{num(r.rank), txt(r.business), txt(note_safe(b.state.name)), txt(note_safe(b.state.domain)),
                                num(static_cast<std::uint64_t>(b.state.stars)), score_cell(r.score.score), txt(r.score.standing),
                                num(complaints), num(unanswered), txt(b.state.restricted ? "yes" : "no"),
                                txt(note_safe(restriction))};
    std::string line = csv_line(row);
    line.resize(line.size() - 2);  // CRLF: a note's lines end in a newline alone
    text += line + "\n";
    auto as_json = row;
    as_json[9] = {b.state.restricted ? "true" : "false", true};  // a JSON boolean where the note says yes or no
    shops.raw(json_row(standings_columns(), as_json));
  }
  if (!is_valid_utf8(text))  // a signed note is UTF-8 text; names are checked when typed, the rules' name here
    return s.fail(error(errc::invalid_argument, "rules", "the trust rules' name is not UTF-8 text"));
  if (text.size() > k_max_standings)
    return s.fail(error(errc::invalid_argument, "standings", "are larger than a standings note may be (64 MiB)"));
  const std::string note = sign_note(text, *key);
  if (s.json) {
    fmt::print(s.out, "{}\n", json_object()
                                  .field("origin", key->name)
                                  .field("as_of", format_iso_utc(now))
                                  .field("rules_version", rules.version)
                                  .field("rules", rules.name)
                                  .raw("shops", shops.str())
                                  .field("verifier_key", verifier_key_text(key->verifier()))
                                  .field("note", note)
                                  .str());
  } else {
    s.out << note;
  }
  return exit_ok;
}

int check_standings_cmd(session& s, const parsed_args& a) {
  auto key = checking_key(s, a);
  if (!key) return s.fail(key.error());
  if (!*key)
    return s.fail(error(errc::invalid_argument, "--key", "give the log's verifier key (sazesh keys show, where the log is kept)"));
  auto note = read_text_file(a.get("file"), "file", k_max_standings_file);
  if (!note) return s.fail(note.error());
  auto text = open_note(*note, **key, "file", k_max_standings_file, "standings");
  if (!text) return s.fail(text.error());
  const std::vector<std::string_view> lines = note_lines(*text);
  const auto bad = [&](const std::string& what) { return s.fail(error(errc::corrupt, "file", what)); };
  if (lines.size() < 4 || lines[0] != (*key)->name + "/standings")
    return bad(fmt::format("is signed by {} but is not its standings (its first line must be {}/standings)", (*key)->name,
                           (*key)->name));
  if (lines[1].rfind("as-of ", 0) != 0 || lines[2].rfind("rules v", 0) != 0 || lines[3] != standings_header())
    return bad("is not standings: it needs an as-of line, a rules line and the column names");
  const std::string as_of(lines[1].substr(6));
  const std::string_view rules_line = lines[2].substr(7);  // "1 baseline"
  const std::string_view version_text = rules_line.substr(0, rules_line.find(' '));
  std::uint32_t rules_version = 0;
  const auto [end, ec] = std::from_chars(version_text.data(), version_text.data() + version_text.size(), rules_version);
  if (ec != std::errc() || end != version_text.data() + version_text.size() || version_text.empty())
    return bad("is not standings: its rules line must be \"rules vN NAME\"");
  const std::string rules(rules_line.find(' ') == std::string_view::npos ? "" : rules_line.substr(rules_line.find(' ') + 1));
  const std::uint64_t count = lines.size() - 4;
  if (s.json) {
    fmt::print(s.out, "{}\n", json_object()
                                  .field("ok", true)
                                  .field("origin", (*key)->name)
                                  .field("as_of", as_of)
                                  .field("rules_version", static_cast<std::uint64_t>(rules_version))
                                  .field("rules", rules)
                                  .field("shops", count)
                                  .str());
    return exit_ok;
  }
  fmt::print(s.out, "ok: the standings of {} shops as of {} under rules v{} ({}) are signed by {}\n", count, as_of,
             rules_version, rules, (*key)->name);
  for (std::size_t i = 3; i < lines.size(); ++i) fmt::print(s.out, "{}\n", lines[i]);
  return exit_ok;
}

int explain_cmd(session& s, const parsed_args& a) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  const trust_rules& rules = (*eng)->rules().trust;
  if (rules.version == 0) return s.fail(error(errc::not_found, "rules", "no trust rules loaded (--rules FILE)"));
  const std::string business = a.get("business");
  auto record = load_business(**eng, business);
  if (!record) return s.fail(record.error());
  auto when = as_of(a, **eng);
  if (!when) return s.fail(when.error());
  const trust_score sc = compute_trust_score(rules, record->events, *when);
  table t;
  t.columns = {"when", "case", "event", "weight", "decay", "points"};
  // Signs help people read the table; JSON numbers may not carry a plus sign.
  const bool text = !s.json && !s.csv;
  const auto signed_number = [&](double v, const char* spec) {
    return cell{fmt::format(fmt::runtime(text ? std::string("{:+") + spec + "}" : std::string("{:") + spec + "}"), v), true};
  };
  t.add({txt(""), txt(""), txt("base"), txt(""), txt(""), signed_number(rules.base, ".3f")});
  for (const auto& c : sc.contributions)
    t.add({txt(format_jalali(c.event.time, s.jalali_digits)), txt(fmt::format("{}#{}", c.event.case_id, c.event.sequence)),
           txt(c.event.kind == score_kind::rating ? fmt::format("rating {}", c.event.value) : to_string(c.event.kind)),
           signed_number(c.weight, "g"), {fmt::format("{:.3f}", c.decay), true}, signed_number(c.points, ".3f")});
  if (sc.bound_adjustment != 0)
    t.add({txt(""), txt(""), txt("held within 0..100"), txt(""), txt(""), signed_number(sc.bound_adjustment, ".3f")});
  if (!s.json && !s.csv)
    fmt::print(s.out, "{}: score {:.3f} ({}) as of {}, rules v{}; {:.2f} decayed complaints, so each point of weight counts 1/{:.2f}\n",
               business, sc.score, sc.standing, both_calendars(*when, s.jalali_digits), rules.version, sc.complaints,
               rules.smoothing + sc.complaints);
  print(s.out, t, format_of(s));
  if (!s.json && !s.csv) fmt::print(s.out, "the lines above add up to {:.3f}\n", sc.score);
  return exit_ok;
}

int what_if_cmd(session& s, const parsed_args& a) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  const trust_rules& current = (*eng)->rules().trust;
  if (current.version == 0) return s.fail(error(errc::not_found, "rules", "no trust rules loaded (--rules FILE)"));
  auto other = load_trust_rules(a.get("with"));
  if (!other) return s.fail(other.error());
  auto when = as_of(a, **eng);
  if (!when) return s.fail(when.error());
  auto all = load_businesses(**eng);
  if (!all) return s.fail(all.error());
  const auto before = rank_all(*all, current, *when);
  const auto after = rank_all(*all, *other, *when);
  table t;
  t.columns = {"business", fmt::format("rank_v{}", current.version), fmt::format("score_v{}", current.version),
               fmt::format("standing_v{}", current.version), fmt::format("rank_v{}", other->version),
               fmt::format("score_v{}", other->version), fmt::format("standing_v{}", other->version), "change"};
  std::size_t changed = 0;
  for (const auto& b : before) {
    const auto& o = *std::find_if(after.begin(), after.end(), [&](const ranked& r) { return r.business == b.business; });
    std::string change;
    if (o.rank != b.rank) change += fmt::format("rank {:+d}", static_cast<long>(b.rank) - static_cast<long>(o.rank));
    if (o.score.standing != b.score.standing) change += (change.empty() ? "" : ", ") + b.score.standing + " -> " + o.score.standing;
    if (!change.empty()) ++changed;
    t.add({txt(b.business), num(b.rank), score_cell(b.score.score), txt(b.score.standing), num(o.rank), score_cell(o.score.score),
           txt(o.score.standing), txt(change)});
  }
  if (!s.json && !s.csv)
    fmt::print(s.out, "rules v{} ({}) beside v{} ({}), as of {}; nothing is written\n", current.version, current.name,
               other->version, other->name, both_calendars(*when, s.jalali_digits));
  print(s.out, t, format_of(s));
  if (!s.json && !s.csv) fmt::print(s.out, "{} of {} businesses change rank or standing\n", changed, before.size());
  return exit_ok;
}

void print_tick(session& s, const tick_report& r, timestamp_ms now) {
  if (s.json) {
    json_array applied;
    for (const auto& o : r.applied)
      for (const auto& e : o.events) applied.raw(json_object().field("stream", o.stream).field("summary", describe(e)).str());
    for (const auto& o : r.seal_actions)
      for (const auto& e : o.events) applied.raw(json_object().field("stream", o.stream).field("summary", describe(e)).str());
    fmt::print(s.out, "{}\n", json_object().field("time", format_iso_utc(now)).field("cases_due", static_cast<std::uint64_t>(r.cases_due)).raw("events", applied.str()).str());
    return;
  }
  for (const auto& o : r.applied)
    for (const auto& e : o.events) fmt::print(s.out, "[{}] {} #{} {}\n", format_jalali(now, s.jalali_digits), o.stream, e.sequence.value(), describe(e));
  for (const auto& o : r.seal_actions)
    for (const auto& e : o.events) fmt::print(s.out, "[{}] {} #{} {}\n", format_jalali(now, s.jalali_digits), o.stream, e.sequence.value(), describe(e));
}

int scheduler_cmd(session& s, const parsed_args& a) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  long interval = 1000;
  if (a.has("interval-ms")) {
    const auto& v = a.get("interval-ms");
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9 || std::stol(v) < 10)
      return s.fail(error(errc::invalid_argument, "interval_ms", "must be a whole number of milliseconds, at least 10"));
    interval = std::stol(v);
  }
  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  if (!s.json) fmt::print(s.out, "scheduler: applying deadlines and the seal policy every {} ms (Ctrl-C stops)\n", interval);
  s.out.flush();
  while (!stop_requested) {
    auto r = (*eng)->tick();
    if (!r && !is_retryable(r.error())) return s.fail(r.error());
    if (!r) {
      // The log away, or another writer holding it for a moment: nothing was decided on it;
      // the next tick settles the log and tries again.
      fmt::print(s.err, "warning: tick not applied, trying again at the next: {}\n", r.error().message());
      s.err.flush();
    } else if (!r->applied.empty() || !r->seal_actions.empty()) {
      print_tick(s, *r, (*eng)->time_source().now());
      if (auto p = s.refresh_projections(); !p && p.error().code() != errc::unavailable)
        fmt::print(s.err, "warning: projections not updated: {}\n", p.error().message());
      // What the tick wrote is signed now, not when the scheduler stops.
      s.checkpoint_or_warn();
      s.out.flush();
    }
    for (long waited = 0; waited < interval && !stop_requested; waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<long>(50, interval - waited)));
  }
  return exit_ok;
}

}  // namespace

// The case rules in force: each deadline's length and the documents each category needs (what a
// filing form shows before it is sent).
int rules_cmd(session& s, const parsed_args&) {
  auto r = s.rules();
  if (!r) return s.fail(r.error());
  const auto hours = [](std::int64_t ms) { return static_cast<std::uint64_t>(ms / 3'600'000); };
  const auto days = [](std::int64_t ms) { return static_cast<std::uint64_t>(ms / 86'400'000); };
  struct length {
    const char* name;
    std::uint64_t value;
    const char* unit;
  };
  const std::vector<length> lengths{
      {"documents", static_cast<std::uint64_t>(r->documents_working_days), "working_days"},
      {"response_first", hours(r->response_first_ms), r->ladder_in_working_hours ? "working_hours" : "hours"},
      {"response_second", hours(r->response_second_ms), r->ladder_in_working_hours ? "working_hours" : "hours"},
      {"response_final", hours(r->response_final_ms), r->ladder_in_working_hours ? "working_hours" : "hours"},
      {"remedy_confirmation", days(r->remedy_confirmation_ms), "days"},
      {"mediation", days(r->mediation_ms), "days"},
      {"referral_acknowledgement", static_cast<std::uint64_t>(r->referral_acknowledge_working_days), "working_days"},
      {"referral_decision", days(r->referral_decision_ms), "days"},
      {"referral_extension", days(r->referral_extension_ms), "days"},
      {"reopen_window", days(r->reopen_window_ms), "days"},
      {"max_remedy", r->max_remedy_days, "days"},
  };
  if (s.json) {
    json_object docs, durations;
    for (int c = fb::Category_MIN; c <= fb::Category_MAX; ++c) {
      json_array kinds;
      for (auto k : r->required_documents[static_cast<std::size_t>(c)]) kinds.string(fb::EnumNameDocumentKind(k));
      docs.raw(fb::EnumNameCategory(static_cast<fb::Category>(c)), kinds.str());
    }
    for (const auto& l : lengths) durations.raw(l.name, json_object().field("value", l.value).field("unit", l.unit).str());
    fmt::print(s.out, "{}\n", json_object()
                                  .raw("required_documents", docs.str())
                                  .raw("durations", durations.str())
                                  .field("weekend", s.thursday_off ? "thursday-friday" : "friday")
                                  .str());
    return exit_ok;
  }
  fmt::print(s.out, "documents each category needs:\n");
  for (int c = fb::Category_MIN; c <= fb::Category_MAX; ++c) {
    std::string kinds;
    for (auto k : r->required_documents[static_cast<std::size_t>(c)])
      kinds += (kinds.empty() ? "" : ", ") + std::string(fb::EnumNameDocumentKind(k));
    fmt::print(s.out, "  {:<18} {}\n", fb::EnumNameCategory(static_cast<fb::Category>(c)), kinds.empty() ? "(none)" : kinds);
  }
  fmt::print(s.out, "durations:\n");
  for (const auto& l : lengths) fmt::print(s.out, "  {:<26} {} {}\n", l.name, l.value, l.unit);
  fmt::print(s.out, "weekend: {}\n", s.thursday_off ? "thursday and friday" : "friday");
  return exit_ok;
}

void add_trust_commands(std::vector<command_spec>& t) {
  const std::string g = "trust score and scheduler";
  const unsigned scores = uses::read | uses::clock | uses::rules | uses::digits | uses::csv;
  const option_spec as_of_opt{"as-of", "DATE", "the score the business had then (a date: its end), from the log"};
  t.push_back({"rules", g, "the case rules in force: each deadline's length, the documents each category needs", {},
               rules_cmd, uses::rules | uses::json});
  t.push_back({"score", g, "trust scores and standings of every business (or one), ranked",
               {{"business", "SEAL", "one business"}, as_of_opt}, score_cmd, scores});
  t.push_back({"export-standings", g,
               "every shop's score, standing, stars, complaints, unanswered and restriction, signed with the log's key "
               "(sazesh export standings)",
               {}, standings_cmd, uses::read | uses::clock | uses::rules});
  t.push_back({"check-standings", g, "check a copy of the standings against the log's verifier key",
               {{"file", "FILE", "the standings, as export standings printed them", true},
                {"key", "VKEY", "the log's verifier key, NAME+ID+KEY (default: the folder's own)"},
                {"key-file", "FILE", "the same, from a file"}},
               check_standings_cmd, uses::folder | uses::json});
  t.push_back({"explain", g, "the events that moved a business's score, and by how much",
               {{"business", "SEAL", "the business", true}, as_of_opt}, explain_cmd, scores});
  t.push_back({"what-if", g, "every business re-scored under another rule set, side by side (writes nothing)",
               {{"with", "FILE", "the other rule set, e.g. rules/trust-v2.rules", true}, as_of_opt}, what_if_cmd, scores});
  t.push_back({"scheduler", g, "run tick and the seal policy on a timer until stopped",
               {{"interval-ms", "MS", "how often (default 1000)"}}, scheduler_cmd,
               uses::log | uses::projector | uses::clock | uses::rules | uses::digits | uses::json});
}

}  // namespace sazesh::cli
