#include "engine/domain/state.h"

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

std::optional<deadline> case_state::deadline_of(deadline_kind k) const {
  for (const auto& d : deadlines)
    if (d.kind == k) return d;
  return std::nullopt;
}

bool agency_state::competent_for(fb::Category c) const {
  return std::find(categories.begin(), categories.end(), c) != categories.end();
}

const case_state* world::find_case(const std::string& id) const {
  auto it = cases.find(id);
  return it == cases.end() ? nullptr : &it->second;
}

stream_head world::head_of(const std::string& stream) const {
  if (auto it = cases.find(stream); it != cases.end()) return it->second.head;
  if (auto it = consumers.find(stream); it != consumers.end()) return it->second.head;
  if (auto it = businesses.find(stream); it != businesses.end()) return it->second.head;
  if (auto it = agencies.find(stream); it != agencies.end()) return it->second.head;
  if (auto it = mediators.find(stream); it != mediators.end()) return it->second.head;
  return {};
}

}  // namespace sazesh
