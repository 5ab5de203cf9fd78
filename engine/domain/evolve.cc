#include "engine/domain/evolve.h"

#include <algorithm>
#include <tuple>

#include "engine/record/hash.h"

namespace sazesh {
namespace {

// The digest an event carries (hex), or, for an event written before personal data was
// sealed, the digest of its plain value.
std::string carried_digest(const world& w, const std::vector<std::uint8_t>& carried, const std::string& plain) {
  if (!carried.empty()) return to_hex(std::string(carried.begin(), carried.end()));
  return w.digest_of(plain);
}

void set_deadline(case_state& c, deadline_kind kind, timestamp_ms due) {
  for (auto& d : c.deadlines) {
    if (d.kind == kind) {
      d.due = due;
      return;
    }
  }
  c.deadlines.push_back({kind, due});
}

void clear_deadline(case_state& c, deadline_kind kind) {
  std::erase_if(c.deadlines, [&](const deadline& d) { return d.kind == kind; });
}

void end_case(case_state& c, case_status status, timestamp_ms time) {
  c.status = status;
  c.closed_at = time;
  c.deadlines.clear();
  c.missing_documents.clear();
}

std::optional<timestamp_ms> earliest_deadline(const case_state& c) {
  std::optional<timestamp_ms> out;
  for (const auto& d : c.deadlines)
    if (!out || d.due < *out) out = d.due;
  return out;
}

}  // namespace

std::optional<score_kind> score_kind_of(const fb::EventUnion& e) {
  switch (e.type) {
    case fb::Event_CaseAccepted: return score_kind::complaint;
    case fb::Event_BusinessResponded:
      return e.AsBusinessResponded()->timely ? score_kind::timely_response : score_kind::late_response;
    case fb::Event_ResponseDelayed: return score_kind::delay;
    case fb::Event_ResponseUnanswered: return score_kind::unanswered;
    case fb::Event_CaseResolved:
      return e.AsCaseResolved()->resolution == fb::Resolution_mediation ? score_kind::settled_mediation
                                                                        : score_kind::settled_negotiation;
    case fb::Event_MediationConcluded:
      if (e.AsMediationConcluded()->outcome == fb::MediationOutcome_failed) return score_kind::mediation_failed;
      return std::nullopt;
    case fb::Event_ReferredToAgency: return score_kind::referred;
    case fb::Event_AgencyDecided:
      switch (e.AsAgencyDecided()->verdict) {
        case fb::AgencyVerdict_upheld: return score_kind::upheld;
        case fb::AgencyVerdict_partially_upheld: return score_kind::partially_upheld;
        case fb::AgencyVerdict_dismissed: return score_kind::dismissed;
        case fb::AgencyVerdict_not_competent_closed: return std::nullopt;
      }
      return std::nullopt;
    case fb::Event_RemedyNotFulfilled: return score_kind::remedy_not_fulfilled;
    case fb::Event_CaseReopened: return score_kind::reopened;
    case fb::Event_CaseRated: return score_kind::rating;
    case fb::Event_NONE:
    case fb::Event_ConsumerRegistered:
    case fb::Event_BusinessRegistered:
    case fb::Event_AgencyRegistered:
    case fb::Event_MediatorRegistered:
    case fb::Event_SealRestricted:
    case fb::Event_SealReinstated:
    case fb::Event_CaseFiled:
    case fb::Event_DocumentAttached:
    case fb::Event_DocumentsRequested:
    case fb::Event_CaseRejected:
    case fb::Event_ForwardedToBusiness:
    case fb::Event_MessagePosted:
    case fb::Event_OfferMade:
    case fb::Event_OfferAccepted:
    case fb::Event_OfferRejected:
    case fb::Event_RemedyFulfilled:
    case fb::Event_MediationRequested:
    case fb::Event_MediatorAssigned:
    case fb::Event_SettlementProposed:
    case fb::Event_ReferralAcknowledged:
    case fb::Event_ReferralExtended:
    case fb::Event_ReferralTransferred:
    case fb::Event_ReferralOverdue:
    case fb::Event_CaseClosed:
    case fb::Event_CaseWithdrawn:
    case fb::Event_CredentialIssued:
    case fb::Event_CredentialRevoked:
    case fb::Event_PartyForgotten:
      return std::nullopt;
  }
  return std::nullopt;
}

bool is_case_event(fb::Event type) {
  switch (type) {
    case fb::Event_NONE:
    case fb::Event_ConsumerRegistered:
    case fb::Event_BusinessRegistered:
    case fb::Event_AgencyRegistered:
    case fb::Event_MediatorRegistered:
    case fb::Event_SealRestricted:
    case fb::Event_SealReinstated:
    case fb::Event_CredentialIssued:
    case fb::Event_CredentialRevoked:
    case fb::Event_PartyForgotten:
      return false;
    case fb::Event_CaseFiled:
    case fb::Event_DocumentAttached:
    case fb::Event_DocumentsRequested:
    case fb::Event_CaseAccepted:
    case fb::Event_CaseRejected:
    case fb::Event_ForwardedToBusiness:
    case fb::Event_ResponseDelayed:
    case fb::Event_ResponseUnanswered:
    case fb::Event_BusinessResponded:
    case fb::Event_MessagePosted:
    case fb::Event_OfferMade:
    case fb::Event_OfferAccepted:
    case fb::Event_OfferRejected:
    case fb::Event_RemedyFulfilled:
    case fb::Event_RemedyNotFulfilled:
    case fb::Event_MediationRequested:
    case fb::Event_MediatorAssigned:
    case fb::Event_SettlementProposed:
    case fb::Event_MediationConcluded:
    case fb::Event_ReferredToAgency:
    case fb::Event_ReferralAcknowledged:
    case fb::Event_ReferralExtended:
    case fb::Event_ReferralTransferred:
    case fb::Event_ReferralOverdue:
    case fb::Event_AgencyDecided:
    case fb::Event_CaseResolved:
    case fb::Event_CaseClosed:
    case fb::Event_CaseWithdrawn:
    case fb::Event_CaseRated:
    case fb::Event_CaseReopened:
      return true;
  }
  return false;
}

void evolve_case(case_state& c, const fb::EventUnion& e, timestamp_ms time, fb::Role by) {
  c.last_change = time;
  switch (e.type) {
    case fb::Event_CaseFiled: {
      const auto& f = *e.AsCaseFiled();
      c.status = case_status::awaiting_triage;
      c.consumer_id = f.consumer_id;
      c.business_id = f.business_id;
      // Events written before sealing carry no digest: evolve() makes it, with the world's key.
      c.order_digest = to_hex(std::string(f.order_digest.begin(), f.order_digest.end()));
      c.purchase_date_days = f.purchase_date_days;
      c.amount_rials = f.amount_rials;
      c.category = f.category;
      c.requested_remedy = f.requested_remedy;
      c.filed_at = time;
      break;
    }
    case fb::Event_DocumentAttached: {
      const auto& d = *e.AsDocumentAttached();
      c.documents.push_back({d.kind, std::string(d.sha256.begin(), d.sha256.end()), d.file_name,
                             d.size_bytes});
      std::erase(c.missing_documents, d.kind);
      if (c.status == case_status::awaiting_documents && c.missing_documents.empty()) {
        c.status = case_status::awaiting_triage;
        clear_deadline(c, deadline_kind::documents);
      }
      break;
    }
    case fb::Event_DocumentsRequested: {
      const auto& r = *e.AsDocumentsRequested();
      c.missing_documents = r.kinds;
      c.status = case_status::awaiting_documents;
      set_deadline(c, deadline_kind::documents, r.due_ms);
      break;
    }
    case fb::Event_CaseAccepted:
      c.category = e.AsCaseAccepted()->category;
      break;
    case fb::Event_CaseRejected:
      end_case(c, case_status::rejected, time);
      break;
    case fb::Event_ForwardedToBusiness:
      c.status = case_status::with_business;
      c.response_level = 0;
      set_deadline(c, deadline_kind::response, e.AsForwardedToBusiness()->response_due_ms);
      break;
    case fb::Event_ResponseDelayed: {
      const auto& r = *e.AsResponseDelayed();
      c.response_level = r.level;
      set_deadline(c, deadline_kind::response, r.next_due_ms);
      break;
    }
    case fb::Event_ResponseUnanswered:
      c.unanswered = true;
      clear_deadline(c, deadline_kind::response);
      break;
    case fb::Event_BusinessResponded:
      c.responded = true;
      c.timely_response = e.AsBusinessResponded()->timely;
      c.status = case_status::negotiation;
      clear_deadline(c, deadline_kind::response);
      break;
    case fb::Event_MessagePosted:
      break;
    case fb::Event_OfferMade: {
      const auto& o = *e.AsOfferMade();
      for (auto& earlier : c.offers)
        if (earlier.status == offer_status::open) earlier.status = offer_status::superseded;
      // The maker is the event's actor; the other party is the one who answers.
      c.offers.push_back({o.offer_number, by, o.remedy, o.amount_rials, o.remedy_days,
                          offer_status::open});
      break;
    }
    case fb::Event_OfferAccepted: {
      const auto& a = *e.AsOfferAccepted();
      if (a.offer_number >= 1 && a.offer_number <= c.offers.size())
        c.offers[a.offer_number - 1].status = offer_status::accepted;
      c.status = case_status::remedy_due;
      set_deadline(c, deadline_kind::remedy, a.remedy_due_ms);
      break;
    }
    case fb::Event_OfferRejected: {
      const auto n = e.AsOfferRejected()->offer_number;
      if (n >= 1 && n <= c.offers.size()) c.offers[n - 1].status = offer_status::rejected;
      break;
    }
    case fb::Event_RemedyFulfilled:
      c.status = case_status::remedy_confirmation;
      clear_deadline(c, deadline_kind::remedy);
      set_deadline(c, deadline_kind::remedy_confirmation, e.AsRemedyFulfilled()->confirm_due_ms);
      break;
    case fb::Event_RemedyNotFulfilled:
      clear_deadline(c, deadline_kind::remedy);
      clear_deadline(c, deadline_kind::remedy_confirmation);
      break;
    case fb::Event_MediationRequested:
      c.status = case_status::awaiting_mediator;
      clear_deadline(c, deadline_kind::response);
      clear_deadline(c, deadline_kind::remedy);
      clear_deadline(c, deadline_kind::remedy_confirmation);
      break;
    case fb::Event_MediatorAssigned: {
      const auto& m = *e.AsMediatorAssigned();
      c.mediator_id = m.mediator_id;
      c.status = case_status::in_mediation;
      set_deadline(c, deadline_kind::mediation, m.due_ms);
      break;
    }
    case fb::Event_SettlementProposed:
      break;
    case fb::Event_MediationConcluded:
      clear_deadline(c, deadline_kind::mediation);
      if (e.AsMediationConcluded()->outcome == fb::MediationOutcome_failed)
        c.status = case_status::mediation_failed;
      break;
    case fb::Event_ReferredToAgency: {
      const auto& r = *e.AsReferredToAgency();
      c.status = case_status::referred;
      c.agency_id = r.agency_id;
      c.agencies.push_back(r.agency_id);
      c.referral_acknowledged = false;
      c.referral_extended = false;
      set_deadline(c, deadline_kind::referral_acknowledgement, r.acknowledge_due_ms);
      set_deadline(c, deadline_kind::referral_decision, r.decision_due_ms);
      break;
    }
    case fb::Event_ReferralAcknowledged:
      c.referral_acknowledged = true;
      clear_deadline(c, deadline_kind::referral_acknowledgement);
      break;
    case fb::Event_ReferralExtended:
      c.referral_extended = true;
      set_deadline(c, deadline_kind::referral_decision, e.AsReferralExtended()->decision_due_ms);
      break;
    case fb::Event_ReferralTransferred: {
      const auto& t = *e.AsReferralTransferred();
      c.agency_id = t.to_agency_id;
      c.agencies.push_back(t.to_agency_id);
      c.referral_acknowledged = false;
      c.referral_extended = false;
      set_deadline(c, deadline_kind::referral_acknowledgement, t.acknowledge_due_ms);
      set_deadline(c, deadline_kind::referral_decision, t.decision_due_ms);
      break;
    }
    case fb::Event_ReferralOverdue:
      clear_deadline(c, e.AsReferralOverdue()->deadline == fb::ReferralDeadline_acknowledgement
                            ? deadline_kind::referral_acknowledgement
                            : deadline_kind::referral_decision);
      break;
    case fb::Event_AgencyDecided:
      break;
    case fb::Event_CaseResolved:
      c.resolution = e.AsCaseResolved()->resolution;
      break;
    case fb::Event_CaseClosed: {
      const auto& cl = *e.AsCaseClosed();
      end_case(c, case_status::closed, time);
      c.close_reason = cl.reason;
      c.reopen_until = cl.reopen_until_ms;
      break;
    }
    case fb::Event_CaseWithdrawn:
      end_case(c, case_status::withdrawn, time);
      break;
    case fb::Event_CaseRated:
      // A case is rated once, and a reopening does not undo it; a log from before that rule
      // may hold a second rating, which changes nothing.
      if (c.rating == 0) c.rating = e.AsCaseRated()->stars;
      break;
    case fb::Event_CaseReopened:
      c.reopened += 1;
      c.mediator_id.clear();  // a new mediation; the former mediator may be assigned again
      c.close_reason.reset();
      c.resolution.reset();
      c.reopen_until = 0;
      c.closed_at = 0;
      c.status = case_status::awaiting_mediator;  // MediationRequested follows
      break;
    case fb::Event_NONE:
    case fb::Event_ConsumerRegistered:
    case fb::Event_BusinessRegistered:
    case fb::Event_AgencyRegistered:
    case fb::Event_MediatorRegistered:
    case fb::Event_SealRestricted:
    case fb::Event_SealReinstated:
    case fb::Event_CredentialIssued:
    case fb::Event_CredentialRevoked:
    case fb::Event_PartyForgotten:
      break;  // not case events
  }
}

void evolve(world& w, const event_record& r) {
  const stream_head head{r.sequence, r.hash};
  const fb::EventUnion& e = r.payload;
  switch (e.type) {
    case fb::Event_ConsumerRegistered: {
      const auto& c = *e.AsConsumerRegistered();
      const std::string digest = carried_digest(w, c.national_code_digest, c.national_code);
      w.consumers[r.stream] = consumer_state{r.stream, digest, r.sealed.has_value(), false, head};
      w.consumer_by_national_code[digest] = r.stream;
      return;
    }
    case fb::Event_BusinessRegistered: {
      const auto& b = *e.AsBusinessRegistered();
      w.businesses[r.stream] = business_state{r.stream, b.domain, b.name, b.stars, false, "", head};
      w.business_by_domain[b.domain] = r.stream;
      return;
    }
    case fb::Event_AgencyRegistered: {
      const auto& a = *e.AsAgencyRegistered();
      w.agencies[r.stream] = agency_state{r.stream, a.name, a.categories, head};
      return;
    }
    case fb::Event_MediatorRegistered: {
      w.mediators[r.stream] = mediator_state{r.stream, r.sealed.has_value(), false, head};
      return;
    }
    case fb::Event_SealRestricted:
    case fb::Event_SealReinstated: {
      w.find_business(r.stream);  // a partial world loads it first
      auto& b = w.businesses[r.stream];
      b.restricted = e.type == fb::Event_SealRestricted;
      // Only the scheduler's policy restricts "by rule"; an operator's restriction is by hand,
      // whatever it cites, so the policy never lifts it.
      b.restriction_rule = b.restricted && r.by.role == fb::Role_system ? e.AsSealRestricted()->rule : "";
      b.head = head;
      return;
    }
    case fb::Event_CredentialIssued: {
      const auto& k = *e.AsCredentialIssued();
      w.credentials[r.stream] = credential_state{
          r.stream, k.role, k.actor_id, std::string(k.secret_hash.begin(), k.secret_hash.end()), k.label, false, head};
      return;
    }
    case fb::Event_CredentialRevoked: {
      w.find_credential(r.stream);  // a partial world loads it first
      auto& k = w.credentials[r.stream];
      k.revoked = true;
      k.head = head;
      return;
    }
    case fb::Event_PartyForgotten: {
      // The person's data is erased; the party stays (its cases name it), and a second
      // registration of the same national code is a new person.
      if (w.find_consumer(r.stream) != nullptr) {
        auto& c = w.consumers[r.stream];
        if (auto it = w.consumer_by_national_code.find(c.national_code_digest);
            it != w.consumer_by_national_code.end() && it->second == r.stream)
          w.consumer_by_national_code.erase(it);
        c.forgotten = true;
        c.head = head;
      } else if (w.find_mediator(r.stream) != nullptr) {
        auto& m = w.mediators[r.stream];
        m.forgotten = true;
        m.head = head;
      }
      return;
    }
    case fb::Event_NONE:
      return;
    case fb::Event_CaseFiled:
    case fb::Event_DocumentAttached:
    case fb::Event_DocumentsRequested:
    case fb::Event_CaseAccepted:
    case fb::Event_CaseRejected:
    case fb::Event_ForwardedToBusiness:
    case fb::Event_ResponseDelayed:
    case fb::Event_ResponseUnanswered:
    case fb::Event_BusinessResponded:
    case fb::Event_MessagePosted:
    case fb::Event_OfferMade:
    case fb::Event_OfferAccepted:
    case fb::Event_OfferRejected:
    case fb::Event_RemedyFulfilled:
    case fb::Event_RemedyNotFulfilled:
    case fb::Event_MediationRequested:
    case fb::Event_MediatorAssigned:
    case fb::Event_SettlementProposed:
    case fb::Event_MediationConcluded:
    case fb::Event_ReferredToAgency:
    case fb::Event_ReferralAcknowledged:
    case fb::Event_ReferralExtended:
    case fb::Event_ReferralTransferred:
    case fb::Event_ReferralOverdue:
    case fb::Event_AgencyDecided:
    case fb::Event_CaseResolved:
    case fb::Event_CaseClosed:
    case fb::Event_CaseWithdrawn:
    case fb::Event_CaseRated:
    case fb::Event_CaseReopened:
      break;
  }

  if (r.sequence.value() > 1) w.find_case(r.stream);  // a partial world loads it first
  case_state& c = w.cases[r.stream];
  if (c.id.empty()) c.id = r.stream;
  const bool was_open = r.sequence.value() > 1 && is_open(c.status);
  const auto earliest_before = earliest_deadline(c);
  const bool was_rated = c.rating != 0;

  evolve_case(c, e, r.time, r.by.role);
  if (const auto* f = e.AsCaseFiled(); f && f->order_digest.empty()) c.order_digest = w.digest_of(f->order_reference);
  c.head = head;
  if (auto kind = score_kind_of(e); kind && !(*kind == score_kind::rating && was_rated)) {
    const int value = e.type == fb::Event_CaseRated ? e.AsCaseRated()->stars : 0;
    // Kept in (time, case, sequence) order, not fold order: a log split into partitions is
    // folded partition by partition, and the score's history must not depend on that.
    auto& list = w.score_events[c.business_id];
    score_event ev{r.time, c.id, r.sequence.value(), *kind, value};
    const auto key = [](const score_event& x) { return std::tie(x.time, x.case_id, x.sequence); };
    list.insert(std::upper_bound(list.begin(), list.end(), ev,
                                 [&](const score_event& a, const score_event& b) { return key(a) < key(b); }),
                std::move(ev));
  }

  // Keep the indexes in step: open cases by order, and cases by earliest deadline.
  const bool now_open = is_open(c.status);
  const order_key key{c.consumer_id, c.business_id, c.order_digest};
  // The index must not depend on fold order: a log split into partitions is folded partition by
  // partition, so a replay can meet a later filing of the same order (open) before an earlier
  // case's filing and closing. An open case keeps the key; a case closing frees only its own.
  if (now_open && (!was_open || e.type == fb::Event_CaseFiled)) {
    auto [it, inserted] = w.open_case_by_order.try_emplace(key, c.id);
    if (!inserted && it->second != c.id) {
      const case_state* holder = w.find_case(it->second);
      if (holder == nullptr || !is_open(holder->status)) it->second = c.id;
    }
  }
  if (!now_open && was_open) {
    if (auto it = w.open_case_by_order.find(key); it != w.open_case_by_order.end() && it->second == c.id)
      w.open_case_by_order.erase(it);
  }
  const auto earliest_after = earliest_deadline(c);
  if (earliest_before != earliest_after) {
    if (earliest_before) w.deadline_index.erase({*earliest_before, c.id});
    if (earliest_after) w.deadline_index.insert({*earliest_after, c.id});
  }
}

}  // namespace sazesh
