// case_rules: the configurable part of the domain: deadlines and the documents each category
// needs. Defaults follow the service's published instructions (eNamad's 72h/48h/24h response
// ladder; the Executive Regulation of Art. 48 of the E-Commerce Law for referrals).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/domain/trust.h"
#include "engine/time/work_calendar.h"
#include "schemas/events_generated.h"

namespace sazesh {

namespace fb = sazesh::schema;

inline constexpr std::int64_t hour_ms = 3'600'000;
inline constexpr std::int64_t day_ms = 24 * hour_ms;

struct case_rules {
  // Weekends and official holidays. The answer ladder counts working hours only, and the
  // documents and acknowledgement deadlines count working days.
  work_calendar calendar;
  // The trust score and seal policy (rules/trust-v1.rules); without one, no policy runs.
  trust_rules trust;
  bool ladder_in_working_hours = true;
  int documents_working_days = 7;
  int referral_acknowledge_working_days = 7;

  std::int64_t response_first_ms = 72 * hour_ms;   // from forwarding to delay #1
  std::int64_t response_second_ms = 48 * hour_ms;  // delay #1 to delay #2
  std::int64_t response_final_ms = 24 * hour_ms;   // delay #2 to unanswered
  std::int64_t remedy_confirmation_ms = 7 * day_ms;  // consumer's silence after "fulfilled"
  std::int64_t mediation_ms = 21 * day_ms;         // from mediator assignment
  std::int64_t referral_decision_ms = 30 * day_ms;
  std::int64_t referral_extension_ms = 30 * day_ms;
  std::int64_t reopen_window_ms = 10 * day_ms;     // after closure with a settlement
  std::uint32_t max_remedy_days = 90;

  // The documents a filing of each category needs, indexed by fb::Category.
  std::array<std::vector<fb::DocumentKind>, fb::Category_MAX + 1> required_documents{{
      {fb::DocumentKind_invoice, fb::DocumentKind_payment_receipt},    // non_delivery
      {fb::DocumentKind_invoice, fb::DocumentKind_photo},              // defective
      {fb::DocumentKind_invoice, fb::DocumentKind_photo},              // not_as_described
      {fb::DocumentKind_invoice, fb::DocumentKind_payment_receipt,
       fb::DocumentKind_correspondence},                                // refund_refused
      {fb::DocumentKind_invoice, fb::DocumentKind_warranty_card},      // warranty
      {fb::DocumentKind_invoice},                                      // pricing
      {fb::DocumentKind_payment_receipt},                              // fraud
      {fb::DocumentKind_correspondence},                               // privacy
      {fb::DocumentKind_invoice},                                      // service
      {},                                                              // other
  }};

  // A rung of the answer ladder `ms` after `from`.
  timestamp_ms ladder_due(timestamp_ms from, std::int64_t ms) const {
    return ladder_in_working_hours ? calendar.add_working_time(from, ms) : from + ms;
  }
  timestamp_ms documents_due(timestamp_ms from) const {
    return calendar.add_working_days(from, documents_working_days);
  }
  timestamp_ms acknowledge_due(timestamp_ms from) const {
    return calendar.add_working_days(from, referral_acknowledge_working_days);
  }

  const std::vector<fb::DocumentKind>& documents_for(fb::Category c) const {
    return required_documents[static_cast<std::size_t>(c)];
  }
};

}  // namespace sazesh
