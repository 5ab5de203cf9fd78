// decide: the pure heart of the engine. Given the state, who is acting, the command and the
// time, it returns the events the command produces, or the error that refuses it. It does no
// I/O and reads no clock: the same inputs always give the same answer.
//
//   result<decision> d = decide(state, {fb::Role_consumer, "U-…"}, cmd, clock.now(), rules, id);
//
// Every refusal names the field and the rule: a command that does not fit the case's state
// names that state; a missing document names the documents; a duplicate names the open case.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/domain/commands.h"
#include "engine/base/result.h"
#include "engine/domain/rules.h"
#include "engine/domain/state.h"

namespace sazesh {

struct decision {
  std::string stream;             // the stream the events go to
  stream_version expected;        // its version when decided
  std::vector<fb::EventUnion> events;
};

result<decision> decide(const world& state, const actor& who, const command& cmd,
                        timestamp_ms now, const case_rules& rules, std::string_view command_id);

// Parses an enum value by name; errc::invalid_argument naming `field` and the allowed names.
result<fb::Category> parse_category(std::string_view field, std::string_view text);
result<fb::DocumentKind> parse_document_kind(std::string_view field, std::string_view text);
result<fb::RemedyKind> parse_remedy(std::string_view field, std::string_view text);
result<fb::RejectReason> parse_reject_reason(std::string_view field, std::string_view text);
result<fb::MediationOutcome> parse_mediation_outcome(std::string_view field, std::string_view text);
result<fb::AgencyVerdict> parse_verdict(std::string_view field, std::string_view text);
result<fb::Route> parse_route(std::string_view field, std::string_view text);
result<fb::Role> parse_role(std::string_view field, std::string_view text);
const char* role_name(fb::Role r);  // "operator", not flatc's "operator_"
std::string role_with_article(fb::Role r);  // "an operator", "a consumer"
// An agency's files (its dossiers, its feed) are the whole case files, personal data included:
// the agency itself, operators and auditors read them.
bool reads_agency_files(const actor& who, std::string_view agency);
// Whether `who` may know that case `c` exists, and read it: its consumer, its business, its
// mediator while assigned, the agencies that held it, operators, auditors and the system. To
// anyone else a command or a read on it answers as for a case that does not exist.
bool knows_of_case(const actor& who, const case_state& c);

}  // namespace sazesh
