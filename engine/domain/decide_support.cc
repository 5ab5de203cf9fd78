// Checks shared by the command handlers: state, authorization, documents, agencies.
#include "engine/domain/decide_support.h"

#include <algorithm>

#include "engine/domain/validation.h"

namespace sazesh::detail {

std::string list_statuses(std::initializer_list<case_status> allowed) {
  std::string out;
  for (auto s : allowed) {
    if (!out.empty()) out += " or ";
    out += to_string(s);
  }
  return out;
}

std::string list_documents(const std::vector<fb::DocumentKind>& kinds) {
  std::string out;
  for (auto k : kinds) {
    if (!out.empty()) out += ", ";
    out += fb::EnumNameDocumentKind(k);
  }
  return out;
}

result<const case_state*> find_case(const context& cx, const std::string& id) {
  if (id.empty()) return refuse(errc::invalid_argument, "case_id", "is required");
  const case_state* c = cx.w.find_case(id);
  if (c == nullptr) return refuse(errc::not_found, "case_id", fmt::format("no case {}", id));
  return c;
}

status require_status(const context& cx, const case_state& c,
                      std::initializer_list<case_status> allowed) {
  if (std::find(allowed.begin(), allowed.end(), c.status) != allowed.end()) return ok;
  return refuse(errc::wrong_state, "status",
                fmt::format("case {} is {}; {} needs it to be {}", c.id, to_string(c.status),
                            cx.action, list_statuses(allowed)));
}

status require_open(const context& cx, const case_state& c) {
  if (is_open(c.status)) return ok;
  return refuse(errc::wrong_state, "status",
                fmt::format("case {} is {}; {} needs an open case", c.id, to_string(c.status),
                            cx.action));
}

// Authorization by role and by relationship to the case.
status authorize(const context& cx, const case_state& c, std::initializer_list<fb::Role> roles) {
  const fb::Role r = cx.who.role;
  // A party never learns of another's case: it is answered as one that does not exist.
  if (r != fb::Role_analyst && !knows_of_case(cx.who, c))
    return refuse(errc::not_found, "case_id", fmt::format("no case {}", c.id));
  if (std::find(roles.begin(), roles.end(), r) == roles.end())
    return refuse(errc::unauthorized, "actor",
                  fmt::format("{} may not {}", role_with_article(r), cx.action));
  const auto mismatch = [&](const char* relation) {
    return refuse(errc::unauthorized, "actor",
                  fmt::format("{} {} is not {} of case {}", role_name(r), cx.who.id, relation, c.id));
  };
  switch (r) {
    case fb::Role_consumer:
      if (cx.who.id != c.consumer_id) return mismatch("the consumer");
      break;
    case fb::Role_business:
      if (cx.who.id != c.business_id) return mismatch("the business");
      break;
    case fb::Role_mediator:
      if (c.mediator_id.empty() || cx.who.id != c.mediator_id) return mismatch("the mediator");
      break;
    case fb::Role_agency:
      if (c.agency_id.empty() || cx.who.id != c.agency_id) return mismatch("the agency holding");
      break;
    case fb::Role_operator_:
    case fb::Role_system:
      break;
    case fb::Role_auditor:
    case fb::Role_analyst:
      return refuse(errc::unauthorized, "actor", fmt::format("{}s never write", role_name(r)));
  }
  return ok;
}

status require_role(const context& cx, std::initializer_list<fb::Role> roles) {
  if (std::find(roles.begin(), roles.end(), cx.who.role) != roles.end()) return ok;
  return refuse(errc::unauthorized, "actor",
                fmt::format("{} may not {}", role_with_article(cx.who.role), cx.action));
}

result<const case_state*> load_case(const context& cx, const std::string& id,
                                    std::initializer_list<fb::Role> roles,
                                    std::initializer_list<case_status> statuses) {
  auto found = find_case(cx, id);
  if (!found) return found.error();
  SAZESH_CHECK(authorize(cx, **found, roles));
  if (statuses.size() != 0) SAZESH_CHECK(require_status(cx, **found, statuses));
  return *found;
}

result<const case_state*> load_open_case(const context& cx, const std::string& id,
                                         std::initializer_list<fb::Role> roles) {
  auto found = find_case(cx, id);
  if (!found) return found.error();
  SAZESH_CHECK(authorize(cx, **found, roles));
  SAZESH_CHECK(require_open(cx, **found));
  return *found;
}

decision on_case(const case_state& c, event_list events) {
  return decision{c.id, c.head.version, std::move(events)};
}

status check_document(const document_input& d) {
  if (d.sha256.size() != 32)
    return refuse(errc::invalid_argument, "document.sha256", "must be a SHA-256 hash (32 bytes)");
  if (d.kind < fb::DocumentKind_MIN || d.kind > fb::DocumentKind_MAX)
    return refuse(errc::invalid_argument, "document.kind", "is not a known document kind");
  return check_text("document.file_name", d.file_name, 1, 255);
}

fb::DocumentAttachedT attached(const document_input& d) {
  fb::DocumentAttachedT e;
  e.kind = d.kind;
  e.sha256.assign(d.sha256.begin(), d.sha256.end());
  e.file_name = d.file_name;
  e.size_bytes = d.size_bytes;
  return e;
}

std::vector<fb::DocumentKind> missing_for(const std::vector<fb::DocumentKind>& needed,
                                          const std::vector<document_ref>& have) {
  std::vector<fb::DocumentKind> missing;
  for (auto k : needed) {
    const bool present =
        std::any_of(have.begin(), have.end(), [&](const document_ref& d) { return d.kind == k; });
    if (!present && std::find(missing.begin(), missing.end(), k) == missing.end())
      missing.push_back(k);
  }
  return missing;
}

status check_agency_for(const context& cx, const case_state& c, const std::string& agency_id,
                        const char* field) {
  if (agency_id.empty()) return refuse(errc::invalid_argument, field, "is required");
  const agency_state* agency = cx.w.find_agency(agency_id);
  if (agency == nullptr) return refuse(errc::not_found, field, fmt::format("no registered agency {}", agency_id));
  if (!agency->competent_for(c.category))
    return refuse(errc::invalid_argument, field,
                  fmt::format("agency {} is not competent for category {}", agency_id,
                              fb::EnumNameCategory(c.category)));
  return ok;
}

fb::ReferredToAgencyT referral(const context& cx, const std::string& agency_id, std::string text) {
  fb::ReferredToAgencyT e;
  e.agency_id = agency_id;
  e.text = std::move(text);
  e.acknowledge_due_ms = cx.rules.acknowledge_due(cx.now);
  e.decision_due_ms = cx.now + cx.rules.referral_decision_ms;
  return e;
}

event_list resolved_and_closed(const context& cx, fb::Resolution how, std::string text,
                               std::optional<timestamp_ms> closed_at) {
  fb::CaseResolvedT r;
  r.resolution = how;
  r.text = std::move(text);
  fb::CaseClosedT c;
  c.reason = fb::CloseReason_resolved;
  c.reopen_until_ms = closed_at.value_or(cx.now) + cx.rules.reopen_window_ms;
  event_list out;
  out.push_back(make(std::move(r)));
  out.push_back(make(std::move(c)));
  return out;
}

fb::MediationRequestedT mediation_requested(fb::MediationReason why, std::string text) {
  fb::MediationRequestedT m;
  m.reason = why;
  m.text = std::move(text);
  return m;
}

}  // namespace sazesh::detail
