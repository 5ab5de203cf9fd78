#include "engine/domain/state.h"

#include "engine/record/hash.h"
#include "engine/record/sealing.h"

#include <algorithm>

namespace sazesh {

const char* to_string(case_status s) {
  switch (s) {
    case case_status::awaiting_documents: return "awaiting_documents";
    case case_status::awaiting_triage: return "awaiting_triage";
    case case_status::with_business: return "with_business";
    case case_status::negotiation: return "negotiation";
    case case_status::remedy_due: return "remedy_due";
    case case_status::remedy_confirmation: return "remedy_confirmation";
    case case_status::awaiting_mediator: return "awaiting_mediator";
    case case_status::in_mediation: return "in_mediation";
    case case_status::mediation_failed: return "mediation_failed";
    case case_status::referred: return "referred";
    case case_status::closed: return "closed";
    case case_status::rejected: return "rejected";
    case case_status::withdrawn: return "withdrawn";
  }
  return "unknown";
}

bool is_open(case_status s) {
  return s != case_status::closed && s != case_status::rejected && s != case_status::withdrawn;
}

const char* to_string(deadline_kind k) {
  switch (k) {
    case deadline_kind::documents: return "documents";
    case deadline_kind::response: return "response";
    case deadline_kind::remedy: return "remedy";
    case deadline_kind::remedy_confirmation: return "remedy_confirmation";
    case deadline_kind::mediation: return "mediation";
    case deadline_kind::referral_acknowledgement: return "referral_acknowledgement";
    case deadline_kind::referral_decision: return "referral_decision";
  }
  return "unknown";
}

const char* who_acts(deadline_kind k) {
  switch (k) {
    case deadline_kind::documents: return "consumer";             // attach what is missing
    case deadline_kind::response: return "business";              // answer before the next rung
    case deadline_kind::remedy: return "business";                // deliver what it agreed
    case deadline_kind::remedy_confirmation: return "consumer";   // confirm, or say it did not come
    case deadline_kind::mediation: return "mediator";             // settle or conclude
    case deadline_kind::referral_acknowledgement: return "agency";
    case deadline_kind::referral_decision: return "agency";
  }
  return "unknown";
}

std::optional<deadline> case_state::deadline_of(deadline_kind k) const {
  for (const auto& d : deadlines)
    if (d.kind == k) return d;
  return std::nullopt;
}

bool agency_state::competent_for(fb::Category c) const {
  return std::find(categories.begin(), categories.end(), c) != categories.end();
}

const case_state* world::find_case(const std::string& id) const {
  if (auto it = cases.find(id); it != cases.end()) return &it->second;
  if (source == nullptr || absent_cases.count(id)) return nullptr;
  auto loaded = source->load_case(id);
  if (!loaded) {
    absent_cases.insert(id);
    return nullptr;
  }
  return &cases.emplace(id, std::move(*loaded)).first->second;
}

void world::load_party(const std::string& id) const {
  if (source == nullptr || absent_parties.count(id)) return;
  if (consumers.count(id) || businesses.count(id) || agencies.count(id) || mediators.count(id) || credentials.count(id))
    return;
  auto loaded = source->load_party(id);
  if (!loaded) {
    absent_parties.insert(id);
    return;
  }
  std::visit(
      [&](auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, consumer_state>) consumers.emplace(id, std::move(p));
        else if constexpr (std::is_same_v<T, business_state>) businesses.emplace(id, std::move(p));
        else if constexpr (std::is_same_v<T, agency_state>) agencies.emplace(id, std::move(p));
        else if constexpr (std::is_same_v<T, mediator_state>) mediators.emplace(id, std::move(p));
        else credentials.emplace(id, std::move(p));
      },
      *loaded);
}

namespace {
template <class Map>
auto* find_in(const Map& m, const std::string& id) {
  auto it = m.find(id);
  return it == m.end() ? nullptr : &it->second;
}
}  // namespace

const consumer_state* world::find_consumer(const std::string& id) const {
  load_party(id);
  return find_in(consumers, id);
}
const business_state* world::find_business(const std::string& id) const {
  load_party(id);
  return find_in(businesses, id);
}
const agency_state* world::find_agency(const std::string& id) const {
  load_party(id);
  return find_in(agencies, id);
}
const mediator_state* world::find_mediator(const std::string& id) const {
  load_party(id);
  return find_in(mediators, id);
}

const credential_state* world::find_credential(const std::string& id) const {
  load_party(id);
  return find_in(credentials, id);
}

const stream_head* world::find_party(const std::string& id) const {
  load_party(id);
  if (auto* c = find_in(consumers, id)) return &c->head;
  if (auto* b = find_in(businesses, id)) return &b->head;
  if (auto* a = find_in(agencies, id)) return &a->head;
  if (auto* m = find_in(mediators, id)) return &m->head;
  if (auto* k = find_in(credentials, id)) return &k->head;
  return nullptr;
}

std::string world::digest_of(std::string_view value) const { return to_hex(personal_digest(digest_key, value)); }

std::optional<std::string> world::consumer_with_national_code(const std::string& code) const {
  if (auto it = consumer_by_national_code.find(code); it != consumer_by_national_code.end()) return it->second;
  if (source == nullptr) return std::nullopt;
  auto found = source->consumer_with_national_code(code);
  if (found) consumer_by_national_code.emplace(code, *found);
  return found;
}

std::optional<std::string> world::business_with_domain(const std::string& domain) const {
  if (auto it = business_by_domain.find(domain); it != business_by_domain.end()) return it->second;
  if (source == nullptr) return std::nullopt;
  auto found = source->business_with_domain(domain);
  if (found) business_by_domain.emplace(domain, *found);
  return found;
}

std::optional<std::string> world::open_case_for(const order_key& key) const {
  // Whatever an index says, a case counts only if it is open as this world holds it: a partial
  // world's source may still list a case this world has closed since.
  const auto is_open_case = [&](const std::string& id) {
    const case_state* c = find_case(id);
    return c != nullptr && is_open(c->status);
  };
  if (auto it = open_case_by_order.find(key); it != open_case_by_order.end() && is_open_case(it->second))
    return it->second;
  if (source == nullptr) return std::nullopt;
  for (const auto& id : source->open_cases_for(key))
    if (is_open_case(id)) return id;
  return std::nullopt;
}

std::vector<std::string> world::open_cases_of(const std::string& party) const {
  std::set<std::string> candidates;
  for (const auto& [id, c] : cases)
    if (c.consumer_id == party || c.mediator_id == party) candidates.insert(id);
  if (source != nullptr)
    for (auto& id : source->open_cases_of(party)) candidates.insert(std::move(id));
  std::vector<std::string> out;
  for (const auto& id : candidates) {
    const case_state* c = find_case(id);
    if (c != nullptr && is_open(c->status) && (c->consumer_id == party || c->mediator_id == party)) out.push_back(id);
  }
  return out;
}

stream_head world::head_of(const std::string& stream) const {
  if (const case_state* c = find_case(stream)) return c->head;
  if (const stream_head* h = find_party(stream)) return *h;
  return {};
}

}  // namespace sazesh
