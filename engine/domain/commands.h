// The commands of Sazesh: what an actor asks the engine to do. A command is decided against the
// current state (engine/domain/decide.h) and either refused with an error or turned into events.
//
// Every command names the stream it acts on (a case id, or a party id for registrations and
// seal actions); `file_case` and the registrations create theirs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/record/record.h"
#include "schemas/events_generated.h"

namespace sazesh {

struct document_input {
  fb::DocumentKind kind = fb::DocumentKind_other;
  std::string sha256;      // 32 raw bytes
  std::string file_name;
  std::uint64_t size_bytes = 0;
};

// ---- Registration and seals ----
struct register_consumer { std::string national_code, mobile, name; };
struct register_business { std::string seal_id, domain, name; int stars = 0; };
struct register_agency { std::string agency_id, name; std::vector<fb::Category> categories; };
struct register_mediator { std::string name, mobile; };
struct restrict_seal { std::string business_id, reason, rule; };
struct reinstate_seal { std::string business_id, reason, rule; };

// ---- Filing and triage ----
struct file_case {
  std::string business;         // seal id or domain
  std::string order_reference;
  std::int32_t purchase_date_days = 0;  // days since 1970-01-01
  std::uint64_t amount_rials = 0;
  fb::Category category = fb::Category_other;
  std::string description;
  fb::RemedyKind requested_remedy = fb::RemedyKind_refund;
  std::vector<document_input> documents;
};
struct attach_document { std::string case_id; document_input document; };
struct accept_case {
  std::string case_id;
  std::optional<fb::Category> category;  // a correction by triage
  fb::Route route = fb::Route_negotiation;
  std::string agency_id;                 // for route referral
  std::string note;
};
struct reject_case { std::string case_id; fb::RejectReason reason; std::string note, duplicate_of; };
struct request_documents { std::string case_id; std::vector<fb::DocumentKind> kinds; std::string note; };

// ---- Negotiation ----
struct respond { std::string case_id, text; };
struct post_message { std::string case_id, text; };
struct make_offer {
  std::string case_id;
  fb::RemedyKind remedy = fb::RemedyKind_refund;
  std::uint64_t amount_rials = 0;
  std::string text;
  std::uint32_t remedy_days = 7;
};
struct accept_offer { std::string case_id; std::uint32_t offer_number = 0; };
struct reject_offer { std::string case_id; std::uint32_t offer_number = 0; std::string text; };
struct mark_remedy_fulfilled { std::string case_id, note; };
struct confirm_remedy { std::string case_id, note; };
struct report_remedy_not_fulfilled { std::string case_id, note; };

// ---- Mediation ----
struct request_mediation { std::string case_id, text; };
struct assign_mediator { std::string case_id, mediator_id; };
struct propose_settlement {
  std::string case_id, text;
  fb::RemedyKind remedy = fb::RemedyKind_refund;
  std::uint64_t amount_rials = 0;
};
struct conclude_mediation { std::string case_id; fb::MediationOutcome outcome; std::string text; };

// ---- Referral ----
struct refer_case { std::string case_id, agency_id, text; };
struct acknowledge_referral { std::string case_id; };
struct extend_referral { std::string case_id; };
struct transfer_referral { std::string case_id, to_agency_id, reason; };
struct decide_referral { std::string case_id; fb::AgencyVerdict verdict; std::string text; };

// ---- Ending and after ----
struct withdraw_case { std::string case_id, reason; };
struct rate_case { std::string case_id; int stars = 0; bool resolved = false; std::string comment; };
struct reopen_case { std::string case_id, reason; };

// ---- Credentials ----
// A credential lets whoever holds its secret act as `role`:`actor_id`; the command carries only
// the secret's hash (32 raw bytes, engine/domain/credentials.h makes both).
struct issue_credential { std::string key_id; fb::Role role = fb::Role_consumer; std::string actor_id, secret_hash, label; };
struct revoke_credential { std::string key_id, reason; };

// ---- Erasure ----
// An operator erases a consumer's or a mediator's personal data (the engine then destroys the
// key that sealed it): refused while an open case (a referral included) still needs it.
struct forget_party { std::string party_id, reason; };

// The scheduler's command: turn every deadline of one case that is due into its events.
struct apply_deadlines { std::string case_id; };

using command = std::variant<
    register_consumer, register_business, register_agency, register_mediator, restrict_seal,
    reinstate_seal, file_case, attach_document, accept_case, reject_case, request_documents,
    respond, post_message, make_offer, accept_offer, reject_offer, mark_remedy_fulfilled,
    confirm_remedy, report_remedy_not_fulfilled, request_mediation, assign_mediator,
    propose_settlement, conclude_mediation, refer_case, acknowledge_referral, extend_referral,
    transfer_referral, decide_referral, withdraw_case, rate_case, reopen_case, apply_deadlines,
    issue_credential, revoke_credential, forget_party>;

// A short name for messages and logs, e.g. "accept_offer".
const char* command_name(const command& c);

}  // namespace sazesh
