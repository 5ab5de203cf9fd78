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
  const std::string digest = cx.w.digest_of(c.national_code);
  if (auto registered = cx.w.consumer_with_national_code(digest))
    return refuse(errc::duplicate, "national_code",
                  fmt::format("is already registered as consumer {}", *registered));
  std::string id = derive_id("U-", cx.command_id, 8);
  if (cx.w.find_party(id) != nullptr)
    return refuse(errc::already_exists, "command_id", fmt::format("id {} is taken", id));
  fb::ConsumerRegisteredT e;
  e.national_code = c.national_code;
  e.mobile = c.mobile;
  e.name = c.name;
  const std::string raw = from_hex(digest);
  e.national_code_digest.assign(raw.begin(), raw.end());
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

// ---- Credentials -----------------------------------------------------------------------------

namespace {


// The party a credential would act for must exist; staff ids are names an operator chooses.
status check_credential_actor(const context& cx, fb::Role role, const std::string& id) {
  const auto missing = [&](const char* kind) {
    return refuse(errc::not_found, "actor_id", fmt::format("no registered {} {}", kind, id));
  };
  switch (role) {
    case fb::Role_consumer: return cx.w.find_consumer(id) ? status(ok) : missing("consumer");
    case fb::Role_business: return cx.w.find_business(id) ? status(ok) : missing("business");
    case fb::Role_agency: return cx.w.find_agency(id) ? status(ok) : missing("agency");
    case fb::Role_mediator: return cx.w.find_mediator(id) ? status(ok) : missing("mediator");
    case fb::Role_operator_:
    case fb::Role_auditor:
    case fb::Role_analyst:
      if (id.size() < 2 || id.size() > 40 || id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos)
        return refuse(errc::invalid_argument, "actor_id", "must be 2-40 lower-case letters, digits or '-'");
      return ok;
    case fb::Role_system: break;
  }
  return refuse(errc::invalid_argument, "role", "must be consumer, business, operator, mediator, agency, auditor or analyst");
}

}  // namespace

result<decision> handle(const context& cx, const issue_credential& c) {
  // Operators issue credentials to anyone; a party (or staff member) issues more of its own.
  const bool for_self = cx.who.role == c.role && cx.who.id == c.actor_id && !cx.who.id.empty();
  if (cx.who.role != fb::Role_operator_ && cx.who.role != fb::Role_system && !for_self)
    return refuse(errc::unauthorized, "actor",
                  fmt::format("{} may issue credentials only for itself", role_with_article(cx.who.role)));
  if (c.key_id.size() != 12 || c.key_id.find_first_not_of("0123456789abcdef") != std::string::npos)
    return refuse(errc::invalid_argument, "key_id", "must be 12 lower-case hex digits");
  if (c.role == fb::Role_system || c.role > fb::Role_MAX)
    return refuse(errc::invalid_argument, "role", "must be consumer, business, operator, mediator, agency, auditor or analyst");
  SAZESH_CHECK(check_credential_actor(cx, c.role, c.actor_id));
  if (c.secret_hash.size() != 32)
    return refuse(errc::invalid_argument, "secret_hash", "must be 32 bytes");
  SAZESH_CHECK(check_text("label", c.label, 0, max_name));
  std::string stream = "K-" + c.key_id;
  if (cx.w.find_party(stream) != nullptr)
    return refuse(errc::already_exists, "key_id", fmt::format("credential {} exists", c.key_id));
  fb::CredentialIssuedT e;
  e.role = c.role;
  e.actor_id = c.actor_id;
  e.secret_hash.assign(c.secret_hash.begin(), c.secret_hash.end());
  e.label = c.label;
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{std::move(stream), stream_version(0), std::move(out)};
}

result<decision> handle(const context& cx, const revoke_credential& c) {
  const credential_state* k = cx.w.find_credential("K-" + c.key_id);
  if (k == nullptr) return refuse(errc::not_found, "key_id", fmt::format("no credential {}", c.key_id));
  const bool own = cx.who.role == k->role && cx.who.id == k->actor_id;
  if (cx.who.role != fb::Role_operator_ && cx.who.role != fb::Role_system && !own)
    return refuse(errc::unauthorized, "actor",
                  fmt::format("{} may revoke only its own credentials", role_with_article(cx.who.role)));
  if (k->revoked) return refuse(errc::wrong_state, "key_id", fmt::format("credential {} is already revoked", c.key_id));
  SAZESH_CHECK(check_text("reason", c.reason, 1, max_reason));
  fb::CredentialRevokedT e;
  e.reason = c.reason;
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{k->id, k->head.version, std::move(out)};
}

result<decision> handle(const context& cx, const forget_party& c) {
  SAZESH_CHECK(require_role(cx, {fb::Role_operator_}));
  SAZESH_CHECK(check_text("reason", c.reason, 1, max_reason));
  stream_head head;
  bool forgotten = false, sealed = false;
  if (const consumer_state* p = cx.w.find_consumer(c.party_id)) {
    head = p->head;
    forgotten = p->forgotten;
    sealed = p->sealed;
  } else if (const mediator_state* m = cx.w.find_mediator(c.party_id)) {
    head = m->head;
    forgotten = m->forgotten;
    sealed = m->sealed;
  } else if (cx.w.find_party(c.party_id) != nullptr) {
    return refuse(errc::invalid_argument, "party",
                  fmt::format("{} is a public registrant; only a consumer's or a mediator's personal data is erased", c.party_id));
  } else {
    return refuse(errc::not_found, "party", fmt::format("no consumer or mediator {}", c.party_id));
  }
  // Again: nothing more to write (the engine destroys the key once more, should it be left).
  if (forgotten) return decision{c.party_id, head.version, {}};
  if (!sealed)
    return refuse(errc::wrong_state, "party",
                  fmt::format("{} was registered before personal data was sealed: their data is in the log in the clear, "
                              "and destroying a key would not erase it",
                              c.party_id));
  if (const auto open = cx.w.open_cases_of(c.party_id); !open.empty()) {
    std::string list;
    for (const auto& id : open) list += (list.empty() ? "" : ", ") + id;
    return refuse(errc::wrong_state, "party",
                  fmt::format("{}'s data is still needed by open case(s) {} (a referral to an agency is an open case)",
                              c.party_id, list));
  }
  fb::PartyForgottenT e;
  e.reason = c.reason;
  event_list out;
  out.push_back(make(std::move(e)));
  return decision{c.party_id, head.version, std::move(out)};
}

}  // namespace sazesh::detail
