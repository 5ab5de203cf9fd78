// Negotiation with the business, remedies and mediation.
#include "engine/domain/decide_support.h"

#include <algorithm>

#include "engine/domain/validation.h"

namespace sazesh::detail {

// ---- Negotiation -----------------------------------------------------------------------------

result<decision> handle(const context& cx, const respond& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_business}, {case_status::with_business});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  fb::BusinessRespondedT e;
  e.text = c.text;
  // Timeliness follows the clock, not the scheduler: rungs whose time has passed count even if
  // no tick has written them yet.
  int level = k.response_level;
  if (const auto due = k.deadline_of(deadline_kind::response)) {
    timestamp_ms next = due->due;
    while (level < 2 && cx.now >= next) {
      ++level;
      next = cx.rules.ladder_due(next, level == 1 ? cx.rules.response_second_ms : cx.rules.response_final_ms);
    }
  }
  e.timely = level == 0;
  e.delay_level = static_cast<std::uint8_t>(level);
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const post_message& c) {
  auto found = load_open_case(cx, c.case_id, {fb::Role_consumer, fb::Role_business,
                               fb::Role_mediator, fb::Role_agency, fb::Role_operator_});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  fb::MessagePostedT e;
  e.text = c.text;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const make_offer& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_business, fb::Role_consumer},
                         {case_status::negotiation});
  if (!found) return found.error();
  const case_state& k = **found;
  if (c.remedy < fb::RemedyKind_MIN || c.remedy > fb::RemedyKind_MAX)
    return refuse(errc::invalid_argument, "remedy", "is not a known remedy");
  if (c.remedy_days < 1 || c.remedy_days > cx.rules.max_remedy_days)
    return refuse(errc::invalid_argument, "remedy_days",
                  fmt::format("must be from 1 to {} days", cx.rules.max_remedy_days));
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  fb::OfferMadeT e;
  e.offer_number = static_cast<std::uint32_t>(k.offers.size() + 1);
  e.remedy = c.remedy;
  e.amount_rials = c.amount_rials;
  e.text = c.text;
  e.remedy_days = c.remedy_days;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

// The open offer a party may answer: it exists, is still open, and the other side made it.
result<const offer*> answerable_offer(const context& cx, const case_state& k, std::uint32_t number) {
  if (number == 0 || number > k.offers.size())
    return refuse(errc::not_found, "offer", fmt::format("case {} has no offer {}", k.id, number));
  const offer& o = k.offers[number - 1];
  if (o.status != offer_status::open)
    return refuse(errc::wrong_state, "offer", fmt::format("offer {} is no longer open", number));
  if (o.by == cx.who.role)
    return refuse(errc::unauthorized, "offer",
                  fmt::format("offer {} was made by the {}; only the other party answers it",
                              number, role_name(o.by)));
  return &o;
}

result<decision> handle(const context& cx, const accept_offer& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_consumer, fb::Role_business},
                         {case_status::negotiation});
  if (!found) return found.error();
  const case_state& k = **found;
  auto o = answerable_offer(cx, k, c.offer_number);
  if (!o) return o.error();
  fb::OfferAcceptedT e;
  e.offer_number = c.offer_number;
  e.remedy_due_ms = cx.now + static_cast<std::int64_t>((*o)->remedy_days) * day_ms;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const reject_offer& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_consumer, fb::Role_business},
                         {case_status::negotiation});
  if (!found) return found.error();
  const case_state& k = **found;
  auto o = answerable_offer(cx, k, c.offer_number);
  if (!o) return o.error();
  SAZESH_CHECK(check_text("text", c.text, 0, max_text));
  fb::OfferRejectedT e;
  e.offer_number = c.offer_number;
  e.text = c.text;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const mark_remedy_fulfilled& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_business}, {case_status::remedy_due});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_text("note", c.note, 0, max_text));
  fb::RemedyFulfilledT e;
  e.note = c.note;
  e.confirm_due_ms = cx.now + cx.rules.remedy_confirmation_ms;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const confirm_remedy& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_consumer},
                         {case_status::remedy_due, case_status::remedy_confirmation});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_text("note", c.note, 0, max_text));
  return on_case(k, resolved_and_closed(cx, fb::Resolution_negotiation, c.note));
}

result<decision> handle(const context& cx, const report_remedy_not_fulfilled& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_consumer},
                         {case_status::remedy_due, case_status::remedy_confirmation});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_text("note", c.note, 1, max_text));
  fb::RemedyNotFulfilledT e;
  e.note = c.note;
  event_list out;
  out.push_back(make(std::move(e)));
  out.push_back(make(mediation_requested(fb::MediationReason_remedy_not_fulfilled, c.note)));
  return on_case(k, std::move(out));
}

// ---- Mediation -------------------------------------------------------------------------------

result<decision> handle(const context& cx, const request_mediation& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_consumer}, {case_status::negotiation});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  const bool after_rejection = std::any_of(k.offers.begin(), k.offers.end(), [](const offer& o) {
    return o.status == offer_status::rejected;
  });
  event_list out;
  out.push_back(make(mediation_requested(
      after_rejection ? fb::MediationReason_offer_rejected : fb::MediationReason_consumer_request,
      c.text)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const assign_mediator& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_operator_},
                         {case_status::awaiting_mediator, case_status::in_mediation});
  if (!found) return found.error();
  const case_state& k = **found;
  if (c.mediator_id.empty()) return refuse(errc::invalid_argument, "mediator", "is required");
  const mediator_state* m = cx.w.find_mediator(c.mediator_id);
  if (m == nullptr) return refuse(errc::not_found, "mediator", fmt::format("no registered mediator {}", c.mediator_id));
  if (m->forgotten)
    return refuse(errc::wrong_state, "mediator", fmt::format("mediator {}'s personal data was erased: they mediate no more", c.mediator_id));
  if (c.mediator_id == k.mediator_id)
    return refuse(errc::invalid_argument, "mediator",
                  fmt::format("{} is already the mediator of case {}", c.mediator_id, k.id));
  fb::MediatorAssignedT e;
  e.mediator_id = c.mediator_id;
  e.due_ms = cx.now + cx.rules.mediation_ms;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const propose_settlement& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_mediator}, {case_status::in_mediation});
  if (!found) return found.error();
  const case_state& k = **found;
  if (c.remedy < fb::RemedyKind_MIN || c.remedy > fb::RemedyKind_MAX)
    return refuse(errc::invalid_argument, "remedy", "is not a known remedy");
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  fb::SettlementProposedT e;
  e.text = c.text;
  e.remedy = c.remedy;
  e.amount_rials = c.amount_rials;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const conclude_mediation& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_mediator, fb::Role_operator_},
                         {case_status::in_mediation});
  if (!found) return found.error();
  const case_state& k = **found;
  if (c.outcome < fb::MediationOutcome_MIN || c.outcome > fb::MediationOutcome_MAX)
    return refuse(errc::invalid_argument, "outcome", "must be settled or failed");
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  fb::MediationConcludedT e;
  e.outcome = c.outcome;
  e.text = c.text;
  event_list out;
  out.push_back(make(std::move(e)));
  if (c.outcome == fb::MediationOutcome_settled) {
    for (auto& ev : resolved_and_closed(cx, fb::Resolution_mediation, c.text)) out.push_back(std::move(ev));
  }
  return on_case(k, std::move(out));
}

}  // namespace sazesh::detail
