// The open-data export: one row per case received in a range of whole months, with the fields
// complaint databases publish (CFPB's, consumidor.gov.br's) that apply here, and nothing that
// names or describes a person: no consumer's or mediator's id, name, national code or mobile, no
// free text, no case id. The shop (its seal id, name and domain) and the agency are public
// registrants.
//
// Small cells are suppressed so that every row is k-anonymous on its quasi-identifiers: the
// day received, the day sent to the shop, the category, the shop and the agency. A row shares
// the values it shows of them with at least k-1 other rows of its month. Rows are taken
// through these levels, each counted among the rows of the month that the levels before left
// over:
//
//   day       (day received, day sent, category, shop, agency) has at least k rows: as they are
//   month     (month received, month sent, category, shop, agency): the dates shown as months
//   shop      (month received, month sent, category, agency): the shop suppressed too
//   category  (month received, month sent): the category and the agency too
//   withheld  the rest: left out and only counted
//
// Every cell lies within one month, so what a month's rows show depends on that month's cases
// alone: exports of different ranges of whole months cannot be subtracted from each other to
// find a row that one of them suppressed. (The caller releases only months that have ended, for
// the same reason.) The other columns (route, timely response, outcome, rating, reopened) are
// never changed, so counts by outcome agree with `stats` but for the rows withheld. Pure over a
// kv_reader.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/base/result.h"
#include "projections/kv.h"
#include "projections/rows.h"

namespace sazesh::projections {

enum class open_data_level : std::uint8_t { day, month, shop, category, withheld };
const char* to_string(open_data_level l);

struct open_data_options {
  std::optional<timestamp_ms> received_from;  // inclusive: the first instant of a month
  std::optional<timestamp_ms> received_to;    // exclusive: the first instant of a month
  std::size_t k = 5;
  std::size_t max_cases = 1'000'000;  // a range with more is refused (field "to"): export it in parts
};

// One case as exported. Empty strings are suppressed or do not apply (see the data dictionary in
// the README); the level says which.
struct open_data_row {
  std::string received, sent_to_shop;  // Jalali "1405-08-12", or "1405-08" from level month on
  std::string category, shop_seal, shop_name, shop_domain;
  std::string route;            // none, shop, mediation, agency: how far the case went
  std::string timely_response;  // yes, no, or "" (not forwarded, or the shop's time still runs)
  std::string outcome;          // as `stats --by outcome` names it
  std::string agency;           // the last agency that held it
  int rating = 0;               // the consumer's stars, 0 unrated
  bool reopened = false;
  open_data_level level = open_data_level::day;
};

struct open_data_export {
  std::vector<open_data_row> rows;  // sorted by what they show (received, category, shop, …)
  std::uint64_t cases = 0;          // cases received in the range, rows plus withheld
  std::array<std::uint64_t, 5> at_level{};  // rows per level; [withheld] counts those left out
};

result<open_data_export> export_open_data(const kv_reader& kv, const open_data_options& options);

}  // namespace sazesh::projections
