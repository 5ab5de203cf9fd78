#include "engine/decide.h"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>

#include "engine/evolve.h"
#include "engine/hash.h"
#include "engine/validation.h"

namespace sazesh {
namespace {

using event_list = std::vector<fb::EventUnion>;

constexpr std::size_t max_text = 8000;
constexpr std::size_t max_name = 200;
constexpr std::size_t max_reason = 2000;
constexpr std::int32_t earliest_purchase_day = 7305;  // 1990-01-01

template <class T>
fb::EventUnion make(T&& table) {
  fb::EventUnion u;
  u.Set(std::forward<T>(table));
  return u;
}

struct context {
  const world& w;
  const actor& who;
  timestamp_ms now;
  const case_rules& rules;
  std::string_view command_id;
  const char* action;
};

error refuse(errc code, std::string field, std::string rule) {
  return error(code, std::move(field), std::move(rule));
}

// Turns a failed status into the error it carries, so handlers can `return` it.
#define SAZESH_CHECK(expr)                          \
  do {                                              \
    if (auto check_ = (expr); !check_) return check_.error(); \
  } while (false)

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
  if (std::find(roles.begin(), roles.end(), r) == roles.end())
    return refuse(errc::unauthorized, "actor",
                  fmt::format("a {} may not {}", role_name(r), cx.action));
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
                fmt::format("a {} may not {}", role_name(cx.who.role), cx.action));
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
  auto it = cx.w.agencies.find(agency_id);
  if (it == cx.w.agencies.end())
    return refuse(errc::not_found, field, fmt::format("no registered agency {}", agency_id));
  if (!it->second.competent_for(c.category))
    return refuse(errc::invalid_argument, field,
                  fmt::format("agency {} is not competent for category {}", agency_id,
                              fb::EnumNameCategory(c.category)));
  return ok;
}

fb::ReferredToAgencyT referral(const context& cx, const std::string& agency_id, std::string text) {
  fb::ReferredToAgencyT e;
  e.agency_id = agency_id;
  e.text = std::move(text);
  e.acknowledge_due_ms = cx.now + cx.rules.referral_acknowledge_ms;
  e.decision_due_ms = cx.now + cx.rules.referral_decision_ms;
  return e;
}

event_list resolved_and_closed(const context& cx, fb::Resolution how, std::string text) {
  fb::CaseResolvedT r;
  r.resolution = how;
  r.text = std::move(text);
  fb::CaseClosedT c;
  c.reason = fb::CloseReason_resolved;
  c.reopen_until_ms = cx.now + cx.rules.reopen_window_ms;
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

// ---- Registration and seals ------------------------------------------------------------------

result<decision> handle(const context& cx, const register_consumer& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_consumer, fb::Role_operator_}));
  SAZESH_CHECK(check_national_code("national_code", c.national_code));
  SAZESH_CHECK(check_mobile("mobile", c.mobile));
  SAZESH_CHECK(check_text("name", c.name, 1, max_name));
  if (auto it = cx.w.consumer_by_national_code.find(c.national_code);
      it != cx.w.consumer_by_national_code.end())
    return refuse(errc::duplicate, "national_code",
                  fmt::format("is already registered as consumer {}", it->second));
  std::string id = derive_id("U-", cx.command_id, 8);
  if (cx.w.consumers.count(id) != 0)
    return refuse(errc::already_exists, "command_id", fmt::format("id {} is taken", id));
  fb::ConsumerRegisteredT e;
  e.national_code = c.national_code;
  e.mobile = c.mobile;
  e.name = c.name;
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{std::move(id), stream_version(0), std::move(out)};
}

result<decision> handle(const context& cx, const register_business& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_operator_}));
  SAZESH_CHECK(check_identifier("seal_id", c.seal_id, 32));
  SAZESH_CHECK(check_domain("domain", c.domain));
  SAZESH_CHECK(check_text("name", c.name, 1, max_name));
  if (c.stars < 0 || c.stars > 5)
    return refuse(errc::invalid_argument, "stars", "must be a seal level from 0 to 5");
  if (cx.w.businesses.count(c.seal_id) != 0 || cx.w.consumers.count(c.seal_id) != 0 ||
      cx.w.agencies.count(c.seal_id) != 0 || cx.w.mediators.count(c.seal_id) != 0)
    return refuse(errc::duplicate, "seal_id", fmt::format("{} is already registered", c.seal_id));
  if (auto it = cx.w.business_by_domain.find(c.domain); it != cx.w.business_by_domain.end())
    return refuse(errc::duplicate, "domain",
                  fmt::format("{} is already registered to seal {}", c.domain, it->second));
  fb::BusinessRegisteredT e;
  e.seal_id = c.seal_id;
  e.domain = c.domain;
  e.name = c.name;
  e.stars = static_cast<std::uint8_t>(c.stars);
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{c.seal_id, stream_version(0), std::move(out)};
}

result<decision> handle(const context& cx, const register_agency& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_operator_}));
  // Agency ids name Kafka topics, so they keep to lower-case letters, digits and '-'.
  if (c.agency_id.size() < 2 || c.agency_id.size() > 40 ||
      c.agency_id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
    return refuse(errc::invalid_argument, "agency_id",
                  "must be 2-40 lower-case letters, digits or '-'");
  SAZESH_CHECK(check_text("name", c.name, 1, max_name));
  if (c.categories.empty())
    return refuse(errc::invalid_argument, "categories", "must name at least one category");
  if (cx.w.agencies.count(c.agency_id) != 0 || cx.w.businesses.count(c.agency_id) != 0)
    return refuse(errc::duplicate, "agency_id", fmt::format("{} is already registered", c.agency_id));
  fb::AgencyRegisteredT e;
  e.name = c.name;
  e.categories = c.categories;
  std::sort(e.categories.begin(), e.categories.end());
  e.categories.erase(std::unique(e.categories.begin(), e.categories.end()), e.categories.end());
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{c.agency_id, stream_version(0), std::move(out)};
}

result<decision> handle(const context& cx, const register_mediator& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_operator_}));
  SAZESH_CHECK(check_text("name", c.name, 1, max_name));
  SAZESH_CHECK(check_mobile("mobile", c.mobile));
  std::string id = derive_id("M-", cx.command_id, 8);
  if (cx.w.mediators.count(id) != 0)
    return refuse(errc::already_exists, "command_id", fmt::format("id {} is taken", id));
  fb::MediatorRegisteredT e;
  e.name = c.name;
  e.mobile = c.mobile;
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{std::move(id), stream_version(0), std::move(out)};
}

result<const business_state*> find_business(const context& cx, const std::string& id) {
  if (id.empty()) return refuse(errc::invalid_argument, "business", "is required");
  auto it = cx.w.businesses.find(id);
  if (it == cx.w.businesses.end())
    return refuse(errc::not_found, "business", fmt::format("no registered business {}", id));
  return &it->second;
}

result<decision> handle(const context& cx, const restrict_seal& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_operator_, fb::Role_system}));
  auto b = find_business(cx, c.business_id);
  if (!b) return b.error();
  if ((*b)->restricted)
    return refuse(errc::wrong_state, "business",
                  fmt::format("the seal of {} is already restricted", c.business_id));
  SAZESH_CHECK(check_text("reason", c.reason, 1, max_reason));
  fb::SealRestrictedT e;
  e.reason = c.reason;
  e.rule = c.rule;
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{c.business_id, (*b)->head.version, std::move(out)};
}

result<decision> handle(const context& cx, const reinstate_seal& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_operator_, fb::Role_system}));
  auto b = find_business(cx, c.business_id);
  if (!b) return b.error();
  if (!(*b)->restricted)
    return refuse(errc::wrong_state, "business",
                  fmt::format("the seal of {} is not restricted", c.business_id));
  SAZESH_CHECK(check_text("reason", c.reason, 1, max_reason));
  fb::SealReinstatedT e;
  e.reason = c.reason;
  e.rule = c.rule;
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{c.business_id, (*b)->head.version, std::move(out)};
}

// ---- Filing and triage -----------------------------------------------------------------------

result<decision> handle(const context& cx, const file_case& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_consumer}));
  if (cx.w.consumers.count(cx.who.id) == 0)
    return refuse(errc::unauthorized, "actor",
                  fmt::format("consumer {} is not registered", cx.who.id));
  std::string business_id = c.business;
  if (auto it = cx.w.business_by_domain.find(c.business); it != cx.w.business_by_domain.end())
    business_id = it->second;
  if (c.business.empty()) return refuse(errc::invalid_argument, "business", "is required");
  if (cx.w.businesses.count(business_id) == 0)
    return refuse(errc::not_found, "business",
                  fmt::format("no registered business has seal id or domain {}", c.business));
  SAZESH_CHECK(check_text("order_reference", c.order_reference, 1, 64));
  const auto today = static_cast<std::int32_t>(days_from_civil(tehran_date(cx.now)));
  if (c.purchase_date_days > today)
    return refuse(errc::invalid_argument, "purchase_date", "must not be in the future");
  if (c.purchase_date_days < earliest_purchase_day)
    return refuse(errc::invalid_argument, "purchase_date", "must be after 1990-01-01");
  if (c.category < fb::Category_MIN || c.category > fb::Category_MAX)
    return refuse(errc::invalid_argument, "category", "is not a known category");
  if (c.requested_remedy < fb::RemedyKind_MIN || c.requested_remedy > fb::RemedyKind_MAX)
    return refuse(errc::invalid_argument, "requested_remedy", "is not a known remedy");
  SAZESH_CHECK(check_text("description", c.description, 1, max_text));
  for (const auto& d : c.documents) SAZESH_CHECK(check_document(d));

  const order_key key{cx.who.id, business_id, c.order_reference};
  if (auto it = cx.w.open_case_by_order.find(key); it != cx.w.open_case_by_order.end())
    return refuse(errc::duplicate, "order_reference",
                  fmt::format("case {} is already open for this order with this business",
                              it->second));

  std::string id = derive_id("C-", cx.command_id, 10);
  if (cx.w.cases.count(id) != 0)
    return refuse(errc::already_exists, "command_id", fmt::format("id {} is taken", id));

  fb::CaseFiledT e;
  e.consumer_id = cx.who.id;
  e.business_id = business_id;
  e.order_reference = c.order_reference;
  e.purchase_date_days = c.purchase_date_days;
  e.amount_rials = c.amount_rials;
  e.category = c.category;
  e.description = c.description;
  e.requested_remedy = c.requested_remedy;
  e.required_documents = cx.rules.documents_for(c.category);
  event_list out;
  out.push_back(make(std::move(e)));

  std::vector<document_ref> have;
  for (const auto& d : c.documents) {
    const bool repeat = std::any_of(have.begin(), have.end(),
                                    [&](const document_ref& h) { return h.sha256 == d.sha256; });
    if (repeat) continue;  // the same file given twice is attached once
    have.push_back({d.kind, d.sha256, d.file_name, d.size_bytes});
    out.push_back(make(attached(d)));
  }
  auto missing = missing_for(cx.rules.documents_for(c.category), have);
  if (!missing.empty()) {
    fb::DocumentsRequestedT r;
    r.kinds = std::move(missing);
    r.note = fmt::format("required for a {} complaint", fb::EnumNameCategory(c.category));
    r.due_ms = cx.now + cx.rules.documents_ms;
    out.push_back(make(std::move(r)));
  }
  return decision{std::move(id), stream_version(0), std::move(out)};
}

result<decision> handle(const context& cx, const attach_document& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer, fb::Role_business}));
  SAZESH_CHECK(require_open(cx, k));
  SAZESH_CHECK(check_document(c.document));
  for (const auto& d : k.documents) {
    if (d.sha256 == c.document.sha256)
      return refuse(errc::duplicate, "document",
                    fmt::format("this file is already attached to case {} as {}", k.id,
                                fb::EnumNameDocumentKind(d.kind)));
  }
  event_list out;
  out.push_back(make(attached(c.document)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const accept_case& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_operator_}));
  if (k.status == case_status::awaiting_documents)
    return refuse(errc::missing_documents, "documents",
                  fmt::format("case {} is missing {}", k.id, list_documents(k.missing_documents)));
  SAZESH_CHECK(require_status(cx, k, {case_status::awaiting_triage}));
  const fb::Category category = c.category.value_or(k.category);
  if (category < fb::Category_MIN || category > fb::Category_MAX)
    return refuse(errc::invalid_argument, "category", "is not a known category");
  if (auto missing = missing_for(cx.rules.documents_for(category), k.documents); !missing.empty())
    return refuse(errc::missing_documents, "documents",
                  fmt::format("a {} complaint needs {}; case {} is missing {}",
                              fb::EnumNameCategory(category),
                              list_documents(cx.rules.documents_for(category)), k.id,
                              list_documents(missing)));
  SAZESH_CHECK(check_text("note", c.note, 0, max_reason));

  fb::CaseAcceptedT a;
  a.category = category;
  a.route = c.route;
  a.note = c.note;
  event_list out;
  out.push_back(make(std::move(a)));
  if (c.route == fb::Route_referral) {
    case_state corrected = k;
    corrected.category = category;
    SAZESH_CHECK(check_agency_for(cx, corrected, c.agency_id, "agency"));
    out.push_back(make(referral(cx, c.agency_id, c.note)));
  } else {
    if (!c.agency_id.empty())
      return refuse(errc::invalid_argument, "agency", "is only given with route referral");
    fb::ForwardedToBusinessT f;
    f.business_id = k.business_id;
    f.response_due_ms = cx.now + cx.rules.response_first_ms;
    out.push_back(make(std::move(f)));
  }
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const reject_case& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_operator_}));
  SAZESH_CHECK(require_status(cx, k, {case_status::awaiting_triage, case_status::awaiting_documents}));
  if (c.reason < fb::RejectReason_MIN || c.reason > fb::RejectReason_MAX)
    return refuse(errc::invalid_argument, "reason", "is not a known rejection reason");
  SAZESH_CHECK(check_text("note", c.note, 1, max_reason));
  if (c.reason == fb::RejectReason_duplicate) {
    if (c.duplicate_of.empty() || c.duplicate_of == k.id || cx.w.find_case(c.duplicate_of) == nullptr)
      return refuse(errc::invalid_argument, "duplicate_of",
                    "must name another existing case when the reason is duplicate");
  } else if (!c.duplicate_of.empty()) {
    return refuse(errc::invalid_argument, "duplicate_of", "is only given when the reason is duplicate");
  }
  fb::CaseRejectedT e;
  e.reason = c.reason;
  e.note = c.note;
  e.duplicate_of = c.duplicate_of;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const request_documents& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_operator_}));
  SAZESH_CHECK(require_status(cx, k, {case_status::awaiting_triage, case_status::awaiting_documents}));
  if (c.kinds.empty()) return refuse(errc::invalid_argument, "kinds", "must name at least one document");
  std::vector<fb::DocumentKind> kinds = k.missing_documents;
  for (auto kind : c.kinds) {
    if (kind < fb::DocumentKind_MIN || kind > fb::DocumentKind_MAX)
      return refuse(errc::invalid_argument, "kinds", "names an unknown document kind");
    const bool present = std::any_of(k.documents.begin(), k.documents.end(),
                                     [&](const document_ref& d) { return d.kind == kind; });
    if (present)
      return refuse(errc::invalid_argument, "kinds",
                    fmt::format("{} is already attached to case {}", fb::EnumNameDocumentKind(kind), k.id));
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  }
  SAZESH_CHECK(check_text("note", c.note, 0, max_reason));
  fb::DocumentsRequestedT e;
  e.kinds = std::move(kinds);
  e.note = c.note;
  e.due_ms = cx.now + cx.rules.documents_ms;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

// ---- Negotiation -----------------------------------------------------------------------------

result<decision> handle(const context& cx, const respond& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_business}));
  SAZESH_CHECK(require_status(cx, k, {case_status::with_business}));
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  fb::BusinessRespondedT e;
  e.text = c.text;
  e.timely = k.response_level == 0;
  e.delay_level = static_cast<std::uint8_t>(k.response_level);
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const post_message& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer, fb::Role_business, fb::Role_mediator,
                                 fb::Role_agency, fb::Role_operator_}));
  SAZESH_CHECK(require_open(cx, k));
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  fb::MessagePostedT e;
  e.text = c.text;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const make_offer& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_business, fb::Role_consumer}));
  SAZESH_CHECK(require_status(cx, k, {case_status::negotiation}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer, fb::Role_business}));
  SAZESH_CHECK(require_status(cx, k, {case_status::negotiation}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer, fb::Role_business}));
  SAZESH_CHECK(require_status(cx, k, {case_status::negotiation}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_business}));
  SAZESH_CHECK(require_status(cx, k, {case_status::remedy_due}));
  SAZESH_CHECK(check_text("note", c.note, 0, max_text));
  fb::RemedyFulfilledT e;
  e.note = c.note;
  e.confirm_due_ms = cx.now + cx.rules.remedy_confirmation_ms;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const confirm_remedy& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer}));
  SAZESH_CHECK(require_status(cx, k, {case_status::remedy_due, case_status::remedy_confirmation}));
  SAZESH_CHECK(check_text("note", c.note, 0, max_text));
  return on_case(k, resolved_and_closed(cx, fb::Resolution_negotiation, c.note));
}

result<decision> handle(const context& cx, const report_remedy_not_fulfilled& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer}));
  SAZESH_CHECK(require_status(cx, k, {case_status::remedy_due, case_status::remedy_confirmation}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer}));
  SAZESH_CHECK(require_status(cx, k, {case_status::negotiation}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_operator_}));
  SAZESH_CHECK(require_status(cx, k, {case_status::awaiting_mediator, case_status::in_mediation}));
  if (c.mediator_id.empty()) return refuse(errc::invalid_argument, "mediator", "is required");
  if (cx.w.mediators.count(c.mediator_id) == 0)
    return refuse(errc::not_found, "mediator", fmt::format("no registered mediator {}", c.mediator_id));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_mediator}));
  SAZESH_CHECK(require_status(cx, k, {case_status::in_mediation}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_mediator, fb::Role_operator_}));
  SAZESH_CHECK(require_status(cx, k, {case_status::in_mediation}));
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

// ---- Referral --------------------------------------------------------------------------------

result<decision> handle(const context& cx, const refer_case& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_operator_}));
  SAZESH_CHECK(require_status(cx, k, {case_status::mediation_failed, case_status::awaiting_mediator}));
  SAZESH_CHECK(check_agency_for(cx, k, c.agency_id, "agency"));
  SAZESH_CHECK(check_text("text", c.text, 1, max_text));
  event_list out;
  out.push_back(make(referral(cx, c.agency_id, c.text)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const acknowledge_referral& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_agency}));
  SAZESH_CHECK(require_status(cx, k, {case_status::referred}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_agency}));
  SAZESH_CHECK(require_status(cx, k, {case_status::referred}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_agency, fb::Role_operator_}));
  SAZESH_CHECK(require_status(cx, k, {case_status::referred}));
  SAZESH_CHECK(check_agency_for(cx, k, c.to_agency_id, "to_agency"));
  if (c.to_agency_id == k.agency_id)
    return refuse(errc::invalid_argument, "to_agency",
                  fmt::format("case {} is already held by {}", k.id, k.agency_id));
  SAZESH_CHECK(check_text("reason", c.reason, 1, max_reason));
  fb::ReferralTransferredT e;
  e.from_agency_id = k.agency_id;
  e.to_agency_id = c.to_agency_id;
  e.reason = c.reason;
  e.acknowledge_due_ms = cx.now + cx.rules.referral_acknowledge_ms;
  e.decision_due_ms = cx.now + cx.rules.referral_decision_ms;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const decide_referral& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_agency}));
  SAZESH_CHECK(require_status(cx, k, {case_status::referred}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer}));
  SAZESH_CHECK(require_open(cx, k));
  SAZESH_CHECK(check_text("reason", c.reason, 0, max_reason));
  fb::CaseWithdrawnT e;
  e.reason = c.reason;
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const rate_case& c) {
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer}));
  SAZESH_CHECK(require_status(cx, k, {case_status::closed}));
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
  auto found = find_case(cx, c.case_id);
  if (!found) return found.error();
  const case_state& k = **found;
  SAZESH_CHECK(authorize(cx, k, {fb::Role_consumer}));
  SAZESH_CHECK(require_status(cx, k, {case_status::closed}));
  if (k.close_reason != fb::CloseReason_resolved)
    return refuse(errc::wrong_state, "status",
                  fmt::format("case {} was closed as {}; only a settled case can be reopened", k.id,
                              fb::EnumNameCloseReason(k.close_reason.value_or(fb::CloseReason_incomplete))));
  if (cx.now > k.reopen_until)
    return refuse(errc::deadline_passed, "reopen",
                  fmt::format("case {} could be reopened until {}", k.id, format_iso_utc(k.reopen_until)));
  SAZESH_CHECK(check_text("reason", c.reason, 1, max_reason));
  if (auto it = cx.w.open_case_by_order.find({k.consumer_id, k.business_id, k.order_reference});
      it != cx.w.open_case_by_order.end())
    return refuse(errc::duplicate, "order_reference",
                  fmt::format("case {} is already open for this order", it->second));
  fb::CaseReopenedT e;
  e.reason = c.reason;
  event_list out;
  out.push_back(make(std::move(e)));
  out.push_back(make(mediation_requested(fb::MediationReason_reopened, c.reason)));
  return on_case(k, std::move(out));
}

// ---- Deadlines -------------------------------------------------------------------------------

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
        e.next_due_ms = d.due + (k.response_level == 0 ? cx.rules.response_second_ms
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
                                          "the consumer did not object to the delivered remedy"))
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

#undef SAZESH_CHECK

}  // namespace

result<decision> decide(const world& state, const actor& who, const command& cmd, timestamp_ms now,
                        const case_rules& rules, std::string_view command_id) {
  context cx{state, who, now, rules, command_id, command_name(cmd)};
  if (command_id.empty()) return refuse(errc::invalid_argument, "command_id", "is required");
  if (who.role == fb::Role_auditor || who.role == fb::Role_analyst)
    return refuse(errc::unauthorized, "actor",
                  fmt::format("{}s read and never write", role_name(who.role)));
  if (who.role == fb::Role_system && !std::holds_alternative<apply_deadlines>(cmd) &&
      !std::holds_alternative<restrict_seal>(cmd) && !std::holds_alternative<reinstate_seal>(cmd))
    return refuse(errc::unauthorized, "actor", "the system only applies deadlines and seal policy");
  if (who.id.empty() && !std::holds_alternative<register_consumer>(cmd))
    return refuse(errc::invalid_argument, "actor", "must name who is acting (role:id)");
  return std::visit([&](const auto& c) { return handle(cx, c); }, cmd);
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

result<fb::Role> parse_role(std::string_view field, std::string_view text) {
  if (text == "operator") return fb::Role_operator_;
  if (text == "operator_")
    return error(errc::invalid_argument, std::string(field), "must be one of consumer, business, operator, mediator, agency, auditor, analyst, system");
  auto r = parse_enum<fb::Role>(field, text, fb::EnumNamesRole(), fb::Role_MAX);
  if (!r) return error(errc::invalid_argument, std::string(field), "must be one of consumer, business, operator, mediator, agency, auditor, analyst, system");
  return r;
}

}  // namespace sazesh
