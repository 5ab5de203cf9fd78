// The subcommands that read (timelines, raw events, integrity checks) and the scheduler's tick.
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <map>

#include "cli/app.h"
#include "engine/log/document_store.h"
#include "cli/json.h"
#include "engine/record/codec.h"
#include "engine/domain/decide.h"
#include "engine/domain/describe.h"
#include "engine/domain/evolve.h"
#include "engine/record/hash.h"
#include "engine/record/sealing.h"
#include "schemas/schema_json.h"

namespace sazesh::cli {
namespace {

std::string actor_text(const actor& a) { return fmt::format("{}:{}", role_name(a.role), a.id); }

// The order reference is personal data: it comes from the case's filing, opened (the state keeps
// only its digest).
void print_case_header(session& s, const case_state& c, const std::vector<event_record>& events) {
  std::string order;
  for (const auto& e : events)
    if (const auto* f = e.payload.AsCaseFiled()) order = f->order_reference;
  fmt::print(s.out, "case {}  [{}]\n", c.id, to_string(c.status));
  fmt::print(s.out, "  consumer {}  business {}  order {}\n", c.consumer_id, c.business_id, order);
  fmt::print(s.out, "  category {}  amount {} rials  asks for {}\n", fb::EnumNameCategory(c.category),
             c.amount_rials, fb::EnumNameRemedyKind(c.requested_remedy));
  fmt::print(s.out, "  filed {}\n", both_calendars(c.filed_at, s.jalali_digits));
  if (!c.mediator_id.empty()) fmt::print(s.out, "  mediator {}\n", c.mediator_id);
  if (!c.agencies.empty()) {
    std::string chain;
    for (const auto& a : c.agencies) chain += (chain.empty() ? "" : " -> ") + a;
    fmt::print(s.out, "  agencies {}{}\n", chain, c.referral_acknowledged ? " (acknowledged)" : "");
  }
  if (!c.missing_documents.empty()) {
    std::string m;
    for (auto k : c.missing_documents) m += (m.empty() ? "" : ", ") + std::string(fb::EnumNameDocumentKind(k));
    fmt::print(s.out, "  missing documents: {}\n", m);
  }
  for (const auto& d : c.deadlines)
    fmt::print(s.out, "  deadline {}: {}\n", to_string(d.kind), both_calendars(d.due, s.jalali_digits));
  if (c.rating) fmt::print(s.out, "  rated {}/5\n", c.rating);
}

int show(session& s, const parsed_args& a) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  const std::string stream = a.has("case") ? a.get("case") : a.get("party");
  if (stream.empty()) return s.fail(error(errc::invalid_argument, "--case", "is required (or --party)"));
  auto events = (*eng)->history(stream);
  if (!events) return s.fail(events.error());
  if (events->empty())
    return s.fail(error(errc::not_found, a.has("case") ? "case_id" : "party", fmt::format("no case or party {}", stream)));
  std::optional<case_state> c;
  if (a.has("as-of")) {
    // The case as it stood then: its events up to that moment, folded afresh.
    auto when = parse_as_of(a.get("as-of"));
    if (!when) return s.fail(when.error());
    // Up to the first event after that moment: a history is a prefix, whatever its times say.
    const auto after = std::find_if(events->begin(), events->end(), [&](const event_record& e) { return e.time > *when; });
    events->erase(after, events->end());
    if (events->empty())
      return s.fail(error(errc::not_found, "as_of", fmt::format("{} had no events yet on {}", stream, a.get("as-of"))));
    world w;
    for (const auto& e : *events) evolve(w, e);
    if (const case_state* then = w.find_case(stream)) c = *then;
  } else {
    auto found = (*eng)->find_case(stream);
    if (!found) return s.fail(found.error());
    c = *found;
  }
  if (s.json) {
    json_array timeline;
    for (const auto& e : *events) {
      timeline.raw(json_object()
                       .field("sequence", e.sequence.value())
                       .field("time", format_iso_utc(e.time))
                       .field("time_tehran", format_gregorian(e.time))
                       .field("time_jalali", format_jalali(e.time, s.jalali_digits))
                       .field("actor", actor_text(e.by))
                       .field("type", fb::EnumNameEvent(e.payload.type))
                       .field("summary", describe(e))
                       .str());
    }
    json_object o;
    o.field("stream", stream);
    if (c) {
      o.field("status", to_string(c->status)).field("category", fb::EnumNameCategory(c->category));
      json_array deadlines;
      for (const auto& d : c->deadlines)
        deadlines.raw(json_object()
                          .field("kind", to_string(d.kind))
                          .field("who", who_acts(d.kind))
                          .field("due", format_iso_utc(d.due))
                          .field("due_jalali", format_jalali(d.due, s.jalali_digits))
                          .str());
      o.raw("deadlines", deadlines.str());
    }
    if (a.has("as-of")) o.field("as_of", a.get("as-of"));
    o.field("chain_verified", true).raw("timeline", timeline.str());
    fmt::print(s.out, "{}\n", o.str());
    return exit_ok;
  }
  if (a.has("as-of")) fmt::print(s.out, "as it stood on {} (the events up to then, folded afresh)\n", a.get("as-of"));
  if (c) print_case_header(s, *c, *events);
  else fmt::print(s.out, "{}\n", stream);
  fmt::print(s.out, "\n  {:<4} {:<16} {:<16} {:<22} {}\n", "#", "Tehran", "Jalali", "by", "what");
  for (const auto& e : *events)
    fmt::print(s.out, "  {:<4} {:<16} {:<16} {:<22} {}\n", e.sequence.value(), format_gregorian(e.time),
               format_jalali(e.time, s.jalali_digits), actor_text(e.by), describe(e));
  fmt::print(s.out, "\n  {} events; hash chain verified from the first event\n", events->size());
  return exit_ok;
}

}  // namespace

std::string record_json(std::string_view bytes, const event_record& r) {
  std::string j = envelope_to_json(bytes);
  if (!r.sealed || j.empty() || j.back() != '}') return j;
  json_object personal;
  for (const auto& f : personal_fields(const_cast<fb::EventUnion&>(r.payload)))  // read only
    personal.field(f.name, *f.value);
  const char* state = r.personal == personal_state::opened ? "opened" : r.personal == personal_state::erased ? "erased" : "sealed";
  j.pop_back();
  j += fmt::format(",\"personal\":{},\"personal_state\":\"{}\"}}", personal.str(), state);
  return j;
}

result<std::string> record_json(session& s, std::string_view bytes) {
  auto r = decode(bytes);
  if (!r) return r.error();
  if (r->sealed) {
    auto keys = s.keys();
    if (!keys) return keys.error();
    if (auto o = open_sealed(*r, **keys); !o) return o.error();
  }
  return record_json(bytes, *r);
}

namespace {

int events_raw(session& s, const parsed_args& a) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  if (a.has("all")) {
    log_position from(0);
    if (a.has("from")) {
      try {
        from = log_position(std::stoull(a.get("from")));
      } catch (...) {
        return s.fail(error(errc::invalid_argument, "from", "must be a log position (a whole number)"));
      }
    }
    for (;;) {
      auto batch = s.log()->read_all(from, 1024);
      if (!batch) return s.fail(batch.error());
      for (const auto& e : *batch) {
        auto record = record_json(s, e.bytes);
        if (!record)
          return s.fail(error(errc::corrupt, "log", fmt::format("position {}: {}", e.position.value(), record.error().message())));
        if (a.has("bytes"))
          fmt::print(s.out, "{{\"position\":{},\"envelope\":\"{}\",\"record\":{}}}\n", e.position.value(), base64(e.bytes),
                     *record);
        else
          fmt::print(s.out, "{{\"position\":{},\"record\":{}}}\n", e.position.value(), *record);
      }
      if (batch->size() < 1024) break;
      from = log_position(batch->back().position.value() + 1);
    }
    return exit_ok;
  }
  const std::string stream = a.has("case") ? a.get("case") : a.get("party");
  if (stream.empty()) return s.fail(error(errc::invalid_argument, "--case", "is required (or --party, or --all)"));
  auto stored = s.log()->read_stream(stream, stream_version(1));
  if (!stored) return s.fail(stored.error());
  if (stored->empty()) return s.fail(error(errc::not_found, "case_id", fmt::format("no case or party {}", stream)));
  for (const auto& e : *stored) {
    auto record = record_json(s, e.bytes);
    if (!record)
      return s.fail(error(errc::corrupt, "log", fmt::format("position {}: {}", e.position.value(), record.error().message())));
    if (a.has("bytes"))  // the stored bytes too, for a reader checking the hash chain itself
      fmt::print(s.out, "{{\"sequence\":{},\"envelope\":\"{}\",\"record\":{}}}\n", e.sequence.value(), base64(e.bytes),
                 *record);
    else
      fmt::print(s.out, "{}\n", *record);
  }
  return exit_ok;
}

int tick(session& s, const parsed_args&) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  auto report = (*eng)->tick();
  if (!report) return s.fail(report.error());
  // Plaintext documents a command left beside their sealed copies (it stopped before removing them).
  if (auto swept = document_store(s.data_dir / "documents").sweep(plaintext_grace); !swept)
    fmt::print(s.err, "warning: {}\n", swept.error().message());
  if (s.json) {
    json_array applied;
    for (const auto& o : report->applied) {
      json_array evs;
      for (const auto& e : o.events) evs.string(describe(e));
      applied.raw(json_object().field("case", o.stream).raw("events", evs.str()).str());
    }
    fmt::print(s.out, "{}\n", json_object().field("cases_due", static_cast<std::uint64_t>(report->cases_due)).raw("applied", applied.str()).str());
    return exit_ok;
  }
  fmt::print(s.out, "tick at {}: {} case(s) had deadlines due\n",
             both_calendars((*eng)->time_source().now(), s.jalali_digits), report->cases_due);
  for (const auto& o : report->applied) print_outcome(s, "apply_deadlines", o);
  return exit_ok;
}

}  // namespace

void add_read_commands(std::vector<command_spec>& t) {
  const std::string group = "reading, auditing and the scheduler";
  t.push_back({"tick", group, "turn every deadline that is due into its event, exactly once", {}, tick,
               uses::log | uses::clock | uses::rules | uses::digits | uses::json});
  t.push_back({"show", group, "a case (or party) with its full timeline, in both calendars",
               {{"case", "CASE", "the case id"}, {"party", "ID", "a party id instead"},
                {"as-of", "DATE", "the case as it stood then (a date: its end in Tehran; or a time), from the log"}},
               show,
               uses::read | uses::digits});
  t.push_back({"events", group, "a case's events as raw JSON lines (or the whole log with --all)",
               {{"case", "CASE", "the case id"}, {"party", "ID", "a party id instead"},
                {"all", "", "every event of the log, with its position"},
                {"from", "POSITION", "with --all: start at this log position"},
                {"bytes", "", "with each record, its stored envelope bytes (base64), to check the hash chain"}},
               events_raw, uses::read});
}

}  // namespace sazesh::cli
