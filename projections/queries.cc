#include "projections/queries.h"

#include <limits>

#include <fmt/format.h>

#include <algorithm>

namespace sazesh::projections {
namespace {

// Returns the error of a failed status from the enclosing function.
#define SAZESH_PJ_TRY(expr)                           \
  do {                                                \
    if (auto try_ = (expr); !try_) return try_.error(); \
  } while (false)

// Case ids from one index range, in key order.
// The ids under `prefix`; nullopt once there are more than `cap` (that index is not the narrowest).
result<std::optional<std::vector<std::string>>> ids_in(const kv_reader& kv, const std::string& prefix,
                                                       std::size_t cap = std::numeric_limits<std::size_t>::max()) {
  std::vector<std::string> ids;
  bool over = false;
  auto scanned = kv.scan(prefix, keys::prefix_end(prefix), [&](std::string_view k, std::string_view) {
    if (ids.size() == cap) {
      over = true;
      return false;
    }
    ids.emplace_back(k.substr(prefix.size()));
    return true;
  });
  if (!scanned) return scanned.error();
  if (over) return std::optional<std::vector<std::string>>();
  return std::optional<std::vector<std::string>>(std::move(ids));
}

result<std::vector<std::string>> ids_by_time(const kv_reader& kv, const char* index, std::uint64_t from,
                                             std::uint64_t to) {
  std::vector<std::string> ids;
  const std::string lo = std::string(index) + encode_u64(from), hi = std::string(index) + encode_u64(to);
  auto scanned = kv.scan(lo, hi, [&](std::string_view k, std::string_view) {
    ids.emplace_back(k.substr(std::string_view(index).size() + 8));
    return true;
  });
  if (!scanned) return scanned.error();
  return ids;
}

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

}  // namespace

result<std::optional<case_row>> find_case(const kv_reader& kv, const std::string& id) {
  auto raw = kv.get(keys::case_row(id));
  if (!raw) return raw.error();
  if (!*raw) return std::optional<case_row>();
  auto row = decode_case_row(**raw);
  if (!row) return row.error();
  return std::optional<case_row>(std::move(*row));
}

result<std::vector<case_row>> list_cases(const kv_reader& kv, const case_filter& f) {
  // Start from the narrowest index the filter names (reading index keys is cheap, reading rows
  // is not; a status of open cases is usually far narrower than a big shop's cases), then check
  // every condition on the rows.
  std::optional<std::vector<std::string>> narrowest;
  const auto consider = [&](const std::string& prefix) -> status {
    auto ids = ids_in(kv, prefix, narrowest ? narrowest->size() : std::numeric_limits<std::size_t>::max());
    if (!ids) return ids.error();
    if (*ids) narrowest = std::move(**ids);
    return ok;
  };
  if (f.consumer) SAZESH_PJ_TRY(consider(keys::index_prefix("xu", *f.consumer)));
  if (f.mediator) SAZESH_PJ_TRY(consider(keys::index_prefix("xe", *f.mediator)));
  if (f.agency) SAZESH_PJ_TRY(consider(keys::index_prefix("xa", *f.agency)));
  if (f.business) SAZESH_PJ_TRY(consider(keys::index_prefix("xb", *f.business)));
  if (f.status) SAZESH_PJ_TRY(consider(keys::index_prefix("xs", to_string(*f.status))));
  if (f.category) SAZESH_PJ_TRY(consider(keys::index_prefix("xc", fb::EnumNameCategory(*f.category))));
  std::vector<std::string> ids;
  if (narrowest) {
    ids = std::move(*narrowest);
  } else {
    auto found = f.overdue_at
                     ? ids_by_time(kv, "xd", 0, static_cast<std::uint64_t>(*f.overdue_at))
                     : ids_by_time(kv, "xf", static_cast<std::uint64_t>(std::max<timestamp_ms>(f.filed_from.value_or(0), 0)),
                                   f.filed_to ? static_cast<std::uint64_t>(std::max<timestamp_ms>(*f.filed_to, 0))
                                              : ~std::uint64_t{0});
    if (!found) return found.error();
    ids = std::move(*found);
  }
  std::vector<case_row> out;
  for (const auto& id : ids) {
    auto row = find_case(kv, id);
    if (!row) return row.error();
    if (!*row)
      return error(errc::corrupt, "projections", fmt::format("an index names case {} but it has no row", id));
    if (matches(**row, f)) out.push_back(std::move(**row));
  }
  std::sort(out.begin(), out.end(), [](const case_row& a, const case_row& b) {
    return std::tie(a.state.filed_at, a.state.id) < std::tie(b.state.filed_at, b.state.id);
  });
  if (out.size() > f.limit) out.resize(f.limit);
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

result<std::vector<scorecard>> all_scorecards(const kv_reader& kv) {
  std::vector<scorecard> out;
  std::optional<error> failure;
  const std::string prefix(keys::scorecard_prefix);
  auto scanned = kv.scan(prefix, keys::prefix_end(prefix), [&](std::string_view, std::string_view v) {
    auto sc = decode_scorecard(v);
    if (!sc) {
      failure = sc.error();
      return false;
    }
    out.push_back(std::move(*sc));
    return true;
  });
  if (!scanned) return scanned.error();
  if (failure) return *failure;
  return out;
}

result<std::vector<scorecard>> top_businesses(const kv_reader& kv, const std::string& by, std::size_t n) {
  std::optional<counter> key;
  for (std::size_t i = 0; i < counter_count; ++i)
    if (by == counter_name(static_cast<counter>(i))) key = static_cast<counter>(i);
  if (!key && by != "satisfaction") {
    std::string names = "satisfaction";
    for (std::size_t i = 0; i < counter_count; ++i) names += std::string(", ") + counter_name(static_cast<counter>(i));
    return error(errc::invalid_argument, "by", "must be one of " + names);
  }
  auto all = all_scorecards(kv);
  if (!all) return all.error();
  auto& v = *all;
  if (key) {
    std::stable_sort(v.begin(), v.end(), [&](const scorecard& a, const scorecard& b) { return a[*key] > b[*key]; });
  } else {
    // Only rated businesses rank by satisfaction.
    std::erase_if(v, [](const scorecard& s) { return s[counter::ratings] == 0; });
    std::stable_sort(v.begin(), v.end(), [](const scorecard& a, const scorecard& b) { return a.satisfaction() > b.satisfaction(); });
  }
  if (v.size() > n) v.resize(n);
  return std::move(v);
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

result<dossier_bundle> dossier(const kv_reader& kv, const std::string& agency, const std::string& case_id) {
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
  const std::string prefix = keys::history_prefix(case_id);
  auto scanned = kv.scan(prefix, keys::prefix_end(prefix), [&](std::string_view, std::string_view v) {
    b.history.emplace_back(v);
    return true;
  });
  if (!scanned) return scanned.error();
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
