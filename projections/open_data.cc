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

// What a row at each level shows of its quasi-identifiers: the days (else the months), the shop,
// the category and agency. The cells are counted by exactly what is shown.
struct shown_parts {
  bool days, shop, category;
};
shown_parts shows(open_data_level l) {
  return {l == open_data_level::day, l <= open_data_level::month, l <= open_data_level::shop};
}

// The cell of a row at `level`: the quasi-identifiers as that level shows them (the month
// always, as a cell never spans two).
std::tuple<std::int64_t, std::int64_t, int, std::int64_t, std::uint32_t> cell_of(const item& i, open_data_level level) {
  const shown_parts p = shows(level);
  const std::int64_t sent = i.sent_day < 0 ? -1 : p.days ? i.sent_day : i.sent_month;
  return {p.days ? i.day : i.month, sent, p.category ? static_cast<int>(i.category) : -1,
          p.shop ? static_cast<std::int64_t>(i.shop) : -1, p.category ? i.agency : 0};
}

// Rows still at `level` whose cell has fewer than k rows move on to the next level.
void settle(std::vector<item>& items, open_data_level level, std::size_t k) {
  std::map<decltype(cell_of(items.front(), level)), std::size_t> cells;
  for (const auto& i : items)
    if (i.level == level) ++cells[cell_of(i, level)];
  for (auto& i : items)
    if (i.level == level && cells[cell_of(i, level)] < k) i.level = static_cast<open_data_level>(static_cast<int>(level) + 1);
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

  for (auto level : {open_data_level::day, open_data_level::month, open_data_level::shop, open_data_level::category})
    settle(items, level, o.k);

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
    const shown_parts p = shows(i.level);
    r.received = p.days ? day_text(i.day) : month_text(i.month);
    if (i.sent_day >= 0) r.sent_to_shop = p.days ? day_text(i.sent_day) : month_text(i.sent_month);
    if (p.category) {
      r.category = fb::EnumNameCategory(i.category);
      if (i.agency != 0) r.agency = agencies[i.agency - 1];
    }
    if (p.shop) {
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
