// The given / when / then fixture of the pure domain core's tests (decide_test.cc,
// decide_deadlines_test.cc).
//
// A `scenario` starts from an empty world and applies commands the way the engine does:
// decide(), then each event wrapped in an envelope (stream, sequence = head + 1, actor, time,
// chained previous hash), encoded with the real codec, decoded back (which gives the real hash)
// and folded in with evolve(). A test then decides one more command ("when") and checks the
// events it produces or the error that refuses it ("then").
//
// Every day is a working day in these scenarios, so deadlines are plain sums of the documented
// defaults of engine/domain/rules.h; weekends and holidays are working_calendar_test's subject.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/record/codec.h"
#include "engine/domain/decide.h"
#include "engine/domain/evolve.h"
#include "engine/record/hash.h"

namespace sazesh::testing {


// ---- Fixture --------------------------------------------------------------------------------

// 2026-03-01T08:00:00Z, 11:30 in Tehran, the same calendar day there.
const timestamp_ms t0 = days_from_civil({2026, 3, 1}) * day_ms + 8 * hour_ms;
const auto today = static_cast<std::int32_t>(days_from_civil({2026, 3, 1}));
const std::int32_t purchased = today - 9;

const actor op{fb::Role_operator_, "op-sara"};
const actor scheduler{fb::Role_system, "scheduler"};
const actor shop{fb::Role_business, "seal-100"};         // shop.example.ir
const actor other_shop{fb::Role_business, "seal-200"};   // other.example.ir
const actor protection{fb::Role_agency, "consumer-protection"};  // every category but fraud, privacy
const actor police{fb::Role_agency, "cyber-police"};             // fraud, privacy, other
const actor guild{fb::Role_agency, "guild-chamber"};             // defective, warranty
const actor auditor{fb::Role_auditor, "audit-1"};
const actor analyst{fb::Role_analyst, "stats-1"};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

document_input doc(fb::DocumentKind kind, const std::string& name) {
  return {kind, sha256(name), name, 2048};
}

// "CaseAccepted ForwardedToBusiness", or "refused: field: rule".
std::string names(const std::vector<fb::EventUnion>& events) {
  std::string out;
  for (const auto& e : events) {
    if (!out.empty()) out += ' ';
    out += fb::EnumNameEvent(e.type);
  }
  return out;
}
std::string names(const result<decision>& d) {
  return d ? names(d->events) : "refused: " + d.error().message();
}

// Then: the command is refused with this errc, naming this field, with a rule saying `phrase`.
#define CHECK_REFUSED(expr, want_code, want_field, phrase)                                       \
  do {                                                                                           \
    const auto& refused_ = (expr);                                                               \
    REQUIRE_MESSAGE(!refused_.has_value(), "expected a refusal, got: " << names(refused_));      \
    CHECK(std::string(to_string(refused_.error().code())) == to_string(want_code));              \
    CHECK(refused_.error().field() == (want_field));                                             \
    CHECK_MESSAGE(contains(refused_.error().rule(), phrase),                                     \
                  "rule: " << refused_.error().rule());                                          \
  } while (false)

struct step {
  step(actor w, command c, timestamp_ms t = t0) : who(std::move(w)), cmd(std::move(c)), at(t) {}
  actor who;
  command cmd;
  timestamp_ms at;
};

// accept_case with everything but the case id optional (triage's usual call).
accept_case accept(std::string c, std::optional<fb::Category> category = std::nullopt,
                   fb::Route route = fb::Route_negotiation, std::string agency = "",
                   std::string note = "") {
  return accept_case{std::move(c), category, route, std::move(agency), std::move(note)};
}

// Every day a working day (see the top of the file).
inline case_rules plain_days() {
  case_rules r;
  r.calendar.set_weekend({});
  return r;
}

struct scenario {
  world w;
  case_rules rules = plain_days();
  timestamp_ms now = t0;
  std::vector<event_record> log;  // every committed record, in order
  actor alice, bob, mediator, mediator2;
  int commands = 0;
  std::string command_id;

  // When: decide one command at `now`, changing nothing.
  result<decision> when(const actor& who, const command& cmd) {
    command_id = "cmd-" + std::to_string(++commands);
    return decide(w, who, cmd, now, rules, command_id);
  }

  // Writes a decision as the engine does and folds it into the world.
  void commit(const actor& who, const decision& d) {
    const stream_head head = w.head_of(d.stream);
    REQUIRE(head.version == d.expected);
    std::string previous = head.last_hash;
    for (std::uint32_t i = 0; i < d.events.size(); ++i) {
      const envelope_fields f{d.stream, stream_version(d.expected.value() + i + 1), who, now,
                              command_id, i, previous};
      auto rec = decode(encode(f, d.events[i]));
      REQUIRE(rec.has_value());
      previous = rec->hash;
      evolve(w, *rec);
      log.push_back(std::move(*rec));
    }
  }

  // Given: a command that must succeed, decided and committed.
  decision apply(const actor& who, const command& cmd) {
    auto d = when(who, cmd);
    REQUIRE_MESSAGE(d.has_value(), command_name(cmd) << " was refused: " << names(d));
    commit(who, *d);
    return std::move(*d);
  }

  const case_state& kase(const std::string& id) const {
    const case_state* c = w.find_case(id);
    REQUIRE(c != nullptr);
    return *c;
  }
  case_status status(const std::string& id) const { return kase(id).status; }
  std::string status_name(const std::string& id) const { return to_string(status(id)); }

  // ---- Cases in each state: alice against seal-100, order `order`, category other ----
  file_case filing(std::string order = "INV-1001", fb::Category category = fb::Category_other,
                   std::vector<document_input> docs = {}) const {
    file_case f;
    f.business = "seal-100";
    f.order_reference = std::move(order);
    f.purchase_date_days = purchased;
    f.amount_rials = 12'500'000;
    f.category = category;
    f.description = "کالا ارسال نشد: the parcel never arrived";
    f.requested_remedy = fb::RemedyKind_refund;
    f.documents = std::move(docs);
    return f;
  }
  std::string filed(const std::string& order = "INV-1001") {
    return apply(alice, filing(order)).stream;
  }
  std::string with_business(const std::string& order = "INV-1001") {
    auto c = filed(order);
    apply(op, accept(c));
    return c;
  }
  std::string negotiating(const std::string& order = "INV-1001") {
    auto c = with_business(order);
    apply(shop, respond{c, "we are looking into it"});
    return c;
  }
  std::string remedy_due(const std::string& order = "INV-1001") {
    auto c = negotiating(order);
    apply(shop, make_offer{c, fb::RemedyKind_refund, 12'500'000, "full refund", 5});
    apply(alice, accept_offer{c, 1});
    return c;
  }
  std::string remedy_confirmation(const std::string& order = "INV-1001") {
    auto c = remedy_due(order);
    apply(shop, mark_remedy_fulfilled{c, "refunded to the card"});
    return c;
  }
  std::string closed_resolved(const std::string& order = "INV-1001") {
    auto c = remedy_confirmation(order);
    apply(alice, confirm_remedy{c, "received"});
    return c;
  }
  std::string awaiting_mediator(const std::string& order = "INV-1001") {
    auto c = negotiating(order);
    apply(alice, request_mediation{c, "we cannot agree"});
    return c;
  }
  std::string in_mediation(const std::string& order = "INV-1001") {
    auto c = awaiting_mediator(order);
    apply(op, assign_mediator{c, mediator.id});
    return c;
  }
  std::string mediation_failed(const std::string& order = "INV-1001") {
    auto c = in_mediation(order);
    apply(mediator, conclude_mediation{c, fb::MediationOutcome_failed, "no agreement"});
    return c;
  }
  std::string referred(const std::string& order = "INV-1001") {
    auto c = mediation_failed(order);
    apply(op, refer_case{c, protection.id, "dossier attached"});
    return c;
  }
  std::string acknowledged(const std::string& order = "INV-1001") {
    auto c = referred(order);
    apply(protection, acknowledge_referral{c});
    return c;
  }
  std::string agency_decided(const std::string& order = "INV-1001") {
    auto c = acknowledged(order);
    apply(protection, decide_referral{c, fb::AgencyVerdict_upheld, "the shop must refund"});
    return c;
  }
};

// Given: an empty world and these commands, each at its own time.
scenario given(const std::vector<step>& steps) {
  scenario s;
  for (const auto& st : steps) {
    s.now = st.at;
    s.apply(st.who, st.cmd);
  }
  s.now = t0;
  return s;
}

// Given: two consumers, two businesses, three agencies and two mediators.
scenario parties() {
  scenario s = given({
      {op, register_business{"seal-100", "shop.example.ir", "Shop", 3}},
      {op, register_business{"seal-200", "other.example.ir", "Other Shop", 1}},
      {op, register_agency{"consumer-protection", "Consumer Protection",
                           {fb::Category_non_delivery, fb::Category_defective,
                            fb::Category_not_as_described, fb::Category_refund_refused,
                            fb::Category_warranty, fb::Category_pricing, fb::Category_service,
                            fb::Category_other}}},
      {op, register_agency{"cyber-police", "FATA", {fb::Category_fraud, fb::Category_privacy,
                                                    fb::Category_other}}},
      {op, register_agency{"guild-chamber", "Guild Chamber",
                           {fb::Category_defective, fb::Category_warranty}}},
  });
  const actor self{fb::Role_consumer, ""};
  const auto consumer = [&](const char* code, const char* mobile, const char* name) {
    return actor{fb::Role_consumer, s.apply(self, register_consumer{code, mobile, name}).stream};
  };
  s.alice = consumer("0012345679", "09121234567", "Alice");
  s.bob = consumer("0123456789", "09351234567", "Bob");
  s.mediator = {fb::Role_mediator, s.apply(op, register_mediator{"Maryam", "09120000001"}).stream};
  s.mediator2 = {fb::Role_mediator, s.apply(op, register_mediator{"Reza", "09120000002"}).stream};
  return s;
}


}  // namespace sazesh::testing
