#include "engine/domain/decide.h"

#include <fmt/format.h>

#include "engine/domain/decide_support.h"

namespace sazesh {

using detail::context;
using detail::refuse;

result<decision> decide(const world& state, const actor& who, const command& cmd, timestamp_ms now,
                        const case_rules& rules, std::string_view command_id) {
  context cx{state, who, now, rules, command_id, command_name(cmd)};
  if (command_id.empty()) return refuse(errc::invalid_argument, "command_id", "is required");
  if (who.role == fb::Role_auditor || who.role == fb::Role_analyst)
    return refuse(errc::unauthorized, "actor",
                  fmt::format("{}s read and never write", role_name(who.role)));
  if (who.role == fb::Role_system && !std::holds_alternative<apply_deadlines>(cmd) &&
      !std::holds_alternative<restrict_seal>(cmd) && !std::holds_alternative<reinstate_seal>(cmd) &&
      !std::holds_alternative<issue_credential>(cmd))
    return refuse(errc::unauthorized, "actor", "the system only applies deadlines and seal policy, and issues credentials");
  if (who.id.empty() && !std::holds_alternative<register_consumer>(cmd))
    return refuse(errc::invalid_argument, "actor", "must name who is acting (role:id)");
  return std::visit([&](const auto& c) { return detail::handle(cx, c); }, cmd);
}

// ---- Names -----------------------------------------------------------------------------------

namespace {

template <class E>
result<E> parse_enum(std::string_view field, std::string_view text, const char* const* names,
                     int max) {
  std::string allowed;
  for (int i = 0; i <= max; ++i) {
    if (text == names[i]) return static_cast<E>(i);
    if (!allowed.empty()) allowed += ", ";
    allowed += names[i];
  }
  return error(errc::invalid_argument, std::string(field), "must be one of " + allowed);
}

}  // namespace

result<fb::Category> parse_category(std::string_view f, std::string_view t) {
  return parse_enum<fb::Category>(f, t, fb::EnumNamesCategory(), fb::Category_MAX);
}
result<fb::DocumentKind> parse_document_kind(std::string_view f, std::string_view t) {
  return parse_enum<fb::DocumentKind>(f, t, fb::EnumNamesDocumentKind(), fb::DocumentKind_MAX);
}
result<fb::RemedyKind> parse_remedy(std::string_view f, std::string_view t) {
  return parse_enum<fb::RemedyKind>(f, t, fb::EnumNamesRemedyKind(), fb::RemedyKind_MAX);
}
result<fb::RejectReason> parse_reject_reason(std::string_view f, std::string_view t) {
  return parse_enum<fb::RejectReason>(f, t, fb::EnumNamesRejectReason(), fb::RejectReason_MAX);
}
result<fb::MediationOutcome> parse_mediation_outcome(std::string_view f, std::string_view t) {
  return parse_enum<fb::MediationOutcome>(f, t, fb::EnumNamesMediationOutcome(),
                                          fb::MediationOutcome_MAX);
}
result<fb::AgencyVerdict> parse_verdict(std::string_view f, std::string_view t) {
  return parse_enum<fb::AgencyVerdict>(f, t, fb::EnumNamesAgencyVerdict(), fb::AgencyVerdict_MAX);
}
result<fb::Route> parse_route(std::string_view f, std::string_view t) {
  return parse_enum<fb::Route>(f, t, fb::EnumNamesRoute(), fb::Route_MAX);
}

const char* role_name(fb::Role r) {
  return r == fb::Role_operator_ ? "operator" : fb::EnumNameRole(r);
}

bool reads_agency_files(const actor& who, std::string_view agency) {
  return (who.role == fb::Role_agency && who.id == agency) || who.role == fb::Role_operator_ ||
         who.role == fb::Role_auditor;
}

std::string role_with_article(fb::Role r) {
  const std::string name = role_name(r);
  return (name.find_first_of("aeiou") == 0 ? "an " : "a ") + name;
}

bool knows_of_case(const actor& who, const case_state& c) {
  switch (who.role) {
    case fb::Role_operator_:
    case fb::Role_auditor:
    case fb::Role_system: return true;
    case fb::Role_consumer: return who.id == c.consumer_id;
    case fb::Role_business: return who.id == c.business_id;
    case fb::Role_mediator: return !c.mediator_id.empty() && who.id == c.mediator_id;
    case fb::Role_agency: return std::find(c.agencies.begin(), c.agencies.end(), who.id) != c.agencies.end();
    case fb::Role_analyst: return false;
  }
  return false;
}

result<fb::Role> parse_role(std::string_view field, std::string_view text) {
  if (text == "operator") return fb::Role_operator_;
  if (text == "operator_")
    return error(errc::invalid_argument, std::string(field), "must be one of consumer, business, operator, mediator, agency, auditor, analyst, system");
  auto r = parse_enum<fb::Role>(field, text, fb::EnumNamesRole(), fb::Role_MAX);
  if (!r) return error(errc::invalid_argument, std::string(field), "must be one of consumer, business, operator, mediator, agency, auditor, analyst, system");
  return r;
}

}  // namespace sazesh
