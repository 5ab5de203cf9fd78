#include "engine/domain/describe.h"

#include <fmt/format.h>

#include "engine/time/calendar.h"
#include "engine/domain/decide.h"
#include "engine/record/hash.h"

namespace sazesh {
namespace {

// Free text is shown whole up to a point; a timeline line should stay a line.
std::string quoted(const std::string& text, std::size_t max_bytes = 120) {
  if (text.empty()) return {};
  std::string t = text;
  for (auto& ch : t)
    if (ch == '\n' || ch == '\t') ch = ' ';
  if (t.size() > max_bytes) {
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
    t = t.substr(0, cut) + "…";
  }
  return " «" + t + "»";
}

std::string when(timestamp_ms t) { return format_gregorian(t); }

std::string kinds(const std::vector<fb::DocumentKind>& ks) {
  std::string out;
  for (auto k : ks) {
    if (!out.empty()) out += ", ";
    out += fb::EnumNameDocumentKind(k);
  }
  return out;
}

std::string rials(std::uint64_t amount) {
  std::string digits = std::to_string(amount), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out + " rials";
}

}  // namespace

std::string event_title(const fb::EventUnion& e) {
  switch (e.type) {
    case fb::Event_NONE: return "nothing";
    case fb::Event_ConsumerRegistered: return "consumer registered";
    case fb::Event_BusinessRegistered: return "business registered";
    case fb::Event_AgencyRegistered: return "agency registered";
    case fb::Event_MediatorRegistered: return "mediator registered";
    case fb::Event_SealRestricted: return "seal restricted";
    case fb::Event_SealReinstated: return "seal reinstated";
    case fb::Event_CredentialIssued: return "credential issued";
    case fb::Event_CredentialRevoked: return "credential revoked";
    case fb::Event_PartyForgotten: return "personal data erased";
    case fb::Event_CaseFiled: return "complaint filed";
    case fb::Event_DocumentAttached: return "document attached";
    case fb::Event_DocumentsRequested: return "documents requested";
    case fb::Event_CaseAccepted: return "accepted in triage";
    case fb::Event_CaseRejected: return "rejected in triage";
    case fb::Event_ForwardedToBusiness: return "forwarded to the business";
    case fb::Event_ResponseDelayed: return "response delayed";
    case fb::Event_ResponseUnanswered: return "unanswered";
    case fb::Event_BusinessResponded: return "business responded";
    case fb::Event_MessagePosted: return "message";
    case fb::Event_OfferMade: return "offer made";
    case fb::Event_OfferAccepted: return "offer accepted";
    case fb::Event_OfferRejected: return "offer rejected";
    case fb::Event_RemedyFulfilled: return "remedy fulfilled";
    case fb::Event_RemedyNotFulfilled: return "remedy not fulfilled";
    case fb::Event_MediationRequested: return "mediation requested";
    case fb::Event_MediatorAssigned: return "mediator assigned";
    case fb::Event_SettlementProposed: return "settlement proposed";
    case fb::Event_MediationConcluded: return "mediation concluded";
    case fb::Event_ReferredToAgency: return "referred to an agency";
    case fb::Event_ReferralAcknowledged: return "referral acknowledged";
    case fb::Event_ReferralExtended: return "referral extended";
    case fb::Event_ReferralTransferred: return "referral transferred";
    case fb::Event_ReferralOverdue: return "referral overdue";
    case fb::Event_AgencyDecided: return "agency decided";
    case fb::Event_CaseResolved: return "resolved";
    case fb::Event_CaseClosed: return "closed";
    case fb::Event_CaseWithdrawn: return "withdrawn";
    case fb::Event_CaseRated: return "rated";
    case fb::Event_CaseReopened: return "reopened";
  }
  return "unknown";
}

std::string describe(const event_record& r) {
  const fb::EventUnion& e = r.payload;
  const std::string title = event_title(e);
  switch (e.type) {
    case fb::Event_NONE: return title;
    case fb::Event_ConsumerRegistered: return fmt::format("{}: {}", title, e.AsConsumerRegistered()->name);
    case fb::Event_BusinessRegistered: {
      const auto& b = *e.AsBusinessRegistered();
      return fmt::format("{}: {} ({}), seal {} with {} stars", title, b.name, b.domain, r.stream, b.stars);
    }
    case fb::Event_AgencyRegistered: return fmt::format("{}: {}", title, e.AsAgencyRegistered()->name);
    case fb::Event_MediatorRegistered: return fmt::format("{}: {}", title, e.AsMediatorRegistered()->name);
    case fb::Event_SealRestricted: {
      const auto& s = *e.AsSealRestricted();
      return title + quoted(s.reason) + (s.rule.empty() ? "" : " by rule " + s.rule);
    }
    case fb::Event_SealReinstated: {
      const auto& s = *e.AsSealReinstated();
      return title + quoted(s.reason) + (s.rule.empty() ? "" : " by rule " + s.rule);
    }
    case fb::Event_CredentialIssued: {
      const auto& k = *e.AsCredentialIssued();
      return fmt::format("{} to {}:{}{}", title, role_name(k.role), k.actor_id, k.label.empty() ? "" : " (" + k.label + ")");
    }
    case fb::Event_CredentialRevoked: return title + quoted(e.AsCredentialRevoked()->reason);
    case fb::Event_PartyForgotten: return title + quoted(e.AsPartyForgotten()->reason);
    case fb::Event_CaseFiled: {
      const auto& f = *e.AsCaseFiled();
      return fmt::format("{} against {}: {} on order {}, {}, asks for {}{}", title, f.business_id,
                         fb::EnumNameCategory(f.category), f.order_reference, rials(f.amount_rials),
                         fb::EnumNameRemedyKind(f.requested_remedy), quoted(f.description));
    }
    case fb::Event_DocumentAttached: {
      const auto& d = *e.AsDocumentAttached();
      const std::string hex = to_hex(std::string(d.sha256.begin(), d.sha256.end())).substr(0, 12);
      return fmt::format("{}: {} {} (sha256 {}…, {} bytes)", title, fb::EnumNameDocumentKind(d.kind),
                         d.file_name, hex, d.size_bytes);
    }
    case fb::Event_DocumentsRequested: {
      const auto& d = *e.AsDocumentsRequested();
      return fmt::format("{}: {}{}; due {}", title, kinds(d.kinds), quoted(d.note), when(d.due_ms));
    }
    case fb::Event_CaseAccepted: {
      const auto& a = *e.AsCaseAccepted();
      return fmt::format("{} as {}, route {}{}", title, fb::EnumNameCategory(a.category),
                         fb::EnumNameRoute(a.route), quoted(a.note));
    }
    case fb::Event_CaseRejected: {
      const auto& j = *e.AsCaseRejected();
      return fmt::format("{} as {}{}{}", title, fb::EnumNameRejectReason(j.reason),
                         j.duplicate_of.empty() ? "" : " of " + j.duplicate_of, quoted(j.note));
    }
    case fb::Event_ForwardedToBusiness:
      return fmt::format("{} {}; first response due {}", title, e.AsForwardedToBusiness()->business_id,
                         when(e.AsForwardedToBusiness()->response_due_ms));
    case fb::Event_ResponseDelayed:
      return fmt::format("{} #{}; next rung {}", title, e.AsResponseDelayed()->level,
                         when(e.AsResponseDelayed()->next_due_ms));
    case fb::Event_ResponseUnanswered:
      return fmt::format("{}: the last rung passed at {}; counted publicly against the business", title,
                         when(e.AsResponseUnanswered()->missed_due_ms));
    case fb::Event_BusinessResponded: {
      const auto& b = *e.AsBusinessResponded();
      return fmt::format("{} {}{}", title,
                         b.timely ? "in time" : fmt::format("late (after delay #{})", b.delay_level),
                         quoted(b.text));
    }
    case fb::Event_MessagePosted: return title + quoted(e.AsMessagePosted()->text);
    case fb::Event_OfferMade: {
      const auto& o = *e.AsOfferMade();
      return fmt::format("{} #{}: {} {}, within {} days{}", title, o.offer_number,
                         fb::EnumNameRemedyKind(o.remedy), rials(o.amount_rials), o.remedy_days, quoted(o.text));
    }
    case fb::Event_OfferAccepted:
      return fmt::format("offer #{} accepted; remedy due {}", e.AsOfferAccepted()->offer_number,
                         when(e.AsOfferAccepted()->remedy_due_ms));
    case fb::Event_OfferRejected:
      return fmt::format("offer #{} rejected{}", e.AsOfferRejected()->offer_number, quoted(e.AsOfferRejected()->text));
    case fb::Event_RemedyFulfilled:
      return fmt::format("{} (says the business){}; the consumer may object until {}", title,
                         quoted(e.AsRemedyFulfilled()->note), when(e.AsRemedyFulfilled()->confirm_due_ms));
    case fb::Event_RemedyNotFulfilled: return title + quoted(e.AsRemedyNotFulfilled()->note);
    case fb::Event_MediationRequested:
      return fmt::format("{} ({}){}", title, fb::EnumNameMediationReason(e.AsMediationRequested()->reason),
                         quoted(e.AsMediationRequested()->text));
    case fb::Event_MediatorAssigned:
      return fmt::format("{}: {}; mediation due {}", title, e.AsMediatorAssigned()->mediator_id,
                         when(e.AsMediatorAssigned()->due_ms));
    case fb::Event_SettlementProposed: {
      const auto& s = *e.AsSettlementProposed();
      return fmt::format("{}: {} {}{}", title, fb::EnumNameRemedyKind(s.remedy), rials(s.amount_rials), quoted(s.text));
    }
    case fb::Event_MediationConcluded: {
      const auto& m = *e.AsMediationConcluded();
      return fmt::format("{}: {}{}{}", title, fb::EnumNameMediationOutcome(m.outcome),
                         m.by_deadline ? " (deadline passed)" : "", quoted(m.text));
    }
    case fb::Event_ReferredToAgency: {
      const auto& a = *e.AsReferredToAgency();
      return fmt::format("{} {}; acknowledge by {}, decide by {}{}", title, a.agency_id,
                         when(a.acknowledge_due_ms), when(a.decision_due_ms), quoted(a.text));
    }
    case fb::Event_ReferralAcknowledged: return fmt::format("{} by {}", title, e.AsReferralAcknowledged()->agency_id);
    case fb::Event_ReferralExtended:
      return fmt::format("{} by {}; decide by {}", title, e.AsReferralExtended()->agency_id,
                         when(e.AsReferralExtended()->decision_due_ms));
    case fb::Event_ReferralTransferred: {
      const auto& t = *e.AsReferralTransferred();
      return fmt::format("{} from {} to {}{}", title, t.from_agency_id, t.to_agency_id, quoted(t.reason));
    }
    case fb::Event_ReferralOverdue: {
      const auto& o = *e.AsReferralOverdue();
      return fmt::format("{}: {} by {} was due {}", title, fb::EnumNameReferralDeadline(o.deadline),
                         o.agency_id, when(o.due_ms));
    }
    case fb::Event_AgencyDecided: {
      const auto& d = *e.AsAgencyDecided();
      return fmt::format("{}: {} {}{}", title, d.agency_id, fb::EnumNameAgencyVerdict(d.verdict), quoted(d.text));
    }
    case fb::Event_CaseResolved:
      return fmt::format("{} by {}{}", title, fb::EnumNameResolution(e.AsCaseResolved()->resolution),
                         quoted(e.AsCaseResolved()->text));
    case fb::Event_CaseClosed: {
      const auto& c = *e.AsCaseClosed();
      return fmt::format("{}: {}{}", title, fb::EnumNameCloseReason(c.reason),
                         c.reopen_until_ms ? "; may be reopened until " + when(c.reopen_until_ms) : "");
    }
    case fb::Event_CaseWithdrawn: return title + quoted(e.AsCaseWithdrawn()->reason);
    case fb::Event_CaseRated: {
      const auto& r2 = *e.AsCaseRated();
      return fmt::format("{} {}/5, {}{}", title, r2.stars, r2.resolved ? "resolved" : "not resolved",
                         quoted(r2.comment));
    }
    case fb::Event_CaseReopened: return title + quoted(e.AsCaseReopened()->reason);
  }
  return title;
}

}  // namespace sazesh
