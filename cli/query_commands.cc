// The read side on the command line: running the projector, rebuilding, the queries of
// auditors, analysts and agencies, and the agencies' referral feed.
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>

#include "cli/app.h"
#include "cli/bundle.h"
#include "cli/json.h"
#include "cli/table.h"
#include "engine/agency_feed.h"
#include "engine/record/codec.h"
#include "engine/domain/decide.h"
#include "engine/domain/describe.h"
#include "engine/record/hash.h"
#include "engine/record/sealing.h"
#include "projections/apply.h"
#include "projections/open_data.h"
#include "projections/projector.h"
#include "projections/queries.h"
#include "schemas/schema_json.h"

namespace sazesh::cli {
namespace {

namespace pj = sazesh::projections;

std::atomic<bool> interrupted{false};
void on_signal(int) { interrupted = true; }

output_format format_of(const session& s) {
  return s.json ? output_format::json : s.csv ? output_format::csv : output_format::text;
}

// Progress on a terminal only; scripts and logs get the final line alone.
pj::progress_fn terminal_progress(session& s, const char* what, std::uint32_t partitions) {
  if (!::isatty(STDERR_FILENO)) return {};
  return [&s, what, partitions](const pj::progress& p) {
    const double pct = p.end.value() ? 100.0 * static_cast<double>(p.position.value()) / static_cast<double>(p.end.value()) : 100.0;
    if (partitions == 1)
      fmt::print(s.err, "\r{} {} / {} events ({:.0f}%)   ", what, p.position.value(), p.end.value(), pct);
    else  // a partitioned log's end is not known up front
      fmt::print(s.err, "\r{} partition {}: position {}   ", what, p.partition, p.position.value());
    s.err.flush();
  };
}

// The answer comes from projections that could not be brought up to date: said on stderr, in
// the form errors take there, so that stdout stays the answer alone.
void warn_stale(session& s, const error& why) {
  const std::string& servers = s.kafka->bootstrap_servers;
  if (s.json) {
    fmt::print(s.err, "{}\n",
               json_object()
                   .raw("warning", json_object()
                                       .field("code", to_string(why.code()))
                                       .field("field", why.field())
                                       .field("rule", why.rule())
                                       .field("bootstrap_servers", servers)
                                       .field("stale", true)
                                       .str())
                   .str());
  } else {
    fmt::print(s.err,
               "warning: Kafka at {} cannot be reached; this answer comes from the projections as they were last "
               "brought up to date and may be stale ({})\n",
               servers, why.message());
  }
}

// Opens the projections for a query, after bringing them up to date if no projector holds them.
// Once per invocation: a read checked against who may see it opens them for the check, and the
// query reads through the same store.
result<std::unique_ptr<pj::projection_store>> open_for_query(session& s) {
  if (s.opened_projections) return pj::borrow(*s.opened_projections);
  const auto hold = [&s](result<std::unique_ptr<pj::projection_store>> store) -> result<std::unique_ptr<pj::projection_store>> {
    if (!store) return store;
    s.opened_projections = std::move(*store);
    return pj::borrow(*s.opened_projections);
  };
  if (s.kafka) {
    // A cluster that cannot be reached leaves the projections as they are: answer from them,
    // saying so, rather than not at all.
    if (auto log = s.open_log_for_reading(); !log) {
      if (log.error().code() != errc::unavailable) return log.error();
      auto store = pj::projection_store::open(s.projections_dir(), pj::store_mode::read_only);
      if (!store && store.error().code() == errc::not_found)
        return error(errc::unavailable, "kafka",
                     fmt::format("cannot reach the cluster at {}, and {} holds no projections yet to answer from ({})",
                                 s.kafka->bootstrap_servers, s.projections_dir().string(), log.error().rule()));
      if (store) warn_stale(s, log.error());
      return hold(std::move(store));
    }
  }
  // A missing log (a wrong --data-dir, most likely) or a corrupt one is worth saying; a
  // projector holding the projections keeps them current itself.
  if (auto st = s.refresh_projections(); !st && st.error().code() != errc::unavailable) return st.error();
  if (s.shared_projections) return pj::borrow(*s.shared_projections);  // serve's own, held open
  return hold(pj::projection_store::open(s.projections_dir(), pj::store_mode::read_only));
}

// An agency's dossiers and feed are the whole case files, personal data included: the agency
// itself, operators and auditors read them.
bool reads_agency_files(const session& s, const std::string& agency) {
  return s.who && sazesh::reads_agency_files(*s.who, agency);
}

bool sees_personal_data(const session& s) {
  return s.who && (s.who->role == fb::Role_operator_ || s.who->role == fb::Role_auditor);
}

std::string date_of(timestamp_ms t, const session& s) { return t ? format_jalali(t, s.jalali_digits) : ""; }

std::string next_deadline(const case_state& c);

// The earliest deadline of a case, for a reader to sort and act by: when (ISO 8601, UTC) and
// who must act.
const deadline* earliest(const case_state& c) {
  const deadline* next = nullptr;
  for (const auto& d : c.deadlines)
    if (!next || d.due < next->due) next = &d;
  return next;
}
std::string next_due(const case_state& c) { return earliest(c) ? format_iso_utc(earliest(c)->due) : ""; }
std::string next_deadline(const case_state& c) {
  const deadline* next = earliest(c);
  return next ? fmt::format("{} {}", to_string(next->kind), format_gregorian(next->due)) : "";
}
std::string next_who(const case_state& c) { return earliest(c) ? who_acts(earliest(c)->kind) : ""; }

table cases_table(const session& s, const std::vector<pj::case_row>& rows) {
  table t;
  const bool personal = sees_personal_data(s);
  t.columns = {"case", "status", "business", "category", "amount_rials", "filed", "agency", "mediator", "events", "next_deadline",
               "next_due", "next_who"};
  if (personal) t.columns.insert(t.columns.begin() + 3, "consumer");
  for (const auto& r : rows) {
    const auto& c = r.state;
    std::vector<cell> row{txt(c.id), txt(to_string(c.status)), txt(c.business_id), txt(fb::EnumNameCategory(c.category)),
                          num(c.amount_rials), txt(date_of(c.filed_at, s)), txt(c.status == case_status::referred ? c.agency_id : ""),
                          txt(c.mediator_id), num(r.events), txt(next_deadline(c)), txt(next_due(c)), txt(next_who(c))};
    if (personal) row.insert(row.begin() + 3, txt(c.consumer_id));
    t.add(std::move(row));
  }
  return t;
}

table scorecards_table(const std::vector<pj::scorecard>& cards) {
  table t;
  t.columns = {"business", "domain", "stars", "restricted", "satisfaction"};
  for (std::size_t i = 0; i < pj::counter_count; ++i) t.columns.push_back(pj::counter_name(static_cast<pj::counter>(i)));
  t.columns.push_back("name");
  for (const auto& sc : cards) {
    std::vector<cell> row{txt(sc.business_id), txt(sc.domain), num(static_cast<std::uint64_t>(sc.stars)),
                          txt(sc.restricted ? "yes" : "no"), {fmt::format("{:.2f}", sc.satisfaction()), true}};
    for (auto v : sc.counters) row.push_back(num(v));
    row.push_back(txt(sc.name));
    t.add(std::move(row));
  }
  return t;
}

int project(session& s, const parsed_args& a) {
  auto log = s.open_log_for_reading();
  if (!log) return s.fail(log.error());
  std::uint64_t built = 0;
  auto store = s.open_projections_writer(**log, terminal_progress(s, "projecting", (*log)->partitions()), built);
  if (!store) return s.fail(store.error());
  pj::projector p(**log, **store);
  const std::uint32_t partitions = (*log)->partitions();
  if (a.has("follow")) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    int interval = 200;
    if (a.has("interval-ms")) interval = std::max(10, std::atoi(a.get("interval-ms").c_str()));
    std::vector<std::uint64_t> last_reported(partitions, 0);
    auto st = p.follow([] { return interrupted.load(); }, std::chrono::milliseconds(interval),
                       [&](const pj::progress& pr) {
                         if (pr.partition >= partitions || pr.position.value() == last_reported[pr.partition]) return;
                         last_reported[pr.partition] = pr.position.value();
                         if (partitions == 1) {
                           fmt::print(s.out, "projected up to position {}\n", pr.position.value());
                         } else {
                           const auto end = (*log)->partition_end(pr.partition);
                           const std::uint64_t e = end ? std::max(end->value(), pr.position.value()) : pr.position.value();
                           fmt::print(s.out, "partition {}: projected up to position {}, log end {}, lag {}\n", pr.partition,
                                      pr.position.value(), e, e - pr.position.value());
                         }
                         s.out.flush();
                       });
    if (!st) return s.fail(st.error());
    return exit_ok;
  }
  auto n = p.catch_up(terminal_progress(s, "projecting", partitions));
  if (::isatty(STDERR_FILENO)) fmt::print(s.err, "\n");
  if (!n) return s.fail(n.error());
  *n += built;
  if (partitions == 1) {
    auto stored = pj::stored_position(**store);
    if (!stored) return s.fail(stored.error());
    const log_position pos = *stored;
    if (s.json) fmt::print(s.out, "{}\n", json_object().field("applied", *n).field("position", pos.value()).str());
    else fmt::print(s.out, "applied {} events; projections at log position {}\n", *n, pos.value());
    return exit_ok;
  }
  // A partitioned log (Kafka's) has a position per partition: each with its end and the lag
  // between them, in log positions (on Kafka, offsets: transaction markers in between count).
  table t;
  t.columns = {"partition", "position", "end", "lag"};
  json_array rows;
  std::uint64_t total_lag = 0;
  for (std::uint32_t part = 0; part < partitions; ++part) {
    auto stored = pj::stored_position(**store, part);
    if (!stored) return s.fail(stored.error());
    const log_position pos = *stored;
    const auto end = (*log)->partition_end(part);
    if (!end) return s.fail(end.error());
    const std::uint64_t lag = end->value() > pos.value() ? end->value() - pos.value() : 0;
    total_lag += lag;
    t.add({num(part), num(pos.value()), num(end->value()), num(lag)});
    rows.raw(json_object().field("partition", static_cast<std::uint64_t>(part)).field("position", pos.value())
                 .field("end", end->value()).field("lag", lag).str());
  }
  if (s.json) {
    fmt::print(s.out, "{}\n", json_object().field("applied", *n).field("lag", total_lag).raw("partitions", rows.str()).str());
  } else {
    fmt::print(s.out, "applied {} events; projections at these log positions:\n", *n);
    print(s.out, t, output_format::text);
  }
  return exit_ok;
}

// The projections rebuilt from the log, with the terminal's progress line.
result<pj::rebuild_report> rebuild_with_progress(session& s, event_log& log, bool digest) {
  auto report = pj::rebuild(log, s.projections_dir(), terminal_progress(s, "rebuilding", log.partitions()), digest);
  if (::isatty(STDERR_FILENO)) fmt::print(s.err, "\n");
  return report;
}

std::string rebuilt_line(const pj::rebuild_report& r) {
  return fmt::format("rebuilt {} events in {:.2f}s ({:.0f} events/s)", r.events, r.seconds,
                     r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0.0);
}

std::int64_t whole_seconds(const pj::rebuild_report& r) { return static_cast<std::int64_t>(r.seconds); }

int rebuild_cmd(session& s, const parsed_args& a) {
  if (a.has("no-digest")) {
    // Only the rebuild: the new projections are the log's fold, as always, but nothing says
    // whether the ones they replace were (no digests, no comparison, no state rows checked).
    auto log = s.open_log_for_reading();
    if (!log) return s.fail(log.error());
    auto report = rebuild_with_progress(s, **log, false);
    if (!report) return s.fail(report.error());
    if (s.json)
      fmt::print(s.out, "{}\n", json_object().field("events", report->events).field("seconds", whole_seconds(*report)).str());
    else
      fmt::print(s.out, "{}; nothing compared (--no-digest)\n", rebuilt_line(*report));
    return exit_ok;
  }
  // The engine's state rows first: folded afresh beside the live ones, compared, and built
  // again in place when they differ (rows and their position move together, so a rebuild
  // killed midway is finished by the next open).
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  auto state_live = (*eng)->state_digest();
  if (!state_live) return s.fail(state_live.error());
  auto keys = s.keys();
  if (!keys) return s.fail(keys.error());
  auto state_fresh = fold_state_digest(*s.log(), *keys);
  if (!state_fresh) return s.fail(state_fresh.error());
  const bool state_same = *state_live == *state_fresh;
  std::optional<std::uint64_t> state_folded;
  if (!state_same) {
    auto folded = (*eng)->rebuild_state();
    if (!folded) return s.fail(folded.error());
    state_folded = *folded;
  }
  auto log = s.open_log_for_reading();
  if (!log) return s.fail(log.error());
  // Bring the live projections to the log's end first, so the two digests are comparable.
  std::string live_digest;
  std::vector<std::uint64_t> live_positions;  // per partition
  {
    auto live = s.open_projections_writer();
    if (!live) return s.fail(live.error());
    pj::projector p(**log, **live);
    if (auto n = p.catch_up(); !n) return s.fail(n.error());
    auto d = (*live)->digest();
    if (!d) return s.fail(d.error());
    live_digest = *d;
    for (std::uint32_t part = 0; part < (*log)->partitions(); ++part) {
      auto stored = pj::stored_position(**live, part);
      if (!stored) return s.fail(stored.error());
      live_positions.push_back(stored->value());
    }
  }
  auto report = rebuild_with_progress(s, **log, true);
  if (!report) return s.fail(report.error());
  const bool same = report->digest == live_digest;
  if (s.json) {
    json_object o;
    o.field("events", report->events).field("position", live_positions.front());
    if (live_positions.size() > 1) {  // a partitioned log: "position" is partition 0's
      json_array positions;
      for (const auto pos : live_positions) positions.raw(std::to_string(pos));
      o.raw("positions", positions.str());
    }
    o.raw("state", json_object().field("digest", *state_fresh).field("live_digest", *state_live)
                       .field("identical", state_same).str());
    fmt::print(s.out, "{}\n", o.field("digest", report->digest).field("live_digest", live_digest)
                                   .field("identical", same).field("seconds", whole_seconds(*report)).str());
  } else {
    fmt::print(s.out, "state rows: digest of a fresh fold {}\n            digest of the live rows {}\n{}\n",
               *state_fresh, *state_live,
               state_same ? "            identical: the engine's state rows equal the log's fold key for key"
                          : fmt::format("            DIFFERENT: rebuilt from {} events", state_folded.value_or(0)));
    fmt::print(s.out, "{}\n", rebuilt_line(*report));
    fmt::print(s.out, "digest of the rebuilt projections: {}\ndigest of the live projections:    {}\n{}\n", report->digest, live_digest,
               same ? "identical: the rebuild equals the live projections key for key" : "DIFFERENT: the live projections did not match the log");
  }
  return same && state_same ? exit_ok : exit_refused;
}

int case_cmd(session& s, const parsed_args& a) {
  auto store = open_for_query(s);
  if (!store) return s.fail(store.error());
  auto row = pj::find_case(**store, a.get("case"));
  if (!row) return s.fail(row.error());
  if (!*row) return s.fail(error(errc::not_found, "case_id", fmt::format("no case {}", a.get("case"))));
  print(s.out, cases_table(s, {**row}), format_of(s));
  return exit_ok;
}

int cases_cmd(session& s, const parsed_args& a) {
  pj::case_filter f;
  if (a.has("status")) {
    bool found = false;
    for (int i = 0; i <= static_cast<int>(case_status::withdrawn); ++i)
      if (a.get("status") == to_string(static_cast<case_status>(i))) { f.status = static_cast<case_status>(i); found = true; }
    if (!found)
      return s.fail(error(errc::invalid_argument, "status", "must be a case status such as awaiting_triage, with_business, negotiation, in_mediation, referred, closed"));
  }
  if (a.has("business")) f.business = a.get("business");
  if (a.has("agency")) f.agency = a.get("agency");
  if (a.has("consumer")) f.consumer = a.get("consumer");
  if (a.has("mediator")) f.mediator = a.get("mediator");
  if (a.has("category")) {
    auto c = parse_category("category", a.get("category"));
    if (!c) return s.fail(c.error());
    f.category = *c;
  }
  if (a.has("from")) {
    auto t = parse_time("from", a.get("from"));
    if (!t) return s.fail(t.error());
    f.filed_from = *t;
  }
  if (a.has("to")) {
    auto t = parse_time("to", a.get("to"));
    if (!t) return s.fail(t.error());
    f.filed_to = *t;
  }
  if (f.filed_from && f.filed_to && *f.filed_to <= *f.filed_from)
    return s.fail(error(errc::invalid_argument, "to", "must be after --from"));
  if (a.has("overdue")) f.overdue_at = s.fixed_now.value_or(system_clock_source().now());
  if (a.has("limit")) {
    const auto& l = a.get("limit");
    if (l.empty() || l.find_first_not_of("0123456789") != std::string::npos || l.size() > 9)
      return s.fail(error(errc::invalid_argument, "limit", "must be a whole number"));
    f.limit = std::stoul(l);
  }
  auto store = open_for_query(s);
  if (!store) return s.fail(store.error());
  auto rows = pj::list_cases(**store, f);
  if (!rows) return s.fail(rows.error());
  print(s.out, cases_table(s, *rows), format_of(s));
  return exit_ok;
}

int scorecard_cmd(session& s, const parsed_args& a) {
  auto store = open_for_query(s);
  if (!store) return s.fail(store.error());
  std::vector<pj::scorecard> cards;
  if (a.has("business")) {
    auto sc = pj::find_scorecard(**store, a.get("business"));
    if (!sc) return s.fail(sc.error());
    if (!*sc) return s.fail(error(errc::not_found, "business", fmt::format("no scorecard for {}", a.get("business"))));
    cards.push_back(**sc);
  } else {
    auto all = pj::all_scorecards(**store);
    if (!all) return s.fail(all.error());
    cards = std::move(*all);
  }
  print(s.out, scorecards_table(cards), format_of(s));
  return exit_ok;
}

int top_cmd(session& s, const parsed_args& a) {
  std::size_t n = 10;
  if (a.has("n")) {
    const auto& t = a.get("n");
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos || t.size() > 6 || std::stoul(t) == 0)
      return s.fail(error(errc::invalid_argument, "n", "must be a whole number from 1"));
    n = std::stoul(t);
  }
  auto store = open_for_query(s);
  if (!store) return s.fail(store.error());
  auto cards = pj::top_businesses(**store, a.maybe("by").value_or("complaints"), n);
  if (!cards) return s.fail(cards.error());
  print(s.out, scorecards_table(*cards), format_of(s));
  return exit_ok;
}

int queue_cmd(session& s, const parsed_args& a) {
  auto store = open_for_query(s);
  if (!store) return s.fail(store.error());
  auto party = pj::find_party(**store, a.get("agency"));
  if (!party) return s.fail(party.error());
  if (!*party || (*party)->role != fb::Role_agency)
    return s.fail(error(errc::not_found, "agency", fmt::format("no registered agency {}", a.get("agency"))));
  auto q = pj::agency_queue(**store, a.get("agency"), a.has("all"));
  if (!q) return s.fail(q.error());
  table t;
  t.columns = {"case", "status", "business", "category", "amount_rials", "received", "from", "acknowledged", "left_to", "verdict", "next_deadline",
               "next_due", "next_who"};
  for (const auto& e : *q) {
    const auto& c = e.row.state;
    const bool holding = e.dossier.left_at == 0 && c.status == case_status::referred;
    t.add({txt(c.id), txt(to_string(c.status)), txt(c.business_id), txt(fb::EnumNameCategory(c.category)), num(c.amount_rials),
           txt(date_of(e.dossier.received_at, s)), txt(e.dossier.received_from), txt(date_of(e.dossier.acknowledged_at, s)),
           txt(e.dossier.left_to), txt(e.dossier.verdict ? fb::EnumNameAgencyVerdict(*e.dossier.verdict) : ""),
           txt(holding ? next_deadline(c) : ""), txt(holding ? next_due(c) : ""), txt(holding ? next_who(c) : "")});
  }
  print(s.out, t, format_of(s));
  return exit_ok;
}

// What a dossier shows of the people in it, opened with the folder's keys ("erased" where a key
// was destroyed): the consumer's registration, the order reference and the documents' names
// from the case's events, and the events themselves. Projections keep none of it.
struct case_personal {
  std::string name, national_code, mobile, order_reference;
  std::map<std::string, std::string> file_names;  // by raw sha256
  std::vector<event_record> events;
};

result<case_personal> open_case_personal(session& s, event_log& log, const case_state& c,
                                         const std::vector<std::string>& history) {
  auto keys = s.keys();
  if (!keys) return keys.error();
  case_personal p;
  if (auto reg = log.read_stream(c.consumer_id, stream_version(1)); !reg) {
    return reg.error();
  } else if (!reg->empty()) {
    auto r = decode(reg->front().bytes);
    if (!r) return r.error();
    if (auto o = open_sealed(*r, **keys); !o) return o.error();
    if (const auto* x = r->payload.AsConsumerRegistered()) {
      p.name = x->name;
      p.national_code = x->national_code;
      p.mobile = x->mobile;
    }
  }
  for (const auto& bytes : history) {
    auto r = decode(bytes);
    if (!r) return r.error();
    if (auto o = open_sealed(*r, **keys); !o) return o.error();
    if (const auto* f = r->payload.AsCaseFiled()) p.order_reference = f->order_reference;
    if (const auto* d = r->payload.AsDocumentAttached())
      p.file_names[std::string(d->sha256.begin(), d->sha256.end())] = d->file_name;
    p.events.push_back(std::move(*r));
  }
  return p;
}

std::string bundle_json(const pj::dossier_bundle& b, const case_personal& person, const session& s) {
  json_array history;  // the envelopes, with what open_case_personal opened of each
  for (std::size_t i = 0; i < b.history.size() && i < person.events.size(); ++i)
    history.raw(record_json(b.history[i], person.events[i]));
  json_array documents;
  for (const auto& d : b.row.state.documents) {
    const auto name = person.file_names.find(d.sha256);
    documents.raw(json_object().field("kind", fb::EnumNameDocumentKind(d.kind)).field("sha256", to_hex(d.sha256))
                      .field("file_name", name == person.file_names.end() ? "" : name->second)
                      .field("size_bytes", d.size_bytes).str());
  }
  json_array agencies;
  for (const auto& ag : b.row.state.agencies) agencies.string(ag);
  const auto& c = b.row.state;
  return json_object()
      .field("agency", b.dossier.agency_id)
      .field("case", c.id)
      .field("status", to_string(c.status))
      .field("holds_case", b.dossier.left_at == 0 && c.status == case_status::referred)
      .field("received_at", format_iso_utc(b.dossier.received_at))
      .field("received_from", b.dossier.received_from)
      .field("left_to", b.dossier.left_to)
      .field("category", fb::EnumNameCategory(c.category))
      .field("amount_rials", c.amount_rials)
      .field("order_reference", person.order_reference)
      .raw("consumer", json_object().field("id", c.consumer_id).field("name", person.name)
                           .field("national_code", person.national_code).field("mobile", person.mobile).str())
      .raw("business", json_object().field("seal_id", c.business_id).field("name", b.business.name)
                           .field("domain", b.business.domain).field("restricted", b.business_restricted).str())
      .raw("agencies", agencies.str())
      .raw("documents", documents.str())
      .field("events", static_cast<std::uint64_t>(b.history.size()))
      .field("last_event_hash", to_hex(c.head.last_hash))
      .raw("history", history.str())
      .field("digits", s.jalali_digits == digits::persian ? "persian" : "latin")
      .str();
}

int dossier_cmd(session& s, const parsed_args& a) {
  const std::string agency = a.get("agency");
  // The dossier is the whole case file, personal data included: only the agency that held it,
  // operators and auditors may read it.
  if (!reads_agency_files(s, agency))
    return s.fail(error(errc::unauthorized, "actor",
                        fmt::format("a dossier holds personal data: only agency {}, operators and auditors read it (--as agency:{})", agency, agency)));
  auto store = open_for_query(s);
  if (!store) return s.fail(store.error());
  auto log = s.open_log_for_reading();
  if (!log) return s.fail(log.error());
  auto b = pj::dossier(**store, **log, agency, a.get("case"));
  if (!b) return s.fail(b.error());
  auto person = open_case_personal(s, **log, b->row.state, b->history);
  if (!person) return s.fail(person.error());
  const std::string bundle = bundle_json(*b, *person, s);
  if (a.has("bundle")) {
    auto written = write_case_bundle(s, **log, b->row.state.id, bundle, a.get("bundle"));
    if (!written) return s.fail(written.error());
    if (s.json)
      fmt::print(s.out, "{}\n", json_object().field("bundle", a.get("bundle")).field("case", b->row.state.id)
                                    .field("events", static_cast<std::uint64_t>(written->events))
                                    .field("documents", static_cast<std::uint64_t>(written->documents))
                                    .field("tree_size", written->tree_size).field("origin", written->origin).str());
    else
      fmt::print(s.out,
                 "wrote the bundle of case {} for {} to {}: {} events with their inclusion proofs, {} documents, "
                 "the checkpoint of {} events of {}\n(check it: tools/verify-bundle.py {} --vkey \"$(sazesh keys show)\")\n",
                 b->row.state.id, agency, a.get("bundle"), written->events, written->documents, written->tree_size,
                 written->origin, a.get("bundle"));
    return exit_ok;
  }
  if (s.json) {
    fmt::print(s.out, "{}\n", bundle);
    return exit_ok;
  }
  const auto& c = b->row.state;
  fmt::print(s.out, "dossier of case {} for {} [{}]\n", c.id, agency, to_string(c.status));
  fmt::print(s.out, "  received {}{}; {}\n", both_calendars(b->dossier.received_at, s.jalali_digits),
             b->dossier.received_from.empty() ? "" : " from " + b->dossier.received_from,
             b->dossier.left_at ? "transferred to " + b->dossier.left_to : (c.status == case_status::referred ? "held now" : "closed"));
  fmt::print(s.out, "  consumer {} ({}, national code {}, mobile {})\n", person->name, c.consumer_id, person->national_code, person->mobile);
  fmt::print(s.out, "  business {} ({}, seal {}){}\n", b->business.name, b->business.domain, c.business_id,
             b->business_restricted ? " [seal restricted]" : "");
  fmt::print(s.out, "  documents:\n");
  for (const auto& d : c.documents) {
    const auto name = person->file_names.find(d.sha256);
    fmt::print(s.out, "    {:<16} {}  {} ({} bytes)\n", fb::EnumNameDocumentKind(d.kind), to_hex(d.sha256),
               name == person->file_names.end() ? "" : name->second, d.size_bytes);
  }
  fmt::print(s.out, "  history:\n");
  for (const auto& r : person->events)
    fmt::print(s.out, "    #{:<3} {}  {}\n", r.sequence.value(), format_jalali(r.time, s.jalali_digits), describe(r));
  return exit_ok;
}

int stats_cmd(session& s, const parsed_args& a) {
  auto store = open_for_query(s);
  if (!store) return s.fail(store.error());
  const std::string by = a.maybe("by").value_or("month_category");
  auto rows = pj::statistics(**store, by);
  if (!rows) return s.fail(rows.error());
  table t;
  if (by == "month_category") {
    t.columns = {"month", "category", "cases"};
    for (const auto& [k, v] : *rows) {
      const auto slash = k.find('/');
      t.add({txt(k.substr(0, slash)), txt(slash == std::string::npos ? "" : k.substr(slash + 1)), num(v)});
    }
  } else {
    t.columns = {by, "cases"};
    for (const auto& [k, v] : *rows) t.add({txt(k), num(v)});
  }
  print(s.out, t, format_of(s));
  return exit_ok;
}

// The first instant (in Tehran) of the Jalali month that `t` falls in.
timestamp_ms month_start(timestamp_ms t) {
  jalali_date j = to_jalali(tehran_date(t));
  j.day = 1;
  return tehran_start_of_day(to_civil(j));
}

// --from and --to of an export: the first and the last day of Jalali months, as the open data is
// released by whole months. Returns the first instant of --from's month, or with `end`, of the
// month after --to's.
result<timestamp_ms> export_month(const parsed_args& a, const std::string& name, bool end) {
  auto day = parse_date(name, a.get(name));
  if (!day) return day.error();
  const std::int64_t days = days_from_civil(*day);
  const jalali_date j = to_jalali(*day);
  if (!end && j.day != 1)
    return error(errc::invalid_argument, name,
                 fmt::format("must be the first day of a month ({:04}/{:02}/01): the open data is released by whole months",
                             j.year, j.month));
  if (end && to_jalali(civil_from_days(days + 1)).day != 1)
    return error(errc::invalid_argument, name,
                 fmt::format("must be the last day of a month ({:04}/{:02}/{:02}): the open data is released by whole months",
                             j.year, j.month, jalali_month_length(j.year, j.month)));
  return tehran_start_of_day(civil_from_days(end ? days + 1 : days));
}

// The open data: every case received in a range of whole months that have ended, one row each
// with no personal data, small cells suppressed (projections/open_data.h).
int open_data_cmd(session& s, const parsed_args& a) {
  pj::open_data_options o;
  // Below the default, only for those who read every case's row anyway (analysts, operators,
  // auditors): to anyone else a small k would be the cases themselves.
  const bool reads_rows = s.who && (s.who->role == fb::Role_analyst || s.who->role == fb::Role_operator_ ||
                                    s.who->role == fb::Role_auditor);
  if (a.has("k")) {
    const auto& k = a.get("k");
    if (k.empty() || k.size() > 6 || k.find_first_not_of("0123456789") != std::string::npos || std::stoul(k) == 0)
      return s.fail(error(errc::invalid_argument, "k", "must be a whole number from 1 (the smallest cell shown)"));
    o.k = std::stoul(k);
    if (o.k < 5 && !reads_rows)
      return s.fail(error(errc::unauthorized, "k",
                          "below 5 is for analysts, operators and auditors, who read the cases' rows anyway (--as)"));
  }
  std::string format = s.json ? "json" : "csv";
  if (a.has("format")) {
    format = a.get("format");
    if (format != "csv" && format != "json") return s.fail(error(errc::invalid_argument, "format", "must be csv or json"));
  }
  if (a.has("from")) {
    auto t = export_month(a, "from", false);
    if (!t) return s.fail(t.error());
    o.received_from = *t;
  }
  // Months are released once they have ended (by the server's clock): an export of a month
  // still filling, taken twice, would tell the new cases apart.
  const timestamp_ms current = month_start(s.fixed_now.value_or(system_clock_source().now()));
  o.received_to = current;
  if (a.has("to")) {
    auto t = export_month(a, "to", true);
    if (!t) return s.fail(t.error());
    if (*t > current)
      return s.fail(error(errc::invalid_argument, "to",
                          fmt::format("must be before the current month ({}): a month is released once it has ended",
                                      pj::filing_month(current))));
    o.received_to = *t;
  }
  if (o.received_from && *o.received_to <= *o.received_from)
    return s.fail(error(errc::invalid_argument, "to", "must not be before --from"));
  auto store = open_for_query(s);
  if (!store) return s.fail(store.error());
  auto x = pj::export_open_data(**store, o);
  if (!x) return s.fail(x.error());
  // The answer's form decides its media type over HTTP.
  s.json = format == "json";
  s.csv = format == "csv";
  const std::vector<std::string> columns{"received", "sent_to_shop", "category", "shop_seal", "shop_name", "shop_domain", "route",
                                         "timely_response", "outcome", "agency", "rating", "reopened", "suppressed"};  // README
  // An unrated case's rating: empty in CSV, null in JSON.
  const cell unrated = s.json ? cell{"null", true} : txt("");
  const auto row_cells = [&unrated](const pj::open_data_row& r) {
    return std::vector<cell>{txt(r.received), txt(r.sent_to_shop), txt(r.category), txt(r.shop_seal), txt(r.shop_name),
                             txt(r.shop_domain), txt(r.route), txt(r.timely_response), txt(r.outcome), txt(r.agency),
                             r.rating ? num(static_cast<std::uint64_t>(r.rating)) : unrated,
                             {r.reopened ? "true" : "false", true}, txt(r.level == pj::open_data_level::day ? "" : to_string(r.level))};
  };
  if (format == "csv") {
    std::vector<cell> header;
    for (const auto& c : columns) header.push_back(txt(c));
    s.out << csv_line(header);
    for (const auto& r : x->rows) s.out << csv_line(row_cells(r));
  } else {
    json_object counts;
    for (std::size_t l = 0; l < x->at_level.size(); ++l)
      counts.field(to_string(static_cast<pj::open_data_level>(l)), x->at_level[l]);
    // One object; its rows written one by one after the members that come first.
    std::string head = json_object()
                           .field("format", "sazesh-open-data/1")
                           .field("months_from", o.received_from ? pj::filing_month(*o.received_from) : "")
                           .field("months_to", pj::filing_month(*o.received_to - 1))
                           .field("k", static_cast<std::uint64_t>(o.k))
                           .field("cases", x->cases)
                           .raw("rows_by_level", counts.str())
                           .str();
    head.pop_back();  // its closing brace: the rows follow
    s.out << head << ",\"rows\":[";
    for (std::size_t i = 0; i < x->rows.size(); ++i) s.out << (i ? "," : "") << json_row(columns, row_cells(x->rows[i]));
    s.out << "]}\n";
  }
  // What was suppressed, for whoever runs it (stdout stays the data alone).
  if (format == "csv" && s.shared_engine == nullptr)
    fmt::print(s.err, "{} cases received{} to the end of {}: {} rows as they are, {} by month, {} with the shop suppressed, "
               "{} with the category and agency too, {} withheld (k = {})\n",
               x->cases, a.has("from") ? " from " + a.get("from") : "", pj::filing_month(*o.received_to - 1), x->at_level[0],
               x->at_level[1], x->at_level[2], x->at_level[3], x->at_level[4], o.k);
  return exit_ok;
}

}  // namespace

result<std::optional<case_state>> case_for_reading(session& s, const std::string& case_id) {
  auto store = open_for_query(s);
  if (!store) return store.error();
  auto row = pj::find_case(**store, case_id);
  if (!row) return row.error();
  if (!*row) return std::optional<case_state>();
  return std::optional<case_state>((*row)->state);
}

result<feed_page> agency_feed_page(session& s, const std::string& agency, log_position from, std::size_t limit) {
  auto log = s.open_log_for_reading();
  if (!log) return log.error();
  auto batch = (*log)->read_all(from, limit);
  if (!batch) return batch.error();
  feed_page page{{}, from, batch->size()};
  for (const auto& st : *batch) {
    page.next = log_position(st.position.value() + 1);
    auto r = decode(st.bytes);
    if (!r) return error(errc::corrupt, "log", fmt::format("position {}: {}", st.position.value(), r.error().message()));
    if (!may_be_told(*r, agency)) continue;  // most events: without reading the case
    auto told = agencies_told_of(**log, *r);
    if (!told) return told.error();
    if (std::find(told->begin(), told->end(), agency) == told->end()) continue;
    auto keys = s.keys();
    if (!keys) return keys.error();
    if (auto o = open_sealed(*r, **keys); !o) return o.error();
    // The dossier as of now, from the projections brought up to this event at least.
    std::string dossier_json = "null";
    if (auto st2 = s.refresh_projections(); st2 || st2.error().code() != errc::corrupt) {
      if (auto store = s.shared_projections ? result<std::unique_ptr<pj::projection_store>>(pj::borrow(*s.shared_projections))
                                            : pj::projection_store::open(s.projections_dir(), pj::store_mode::read_only)) {
        if (auto b = pj::dossier(**store, **log, agency, r->stream)) {
          auto person = open_case_personal(s, **log, b->row.state, b->history);
          if (!person) return person.error();
          dossier_json = bundle_json(*b, *person, s);
        }
      }
    }
    page.lines.push_back(json_object().field("position", st.position.value()).field("agency", agency)
                             .field("case", r->stream).field("type", fb::EnumNameEvent(r->payload.type))
                             .field("summary", describe(*r)).raw("event", envelope_to_json(st.bytes))
                             .raw("dossier", dossier_json).str());
  }
  return page;
}

namespace {

int subscribe_cmd(session& s, const parsed_args& a) {
  const std::string agency = a.get("agency");
  if (!reads_agency_files(s, agency))
    return s.fail(error(errc::unauthorized, "actor", fmt::format("only agency {} reads its feed (--as agency:{})", agency, agency)));
  if (s.kafka) return subscribe_kafka(s, a);  // the agency's own topic (cli/kafka_commands.cc)
  auto log = s.open_log_for_reading();
  if (!log) return s.fail(log.error());
  log_position from(0);
  if (a.has("from")) {
    const auto& f = a.get("from");
    if (f.empty() || f.find_first_not_of("0123456789") != std::string::npos || f.size() > 19)
      return s.fail(error(errc::invalid_argument, "from", "must be a log position (a whole number)"));
    from = log_position(std::stoull(f));
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  for (;;) {
    auto page = agency_feed_page(s, agency, from, 1024);
    if (!page) return s.fail(page.error());
    for (const auto& line : page->lines) fmt::print(s.out, "{}\n", line);
    if (!page->lines.empty()) s.out.flush();
    const bool full = page->read == 1024;
    from = page->next;
    if (full) continue;
    if (!a.has("follow") || interrupted) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return exit_ok;
}

}  // namespace

void add_query_commands(std::vector<command_spec>& t) {
  const std::string proj = "projections";
  t.push_back({"project", proj, "bring the projections up to the end of the log (or --follow it)",
               {{"follow", "", "keep running and apply new events as they come (Ctrl-C stops)"},
                {"interval-ms", "MS", "with --follow: how often to look for new events (default 200)"}},
               project, uses::log | uses::projector | uses::json});
  t.push_back({"rebuild", proj,
               "rebuild every projection (and check the engine's state rows) from the log, swap in, compare digests",
               {{"no-digest", "", "only rebuild: no digests, nothing compared (faster; the new projections are still the log's fold)"}},
               rebuild_cmd, uses::log | uses::projector | uses::json});
  const std::string q = "queries (table, --json or --csv)";
  t.push_back({"case", q, "one case as the projections hold it", {{"case", "CASE", "the case id", true}}, case_cmd,
               uses::query});
  t.push_back({"cases", q, "cases filtered by status, business, agency, category, filing date, overdue",
               {{"status", "STATUS", "current status"}, {"business", "SEAL", "the business"},
                {"agency", "AGENCY", "held by this agency"}, {"consumer", "U-ID", "filed by this consumer"},
                {"mediator", "M-ID", "assigned to this mediator now"}, {"category", "CATEGORY", "the category"},
                {"from", "DATE", "filed on or after"}, {"to", "DATE", "filed before"},
                {"overdue", "", "open cases with a deadline already passed"}, {"limit", "N", "at most N rows (default 1000)"}},
               cases_cmd, uses::query | uses::clock});
  t.push_back({"scorecard", q, "a business's scorecard (or every business's)", {{"business", "SEAL", "the business"}}, scorecard_cmd,
               uses::query});
  t.push_back({"top", q, "the top N businesses by complaints, unanswered, satisfaction or any counter",
               {{"by", "COUNTER", "complaints (default), unanswered, satisfaction, …"}, {"n", "N", "how many (default 10)"}}, top_cmd, uses::query});
  t.push_back({"queue", q, "an agency's queue: the cases it holds (--all: every case it ever held)",
               {{"agency", "AGENCY", "the agency", true}, {"all", "", "include cases transferred on or decided"}}, queue_cmd,
               uses::query});
  t.push_back({"dossier", q, "the full transferable case file an agency holds (personal data: agency, operators, auditors)",
               {{"agency", "AGENCY", "the agency", true}, {"case", "CASE", "the case", true},
                {"bundle", "FILE", "write the case's bundle: envelopes, documents, checkpoint and proofs (tar), checked first"}},
               dossier_cmd, uses::query});
  t.push_back({"stats", q, "case counts by month, category, status, outcome or month_category",
               {{"by", "DIMENSION", "month, category, status, outcome, month_category (default)"}}, stats_cmd,
               uses::query});
  t.push_back({"export-open-data", "open data",
               "every case received in whole months that have ended, a row each of open data: no personal data, small "
               "cells suppressed (sazesh export open-data)",
               {{"from", "DATE", "the first day of the first month (default: the first case's)"},
                {"to", "DATE", "the last day of the last month (default: the last month that has ended)"},
                {"format", "FORMAT", "csv (default) or json"},
                {"k", "K", "the smallest cell shown: each row shares what it shows of its dates, category, shop and agency "
                           "with at least K-1 others of its month (default 5; below 5 for analysts and staff)"}},
               open_data_cmd, uses::query | uses::clock});
  t.push_back({"subscribe", "agencies' feed", "an agency's referral events with the dossier, as JSON lines",
               {{"agency", "AGENCY", "the agency", true}, {"from", "POSITION", "without --kafka: start at this log position (default 0); on Kafka a "
                                                                        "feed resumes where its --group committed"},
                {"follow", "", "keep waiting for new events (Ctrl-C stops)"},
                {"group", "GROUP", "with --kafka: the consumer group (default PREFIXagency.AGENCY.feed)"},
                {"key", "VKEY", "with --kafka: the log's verifier key, NAME+ID+KEY, to check each dossier's checkpoint and "
                                "inclusion proof (default: the folder's own key)"},
                {"key-file", "FILE", "the same, from a file"}},
               subscribe_cmd, uses::read | uses::projector});
}

}  // namespace sazesh::cli
