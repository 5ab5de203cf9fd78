// The published exports, from the command line on a generated history: the open data (no
// personal data, small cells suppressed, counts that agree with `stats`) and the signed
// standings (what `score` says, checked against the log's key, refused once altered).
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cli/app.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/time/calendar.h"
#include "engine/time/clock.h"
#include "tests/temp_dir.h"
#include "workload/history_generator.h"

namespace sazesh {
namespace {

using workload::history_generator;
using row = std::vector<std::string>;

struct ran {
  int code = -1;
  std::string out, err;
};

// RFC 4180 records (quoted fields may hold commas, quotes and line breaks), CRLF or LF.
std::vector<row> parse_csv(const std::string& text) {
  std::vector<row> rows;
  row current;
  std::string field;
  bool quoted = false, any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
      else if (c == '"') quoted = false;
      else field += c;
      continue;
    }
    if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      current.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      current.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(current));
      current.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (any) {
    current.push_back(std::move(field));
    rows.push_back(std::move(current));
  }
  return rows;
}

// A folder holding a generated history of a few hundred cases, and the parties' personal data.
struct history {
  temp_dir dir;
  std::vector<std::string> personal;  // every consumer's and mediator's id, national code, mobile and name
  history() {
    auto log = open_embedded_log(dir.path() / "log", {});
    REQUIRE(log);
    fixed_clock clock(history_generator::default_start());
    auto eng = engine::open(**log, clock);
    REQUIRE(eng);
    workload::history_options o;
    o.cases = 400;
    o.in_flight = 40;
    history_generator gen(**eng, clock, 17, o);
    gen.register_parties();
    gen.run();
    REQUIRE(gen.stats().unexpected == 0);
    auto w = (*eng)->snapshot();
    REQUIRE(w);
    // The state keeps no personal data: it is read from each registration, opened.
    for (const auto& [id, c] : w->consumers) {
      const auto events = (*eng)->history(id).value();
      const auto& r = *events.front().payload.AsConsumerRegistered();
      personal.insert(personal.end(), {id, r.national_code, r.mobile, r.name});
    }
    for (const auto& [id, m] : w->mediators) {
      const auto events = (*eng)->history(id).value();
      const auto& r = *events.front().payload.AsMediatorRegistered();
      personal.insert(personal.end(), {id, r.mobile, r.name});
    }
    REQUIRE(w->cases.size() == 400);
  }
  ran run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--data-dir", dir.path().string()});
    std::ostringstream out, err;
    ran r;
    r.code = cli::run(args, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
  std::vector<row> csv(std::vector<std::string> args) const {
    auto r = run(std::move(args));
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto rows = parse_csv(r.out);
    REQUIRE_FALSE(rows.empty());
    return rows;
  }
  // `stats --by DIM` as a map.
  std::map<std::string, std::uint64_t> stats(const std::string& by) const {
    std::map<std::string, std::uint64_t> m;
    const auto rows = csv({"--csv", "stats", "--by", by});
    for (std::size_t i = 1; i < rows.size(); ++i) m[rows[i][0]] = std::stoull(rows[i][1]);
    return m;
  }
};

const history& shared_history() {
  static const history h;
  return h;
}

// The open data's columns, by name.
struct open_data {
  row header;
  std::vector<row> rows;
  std::size_t col(const std::string& name) const {
    const auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return static_cast<std::size_t>(it - header.begin());
  }
  std::map<std::string, std::uint64_t> count(const std::string& column, std::size_t prefix = std::string::npos) const {
    std::map<std::string, std::uint64_t> m;
    const auto c = col(column);
    for (const auto& r : rows) m[r[c].substr(0, prefix)] += 1;
    return m;
  }
};

// Every month of the generated history has ended by then.
const std::string later = "2031-01-01T00:00:00Z";

// As an analyst (who may ask for any k).
open_data export_csv(const history& h, std::vector<std::string> options) {
  options.insert(options.begin(), {"--now", later, "--as", "analyst:sara", "export", "open-data"});
  auto rows = h.csv(options);
  open_data d{rows.front(), {rows.begin() + 1, rows.end()}};
  for (const auto& r : d.rows) REQUIRE(r.size() == d.header.size());
  return d;
}

TEST_CASE("open data with k = 1 is one row per case, and its counts are stats's") {
  const auto& h = shared_history();
  const auto d = export_csv(h, {"--k", "1"});
  CHECK(d.rows.size() == 400);
  CHECK(d.count("outcome") == h.stats("outcome"));
  CHECK(d.count("category") == h.stats("category"));
  CHECK(d.count("received", 7) == h.stats("month"));  // the Jalali month, as stats names it
  for (const auto& r : d.rows) {
    CHECK(r[d.col("suppressed")].empty());
    CHECK(r[d.col("received")].size() == 10);
    // Sent to the shop on or after it was received, if at all (a case referred at triage
    // reaches an agency without it).
    const auto& sent = r[d.col("sent_to_shop")];
    if (!sent.empty()) CHECK(sent >= r[d.col("received")]);
    if (r[d.col("route")] == "none") CHECK(sent.empty());
    if (r[d.col("route")] == "shop") CHECK_FALSE(sent.empty());
  }
}

TEST_CASE("open data holds no personal data: no consumer's or mediator's id, national code, mobile or name, and no case id") {
  const auto& h = shared_history();
  REQUIRE(h.personal.size() > 40);
  for (const char* format : {"csv", "json"}) {
    for (const char* k : {"1", "5"}) {
      auto r = h.run({"--now", later, "--as", "analyst:sara", "export", "open-data", "--format", format, "--k", k});
      REQUIRE(r.code == 0);
      for (const auto& p : h.personal) {
        INFO(format << " k=" << k << ": " << p);
        CHECK(r.out.find(p) == std::string::npos);
      }
      CHECK(r.out.find("C-") == std::string::npos);
      CHECK(r.out.find("U-") == std::string::npos);
    }
  }
}

TEST_CASE("open data suppresses small cells: each row shares what it shows of its dates, category, shop and agency with k-1 others") {
  const auto& h = shared_history();
  for (const std::size_t k : {2u, 5u, 20u}) {
    const auto d = export_csv(h, {"--k", std::to_string(k)});
    std::map<std::vector<std::string>, std::size_t> cells;
    for (const auto& r : d.rows)
      cells[{r[d.col("received")], r[d.col("sent_to_shop")], r[d.col("category")], r[d.col("shop_seal")], r[d.col("agency")],
             r[d.col("suppressed")]}] += 1;
    for (const auto& [cell, n] : cells) {
      INFO("k=" << k << " cell " << cell[0] << " / " << cell[1] << " / " << cell[2] << " / " << cell[3] << " / " << cell[4]);
      CHECK(n >= k);
    }
    // What each level shows.
    std::size_t suppressed = 0;
    for (const auto& r : d.rows) {
      const auto& level = r[d.col("suppressed")];
      const auto& received = r[d.col("received")];
      suppressed += !level.empty();
      CHECK(received.size() == (level.empty() ? 10u : 7u));
      if (!r[d.col("sent_to_shop")].empty()) CHECK(r[d.col("sent_to_shop")].size() == received.size());
      if (level == "shop" || level == "category") CHECK(r[d.col("shop_seal")].empty());
      if (level == "shop" || level == "category") CHECK(r[d.col("shop_name")].empty());
      if (level == "category") CHECK(r[d.col("category")].empty());
      if (level == "category") CHECK(r[d.col("agency")].empty());
    }
    // The JSON says how many were withheld; what is shown plus what is withheld is every case,
    // outcome by outcome.
    auto j = h.run({"--now", later, "--as", "analyst:sara", "export", "open-data", "--format", "json", "--k", std::to_string(k)});
    REQUIRE(j.code == 0);
    const auto withheld_at = j.out.find("\"withheld\":");
    REQUIRE(withheld_at != std::string::npos);
    const std::uint64_t withheld = std::stoull(j.out.substr(withheld_at + 11));
    CHECK(d.rows.size() + withheld == 400);
    CHECK(suppressed + withheld > 0);  // this history has small cells at every k tried
    std::uint64_t missing = 0;
    const auto shown = d.count("outcome");
    for (const auto& [outcome, n] : h.stats("outcome")) {
      const auto it = shown.find(outcome);
      const std::uint64_t m = it == shown.end() ? 0 : it->second;
      CHECK(m <= n);
      missing += n - m;
    }
    CHECK(missing == withheld);
  }
}

// The first and last day of a Jalali month "1405-02", as --from and --to take them.
std::pair<std::string, std::string> month_days(const std::string& month) {
  const int year = std::stoi(month.substr(0, 4)), m = std::stoi(month.substr(5, 2));
  return {fmt::format("{:04}/{:02}/01", year, m), fmt::format("{:04}/{:02}/{:02}", year, m, jalali_month_length(year, m))};
}

TEST_CASE("open data is released by whole months: a range is its months' cases, and each month's rows its own") {
  const auto& h = shared_history();
  const auto all = export_csv(h, {"--k", "1"});
  const auto by_month = all.count("received", 7);
  REQUIRE(by_month.size() >= 4);
  auto it = std::next(by_month.begin());
  const std::string first = it->first, last = std::next(it, 2)->first;
  const auto part = export_csv(h, {"--k", "1", "--from", month_days(first).first, "--to", month_days(last).second});
  std::uint64_t expected = 0;
  for (const auto& [month, n] : by_month)
    if (month >= first && month <= last) expected += n;
  CHECK(part.rows.size() == expected);
  for (const auto& r : part.rows) {
    CHECK(r[part.col("received")].substr(0, 7) >= first);
    CHECK(r[part.col("received")].substr(0, 7) <= last);
  }
  // With suppression, a month's rows are the same whatever range it is exported in: a longer
  // range cannot be subtracted from a shorter one to find a row the shorter suppressed.
  const auto one = export_csv(h, {"--from", month_days(first).first, "--to", month_days(first).second});
  const auto three = export_csv(h, {"--from", month_days(first).first, "--to", month_days(last).second});
  std::vector<row> of_first;
  for (const auto& r : three.rows)
    if (r[three.col("received")].substr(0, 7) == first) of_first.push_back(r);
  CHECK(of_first == one.rows);
}

TEST_CASE("open data refuses bad options, naming the option and the rule, and a small k to whoever does not read the cases") {
  const auto& h = shared_history();
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad{
      {{"--k", "0"}, "k"},
      {{"--k", "five"}, "k"},
      {{"--format", "xml"}, "format"},
      {{"--from", "1405/13/01"}, "from"},
      {{"--from", "1405/02/02"}, "from"},             // not a month's first day
      {{"--to", "1405/02/30"}, "to"},                 // Ordibehesht has 31 days
      {{"--from", "1405/03/01", "--to", "1405/02/31"}, "to"},
      {{"--now", "2026-05-01T00:00:00Z", "--to", "1405/02/31"}, "to"},  // 1405/02 has not ended then
      {{"--k", "2", "--as", "consumer:U-12345678"}, "k"},
      {{"--k", "1"}, "k"},                                              // nobody signed in
  };
  for (const auto& [options, field] : bad) {
    std::vector<std::string> args{"--json"};
    if (std::find(options.begin(), options.end(), "--now") == options.end()) args.insert(args.end(), {"--now", later});
    if (std::find(options.begin(), options.end(), "--as") == options.end() && field != "k")
      args.insert(args.end(), {"--as", "analyst:sara"});
    args.insert(args.end(), options.begin(), options.end());
    // Global options (--now, --as) before the command, its own after.
    std::vector<std::string> globals, own;
    for (std::size_t i = 0; i < args.size(); ++i) {
      const bool global = args[i] == "--now" || args[i] == "--as" || args[i] == "--json";
      auto& into = global ? globals : own;
      into.push_back(args[i]);
      if (args[i] != "--json" && i + 1 < args.size()) into.push_back(args[++i]);
    }
    globals.insert(globals.end(), {"export", "open-data"});
    globals.insert(globals.end(), own.begin(), own.end());
    auto r = h.run(globals);
    INFO(options.front() << " " << options.back() << ": " << r.err);
    CHECK(r.code != 0);
    CHECK(r.out.empty());
    CHECK(r.err.find("\"field\":\"" + field + "\"") != std::string::npos);
  }
  // The default k needs no one signed in.
  auto open = h.run({"--now", later, "export", "open-data"});
  CHECK(open.code == 0);
}

TEST_CASE("the standings are score's, with each shop's complaints and unanswered, signed so a copy can be checked") {
  const auto& h = shared_history();
  // The log's key is made when the log is first signed.
  REQUIRE(h.run({"checkpoint", "--start-over"}).code == 0);
  // Well after the generated history (`later`), so that every event counts.
  auto exported = h.run({"--now", later, "export", "standings"});
  INFO(exported.err);
  REQUIRE(exported.code == 0);
  const std::string note = exported.out;
  const auto split = note.find("\n\n");
  REQUIRE(split != std::string::npos);
  std::istringstream lines(note.substr(0, split + 1));
  std::string origin, as_of, rules;
  std::getline(lines, origin);
  std::getline(lines, as_of);
  std::getline(lines, rules);
  CHECK(origin.size() > 10);
  CHECK(origin.substr(origin.size() - 10) == "/standings");
  CHECK(as_of.rfind("as-of ", 0) == 0);
  CHECK(rules.rfind("rules v1 ", 0) == 0);
  std::string rest((std::istreambuf_iterator<char>(lines)), {});
  const auto table = parse_csv(rest);
  REQUIRE(table.size() == 9);  // the header and the 8 shops
  CHECK(table[0] == row{"rank", "seal", "name", "domain", "stars", "score", "standing", "complaints", "unanswered", "restricted",
                        "restriction"});
  // Rank, score and standing as `score` gives them; unanswered as the scorecards count them;
  // complaints, those accepted against the shop, as `explain` lists them.
  const auto scores = h.csv({"--now", later, "--csv", "score"});
  const auto cards = h.csv({"--csv", "scorecard"});
  const auto column = [](const row& header, const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  for (std::size_t i = 1; i < table.size(); ++i) {
    const auto& shop = table[i];
    INFO("shop " << shop[1]);
    const auto s = std::find_if(scores.begin() + 1, scores.end(), [&](const row& r) { return r[1] == shop[1]; });
    REQUIRE(s != scores.end());
    CHECK(shop[0] == (*s)[0]);
    CHECK(shop[5] == (*s)[column(scores[0], "score")]);
    CHECK(shop[6] == (*s)[column(scores[0], "standing")]);
    const auto c = std::find_if(cards.begin() + 1, cards.end(), [&](const row& r) { return r[column(cards[0], "business")] == shop[1]; });
    REQUIRE(c != cards.end());
    CHECK(shop[8] == (*c)[column(cards[0], "unanswered")]);
    const auto explained = h.csv({"--now", later, "--csv", "explain", "--business", shop[1]});
    const auto accepted = std::count_if(explained.begin(), explained.end(), [](const row& r) { return r.size() > 2 && r[2] == "complaint"; });
    CHECK(shop[7] == std::to_string(accepted));
    CHECK(std::stoul(shop[7]) <= std::stoul((*c)[column(cards[0], "complaints")]));  // every case filed
  }

  const auto file = h.dir.path() / "standings.txt";
  std::ofstream(file, std::ios::binary) << note;
  auto checked = h.run({"check-standings", "--file", file.string()});
  INFO(checked.err);
  CHECK(checked.code == 0);
  CHECK(checked.out.rfind("ok: the standings of 8 shops", 0) == 0);

  // A copy with one shop's score raised is refused.
  std::string altered = note;
  const auto last_row = altered.rfind("\n8," , split);  // the last shop's line
  REQUIRE(last_row != std::string::npos);
  const auto at = altered.find("," + table[8][5] + ",", last_row);
  REQUIRE(at != std::string::npos);
  altered.replace(at + 1, table[8][5].size(), table[8][5] == "99.9" ? "99.8" : "99.9");
  std::ofstream(file, std::ios::binary | std::ios::trunc) << altered;
  auto refused = h.run({"--json", "check-standings", "--file", file.string()});
  CHECK(refused.code != 0);
  CHECK(refused.err.find("does not verify") != std::string::npos);

  // The genuine copy, against another log's key: refused.
  std::ofstream(file, std::ios::binary | std::ios::trunc) << note;
  temp_dir other;
  std::ostringstream o, e;
  REQUIRE(cli::run({"--data-dir", other.path().string(), "keys", "generate"}, o, e) == 0);
  std::ostringstream vk, e2;
  REQUIRE(cli::run({"--data-dir", other.path().string(), "keys", "show"}, vk, e2) == 0);
  std::string other_key = vk.str();
  other_key.erase(other_key.find_last_not_of("\n") + 1);
  auto stranger = h.run({"check-standings", "--file", file.string(), "--key", other_key});
  CHECK(stranger.code != 0);
  CHECK(stranger.err.find("is not signed by") != std::string::npos);

  // A checkpoint is signed by the same key but is not standings.
  auto cp = h.run({"checkpoint"});
  REQUIRE(cp.code == 0);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << cp.out;
  auto not_standings = h.run({"check-standings", "--file", file.string()});
  CHECK(not_standings.code != 0);
  CHECK(not_standings.err.find("is not its standings") != std::string::npos);
}

}  // namespace
}  // namespace sazesh
