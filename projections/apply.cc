#include "projections/apply.h"

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/domain/evolve.h"
#include "projections/rows.h"

namespace sazesh::projections {
namespace {

// The index keys and statistics memberships a case row stands for. Flushing a batch removes
// the ones the row had before the batch and has not now, and adds the reverse.
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
  const std::string status_name(to_string(status));
  d.index_keys.insert(keys::index("xs", status_name, filed_at, id));
  d.index_keys.insert(keys::index("xb", business_id, filed_at, id));
  d.index_keys.insert(keys::index("xt", keys::business_status(business_id, status_name), filed_at, id));
  d.index_keys.insert(keys::index("xc", category, filed_at, id));
  d.index_keys.insert(keys::index("xf", "", filed_at, id));
  if (status == case_status::referred && !agency_id.empty()) d.index_keys.insert(keys::index("xa", agency_id, filed_at, id));
  if (earliest) d.index_keys.insert(keys::due(*earliest, id));
  d.index_keys.insert(keys::index("xu", consumer_id, filed_at, id));
  if (!mediator_id.empty()) d.index_keys.insert(keys::index("xe", mediator_id, filed_at, id));
  d.stats.insert({"month", month});
  d.stats.insert({"category", category});
  d.stats.insert({"status", status_name});
  d.stats.insert({"outcome", outcome});
  d.stats.insert({"month_category", month + "/" + category});
  return d;
}

// A scorecard's place in ranking `which` (a counter, or satisfaction_rank), if it has one: smaller ranks
// first, so a ranking's first keys are its top. Unrated businesses are not ranked by
// satisfaction. The rank of an average is its IEEE bits inverted: positive doubles order as
// their bits do, so the index orders exactly as comparing the averages does.
bool rank_of(const scorecard& sc, std::size_t which, std::uint64_t& rank) {
  if (which < counter_count) {
    rank = ~sc.counters[which];
    return true;
  }
  if (sc[counter::ratings] == 0) return false;
  const double average = sc.satisfaction();
  static_assert(sizeof rank == sizeof average);
  std::memcpy(&rank, &average, sizeof rank);
  rank = ~rank;
  return true;
}

// Moves a scorecard's ranking keys from where `before` put them (none: it had none) to where
// `now` puts them, touching only the rankings whose place changed.
void move_rankings(change_set& kv, const scorecard* before, const scorecard& now) {
  for (std::size_t which = 0; which <= keys::satisfaction_rank; ++which) {
    std::uint64_t was = 0, is = 0;
    const bool ranked_before = before && rank_of(*before, which, was);
    const bool ranked_now = rank_of(now, which, is);
    if (ranked_before == ranked_now && was == is) continue;
    if (ranked_before) kv.erase(keys::top(which, was, now.business_id));
    if (ranked_now) kv.put(keys::top(which, is, now.business_id), "");
  }
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

// Dossiers change with a few events of a referred case only: read and written per event.
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

}  // namespace

// ---- row_batch ---------------------------------------------------------------------------------

struct row_batch::held {
  struct held_case {
    case_row row;
    std::optional<inputs> before;  // what the stored row stood for; none for a case filed in the batch
    bool changed = false;
  };
  struct held_card {
    scorecard card;
    std::optional<scorecard> before;  // as stored; none for a scorecard made in the batch
    bool changed = false;
  };

  held(change_set& target, bool ranked) : kv(target), rank(ranked) {}

  change_set& kv;
  bool rank;
  std::unordered_map<std::string, std::optional<held_case>> cases;  // nullopt: no such case
  std::unordered_map<std::string, held_card> cards;

  result<held_case*> find(const std::string& id) {
    if (auto it = cases.find(id); it != cases.end()) return it->second ? &*it->second : nullptr;
    auto raw = kv.get(keys::case_row(id));
    if (!raw) return raw.error();
    if (!*raw) {
      cases.emplace(id, std::nullopt);
      return nullptr;
    }
    auto row = decode_case_row(**raw);
    if (!row) return row.error();
    held_case h{std::move(*row), std::nullopt, false};
    h.before = derive_inputs(h.row);
    return &*cases.insert_or_assign(id, std::move(h)).first->second;
  }

  result<held_card*> card(const std::string& business_id) {
    if (auto it = cards.find(business_id); it != cards.end()) return &it->second;
    auto raw = kv.get(keys::scorecard(business_id));
    if (!raw) return raw.error();
    held_card h;
    if (*raw) {
      auto decoded = decode_scorecard(**raw);
      if (!decoded) return decoded.error();
      h.card = *decoded;
      h.before = std::move(*decoded);
    } else {
      h.card.business_id = business_id;
    }
    return &cards.emplace(business_id, std::move(h)).first->second;
  }

  status apply_party(const event_record& e) {
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
        auto sc = card(e.stream);
        if (!sc) return sc.error();
        (*sc)->card.name = b.name;
        (*sc)->card.domain = b.domain;
        (*sc)->card.stars = b.stars;
        (*sc)->changed = true;
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
        auto sc = card(e.stream);
        if (!sc) return sc.error();
        scorecard& c = (*sc)->card;
        const bool restrict = p.type == fb::Event_SealRestricted;
        c.restricted = restrict;
        c.restriction_reason = restrict ? p.AsSealRestricted()->reason : "";
        if (restrict) c[counter::restrictions] += 1;
        (*sc)->changed = true;
        return ok;
      }
      default:
        return ok;  // credentials are kept by the engine only
    }
    kv.put(keys::party(e.stream), encode(row));
    return ok;
  }

  status apply(const event_record& e) {
    if (e.payload.type != fb::Event_NONE && !is_case_event(e.payload.type)) return apply_party(e);
    auto found = find(e.stream);
    if (!found) return found.error();
    held_case* h = *found;
    if (!h) {
      if (e.payload.type != fb::Event_CaseFiled)
        return error(errc::corrupt, "log",
                     fmt::format("event {} of case {} comes before the case was filed", e.sequence.value(), e.stream));
      held_case fresh;
      fresh.row.state.id = e.stream;
      h = &*cases.insert_or_assign(e.stream, std::move(fresh)).first->second;
    }
    case_row& row = h->row;
    const bool was_open = row.events > 0 && is_open(row.state.status);
    const bool was_rated = row.state.rating != 0;
    evolve_case(row.state, e.payload, e.time, e.by.role);
    row.state.head = stream_head{e.sequence, e.hash};
    row.events += 1;
    if (e.payload.type == fb::Event_AgencyDecided) row.verdict = e.payload.AsAgencyDecided()->verdict;
    if (e.payload.type == fb::Event_CaseReopened) row.verdict.reset();
    if (e.payload.type == fb::Event_ForwardedToBusiness && row.forwarded_at == 0) row.forwarded_at = e.time;
    if (e.payload.type == fb::Event_MediationRequested) row.mediation = true;
    h->changed = true;
    auto sc = card(row.state.business_id);
    if (!sc) return sc.error();
    count((*sc)->card, e, row, was_open, was_rated);
    (*sc)->changed = true;
    return apply_dossiers(kv, e);
  }

  status flush() {
    std::map<std::string, std::int64_t> stat_deltas;
    for (auto& [id, h] : cases) {
      if (!h || !h->changed) continue;
      const inputs after = derive_inputs(h->row);
      if (!h->before || *h->before != after) {
        const derived was = h->before ? derive(*h->before, id) : derived{};
        const derived now = derive(after, id);
        for (const auto& k : was.index_keys)
          if (!now.index_keys.count(k)) kv.erase(k);
        for (const auto& k : now.index_keys)
          if (!was.index_keys.count(k)) kv.put(k, "");
        for (const auto& [dim, value] : was.stats)
          if (!now.stats.count({dim, value})) stat_deltas[keys::stat(dim, value)] -= 1;
        for (const auto& [dim, value] : now.stats)
          if (!was.stats.count({dim, value})) stat_deltas[keys::stat(dim, value)] += 1;
      }
      kv.put(keys::case_row(id), encode(h->row));
    }
    for (auto& [id, h] : cards) {
      if (!h.changed) continue;
      if (rank) move_rankings(kv, h.before ? &*h.before : nullptr, h.card);
      kv.put(keys::scorecard(id), encode(h.card));
    }
    for (const auto& [key, delta] : stat_deltas) {
      if (delta == 0) continue;
      const auto old = kv.get(key);
      if (!old) return old.error();
      const std::int64_t now = static_cast<std::int64_t>(*old ? decode_u64(**old) : 0) + delta;
      if (now <= 0) kv.erase(key);
      else kv.put(key, encode_u64(static_cast<std::uint64_t>(now)));
    }
    cases.clear();
    cards.clear();
    return ok;
  }
};

row_batch::row_batch(change_set& kv, bool rank) : held_(std::make_unique<held>(kv, rank)) {}
row_batch::~row_batch() = default;

status row_batch::apply(const event_record& e) { return held_->apply(e); }
status row_batch::flush() { return held_->flush(); }

result<const case_row*> row_batch::find_case(const std::string& case_id) {
  auto h = held_->find(case_id);
  if (!h) return h.error();
  return *h ? &(*h)->row : nullptr;
}

void put_rankings(change_set& kv, const scorecard& sc) { move_rankings(kv, nullptr, sc); }

status apply_event(change_set& kv, const event_record& e) {
  row_batch b(kv);
  if (auto s = b.apply(e); !s) return s;
  return b.flush();
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
