#include "projections/apply.h"

#include <fmt/format.h>

#include <set>

#include "engine/domain/evolve.h"
#include "projections/rows.h"

namespace sazesh::projections {
namespace {

// The index keys and statistics memberships a case row stands for. Applying an event removes
// the ones the old row had and the new row has not, and adds the reverse.
struct derived {
  std::set<std::string> index_keys;
  std::set<std::pair<std::string, std::string>> stats;  // (dimension, value)
};

// What derive() reads from a row: rows equal in these have the same index keys and statistics,
// and most events (messages, documents, offers) change none of it.
auto derive_inputs(const case_row& r) {
  const case_state& s = r.state;
  std::optional<timestamp_ms> earliest;
  if (is_open(s.status) && !s.deadlines.empty()) {
    earliest = s.deadlines.front().due;
    for (const auto& dl : s.deadlines) earliest = std::min(*earliest, dl.due);
  }
  return std::make_tuple(s.status, s.business_id, s.category, s.filed_at, s.agency_id, earliest, outcome_of(r),
                         s.consumer_id, s.mediator_id);
}

using inputs = decltype(derive_inputs(std::declval<const case_row&>()));

derived derive(const inputs& in, const std::string& id) {
  const auto& [status, business_id, category_value, filed_at, agency_id, earliest, outcome, consumer_id, mediator_id] = in;
  derived d;
  const std::string month = filing_month(filed_at);
  const std::string category = fb::EnumNameCategory(category_value);
  d.index_keys.insert(keys::index("xs", to_string(status), id));
  d.index_keys.insert(keys::index("xb", business_id, id));
  d.index_keys.insert(keys::index("xc", category, id));
  d.index_keys.insert(keys::index("xm", month, id));
  d.index_keys.insert(keys::by_time("xf", static_cast<std::uint64_t>(filed_at), id));
  if (status == case_status::referred && !agency_id.empty()) d.index_keys.insert(keys::index("xa", agency_id, id));
  if (earliest) d.index_keys.insert(keys::by_time("xd", static_cast<std::uint64_t>(*earliest), id));
  d.index_keys.insert(keys::index("xu", consumer_id, id));
  if (!mediator_id.empty()) d.index_keys.insert(keys::index("xe", mediator_id, id));
  d.stats.insert({"month", month});
  d.stats.insert({"category", category});
  d.stats.insert({"status", to_string(status)});
  d.stats.insert({"outcome", outcome});
  d.stats.insert({"month_category", month + "/" + category});
  return d;
}

status bump(change_set& kv, const std::string& key, std::int64_t delta) {
  const auto old = kv.get(key);
  if (!old) return old.error();
  const std::int64_t now = static_cast<std::int64_t>(*old ? decode_u64(**old) : 0) + delta;
  if (now <= 0) kv.erase(key);
  else kv.put(key, encode_u64(static_cast<std::uint64_t>(now)));
  return ok;
}

status update_derived(change_set& kv, const derived& before, const derived& after) {
  for (const auto& k : before.index_keys)
    if (!after.index_keys.count(k)) kv.erase(k);
  for (const auto& k : after.index_keys)
    if (!before.index_keys.count(k)) kv.put(k, "");
  for (const auto& [dim, value] : before.stats)
    if (!after.stats.count({dim, value}))
      if (auto s = bump(kv, keys::stat(dim, value), -1); !s) return s;
  for (const auto& [dim, value] : after.stats)
    if (!before.stats.count({dim, value}))
      if (auto s = bump(kv, keys::stat(dim, value), +1); !s) return s;
  return ok;
}

result<scorecard> load_scorecard(const change_set& kv, const std::string& business_id) {
  auto raw = kv.get(keys::scorecard(business_id));
  if (!raw) return raw.error();
  if (!*raw) {
    scorecard s;
    s.business_id = business_id;
    return s;
  }
  return decode_scorecard(**raw);
}

// What one event adds to its business's counters.
// `was_rated`: the case had a rating before this event. A case is rated once; a log written
// before that rule was enforced may hold a second rating, which counts for nothing.
void count(scorecard& sc, const event_record& e, const case_row& after, bool was_open, bool was_rated) {
  const bool now_open = is_open(after.state.status);
  if (now_open && !was_open) sc[counter::open_cases] += 1;
  if (!now_open && was_open && sc[counter::open_cases] > 0) sc[counter::open_cases] -= 1;
  const fb::EventUnion& p = e.payload;
  switch (p.type) {
    case fb::Event_CaseFiled: sc[counter::complaints] += 1; break;
    case fb::Event_ForwardedToBusiness: sc[counter::forwarded] += 1; break;
    case fb::Event_BusinessResponded:
      sc[p.AsBusinessResponded()->timely ? counter::timely_responses : counter::late_responses] += 1;
      break;
    case fb::Event_ResponseDelayed:
      sc[p.AsResponseDelayed()->level <= 1 ? counter::delays_1 : counter::delays_2] += 1;
      break;
    case fb::Event_ResponseUnanswered: sc[counter::unanswered] += 1; break;
    case fb::Event_OfferMade:
      if (e.by.role == fb::Role_business) sc[counter::offers] += 1;
      break;
    case fb::Event_CaseResolved:
      sc[p.AsCaseResolved()->resolution == fb::Resolution_mediation ? counter::settled_mediation
                                                                   : counter::settled_negotiation] += 1;
      break;
    case fb::Event_MediationConcluded:
      if (p.AsMediationConcluded()->outcome == fb::MediationOutcome_failed) sc[counter::mediation_failed] += 1;
      break;
    case fb::Event_ReferredToAgency: sc[counter::referred] += 1; break;
    case fb::Event_AgencyDecided:
      switch (p.AsAgencyDecided()->verdict) {
        case fb::AgencyVerdict_upheld: sc[counter::decisions_upheld] += 1; break;
        case fb::AgencyVerdict_partially_upheld: sc[counter::decisions_partially_upheld] += 1; break;
        case fb::AgencyVerdict_dismissed: sc[counter::decisions_dismissed] += 1; break;
        case fb::AgencyVerdict_not_competent_closed: sc[counter::decisions_not_competent] += 1; break;
      }
      break;
    case fb::Event_RemedyNotFulfilled: sc[counter::remedy_not_fulfilled] += 1; break;
    case fb::Event_CaseReopened: sc[counter::reopened] += 1; break;
    case fb::Event_CaseWithdrawn: sc[counter::withdrawn] += 1; break;
    case fb::Event_CaseRejected: sc[counter::rejected] += 1; break;
    case fb::Event_CaseClosed:
      if (p.AsCaseClosed()->reason == fb::CloseReason_incomplete) sc[counter::incomplete] += 1;
      break;
    case fb::Event_CaseRated: {
      if (was_rated) break;
      const auto& r = *p.AsCaseRated();
      sc[counter::ratings] += 1;
      sc[counter::rating_sum] += r.stars;
      if (r.resolved) sc[counter::rated_resolved] += 1;
      break;
    }
    default:
      break;  // the other case events move no counter
  }
}

status update_dossier(change_set& kv, const std::string& agency, const std::string& case_id,
                      const std::function<void(dossier_row&)>& change, bool create) {
  const std::string key = keys::dossier(agency, case_id);
  dossier_row d;
  auto raw = kv.get(key);
  if (!raw) return raw.error();
  if (*raw && !create) {
    auto decoded = decode_dossier_row(**raw);
    if (!decoded) return decoded.error();
    d = std::move(*decoded);
  } else if (!create) {
    return error(errc::corrupt, "dossier", fmt::format("no dossier of {} for case {}", agency, case_id));
  } else {
    d.agency_id = agency;
    d.case_id = case_id;
  }
  change(d);
  kv.put(key, encode(d));
  return ok;
}

status apply_dossiers(change_set& kv, const event_record& e) {
  const fb::EventUnion& p = e.payload;
  const std::string& id = e.stream;
  switch (p.type) {
    case fb::Event_ReferredToAgency:
      return update_dossier(kv, p.AsReferredToAgency()->agency_id, id,
                            [&](dossier_row& d) { d.received_at = e.time; }, true);
    case fb::Event_ReferralAcknowledged:
      return update_dossier(kv, p.AsReferralAcknowledged()->agency_id, id,
                            [&](dossier_row& d) { d.acknowledged_at = e.time; }, false);
    case fb::Event_ReferralExtended:
      return update_dossier(kv, p.AsReferralExtended()->agency_id, id,
                            [&](dossier_row& d) { d.extended = true; }, false);
    case fb::Event_ReferralTransferred: {
      const auto& t = *p.AsReferralTransferred();
      if (auto s = update_dossier(kv, t.from_agency_id, id, [&](dossier_row& d) {
            d.left_at = e.time;
            d.left_to = t.to_agency_id;
          }, false); !s)
        return s;
      return update_dossier(kv, t.to_agency_id, id, [&](dossier_row& d) {
        d.received_at = e.time;
        d.received_from = t.from_agency_id;
      }, true);
    }
    case fb::Event_AgencyDecided: {
      const auto& a = *p.AsAgencyDecided();
      return update_dossier(kv, a.agency_id, id, [&](dossier_row& d) {
        d.decided_at = e.time;
        d.verdict = a.verdict;
      }, false);
    }
    default:
      return ok;
  }
}

status apply_party(change_set& kv, const event_record& e) {
  const fb::EventUnion& p = e.payload;
  party_row row;
  row.id = e.stream;
  row.registered_at = e.time;
  switch (p.type) {
    case fb::Event_ConsumerRegistered: {
      const auto& c = *p.AsConsumerRegistered();
      row.role = fb::Role_consumer;
      row.name = c.name;
      row.national_code = c.national_code;
      row.mobile = c.mobile;
      break;
    }
    case fb::Event_BusinessRegistered: {
      const auto& b = *p.AsBusinessRegistered();
      row.role = fb::Role_business;
      row.name = b.name;
      row.domain = b.domain;
      row.stars = b.stars;
      auto sc = load_scorecard(kv, e.stream);
      if (!sc) return sc.error();
      sc->name = b.name;
      sc->domain = b.domain;
      sc->stars = b.stars;
      kv.put(keys::scorecard(e.stream), encode(*sc));
      break;
    }
    case fb::Event_AgencyRegistered: {
      const auto& a = *p.AsAgencyRegistered();
      row.role = fb::Role_agency;
      row.name = a.name;
      row.categories = a.categories;
      break;
    }
    case fb::Event_MediatorRegistered: {
      const auto& m = *p.AsMediatorRegistered();
      row.role = fb::Role_mediator;
      row.name = m.name;
      row.mobile = m.mobile;
      break;
    }
    case fb::Event_SealRestricted:
    case fb::Event_SealReinstated: {
      auto sc = load_scorecard(kv, e.stream);
      if (!sc) return sc.error();
      const bool restrict = p.type == fb::Event_SealRestricted;
      sc->restricted = restrict;
      sc->restriction_reason = restrict ? p.AsSealRestricted()->reason : "";
      if (restrict) (*sc)[counter::restrictions] += 1;
      kv.put(keys::scorecard(e.stream), encode(*sc));
      return ok;
    }
    default:
      return ok;
  }
  kv.put(keys::party(e.stream), encode(row));
  return ok;
}

}  // namespace

status apply_event(change_set& kv, const event_record& e, std::string_view bytes) {
  // Parties' and credentials' events (credentials are kept by the engine only: apply_party
  // leaves them out).
  if (e.payload.type != fb::Event_NONE && !is_case_event(e.payload.type)) return apply_party(kv, e);

  const std::string row_key = keys::case_row(e.stream);
  case_row row;
  std::optional<inputs> inputs_before;
  bool was_open = false;
  bool was_rated = false;
  auto raw = kv.get(row_key);
  if (!raw) return raw.error();
  if (*raw) {
    auto decoded = decode_case_row(**raw);
    if (!decoded) return decoded.error();
    row = std::move(*decoded);
    inputs_before = derive_inputs(row);
    was_open = is_open(row.state.status);
    was_rated = row.state.rating != 0;
  } else if (e.payload.type != fb::Event_CaseFiled) {
    return error(errc::corrupt, "log",
                 fmt::format("event {} of case {} comes before the case was filed", e.sequence.value(), e.stream));
  } else {
    row.state.id = e.stream;
  }

  evolve_case(row.state, e.payload, e.time, e.by.role);
  row.state.head = stream_head{e.sequence, e.hash};
  row.events += 1;
  if (e.payload.type == fb::Event_AgencyDecided) row.verdict = e.payload.AsAgencyDecided()->verdict;
  if (e.payload.type == fb::Event_CaseReopened) row.verdict.reset();

  const inputs inputs_after = derive_inputs(row);
  if (!inputs_before) {
    if (auto s = update_derived(kv, derived{}, derive(inputs_after, row.state.id)); !s) return s;
  } else if (*inputs_before != inputs_after) {
    if (auto s = update_derived(kv, derive(*inputs_before, row.state.id), derive(inputs_after, row.state.id)); !s)
      return s;
  }
  auto sc = load_scorecard(kv, row.state.business_id);
  if (!sc) return sc.error();
  count(*sc, e, row, was_open, was_rated);
  kv.put(keys::scorecard(row.state.business_id), encode(*sc));
  if (auto s = apply_dossiers(kv, e); !s) return s;
  kv.put(keys::history(e.stream, e.sequence.value()), std::string(bytes));
  kv.put(row_key, encode(row));
  return ok;
}

result<log_position> stored_position(const kv_reader& kv, std::uint32_t partition) {
  auto raw = kv.get(keys::position(partition));
  if (!raw) return raw.error();
  return log_position(*raw ? decode_u64(**raw) : 0);
}

result<std::optional<applied_event>> last_applied(const kv_reader& kv, std::uint32_t partition) {
  auto raw = kv.get(keys::position(partition));
  if (!raw) return raw.error();
  if (!*raw || (*raw)->size() < 16) return std::optional<applied_event>();
  const std::string_view v = **raw;
  return std::optional<applied_event>(applied_event{log_position(decode_u64(v.substr(8, 8))), std::string(v.substr(16))});
}

void store_position(change_set& kv, log_position next, std::uint32_t partition,
                    const std::optional<applied_event>& last) {
  std::string v = encode_u64(next.value());
  if (last) v += encode_u64(last->position.value()) + last->hash;
  kv.put(keys::position(partition), std::move(v));
}

}  // namespace sazesh::projections
