#include "projections/open_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "projections/queries.h"

namespace sazesh::projections {
namespace {

// A case as the levels need it: small, so a large range fits.
struct item {
  std::int64_t day = 0;       // Tehran day received, days since 1970-01-01
  std::int32_t month = 0;     // Jalali year * 12 + month - 1
  std::int64_t sent_day = -1; // Tehran day first sent to the shop; -1 never
  std::int32_t sent_month = 0;
  fb::Category category = fb::Category_other;
  std::uint32_t shop = 0;     // index into the shops seen
  std::uint8_t route = 0;
  std::uint8_t timely = 0;    // 0 unknown, 1 yes, 2 no
  std::uint16_t outcome = 0;  // index into the outcomes seen
  std::uint32_t agency = 0;   // 0 none, else index + 1 into the agencies seen
  std::uint8_t rating = 0;
  bool reopened = false;
  open_data_level level = open_data_level::day;
};

constexpr const char* route_names[] = {"none", "shop", "mediation", "agency"};

std::int32_t month_key(const jalali_date& j) { return j.year * 12 + (j.month - 1); }

std::string day_text(std::int64_t day) {
  const jalali_date j = to_jalali(civil_from_days(day));
  return fmt::format("{:04}-{:02}-{:02}", j.year, j.month, j.day);
}
std::string month_text(std::int32_t key) { return fmt::format("{:04}-{:02}", key / 12, key % 12 + 1); }

// Assigns `level` to every row still at `from` whose cell (by `key`) has at least k rows; the
// others move on to `next`.
template <class Key>
void settle(std::vector<item>& items, open_data_level from, open_data_level next, std::size_t k, Key key) {
  std::map<decltype(key(items.front())), std::size_t> cells;
  for (const auto& i : items)
    if (i.level == from) ++cells[key(i)];
  for (auto& i : items)
    if (i.level == from && cells[key(i)] < k) i.level = next;
}

}  // namespace

const char* to_string(open_data_level l) {
  switch (l) {
    case open_data_level::day: return "day";
    case open_data_level::month: return "month";
    case open_data_level::shop: return "shop";
    case open_data_level::category: return "category";
    case open_data_level::withheld: return "withheld";
  }
  return "?";
}

result<open_data_export> export_open_data(const kv_reader& kv, const open_data_options& o) {
  if (o.k == 0) return error(errc::invalid_argument, "k", "must be at least 1");
  case_filter f;
  f.filed_from = o.received_from;
  f.filed_to = o.received_to;
  std::vector<item> items;
  std::vector<std::string> shops, outcomes, agencies;
  std::unordered_map<std::string, std::uint32_t> shop_index, outcome_index, agency_index;
  const auto intern = [](std::vector<std::string>& names, std::unordered_map<std::string, std::uint32_t>& index,
                         const std::string& name) {
    auto [it, added] = index.emplace(name, static_cast<std::uint32_t>(names.size()));
    if (added) names.push_back(name);
    return it->second;
  };
  bool too_many = false;
  auto st = for_each_case(kv, f, [&](case_row&& r) {
    if (items.size() >= o.max_cases) {
      too_many = true;
      return false;
    }
    const case_state& c = r.state;
    item i;
    const civil_date filed = tehran_date(c.filed_at);
    i.day = days_from_civil(filed);
    i.month = month_key(to_jalali(filed));
    if (r.forwarded_at != 0) {
      const civil_date sent = tehran_date(r.forwarded_at);
      i.sent_day = days_from_civil(sent);
      i.sent_month = month_key(to_jalali(sent));
    }
    i.category = c.category;
    i.shop = intern(shops, shop_index, c.business_id);
    i.route = !c.agencies.empty() ? 3 : r.mediation ? 2 : r.forwarded_at != 0 ? 1 : 0;
    i.timely = c.responded ? (c.timely_response ? 1 : 2) : c.unanswered ? 2 : 0;
    i.outcome = static_cast<std::uint16_t>(intern(outcomes, outcome_index, outcome_of(r)));
    if (!c.agencies.empty()) i.agency = intern(agencies, agency_index, c.agencies.back()) + 1;
    i.rating = static_cast<std::uint8_t>(std::clamp(c.rating, 0, 5));
    i.reopened = c.reopened > 0;
    items.push_back(i);
    return true;
  });
  if (!st) return st.error();
  if (too_many)
    return error(errc::invalid_argument, "to",
                 fmt::format("the range holds more than {} cases: export it in parts (a narrower --from and --to)", o.max_cases));

  const auto sent = [](const item& i) { return static_cast<std::int64_t>(i.sent_day); };
  const auto sent_month = [](const item& i) { return i.sent_day >= 0 ? static_cast<std::int64_t>(i.sent_month) : -1; };
  settle(items, open_data_level::day, open_data_level::month, o.k, [&](const item& i) {
    return std::make_tuple(i.day, sent(i), static_cast<int>(i.category), static_cast<std::int64_t>(i.shop), i.agency);
  });
  settle(items, open_data_level::month, open_data_level::shop, o.k, [&](const item& i) {
    return std::make_tuple(static_cast<std::int64_t>(i.month), sent_month(i), static_cast<int>(i.category),
                           static_cast<std::int64_t>(i.shop), i.agency);
  });
  settle(items, open_data_level::shop, open_data_level::category, o.k, [&](const item& i) {
    return std::make_tuple(static_cast<std::int64_t>(i.month), sent_month(i), static_cast<int>(i.category),
                           std::int64_t{0}, i.agency);
  });
  settle(items, open_data_level::category, open_data_level::withheld, o.k, [&](const item& i) {
    return std::make_tuple(static_cast<std::int64_t>(i.month), sent_month(i), 0, std::int64_t{0}, 0u);
  });

  // The shops' public registration: name and domain.
  std::vector<std::pair<std::string, std::string>> shop_names(shops.size());
  for (std::size_t s = 0; s < shops.size(); ++s) {
    auto p = find_party(kv, shops[s]);
    if (!p) return p.error();
    if (*p) shop_names[s] = {(*p)->name, (*p)->domain};
  }

  open_data_export out;
  out.cases = items.size();
  for (const auto& i : items) {
    ++out.at_level[static_cast<std::size_t>(i.level)];
    if (i.level == open_data_level::withheld) continue;
    open_data_row r;
    r.level = i.level;
    const bool by_day = i.level == open_data_level::day;
    r.received = by_day ? day_text(i.day) : month_text(i.month);
    if (i.sent_day >= 0) r.sent_to_shop = by_day ? day_text(i.sent_day) : month_text(i.sent_month);
    if (i.level != open_data_level::category) {
      r.category = fb::EnumNameCategory(i.category);
      if (i.agency != 0) r.agency = agencies[i.agency - 1];
    }
    if (i.level == open_data_level::day || i.level == open_data_level::month) {
      r.shop_seal = shops[i.shop];
      r.shop_name = shop_names[i.shop].first;
      r.shop_domain = shop_names[i.shop].second;
    }
    r.route = route_names[i.route];
    r.timely_response = i.timely == 1 ? "yes" : i.timely == 2 ? "no" : "";
    r.outcome = outcomes[i.outcome];
    r.rating = i.rating;
    r.reopened = i.reopened;
    out.rows.push_back(std::move(r));
  }
  // Sorted by what they show, so the order says nothing the values do not (not the order of
  // filing within a day, say).
  const auto shown = [](const open_data_row& r) {
    return std::tie(r.received, r.category, r.shop_seal, r.sent_to_shop, r.route, r.timely_response, r.outcome, r.agency,
                    r.rating, r.reopened);
  };
  std::sort(out.rows.begin(), out.rows.end(), [&](const open_data_row& a, const open_data_row& b) { return shown(a) < shown(b); });
  return out;
}

}  // namespace sazesh::projections
