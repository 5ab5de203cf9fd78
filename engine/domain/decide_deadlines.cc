// Deadlines: what each due deadline turns into, rung by rung.
#include "engine/domain/decide_support.h"

#include "engine/domain/evolve.h"

namespace sazesh::detail {

// ---- Deadlines -------------------------------------------------------------------------------

namespace {

// The events one due deadline turns into.
event_list on_due(const context& cx, const case_state& k, const deadline& d) {
  event_list out;
  switch (d.kind) {
    case deadline_kind::documents: {
      fb::CaseClosedT e;
      e.reason = fb::CloseReason_incomplete;
      out.push_back(make(std::move(e)));
      break;
    }
    case deadline_kind::response: {
      if (k.response_level < 2) {
        fb::ResponseDelayedT e;
        e.level = static_cast<std::uint8_t>(k.response_level + 1);
        e.next_due_ms = cx.rules.ladder_due(d.due, k.response_level == 0 ? cx.rules.response_second_ms
                                                                         : cx.rules.response_final_ms);
        out.push_back(make(std::move(e)));
      } else {
        fb::ResponseUnansweredT e;
        e.missed_due_ms = d.due;
        out.push_back(make(std::move(e)));
        out.push_back(make(mediation_requested(fb::MediationReason_unanswered,
                                               "the business did not answer in time")));
      }
      break;
    }
    case deadline_kind::remedy: {
      const std::string note = "the remedy was not delivered by its deadline";
      fb::RemedyNotFulfilledT e;
      e.note = note;
      out.push_back(make(std::move(e)));
      out.push_back(make(mediation_requested(fb::MediationReason_remedy_not_fulfilled, note)));
      break;
    }
    case deadline_kind::remedy_confirmation:
      for (auto& ev : resolved_and_closed(cx, fb::Resolution_remedy_confirmed_by_deadline,
                                          "the consumer did not object to the delivered remedy", d.due))
        out.push_back(std::move(ev));
      break;
    case deadline_kind::mediation: {
      fb::MediationConcludedT e;
      e.outcome = fb::MediationOutcome_failed;
      e.text = "the mediation deadline passed without a settlement";
      e.by_deadline = true;
      out.push_back(make(std::move(e)));
      break;
    }
    case deadline_kind::referral_acknowledgement:
    case deadline_kind::referral_decision: {
      fb::ReferralOverdueT e;
      e.agency_id = k.agency_id;
      e.deadline = d.kind == deadline_kind::referral_acknowledgement
                       ? fb::ReferralDeadline_acknowledgement
                       : fb::ReferralDeadline_decision;
      e.due_ms = d.due;
      out.push_back(make(std::move(e)));
      break;
    }
  }
  return out;
}

}  // namespace

result<decision> handle(const context& cx, const apply_deadlines& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_system, fb::Role_operator_}));
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  case_state k = **found;  // a working copy: later rungs depend on earlier ones
  event_list out;
  // Each pass turns the earliest due deadline into events and folds them in, so a scheduler
  // that was away for a week still walks the ladder rung by rung, in order.
  for (;;) {
    const deadline* next = nullptr;
    for (const auto& d : k.deadlines)
      if (d.due <= cx.now && (next == nullptr || d.due < next->due)) next = &d;
    if (next == nullptr) break;
    for (auto& ev : on_due(cx, k, *next)) {
      evolve_case(k, ev, cx.now);
      out.push_back(std::move(ev));
    }
  }
  return on_case(**found, std::move(out));
}

}  // namespace sazesh::detail
