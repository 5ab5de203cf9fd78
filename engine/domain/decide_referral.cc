// Referral to agencies, and what happens at and after the end of a case.
#include "engine/domain/decide_support.h"

#include <algorithm>

#include "engine/domain/validation.h"

namespace sazesh::detail {

// ---- Referral --------------------------------------------------------------------------------

result<decision> handle(const context& cx, const refer_case& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_operator_},
                         {case_status::mediation_failed, case_status::awaiting_mediator});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_agency_for(cx, k, c.agency_id, "agency"));
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  event_list out;
  out.push_back(make(referral(cx, c.agency_id, c.text)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const acknowledge_referral& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_agency}, {case_status::referred});
  if (!found) return found.error();
  const case_state& k = **found;
  if (k.referral_acknowledged)
    return refuse(errc::wrong_state, "status",
                  fmt::format("agency {} has already acknowledged case {}", k.agency_id, k.id));
  fb::ReferralAcknowledgedT e;
  e.agency_id = k.agency_id;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const extend_referral& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_agency}, {case_status::referred});
  if (!found) return found.error();
  const case_state& k = **found;
  if (!k.referral_acknowledged)
    return refuse(errc::wrong_state, "status",
                  fmt::format("case {} must be acknowledged before its deadline is extended", k.id));
  if (k.referral_extended)
    return refuse(errc::wrong_state, "status",
                  fmt::format("the decision deadline of case {} was already extended once", k.id));
  const auto current = k.deadline_of(deadline_kind::referral_decision);
  fb::ReferralExtendedT e;
  e.agency_id = k.agency_id;
  e.decision_due_ms = std::max(current ? current->due : cx.now, cx.now) + cx.rules.referral_extension_ms;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const transfer_referral& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_agency, fb::Role_operator_},
                         {case_status::referred});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_agency_for(cx, k, c.to_agency_id, "to_agency"));
  if (c.to_agency_id == k.agency_id)
    return refuse(errc::invalid_argument, "to_agency",
                  fmt::format("case {} is already held by {}", k.id, k.agency_id));
  SAZESH_CHECK(check_text("reason", c.reason, 1, max_reason));
  fb::ReferralTransferredT e;
  e.from_agency_id = k.agency_id;
  e.to_agency_id = c.to_agency_id;
  e.reason = c.reason;
  e.acknowledge_due_ms = cx.rules.acknowledge_due(cx.now);
  e.decision_due_ms = cx.now + cx.rules.referral_decision_ms;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const decide_referral& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_agency}, {case_status::referred});
  if (!found) return found.error();
  const case_state& k = **found;
  if (!k.referral_acknowledged)
    return refuse(errc::wrong_state, "status",
                  fmt::format("case {} must be acknowledged before it is decided", k.id));
  if (c.verdict < fb::AgencyVerdict_MIN || c.verdict > fb::AgencyVerdict_MAX)
    return refuse(errc::invalid_argument, "verdict", "is not a known verdict");
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  fb::AgencyDecidedT d;
  d.agency_id = k.agency_id;
  d.verdict = c.verdict;
  d.text = c.text;
  fb::CaseClosedT closed;
  closed.reason = fb::CloseReason_agency_decided;
  closed.reopen_until_ms = 0;
  event_list out;
  out.push_back(make(std::move(d)));
  out.push_back(make(std::move(closed)));
  return on_case(k, std::move(out));
}

// ---- Ending and after ------------------------------------------------------------------------

result<decision> handle(const context& cx, const withdraw_case& c) {
  auto found = load_open_case(cx, c.case_id, {fb::Role_consumer});
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(check_text("reason", c.reason, 0, max_reason));
  fb::CaseWithdrawnT e;
  e.reason = c.reason;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const rate_case& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_consumer}, {case_status::closed});
  if (!found) return found.error();
  const case_state& k = **found;
  if (k.rating != 0)
    return refuse(errc::wrong_state, "stars", fmt::format("case {} is already rated", k.id));
  if (c.stars < 1 || c.stars > 5) return refuse(errc::invalid_argument, "stars", "must be from 1 to 5");
  SAZESH_CHECK(check_text("comment", c.comment, 0, max_text));
  fb::CaseRatedT e;
  e.stars = static_cast<std::uint8_t>(c.stars);
  e.resolved = c.resolved;
  e.comment = c.comment;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const reopen_case& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_consumer}, {case_status::closed});
  if (!found) return found.error();
  const case_state& k = **found;
  if (k.close_reason != fb::CloseReason_resolved)
    return refuse(errc::wrong_state, "status",
                  fmt::format("case {} was closed as {}; only a settled case can be reopened", k.id,
                              fb::EnumNameCloseReason(k.close_reason.value_or(fb::CloseReason_incomplete))));
  if (cx.now > k.reopen_until)
    return refuse(errc::deadline_passed, "reopen",
                  fmt::format("case {} could be reopened until {}", k.id, format_iso_utc(k.reopen_until)));
  SAZESH_CHECK(check_text("reason", c.reason, 1, max_reason));
  if (auto open = cx.w.open_case_for({k.consumer_id, k.business_id, k.order_digest}))
    return refuse(errc::duplicate, "order_reference", fmt::format("case {} is already open for this order", *open));
  fb::CaseReopenedT e;
  e.reason = c.reason;
  event_list out;
  out.push_back(make(std::move(e)));
  out.push_back(make(mediation_requested(fb::MediationReason_reopened, c.reason)));
  return on_case(k, std::move(out));
}

}  // namespace sazesh::detail
