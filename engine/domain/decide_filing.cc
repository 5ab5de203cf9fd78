// Filing, documents and triage.
#include "engine/domain/decide_support.h"

#include <algorithm>

#include "engine/record/hash.h"
#include "engine/domain/validation.h"

namespace sazesh::detail {

// ---- Filing and triage -----------------------------------------------------------------------

result<decision> handle(const context& cx, const file_case& in) {
  // One order, however its digits were typed: KL-88213 and KL-۸۸۲۱۳ are the same order.
  file_case c = in;
  c.order_reference = normalize_digits(in.order_reference);
  SAZESH_CHECK(require_role(cx, {fb::Role_consumer}));
  if (cx.w.find_consumer(cx.who.id) == nullptr)
    return refuse(errc::unauthorized, "actor",
                  fmt::format("consumer {} is not registered", cx.who.id));
  std::string business_id = c.business;
  if (auto by_domain = cx.w.business_with_domain(c.business)) business_id = *by_domain;
  if (c.business.empty()) return refuse(errc::invalid_argument, "business", "is required");
  if (cx.w.find_business(business_id) == nullptr)
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

  const std::string order_digest = cx.w.digest_of(c.order_reference);
  const order_key key{cx.who.id, business_id, order_digest};
  if (auto open = cx.w.open_case_for(key))
    return refuse(errc::duplicate, "order_reference",
                  fmt::format("case {} is already open for this order with this business", *open));

  std::string id = derive_id("C-", cx.command_id, 10);
  if (cx.w.find_case(id) != nullptr)
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
  const std::string raw = from_hex(order_digest);
  e.order_digest.assign(raw.begin(), raw.end());
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
    r.due_ms = cx.rules.documents_due(cx.now);
    out.push_back(make(std::move(r)));
  }
  return decision{std::move(id), stream_version(0), std::move(out)};
}

result<decision> handle(const context& cx, const attach_document& c) {
  auto found = load_open_case(cx, c.case_id, {fb::Role_consumer, fb::Role_business});
  if (!found) return found.error();
  const case_state& k = **found;
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
  auto found = load_case(cx, c.case_id, {fb::Role_operator_});
  if (!found) return found.error();
  const case_state& k = **found;
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
  if (c.route < fb::Route_MIN || c.route > fb::Route_MAX)
    return refuse(errc::invalid_argument, "route", "must be negotiation or referral");

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
    f.response_due_ms = cx.rules.ladder_due(cx.now, cx.rules.response_first_ms);
    out.push_back(make(std::move(f)));
  }
  return on_case(k, std::move(out));
}

result<decision> handle(const context& cx, const reject_case& c) {
  auto found = load_case(cx, c.case_id, {fb::Role_operator_},
                         {case_status::awaiting_triage, case_status::awaiting_documents});
  if (!found) return found.error();
  const case_state& k = **found;
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
  auto found = load_case(cx, c.case_id, {fb::Role_operator_},
                         {case_status::awaiting_triage, case_status::awaiting_documents});
  if (!found) return found.error();
  const case_state& k = **found;
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
  e.due_ms = cx.rules.documents_due(cx.now);
  event_list out;
  out.push_back(make(std::move(e)));
  return on_case(k, std::move(out));
}

}  // namespace sazesh::detail
