#include "projections/queries.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/record/hash.h"

namespace sazesh::projections {
namespace {

bool matches(const case_row& r, const case_filter& f) {
  const case_state& s = r.state;
  if (f.status && s.status != *f.status) return false;
  if (f.business && s.business_id != *f.business) return false;
  if (f.consumer && s.consumer_id != *f.consumer) return false;
  if (f.mediator && s.mediator_id != *f.mediator) return false;
  if (f.agency && (s.status != case_status::referred || s.agency_id != *f.agency)) return false;
  if (f.category && s.category != *f.category) return false;
  if (f.filed_from && s.filed_at < *f.filed_from) return false;
  if (f.filed_to && s.filed_at >= *f.filed_to) return false;
  if (f.overdue_at) {
    if (!is_open(s.status)) return false;
    const bool overdue = std::any_of(s.deadlines.begin(), s.deadlines.end(),
                                     [&](const deadline& d) { return d.due < *f.overdue_at; });
    if (!overdue) return false;
  }
  return true;
}

// The index a filter is answered from: a key range whose cases come in the order of the answer
// (filing time, then id), so the scan stops once `limit` cases match (each row is still
// checked against every condition of the filter).
struct plan {
  std::string from, to;
  std::size_t time_offset = 0;  // where <filed_at><case> starts in a key
};

plan plan_for(const case_filter& f) {
  const auto ranged = [&](std::string_view idx, std::string_view value) {
    const std::string prefix = keys::index_prefix(idx, value);
    plan p;
    p.from = prefix + keys::time_part(f.filed_from.value_or(0));
    p.to = f.filed_to ? prefix + keys::time_part(*f.filed_to) : keys::prefix_end(prefix);
    p.time_offset = prefix.size();
    return p;
  };
  // The narrowest first: one person's cases, an agency's queue, a shop's cases in one status.
  if (f.consumer) return ranged("xu", *f.consumer);
  if (f.mediator) return ranged("xe", *f.mediator);
  if (f.agency) return ranged("xa", *f.agency);
  if (f.business && f.status) return ranged("xt", keys::business_status(*f.business, to_string(*f.status)));
  if (f.business) return ranged("xb", *f.business);
  if (f.category) return ranged("xc", fb::EnumNameCategory(*f.category));
  if (f.status) return ranged("xs", to_string(*f.status));
  return ranged("xf", "");
}

}  // namespace

result<std::optional<case_row>> find_case(const kv_reader& kv, const std::string& id) {
  auto raw = kv.get(keys::case_row(id));
  if (!raw) return raw.error();
  if (!*raw) return std::optional<case_row>();
  auto row = decode_case_row(**raw);
  if (!row) return row.error();
  return std::optional<case_row>(std::move(*row));
}

status for_each_case(const kv_reader& kv, const case_filter& f, const std::function<bool(case_row&&)>& each) {
  const plan p = plan_for(f);
  if (p.from >= p.to) return ok;
  std::optional<error> failure;
  auto scanned = kv.scan(p.from, p.to, [&](std::string_view k, std::string_view) {
    if (k.size() < p.time_offset + 8) {
      failure = error(errc::corrupt, "projections", "an index key is too short");
      return false;
    }
    const std::string id(k.substr(p.time_offset + 8));
    auto row = find_case(kv, id);
    if (!row) {
      failure = row.error();
      return false;
    }
    if (!*row) {
      failure = error(errc::corrupt, "projections", fmt::format("an index names case {} but it has no row", id));
      return false;
    }
    return !matches(**row, f) || each(std::move(**row));
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return ok;
}

result<std::vector<case_row>> list_cases(const kv_reader& kv, const case_filter& f) {
  std::vector<case_row> out;
  if (f.limit == 0) return out;
  const bool narrower = f.consumer || f.mediator || f.agency;
  if (f.overdue_at && !narrower) {
    // Overdue cases come from the deadline index, earliest due first, up to the moment asked:
    // as many keys as there are overdue cases, then put in the answer's order.
    const std::string lo(keys::due_prefix);
    const std::string hi = lo + keys::time_part(*f.overdue_at);
    std::vector<std::string> ids;
    auto scanned = kv.scan(lo, hi, [&](std::string_view k, std::string_view) {
      ids.emplace_back(k.substr(lo.size() + 8));
      return true;
    });
    if (!scanned) return scanned.error();
    for (const auto& id : ids) {
      auto row = find_case(kv, id);
      if (!row) return row.error();
      if (!*row) return error(errc::corrupt, "projections", fmt::format("an index names case {} but it has no row", id));
      if (matches(**row, f)) out.push_back(std::move(**row));
    }
    std::sort(out.begin(), out.end(), [](const case_row& a, const case_row& b) {
      return std::tie(a.state.filed_at, a.state.id) < std::tie(b.state.filed_at, b.state.id);
    });
    if (out.size() > f.limit) out.resize(f.limit);
    return out;
  }
  if (auto st = for_each_case(kv, f, [&](case_row&& r) {
        out.push_back(std::move(r));
        return out.size() < f.limit;
      });
      !st)
    return st.error();
  return out;
}

result<std::optional<scorecard>> find_scorecard(const kv_reader& kv, const std::string& id) {
  auto raw = kv.get(keys::scorecard(id));
  if (!raw) return raw.error();
  if (!*raw) return std::optional<scorecard>();
  auto sc = decode_scorecard(**raw);
  if (!sc) return sc.error();
  return std::optional<scorecard>(std::move(*sc));
}

status for_each_scorecard(const kv_reader& kv, const std::function<status(scorecard&&)>& each) {
  std::optional<error> failure;
  const std::string prefix(keys::scorecard_prefix);
  auto scanned = kv.scan(prefix, keys::prefix_end(prefix), [&](std::string_view, std::string_view v) {
    auto sc = decode_scorecard(v);
    if (!sc) {
      failure = sc.error();
      return false;
    }
    if (auto s = each(std::move(*sc)); !s) {
      failure = s.error();
      return false;
    }
    return true;
  });
  if (!scanned) return scanned;
  if (failure) return *failure;
  return ok;
}

result<std::vector<scorecard>> all_scorecards(const kv_reader& kv) {
  std::vector<scorecard> out;
  if (auto s = for_each_scorecard(kv, [&](scorecard&& sc) -> status {
        out.push_back(std::move(sc));
        return ok;
      });
      !s)
    return s.error();
  return out;
}

result<std::vector<scorecard>> top_businesses(const kv_reader& kv, const std::string& by, std::size_t n) {
  std::optional<std::size_t> which;
  for (std::size_t i = 0; i < counter_count; ++i)
    if (by == counter_name(static_cast<counter>(i))) which = i;
  if (by == "satisfaction") which = keys::satisfaction_rank;
  if (!which) {
    std::string names = "satisfaction";
    for (std::size_t i = 0; i < counter_count; ++i) names += std::string(", ") + counter_name(static_cast<counter>(i));
    return error(errc::invalid_argument, "by", "must be one of " + names);
  }
  // The ranking index holds every business in order (ties by id; only rated ones by
  // satisfaction): the first n keys are the answer.
  std::vector<std::string> ids;
  const std::string prefix = keys::top_prefix(*which);
  if (n > 0) {
    auto scanned = kv.scan(prefix, keys::prefix_end(prefix), [&](std::string_view k, std::string_view) {
      if (k.size() > prefix.size() + 8) ids.emplace_back(k.substr(prefix.size() + 8));
      return ids.size() < n;
    });
    if (!scanned) return scanned.error();
  }
  std::vector<scorecard> out;
  for (const auto& id : ids) {
    auto sc = find_scorecard(kv, id);
    if (!sc) return sc.error();
    if (!*sc) return error(errc::corrupt, "projections", fmt::format("a ranking names business {} but it has no scorecard", id));
    out.push_back(std::move(**sc));
  }
  return out;
}

result<std::vector<queue_entry>> agency_queue(const kv_reader& kv, const std::string& agency, bool history) {
  std::vector<queue_entry> out;
  const std::string prefix = keys::dossier_prefix(agency);
  std::vector<dossier_row> dossiers;
  std::optional<error> failure;
  auto scanned = kv.scan(prefix, keys::prefix_end(prefix), [&](std::string_view, std::string_view v) {
    auto d = decode_dossier_row(v);
    if (!d) {
      failure = d.error();
      return false;
    }
    dossiers.push_back(std::move(*d));
    return true;
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  for (auto& d : dossiers) {
    auto row = find_case(kv, d.case_id);
    if (!row) return row.error();
    if (!*row) continue;
    const bool holds = d.left_at == 0 && (*row)->state.status == case_status::referred;
    if (!history && !holds) continue;
    out.push_back({std::move(d), std::move(**row)});
  }
  std::sort(out.begin(), out.end(), [](const queue_entry& a, const queue_entry& b) {
    return std::tie(a.dossier.received_at, a.dossier.case_id) < std::tie(b.dossier.received_at, b.dossier.case_id);
  });
  return out;
}

result<std::optional<party_row>> find_party(const kv_reader& kv, const std::string& id) {
  auto raw = kv.get(keys::party(id));
  if (!raw) return raw.error();
  if (!*raw) return std::optional<party_row>();
  auto p = decode_party_row(**raw);
  if (!p) return p.error();
  return std::optional<party_row>(std::move(*p));
}

result<dossier_bundle> dossier(const kv_reader& kv, event_log& log, const std::string& agency, const std::string& case_id) {
  auto raw = kv.get(keys::dossier(agency, case_id));
  if (!raw) return raw.error();
  if (!*raw)
    return error(errc::not_found, "case_id", fmt::format("agency {} never held case {}", agency, case_id));
  auto d = decode_dossier_row(**raw);
  if (!d) return d.error();
  auto row = find_case(kv, case_id);
  if (!row) return row.error();
  if (!*row) return error(errc::corrupt, "projections", "a dossier names a case with no row");
  dossier_bundle b{std::move(*d), std::move(**row), {}, {}, {}, false};
  // The history is the log's own envelopes, as far as the projections have applied them; the
  // last must be the event the case row stands at.
  auto events = log.read_stream(case_id, stream_version(1));
  if (!events) return events.error();
  const std::uint64_t head = b.row.state.head.version.value();
  if (events->size() < head)
    return error(errc::corrupt, "log", fmt::format("case {} has {} events in the log, the projections applied {}", case_id, events->size(), head));
  for (std::uint64_t i = 0; i < head; ++i) b.history.push_back(std::move((*events)[i].bytes));
  if (head > 0) {
    if (sha256(b.history.back()) != b.row.state.head.last_hash)
      return error(errc::corrupt, "log", fmt::format("the log's event {} of case {} is not the one the projections applied", head, case_id));
  }
  auto consumer = find_party(kv, b.row.state.consumer_id);
  if (!consumer) return consumer.error();
  if (*consumer) b.consumer = **consumer;
  auto business = find_party(kv, b.row.state.business_id);
  if (!business) return business.error();
  if (*business) b.business = **business;
  auto sc = find_scorecard(kv, b.row.state.business_id);
  if (!sc) return sc.error();
  if (*sc) b.business_restricted = (*sc)->restricted;
  return b;
}

result<std::vector<std::pair<std::string, std::uint64_t>>> statistics(const kv_reader& kv, const std::string& dim) {
  static const std::vector<std::string> dims{"month", "category", "status", "outcome", "month_category"};
  if (std::find(dims.begin(), dims.end(), dim) == dims.end())
    return error(errc::invalid_argument, "by", "must be one of month, category, status, outcome, month_category");
  std::vector<std::pair<std::string, std::uint64_t>> out;
  const std::string prefix = keys::stat_prefix(dim);
  auto scanned = kv.scan(prefix, keys::prefix_end(prefix), [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k.substr(prefix.size())), decode_u64(v));
    return true;
  });
  if (!scanned) return scanned.error();
  return out;
}

}  // namespace sazesh::projections
