// Given / when / then tests of the pure domain core, part two: the time-bound stages of a case
// (mediation, referral to an agency, the reopen window), the deadlines the scheduler applies
// (apply_deadlines as the system actor), configurable case_rules, and determinism.
//
// The fixture is decide_fixture.h. Expected times are written from the documented defaults of
// engine/domain/rules.h
// (72h + 48h + 24h ladder, 7 days for documents and for the consumer's objection, 21 days of
// mediation, referral acknowledgement 7 days, decision 30 + 30, reopen window 10 days).
#include <doctest/doctest.h>

#include "tests/decide_fixture.h"

using namespace sazesh;
using namespace sazesh::testing;

namespace {

// When: the scheduler applies the deadlines of case `c` at `at`.
result<decision> tick(scenario& s, const std::string& c, timestamp_ms at) {
  s.now = at;
  return s.when(scheduler, apply_deadlines{c});
}

}  // namespace

// ---- Mediation -------------------------------------------------------------------------------

TEST_SUITE("mediation") {

TEST_CASE("assigning needs a registered mediator; the mediation is due in 21 days") {
  scenario s = parties();
  const auto c = s.awaiting_mediator();
  CHECK_REFUSED(s.when(op, assign_mediator{c, ""}), errc::invalid_argument, "mediator", "required");
  CHECK_REFUSED(s.when(op, assign_mediator{c, "M-nobody"}), errc::not_found, "mediator", "M-nobody");
  CHECK_REFUSED(s.when(op, assign_mediator{c, "U-x"}), errc::not_found, "mediator",
                "no registered mediator");
  auto d = s.when(op, assign_mediator{c, s.mediator.id});
  REQUIRE(names(d) == "MediatorAssigned");
  CHECK(d->events[0].AsMediatorAssigned()->mediator_id == s.mediator.id);
  CHECK(d->events[0].AsMediatorAssigned()->due_ms == t0 + 21 * day_ms);
  s.commit(op, *d);
  CHECK(s.status(c) == case_status::in_mediation);
  CHECK(s.kase(c).mediator_id == s.mediator.id);
}

TEST_CASE("a mediator may be replaced, not re-assigned to itself") {
  scenario s = parties();
  const auto c = s.in_mediation();
  CHECK_REFUSED(s.when(op, assign_mediator{c, s.mediator.id}), errc::invalid_argument, "mediator",
                "already the mediator");
  s.now = t0 + day_ms;
  s.apply(op, assign_mediator{c, s.mediator2.id});
  CHECK(s.kase(c).deadline_of(deadline_kind::mediation)->due == t0 + 22 * day_ms);
  // The replaced mediator knows the case no more.
  CHECK_REFUSED(s.when(s.mediator, propose_settlement{c, "x", fb::RemedyKind_refund, 1}), errc::not_found, "case_id",
                "no case");
}

TEST_CASE("the assigned mediator proposes settlements") {
  scenario s = parties();
  const auto c = s.in_mediation();
  auto d = s.when(s.mediator,
                  propose_settlement{c, "half refund", fb::RemedyKind_partial_refund, 6'000'000});
  REQUIRE(names(d) == "SettlementProposed");
  CHECK(d->events[0].AsSettlementProposed()->amount_rials == 6'000'000u);
  CHECK_REFUSED(s.when(s.mediator, propose_settlement{c, "", fb::RemedyKind_refund, 1}),
                errc::invalid_argument, "text", "required");
}

TEST_CASE("a settled mediation resolves and closes the case") {
  scenario s = parties();
  const auto c = s.in_mediation();
  auto d = s.when(s.mediator, conclude_mediation{c, fb::MediationOutcome_settled, "agreed"});
  REQUIRE(names(d) == "MediationConcluded CaseResolved CaseClosed");
  CHECK(d->events[0].AsMediationConcluded()->outcome == fb::MediationOutcome_settled);
  CHECK_FALSE(d->events[0].AsMediationConcluded()->by_deadline);
  CHECK(d->events[1].AsCaseResolved()->resolution == fb::Resolution_mediation);
  CHECK(d->events[2].AsCaseClosed()->reopen_until_ms == t0 + 10 * day_ms);
  s.commit(s.mediator, *d);
  CHECK(s.status(c) == case_status::closed);
}

TEST_CASE("a failed mediation waits for referral; the operator refers it") {
  scenario s = parties();
  const auto c = s.in_mediation();
  auto d = s.when(op, conclude_mediation{c, fb::MediationOutcome_failed, "the shop walked away"});
  REQUIRE(names(d) == "MediationConcluded");
  s.commit(op, *d);
  CHECK(s.status(c) == case_status::mediation_failed);
  CHECK_REFUSED(s.when(op, refer_case{c, guild.id, "x"}), errc::invalid_argument, "agency",
                "not competent");
  CHECK_REFUSED(s.when(op, refer_case{c, "tax-office", "x"}), errc::not_found, "agency", "tax-office");
  CHECK_REFUSED(s.when(s.mediator, refer_case{c, protection.id, "x"}), errc::unauthorized, "actor",
                "mediator may not");
  auto r = s.when(op, refer_case{c, protection.id, "dossier"});
  REQUIRE(names(r) == "ReferredToAgency");
  CHECK(r->events[0].AsReferredToAgency()->agency_id == protection.id);
}

TEST_CASE("the operator may refer a case still waiting for a mediator") {
  scenario s = parties();
  const auto c = s.awaiting_mediator();
  CHECK(names(s.when(op, refer_case{c, police.id, "straight to the police"})) == "ReferredToAgency");
}

}  // TEST_SUITE mediation

// ---- Referral --------------------------------------------------------------------------------

TEST_SUITE("referral") {

TEST_CASE("the holding agency acknowledges once") {
  scenario s = parties();
  const auto c = s.referred();
  auto d = s.when(protection, acknowledge_referral{c});
  REQUIRE(names(d) == "ReferralAcknowledged");
  CHECK(d->events[0].AsReferralAcknowledged()->agency_id == protection.id);
  s.commit(protection, *d);
  CHECK_FALSE(s.kase(c).deadline_of(deadline_kind::referral_acknowledgement).has_value());
  CHECK_REFUSED(s.when(protection, acknowledge_referral{c}), errc::wrong_state, "status",
                "already acknowledged");
}

TEST_CASE("the decision deadline is extended only after acknowledgement, and only once") {
  scenario s = parties();
  const auto c = s.referred();  // at t0: decision due t0 + 30d
  CHECK_REFUSED(s.when(protection, extend_referral{c}), errc::wrong_state, "status",
                "must be acknowledged before");
  s.apply(protection, acknowledge_referral{c});
  s.now = t0 + 3 * day_ms;
  auto d = s.when(protection, extend_referral{c});
  REQUIRE(names(d) == "ReferralExtended");
  CHECK(d->events[0].AsReferralExtended()->decision_due_ms == t0 + 60 * day_ms);
  s.commit(protection, *d);
  CHECK(s.kase(c).deadline_of(deadline_kind::referral_decision)->due == t0 + 60 * day_ms);
  CHECK_REFUSED(s.when(protection, extend_referral{c}), errc::wrong_state, "status",
                "already extended once");
}

TEST_CASE("a transfer moves the case to another competent agency and keeps its history") {
  scenario s = parties();
  const auto c = s.acknowledged();
  SUBCASE("not to the same agency") {
    CHECK_REFUSED(s.when(protection, transfer_referral{c, protection.id, "x"}), errc::invalid_argument,
                  "to_agency", "already held by consumer-protection");
  }
  SUBCASE("not to an incompetent agency") {
    CHECK_REFUSED(s.when(protection, transfer_referral{c, guild.id, "x"}), errc::invalid_argument,
                  "to_agency", "not competent");
  }
  SUBCASE("not to an unknown agency") {
    CHECK_REFUSED(s.when(op, transfer_referral{c, "tax-office", "x"}), errc::not_found, "to_agency",
                  "tax-office");
  }
  SUBCASE("to a competent one, by the holding agency or by the operator") {
    actor by = protection;
    SUBCASE("agency") {}
    SUBCASE("operator") { by = op; }
    s.now = t0 + 2 * day_ms;
    auto d = s.when(by, transfer_referral{c, police.id, "online fraud is for the police"});
    REQUIRE(names(d) == "ReferralTransferred");
    const auto& t = *d->events[0].AsReferralTransferred();
    CHECK(t.from_agency_id == protection.id);
    CHECK(t.to_agency_id == police.id);
    CHECK(t.acknowledge_due_ms == t0 + 9 * day_ms);
    CHECK(t.decision_due_ms == t0 + 32 * day_ms);
    s.commit(by, *d);
    const auto& k = s.kase(c);
    CHECK(k.status == case_status::referred);
    CHECK(k.agency_id == police.id);
    CHECK(k.agencies == std::vector<std::string>{protection.id, police.id});
    CHECK_FALSE(k.referral_acknowledged);
  }
}

TEST_CASE("an agency decides only after acknowledging; the decision closes the case for good") {
  scenario s = parties();
  const auto c = s.referred();
  CHECK_REFUSED(s.when(protection, decide_referral{c, fb::AgencyVerdict_upheld, "x"}),
                errc::wrong_state, "status", "must be acknowledged before it is decided");
  s.apply(protection, acknowledge_referral{c});
  CHECK_REFUSED(s.when(protection, decide_referral{c, fb::AgencyVerdict_upheld, ""}),
                errc::invalid_argument, "text", "required");
  auto d = s.when(protection, decide_referral{c, fb::AgencyVerdict_partially_upheld, "half"});
  REQUIRE(names(d) == "AgencyDecided CaseClosed");
  CHECK(d->events[0].AsAgencyDecided()->agency_id == protection.id);
  CHECK(d->events[0].AsAgencyDecided()->verdict == fb::AgencyVerdict_partially_upheld);
  CHECK(d->events[1].AsCaseClosed()->reason == fb::CloseReason_agency_decided);
  CHECK(d->events[1].AsCaseClosed()->reopen_until_ms == 0);
  s.commit(protection, *d);
  CHECK(s.status(c) == case_status::closed);
  CHECK(s.kase(c).close_reason == fb::CloseReason_agency_decided);
}

TEST_CASE("a transferred case is decided by the new agency after it acknowledges") {
  scenario s = parties();
  const auto c = s.acknowledged();
  s.apply(op, transfer_referral{c, police.id, "fraud"});
  CHECK_REFUSED(s.when(police, decide_referral{c, fb::AgencyVerdict_upheld, "x"}), errc::wrong_state,
                "status", "must be acknowledged");
  s.apply(police, acknowledge_referral{c});
  auto d = s.when(police, decide_referral{c, fb::AgencyVerdict_upheld, "blocked"});
  REQUIRE(names(d) == "AgencyDecided CaseClosed");
  CHECK(d->events[0].AsAgencyDecided()->agency_id == police.id);
}

}  // TEST_SUITE referral

// ---- Withdraw, rate, reopen ------------------------------------------------------------------

TEST_SUITE("ending") {

TEST_CASE("the consumer withdraws an open case at any stage") {
  scenario s = parties();
  std::string c;
  SUBCASE("awaiting triage") { c = s.filed(); }
  SUBCASE("in negotiation") { c = s.negotiating(); }
  SUBCASE("referred") { c = s.referred(); }
  auto d = s.when(s.alice, withdraw_case{c, "settled privately"});
  REQUIRE(names(d) == "CaseWithdrawn");
  CHECK(d->events[0].AsCaseWithdrawn()->reason == "settled privately");
  s.commit(s.alice, *d);
  CHECK(s.status(c) == case_status::withdrawn);
  CHECK(s.kase(c).deadlines.empty());
  CHECK_FALSE(s.w.open_case_by_order.contains({s.alice.id, "seal-100", "INV-1001"}));
}

TEST_CASE("a closed case is rated once, 1 to 5 stars") {
  scenario s = parties();
  const auto c = s.closed_resolved();
  for (int stars : {0, 6, -1})
    CHECK_REFUSED(s.when(s.alice, rate_case{c, stars, true, ""}), errc::invalid_argument, "stars",
                  "from 1 to 5");
  CHECK_REFUSED(s.when(s.bob, rate_case{c, 5, true, ""}), errc::not_found, "case_id", "no case");
  CHECK_REFUSED(s.when(shop, rate_case{c, 5, true, ""}), errc::unauthorized, "actor", "business may not");
  auto d = s.when(s.alice, rate_case{c, 4, true, "quick refund"});
  REQUIRE(names(d) == "CaseRated");
  CHECK(d->events[0].AsCaseRated()->stars == 4);
  CHECK(d->events[0].AsCaseRated()->resolved);
  s.commit(s.alice, *d);
  CHECK(s.kase(c).rating == 4);
  CHECK_REFUSED(s.when(s.alice, rate_case{c, 1, false, ""}), errc::wrong_state, "stars", "already rated");
}

TEST_CASE("a resolved case reopens within 10 days of closure, back to mediation") {
  scenario s = parties();
  const auto c = s.closed_resolved();  // closed at t0
  s.apply(s.alice, rate_case{c, 5, true, ""});
  s.now = t0 + 10 * day_ms;  // the last instant of the window
  auto d = s.when(s.alice, reopen_case{c, "the refund bounced"});
  REQUIRE(names(d) == "CaseReopened MediationRequested");
  CHECK(d->events[1].AsMediationRequested()->reason == fb::MediationReason_reopened);
  s.commit(s.alice, *d);
  const auto& k = s.kase(c);
  CHECK(k.status == case_status::awaiting_mediator);
  CHECK(k.reopened == 1);
  CHECK(k.rating == 5);  // a case is rated once: reopening keeps the rating
  CHECK_FALSE(k.close_reason.has_value());
  CHECK(s.w.open_case_by_order.at({s.alice.id, "seal-100", s.w.digest_of("INV-1001")}) == c);
  CHECK_REFUSED(s.when(s.bob, reopen_case{c, "x"}), errc::not_found, "case_id", "no case");
}

TEST_CASE("a case rated, reopened and closed again cannot be rated a second time") {
  scenario s = parties();
  const auto c = s.closed_resolved();
  s.apply(s.alice, rate_case{c, 5, true, "refunded"});
  s.now = t0 + day_ms;
  s.apply(s.alice, reopen_case{c, "the refund bounced"});
  s.apply(op, assign_mediator{c, s.mediator.id});
  s.apply(s.mediator, conclude_mediation{c, fb::MediationOutcome_settled, "paid again"});
  REQUIRE(s.status(c) == case_status::closed);
  CHECK_REFUSED(s.when(s.alice, rate_case{c, 1, false, "second thoughts"}), errc::wrong_state, "stars",
                "already rated");
  CHECK(s.kase(c).rating == 5);
  // The trust score weighs the one rating.
  int ratings = 0;
  for (const auto& e : s.w.score_events.at("seal-100")) ratings += e.kind == score_kind::rating;
  CHECK(ratings == 1);
}

TEST_CASE("a second rating in a log written before the rule counts for nothing") {
  scenario s = parties();
  const auto c = s.closed_resolved();
  s.apply(s.alice, rate_case{c, 5, true, ""});
  // What an older engine wrote: a second CaseRated on the same case, folded as it is.
  fb::CaseRatedT again;
  again.stars = 1;
  fb::EventUnion u;
  u.Set(std::move(again));
  s.commit(s.alice, decision{c, s.kase(c).head.version, {u}});
  CHECK(s.kase(c).rating == 5);
  int ratings = 0;
  for (const auto& e : s.w.score_events.at("seal-100")) ratings += e.kind == score_kind::rating;
  CHECK(ratings == 1);
}

TEST_CASE("a case settled in mediation reopens too") {
  scenario s = parties();
  const auto c = s.in_mediation();
  s.apply(s.mediator, conclude_mediation{c, fb::MediationOutcome_settled, "agreed"});
  CHECK(names(s.when(s.alice, reopen_case{c, "not delivered"})) == "CaseReopened MediationRequested");
}

TEST_CASE("after the reopen window the answer is deadline_passed") {
  scenario s = parties();
  const auto c = s.closed_resolved();
  s.now = t0 + 10 * day_ms + 1;
  CHECK_REFUSED(s.when(s.alice, reopen_case{c, "too late"}), errc::deadline_passed, "reopen", c);
}

TEST_CASE("a case closed by an agency decision or as incomplete cannot be reopened") {
  scenario s = parties();
  SUBCASE("agency decision") {
    const auto c = s.agency_decided();
    CHECK_REFUSED(s.when(s.alice, reopen_case{c, "I disagree"}), errc::wrong_state, "status",
                  "closed as agency_decided");
  }
  SUBCASE("incomplete") {
    const auto c = s.apply(s.alice, s.filing("INV-1001", fb::Category_fraud)).stream;
    s.now = t0 + 7 * day_ms;
    s.apply(scheduler, apply_deadlines{c});
    REQUIRE(s.kase(c).close_reason == fb::CloseReason_incomplete);
    CHECK_REFUSED(s.when(s.alice, reopen_case{c, "here are the papers"}), errc::wrong_state,
                  "status", "closed as incomplete");
  }
}

TEST_CASE("reopening is refused while another case is open for the same order") {
  scenario s = parties();
  const auto old_case = s.closed_resolved("INV-1001");
  const auto new_case = s.filed("INV-1001");
  CHECK_REFUSED(s.when(s.alice, reopen_case{old_case, "x"}), errc::duplicate, "order_reference",
                new_case);
}

// Regression: a reopened case used to keep its former mediator, so the operator could not give
// it back to the mediator who knew it, and that mediator kept an assigned one's rights.
TEST_CASE("after a reopen the former mediator can be assigned again") {
  scenario s = parties();
  const auto c = s.in_mediation();
  s.apply(s.mediator, conclude_mediation{c, fb::MediationOutcome_settled, "agreed"});
  s.apply(s.alice, reopen_case{c, "the refund never came"});
  REQUIRE(s.status(c) == case_status::awaiting_mediator);
  CHECK(names(s.when(op, assign_mediator{c, s.mediator.id})) == "MediatorAssigned");
}

}  // TEST_SUITE ending

// ---- Deadlines -------------------------------------------------------------------------------

TEST_SUITE("deadlines") {

TEST_CASE("the response ladder fires at exactly 72h, then +48h, then +24h") {
  scenario s = parties();
  const auto c = s.with_business();  // forwarded at t0
  CHECK(names(tick(s, c, t0 + 72 * hour_ms - 1)) == "");

  auto first = tick(s, c, t0 + 72 * hour_ms);
  REQUIRE(names(first) == "ResponseDelayed");
  CHECK(first->events[0].AsResponseDelayed()->level == 1);
  CHECK(first->events[0].AsResponseDelayed()->next_due_ms == t0 + 120 * hour_ms);
  s.commit(scheduler, *first);
  CHECK(s.kase(c).response_level == 1);
  CHECK(s.status(c) == case_status::with_business);

  CHECK(names(tick(s, c, t0 + 120 * hour_ms - 1)) == "");
  auto second = tick(s, c, t0 + 120 * hour_ms);
  REQUIRE(names(second) == "ResponseDelayed");
  CHECK(second->events[0].AsResponseDelayed()->level == 2);
  CHECK(second->events[0].AsResponseDelayed()->next_due_ms == t0 + 144 * hour_ms);
  s.commit(scheduler, *second);

  CHECK(names(tick(s, c, t0 + 144 * hour_ms - 1)) == "");
  auto last = tick(s, c, t0 + 144 * hour_ms);
  REQUIRE(names(last) == "ResponseUnanswered MediationRequested");
  CHECK(last->events[0].AsResponseUnanswered()->missed_due_ms == t0 + 144 * hour_ms);
  CHECK(last->events[1].AsMediationRequested()->reason == fb::MediationReason_unanswered);
  s.commit(scheduler, *last);
  const auto& k = s.kase(c);
  CHECK(k.status == case_status::awaiting_mediator);
  CHECK(k.unanswered);
  CHECK(k.deadlines.empty());
  CHECK_REFUSED(s.when(shop, respond{c, "sorry, too late"}), errc::wrong_state, "status",
                "is awaiting_mediator");
}

TEST_CASE("a scheduler that was away walks every due rung in order, in one decision") {
  scenario s = parties();
  const auto c = s.with_business();
  SUBCASE("away for a week") {
    auto d = tick(s, c, t0 + 7 * day_ms);
    REQUIRE(names(d) == "ResponseDelayed ResponseDelayed ResponseUnanswered MediationRequested");
    CHECK(d->events[0].AsResponseDelayed()->level == 1);
    CHECK(d->events[0].AsResponseDelayed()->next_due_ms == t0 + 120 * hour_ms);
    CHECK(d->events[1].AsResponseDelayed()->level == 2);
    CHECK(d->events[1].AsResponseDelayed()->next_due_ms == t0 + 144 * hour_ms);
    CHECK(d->events[2].AsResponseUnanswered()->missed_due_ms == t0 + 144 * hour_ms);
    s.commit(scheduler, *d);
    CHECK(s.status(c) == case_status::awaiting_mediator);
  }
  SUBCASE("away until between the second and third rungs") {
    auto d = tick(s, c, t0 + 130 * hour_ms);
    REQUIRE(names(d) == "ResponseDelayed ResponseDelayed");
    s.commit(scheduler, *d);
    CHECK(s.kase(c).response_level == 2);
    CHECK(s.kase(c).deadline_of(deadline_kind::response)->due == t0 + 144 * hour_ms);
  }
}

TEST_CASE("a late answer records the rung it reached") {
  scenario s = parties();
  const auto c = s.with_business();
  int rungs = 0;
  SUBCASE("after the first rung") { rungs = 1; s.commit(scheduler, *tick(s, c, t0 + 72 * hour_ms)); }
  SUBCASE("after the second rung") { rungs = 2; s.commit(scheduler, *tick(s, c, t0 + 120 * hour_ms)); }
  REQUIRE(s.kase(c).response_level == rungs);
  auto d = s.when(shop, respond{c, "sorry for the delay"});
  REQUIRE(names(d) == "BusinessResponded");
  CHECK_FALSE(d->events[0].AsBusinessResponded()->timely);
  CHECK(d->events[0].AsBusinessResponded()->delay_level == rungs);
  s.commit(shop, *d);
  CHECK(s.kase(c).deadlines.empty());
}

TEST_CASE("an answer after the first rung's due time is late even before the scheduler runs") {
  scenario s = parties();
  const auto c = s.with_business();
  s.now = t0 + 73 * hour_ms;
  auto d = s.when(shop, respond{c, "answered at 73 hours"});
  REQUIRE(names(d) == "BusinessResponded");
  CHECK_FALSE(d->events[0].AsBusinessResponded()->timely);
  CHECK(d->events[0].AsBusinessResponded()->delay_level == 1);
}

TEST_CASE("nothing due produces no events, on the case's stream at its version") {
  scenario s = parties();
  std::string c;
  SUBCASE("a case with no deadline") { c = s.filed(); }
  SUBCASE("a deadline still ahead") { c = s.with_business(); }
  SUBCASE("a closed case") { c = s.closed_resolved(); }
  auto d = tick(s, c, t0 + day_ms);
  REQUIRE(d.has_value());
  CHECK(d->events.empty());
  CHECK(d->stream == c);
  CHECK(d->expected == s.kase(c).head.version);
}

TEST_CASE("applying deadlines twice at the same time yields nothing the second time") {
  scenario s = parties();
  const auto c = s.with_business();
  auto first = tick(s, c, t0 + 7 * day_ms);
  REQUIRE(first->events.size() == 4u);
  s.commit(scheduler, *first);
  CHECK(names(tick(s, c, t0 + 7 * day_ms)) == "");
}

TEST_CASE("only the system (or an operator) applies deadlines, to an existing case") {
  scenario s = parties();
  const auto c = s.with_business();
  CHECK_REFUSED(s.when(s.alice, apply_deadlines{c}), errc::unauthorized, "actor",
                "consumer may not apply_deadlines");
  CHECK_REFUSED(s.when(shop, apply_deadlines{c}), errc::unauthorized, "actor", "business may not");
  CHECK_REFUSED(s.when(scheduler, apply_deadlines{"C-missing"}), errc::not_found, "case_id", "C-missing");
}

TEST_CASE("the documents deadline (7 days) closes the case as incomplete") {
  scenario s = parties();
  const auto c = s.apply(s.alice, s.filing("INV-1001", fb::Category_non_delivery)).stream;
  CHECK(names(tick(s, c, t0 + 7 * day_ms - 1)) == "");
  auto d = tick(s, c, t0 + 7 * day_ms);
  REQUIRE(names(d) == "CaseClosed");
  CHECK(d->events[0].AsCaseClosed()->reason == fb::CloseReason_incomplete);
  CHECK(d->events[0].AsCaseClosed()->reopen_until_ms == 0);
  s.commit(scheduler, *d);
  CHECK(s.status(c) == case_status::closed);
  CHECK_FALSE(s.w.open_case_by_order.contains({s.alice.id, "seal-100", "INV-1001"}));
}

TEST_CASE("documents attached in time cancel the documents deadline") {
  scenario s = parties();
  const auto c = s.apply(s.alice, s.filing("INV-1001", fb::Category_fraud)).stream;
  s.now = t0 + 6 * day_ms;
  s.apply(s.alice, attach_document{c, doc(fb::DocumentKind_payment_receipt, "receipt.pdf")});
  CHECK(names(tick(s, c, t0 + 8 * day_ms)) == "");
  CHECK(s.status(c) == case_status::awaiting_triage);
}

TEST_CASE("the remedy deadline passing means not fulfilled, and mediation is requested") {
  scenario s = parties();
  const auto c = s.remedy_due();  // offer of 5 days accepted at t0
  CHECK(names(tick(s, c, t0 + 5 * day_ms - 1)) == "");
  auto d = tick(s, c, t0 + 5 * day_ms);
  REQUIRE(names(d) == "RemedyNotFulfilled MediationRequested");
  CHECK(d->events[1].AsMediationRequested()->reason == fb::MediationReason_remedy_not_fulfilled);
  s.commit(scheduler, *d);
  CHECK(s.status(c) == case_status::awaiting_mediator);
  CHECK(s.kase(c).deadlines.empty());
}

TEST_CASE("the consumer's silence for 7 days after fulfilment resolves and closes the case") {
  scenario s = parties();
  const auto c = s.remedy_confirmation();  // marked fulfilled at t0
  CHECK(names(tick(s, c, t0 + 7 * day_ms - 1)) == "");
  auto d = tick(s, c, t0 + 7 * day_ms);
  REQUIRE(names(d) == "CaseResolved CaseClosed");
  CHECK(d->events[0].AsCaseResolved()->resolution == fb::Resolution_remedy_confirmed_by_deadline);
  CHECK(d->events[1].AsCaseClosed()->reason == fb::CloseReason_resolved);
  CHECK(d->events[1].AsCaseClosed()->reopen_until_ms == t0 + 17 * day_ms);
  s.commit(scheduler, *d);
  CHECK(s.status(c) == case_status::closed);
  CHECK(names(s.when(s.alice, reopen_case{c, "the refund was reversed"})) ==
        "CaseReopened MediationRequested");
}

TEST_CASE("the mediation deadline (21 days) concludes it as failed by deadline") {
  scenario s = parties();
  const auto c = s.in_mediation();  // assigned at t0
  CHECK(names(tick(s, c, t0 + 21 * day_ms - 1)) == "");
  auto d = tick(s, c, t0 + 21 * day_ms);
  REQUIRE(names(d) == "MediationConcluded");
  CHECK(d->events[0].AsMediationConcluded()->outcome == fb::MediationOutcome_failed);
  CHECK(d->events[0].AsMediationConcluded()->by_deadline);
  s.commit(scheduler, *d);
  CHECK(s.status(c) == case_status::mediation_failed);
  CHECK(names(s.when(op, refer_case{c, protection.id, "mediation timed out"})) == "ReferredToAgency");
}

TEST_CASE("referral deadlines: acknowledgement after 7 days, decision after 30 are overdue") {
  scenario s = parties();
  const auto c = s.referred();  // at t0, to consumer-protection
  SUBCASE("one at a time") {
    CHECK(names(tick(s, c, t0 + 7 * day_ms - 1)) == "");
    auto ack = tick(s, c, t0 + 7 * day_ms);
    REQUIRE(names(ack) == "ReferralOverdue");
    const auto& a = *ack->events[0].AsReferralOverdue();
    CHECK(a.agency_id == protection.id);
    CHECK(a.deadline == fb::ReferralDeadline_acknowledgement);
    CHECK(a.due_ms == t0 + 7 * day_ms);
    s.commit(scheduler, *ack);
    CHECK(s.status(c) == case_status::referred);
    CHECK(names(tick(s, c, t0 + 30 * day_ms - 1)) == "");
    auto dec = tick(s, c, t0 + 30 * day_ms);
    REQUIRE(names(dec) == "ReferralOverdue");
    CHECK(dec->events[0].AsReferralOverdue()->deadline == fb::ReferralDeadline_decision);
    CHECK(dec->events[0].AsReferralOverdue()->due_ms == t0 + 30 * day_ms);
  }
  SUBCASE("both at once, in order") {
    auto d = tick(s, c, t0 + 31 * day_ms);
    REQUIRE(names(d) == "ReferralOverdue ReferralOverdue");
    CHECK(d->events[0].AsReferralOverdue()->deadline == fb::ReferralDeadline_acknowledgement);
    CHECK(d->events[1].AsReferralOverdue()->deadline == fb::ReferralDeadline_decision);
  }
  SUBCASE("acknowledged in time: only the decision can be overdue") {
    s.now = t0 + day_ms;
    s.apply(protection, acknowledge_referral{c});
    auto d = tick(s, c, t0 + 31 * day_ms);
    REQUIRE(names(d) == "ReferralOverdue");
    CHECK(d->events[0].AsReferralOverdue()->deadline == fb::ReferralDeadline_decision);
  }
}

TEST_CASE("an extended referral is overdue only at the extended date") {
  scenario s = parties();
  const auto c = s.acknowledged();  // referred at t0
  s.apply(protection, extend_referral{c});
  CHECK(names(tick(s, c, t0 + 60 * day_ms - 1)) == "");
  auto d = tick(s, c, t0 + 60 * day_ms);
  REQUIRE(names(d) == "ReferralOverdue");
  CHECK(d->events[0].AsReferralOverdue()->due_ms == t0 + 60 * day_ms);
}

TEST_CASE("a transfer restarts the referral deadlines for the new agency") {
  scenario s = parties();
  const auto c = s.referred();
  s.now = t0 + 5 * day_ms;
  s.apply(op, transfer_referral{c, police.id, "fraud"});
  CHECK(names(tick(s, c, t0 + 7 * day_ms)) == "");
  auto d = tick(s, c, t0 + 12 * day_ms);
  REQUIRE(names(d) == "ReferralOverdue");
  CHECK(d->events[0].AsReferralOverdue()->agency_id == police.id);
  CHECK(d->events[0].AsReferralOverdue()->due_ms == t0 + 12 * day_ms);
}

TEST_CASE("the deadline index follows each case's earliest deadline") {
  scenario s = parties();
  const auto c = s.with_business();
  CHECK(s.w.deadline_index.contains({t0 + 72 * hour_ms, c}));
  s.commit(scheduler, *tick(s, c, t0 + 72 * hour_ms));
  CHECK_FALSE(s.w.deadline_index.contains({t0 + 72 * hour_ms, c}));
  CHECK(s.w.deadline_index.contains({t0 + 120 * hour_ms, c}));
  s.apply(shop, respond{c, "here"});
  CHECK(s.w.deadline_index.empty());
}

TEST_CASE("every deadline is configuration: custom case_rules change them") {
  scenario s = parties();
  SUBCASE("a one-hour first rung, then 2h and 3h") {
    s.rules.response_first_ms = hour_ms;
    s.rules.response_second_ms = 2 * hour_ms;
    s.rules.response_final_ms = 3 * hour_ms;
    const auto c = s.filed();
    auto a = s.when(op, accept(c));
    REQUIRE(names(a) == "CaseAccepted ForwardedToBusiness");
    CHECK(a->events[1].AsForwardedToBusiness()->response_due_ms == t0 + hour_ms);
    s.commit(op, *a);
    CHECK(names(tick(s, c, t0 + hour_ms - 1)) == "");
    auto d = tick(s, c, t0 + 6 * hour_ms);
    REQUIRE(names(d) == "ResponseDelayed ResponseDelayed ResponseUnanswered MediationRequested");
    CHECK(d->events[0].AsResponseDelayed()->next_due_ms == t0 + 3 * hour_ms);
    CHECK(d->events[1].AsResponseDelayed()->next_due_ms == t0 + 6 * hour_ms);
  }
  SUBCASE("one working day for documents") {
    s.rules.documents_working_days = 1;
    const auto c = s.apply(s.alice, s.filing("INV-1001", fb::Category_pricing)).stream;
    const timestamp_ms due = s.rules.calendar.add_working_days(t0, 1);
    CHECK(s.kase(c).deadline_of(deadline_kind::documents)->due == due);
    CHECK(names(tick(s, c, due - 1)) == "");
    CHECK(names(tick(s, c, due)) == "CaseClosed");
  }
  SUBCASE("two days of mediation") {
    s.rules.mediation_ms = 2 * day_ms;
    const auto c = s.in_mediation();
    CHECK(names(tick(s, c, t0 + 2 * day_ms)) == "MediationConcluded");
  }
  SUBCASE("referral: 1 day to acknowledge, 5 to decide, 2 more on extension") {
    s.rules.referral_acknowledge_working_days = 1;
    s.rules.calendar.set_weekend({});  // every day a working day: due dates in plain days
    s.rules.referral_decision_ms = 5 * day_ms;
    s.rules.referral_extension_ms = 2 * day_ms;
    const auto c = s.referred();
    CHECK(names(tick(s, c, t0 + day_ms)) == "ReferralOverdue");
    s.apply(protection, acknowledge_referral{c});
    s.apply(protection, extend_referral{c});
    CHECK(s.kase(c).deadline_of(deadline_kind::referral_decision)->due == t0 + 7 * day_ms);
  }
  SUBCASE("one day to object to a delivered remedy, one day to reopen") {
    s.rules.remedy_confirmation_ms = day_ms;
    s.rules.reopen_window_ms = day_ms;
    const auto c = s.remedy_confirmation();
    auto d = tick(s, c, t0 + day_ms);
    REQUIRE(names(d) == "CaseResolved CaseClosed");
    CHECK(d->events[1].AsCaseClosed()->reopen_until_ms == t0 + 2 * day_ms);
    s.commit(scheduler, *d);
    s.now = t0 + 2 * day_ms + 1;
    CHECK_REFUSED(s.when(s.alice, reopen_case{c, "x"}), errc::deadline_passed, "reopen", c);
  }
  SUBCASE("at most 10 remedy days") {
    s.rules.max_remedy_days = 10;
    const auto c = s.negotiating();
    CHECK_REFUSED(s.when(shop, make_offer{c, fb::RemedyKind_refund, 1, "x", 11}),
                  errc::invalid_argument, "remedy_days", "from 1 to 10");
  }
  SUBCASE("the documents a category needs") {
    s.rules.required_documents[fb::Category_other] = {fb::DocumentKind_identity};
    auto d = s.when(s.alice, s.filing());
    REQUIRE(names(d) == "CaseFiled DocumentsRequested");
    CHECK(d->events[1].AsDocumentsRequested()->kinds ==
          std::vector<fb::DocumentKind>{fb::DocumentKind_identity});
  }
}

}  // TEST_SUITE deadlines

// ---- Determinism -----------------------------------------------------------------------------

TEST_SUITE("determinism") {

// Every field of the world, as text. (world::operator== is declared defaulted in state.h but is
// implicitly deleted, since stream_head has no operator==, so worlds are compared this way.)
std::string fingerprint(const world& w) {
  std::ostringstream o;
  const auto head = [&](const stream_head& h) {
    o << " v" << h.version.value() << ':' << to_hex(h.last_hash);
  };
  for (const auto& [id, c] : w.consumers) {
    o << "\nconsumer " << id << ' ' << c.national_code_digest << ' ' << c.forgotten;
    head(c.head);
  }
  for (const auto& [id, b] : w.businesses) {
    o << "\nbusiness " << id << ' ' << b.domain << ' ' << b.name << ' ' << b.stars << b.restricted;
    head(b.head);
  }
  for (const auto& [id, a] : w.agencies) {
    o << "\nagency " << id << ' ' << a.name;
    for (auto cat : a.categories) o << ' ' << fb::EnumNameCategory(cat);
    head(a.head);
  }
  for (const auto& [id, m] : w.mediators) {
    o << "\nmediator " << id << ' ' << m.forgotten;
    head(m.head);
  }
  for (const auto& [id, c] : w.cases) {
    o << "\ncase " << id << ' ' << to_string(c.status) << ' ' << c.consumer_id << ' ' << c.business_id
      << ' ' << c.order_digest << ' ' << c.purchase_date_days << ' ' << c.amount_rials << ' '
      << fb::EnumNameCategory(c.category) << ' ' << fb::EnumNameRemedyKind(c.requested_remedy);
    head(c.head);
    for (const auto& d : c.documents)
      o << " doc:" << fb::EnumNameDocumentKind(d.kind) << ':' << to_hex(d.sha256) << ':'
        << d.file_name << ':' << d.size_bytes;
    for (auto k : c.missing_documents) o << " missing:" << fb::EnumNameDocumentKind(k);
    o << " ladder:" << c.response_level << c.responded << c.timely_response << c.unanswered;
    for (const auto& f : c.offers)
      o << " offer:" << f.number << ':' << role_name(f.by) << ':' << fb::EnumNameRemedyKind(f.remedy)
        << ':' << f.amount_rials << ':' << f.remedy_days << ':' << static_cast<int>(f.status);
    o << " mediator:" << c.mediator_id << " agency:" << c.agency_id;
    for (const auto& a : c.agencies) o << " held:" << a;
    o << " referral:" << c.referral_acknowledged << c.referral_extended;
    for (const auto& d : c.deadlines) o << " due:" << to_string(d.kind) << '@' << d.due;
    o << " resolution:" << (c.resolution ? fb::EnumNameResolution(*c.resolution) : "-")
      << " closed:" << (c.close_reason ? fb::EnumNameCloseReason(*c.close_reason) : "-") << ' '
      << c.filed_at << ' ' << c.closed_at << ' ' << c.reopen_until << ' ' << c.last_change << ' '
      << c.rating << ' ' << c.reopened;
  }
  for (const auto& [code, id] : w.consumer_by_national_code) o << "\nby code " << code << '=' << id;
  for (const auto& [domain, id] : w.business_by_domain) o << "\nby domain " << domain << '=' << id;
  for (const auto& [key, id] : w.open_case_by_order)
    o << "\nopen " << std::get<0>(key) << '/' << std::get<1>(key) << '/' << std::get<2>(key)
      << '=' << id;
  for (const auto& [due, id] : w.deadline_index) o << "\ndue " << due << '=' << id;
  return o.str();
}

// The bytes of a decision's events, in the envelopes the engine would write.
std::vector<std::string> encoded(const decision& d, const actor& who, timestamp_ms at,
                                 const std::string& command_id) {
  std::vector<std::string> out;
  for (std::uint32_t i = 0; i < d.events.size(); ++i)
    out.push_back(encode(
        {d.stream, stream_version(d.expected.value() + i + 1), who, at, command_id, i, ""},
        d.events[i]));
  return out;
}

TEST_CASE("the same state, command and time give the same events, byte for byte") {
  scenario s = parties();
  actor who = s.alice;
  command cmd = s.filing("INV-7", fb::Category_non_delivery, {doc(fb::DocumentKind_invoice, "i.pdf")});
  std::size_t expected_events = 3;
  SUBCASE("a filing that asks for documents") {}
  SUBCASE("a week of missed deadlines") {
    who = scheduler;
    cmd = apply_deadlines{s.with_business()};
    s.now = t0 + 7 * day_ms;
    expected_events = 4;
  }
  SUBCASE("a direct referral") {
    who = op;
    cmd = accept(s.filed(), std::nullopt, fb::Route_referral, police.id, "fake shop");
    expected_events = 2;
  }
  const std::string before = fingerprint(s.w);
  auto one = decide(s.w, who, cmd, s.now, s.rules, "same-command");
  auto two = decide(s.w, who, cmd, s.now, s.rules, "same-command");
  REQUIRE(one.has_value());
  REQUIRE(two.has_value());
  CHECK(one->stream == two->stream);
  CHECK(one->events.size() == expected_events);
  CHECK(encoded(*one, who, s.now, "same-command") == encoded(*two, who, s.now, "same-command"));
  CHECK(fingerprint(s.w) == before);  // deciding changes nothing
}

TEST_CASE("a refusal changes nothing") {
  scenario s = parties();
  const auto c = s.with_business();
  const std::string before = fingerprint(s.w);
  CHECK_FALSE(s.when(s.bob, withdraw_case{c, ""}).has_value());
  CHECK_FALSE(s.when(s.alice, s.filing()).has_value());
  CHECK(fingerprint(s.w) == before);
}

TEST_CASE("replaying the log into an empty world rebuilds the same world") {
  scenario s = parties();
  s.referred("INV-1");
  s.closed_resolved("INV-2");
  const auto c = s.with_business("INV-3");
  s.commit(scheduler, *tick(s, c, t0 + 7 * day_ms));
  world replayed;
  for (const auto& r : s.log) evolve(replayed, r);
  CHECK(fingerprint(replayed) == fingerprint(s.w));
  CHECK(replayed.cases.size() == 3u);
}

}  // TEST_SUITE determinism
