// Internal to the domain core: what the decide_*.cc files share. Not a public header: the
// contract is engine/domain/decide.h. Each decide_*.cc holds the handlers of one stage of the lifecycle.
#pragma once

#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "engine/domain/decide.h"

namespace sazesh::detail {

using event_list = std::vector<fb::EventUnion>;

inline constexpr std::size_t max_text = 8000;
inline constexpr std::size_t max_name = 200;
inline constexpr std::size_t max_reason = 2000;
inline constexpr std::int32_t earliest_purchase_day = 7305;  // 1990-01-01

template <class T>
fb::EventUnion make(T&& table) {
  fb::EventUnion u;
  u.Set(std::forward<T>(table));
  return u;
}

// Everything a handler decides with.
struct context {
  const world& w;
  const actor& who;
  timestamp_ms now;
  const case_rules& rules;
  std::string_view command_id;
  const char* action;  // the command's name, for messages
};

inline error refuse(errc code, std::string field, std::string rule) {
  return error(code, std::move(field), std::move(rule));
}

// Returns the error of a failed check from the enclosing handler.
#define SAZESH_CHECK(expr)                                    \
  do {                                                        \
    if (auto check_ = (expr); !check_) return check_.error(); \
  } while (false)

std::string list_statuses(std::initializer_list<case_status> allowed);
std::string list_documents(const std::vector<fb::DocumentKind>& kinds);
result<const case_state*> find_case(const context& cx, const std::string& id);
status require_status(const context& cx, const case_state& c,
                      std::initializer_list<case_status> allowed);
status require_open(const context& cx, const case_state& c);
status authorize(const context& cx, const case_state& c, std::initializer_list<fb::Role> roles);
status require_role(const context& cx, std::initializer_list<fb::Role> roles);
// How most handlers open: the case exists, the actor may act on it (authorize), and it is in
// one of `statuses` (load_case) or open at all (load_open_case). With no statuses, the
// handler checks the state itself.
result<const case_state*> load_case(const context& cx, const std::string& id,
                                    std::initializer_list<fb::Role> roles,
                                    std::initializer_list<case_status> statuses = {});
result<const case_state*> load_open_case(const context& cx, const std::string& id,
                                         std::initializer_list<fb::Role> roles);
decision on_case(const case_state& c, event_list events);
status check_document(const document_input& d);
fb::DocumentAttachedT attached(const document_input& d);
std::vector<fb::DocumentKind> missing_for(const std::vector<fb::DocumentKind>& needed,
                                          const std::vector<document_ref>& have);
status check_agency_for(const context& cx, const case_state& c, const std::string& agency_id,
                        const char* field);
fb::ReferredToAgencyT referral(const context& cx, const std::string& agency_id, std::string text);
// Resolution and closure; the reopen window runs from `closed_at` (default: now).
event_list resolved_and_closed(const context& cx, fb::Resolution how, std::string text,
                               std::optional<timestamp_ms> closed_at = std::nullopt);
fb::MediationRequestedT mediation_requested(fb::MediationReason why, std::string text);
result<const business_state*> find_business(const context& cx, const std::string& id);

// One handler per command (decide_parties.cc, decide_filing.cc, decide_negotiation.cc,
// decide_referral.cc, decide_deadlines.cc).
result<decision> handle(const context& cx, const register_consumer& c);
result<decision> handle(const context& cx, const register_business& c);
result<decision> handle(const context& cx, const register_agency& c);
result<decision> handle(const context& cx, const register_mediator& c);
result<decision> handle(const context& cx, const restrict_seal& c);
result<decision> handle(const context& cx, const reinstate_seal& c);
result<decision> handle(const context& cx, const file_case& c);
result<decision> handle(const context& cx, const attach_document& c);
result<decision> handle(const context& cx, const accept_case& c);
result<decision> handle(const context& cx, const reject_case& c);
result<decision> handle(const context& cx, const request_documents& c);
result<decision> handle(const context& cx, const respond& c);
result<decision> handle(const context& cx, const post_message& c);
result<decision> handle(const context& cx, const make_offer& c);
result<decision> handle(const context& cx, const accept_offer& c);
result<decision> handle(const context& cx, const reject_offer& c);
result<decision> handle(const context& cx, const mark_remedy_fulfilled& c);
result<decision> handle(const context& cx, const confirm_remedy& c);
result<decision> handle(const context& cx, const report_remedy_not_fulfilled& c);
result<decision> handle(const context& cx, const request_mediation& c);
result<decision> handle(const context& cx, const assign_mediator& c);
result<decision> handle(const context& cx, const propose_settlement& c);
result<decision> handle(const context& cx, const conclude_mediation& c);
result<decision> handle(const context& cx, const refer_case& c);
result<decision> handle(const context& cx, const acknowledge_referral& c);
result<decision> handle(const context& cx, const extend_referral& c);
result<decision> handle(const context& cx, const transfer_referral& c);
result<decision> handle(const context& cx, const decide_referral& c);
result<decision> handle(const context& cx, const withdraw_case& c);
result<decision> handle(const context& cx, const rate_case& c);
result<decision> handle(const context& cx, const reopen_case& c);
result<decision> handle(const context& cx, const apply_deadlines& c);
result<decision> handle(const context& cx, const issue_credential& c);
result<decision> handle(const context& cx, const revoke_credential& c);
result<decision> handle(const context& cx, const forget_party& c);

}  // namespace sazesh::detail
