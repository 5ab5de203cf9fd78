// Registration of parties and the seal actions.
#include "engine/domain/decide_support.h"

#include <algorithm>

#include "engine/record/hash.h"
#include "engine/domain/validation.h"

namespace sazesh::detail {

// ---- Registration and seals ------------------------------------------------------------------

result<decision> handle(const context& cx, const register_consumer& in) {
  SAZESH_CHECK(require_role(cx, {fb::Role_consumer, fb::Role_operator_}));
  // People type numbers in Persian digits as often as in Latin ones; store one form.
  register_consumer c = in;
  c.national_code = normalize_digits(in.national_code);
  c.mobile = normalize_digits(in.mobile);
  SAZESH_CHECK(check_national_code("national_code", c.national_code));
  SAZESH_CHECK(check_mobile("mobile", c.mobile));
  SAZESH_CHECK(check_text("name", c.name, 1, max_name));
  if (auto registered = cx.w.consumer_with_national_code(c.national_code))
    return refuse(errc::duplicate, "national_code",
                  fmt::format("is already registered as consumer {}", *registered));
  std::string id = derive_id("U-", cx.command_id, 8);
  if (cx.w.find_party(id) != nullptr)
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
  if (cx.w.find_party(c.seal_id) != nullptr)
    return refuse(errc::duplicate, "seal_id", fmt::format("{} is already registered", c.seal_id));
  // A complaint names its business by seal id or by domain, so neither may equal the other kind
  // of an existing business: that would send complaints to the wrong shop.
  if (cx.w.business_with_domain(c.seal_id))
    return refuse(errc::duplicate, "seal_id", fmt::format("{} is already the domain of another business", c.seal_id));
  if (cx.w.find_business(c.domain) != nullptr)
    return refuse(errc::duplicate, "domain", fmt::format("{} is already the seal id of another business", c.domain));
  if (auto holder = cx.w.business_with_domain(c.domain))
    return refuse(errc::duplicate, "domain", fmt::format("{} is already registered to seal {}", c.domain, *holder));
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
  if (cx.w.find_agency(c.agency_id) != nullptr || cx.w.find_business(c.agency_id) != nullptr)
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

result<decision> handle(const context& cx, const register_mediator& in) {
  SAZESH_CHECK(require_role(cx, {fb::Role_operator_}));
  register_mediator c = in;
  c.mobile = normalize_digits(in.mobile);
  SAZESH_CHECK(check_text("name", c.name, 1, max_name));
  SAZESH_CHECK(check_mobile("mobile", c.mobile));
  std::string id = derive_id("M-", cx.command_id, 8);
  if (cx.w.find_party(id) != nullptr)
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
  const business_state* b = cx.w.find_business(id);
  if (b == nullptr) return refuse(errc::not_found, "business", fmt::format("no registered business {}", id));
  return b;
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

}  // namespace sazesh::detail
