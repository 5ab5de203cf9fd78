// Queries on the projections: what auditors, analysts, operators and agencies ask. They read
// through a kv_reader, normally a store opened read-only while the projector writes.
//
// Nothing returned for analysts carries personal data: case rows hold party ids, not names,
// national codes, mobiles or free text; those live only in party rows and the log, which only
// dossiers (for the agency holding the case) read.
//
// Lists and rankings are answered from indexes kept in the answer's order, so their cost
// follows the length of the answer, not the number of cases or businesses.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/base/result.h"
#include "engine/log/event_log.h"
#include "projections/kv.h"
#include "projections/rows.h"

namespace sazesh::projections {

struct case_filter {
  std::optional<case_status> status;
  std::optional<std::string> business;
  std::optional<std::string> agency;       // cases held by it now
  std::optional<std::string> consumer;     // filed by this consumer
  std::optional<std::string> mediator;     // assigned to this mediator now
  std::optional<fb::Category> category;
  std::optional<timestamp_ms> filed_from;  // inclusive
  std::optional<timestamp_ms> filed_to;    // exclusive
  std::optional<timestamp_ms> overdue_at;  // open cases with a deadline before this time
  std::size_t limit = 1000;
};

result<std::optional<case_row>> find_case(const kv_reader& kv, const std::string& case_id);
result<std::vector<case_row>> list_cases(const kv_reader& kv, const case_filter& filter);
// The cases `filter` matches, in filing order, one at a time, until `each` returns false (its
// limit is not applied): for answers too long to hold, such as an export.
status for_each_case(const kv_reader& kv, const case_filter& filter, const std::function<bool(case_row&&)>& each);

result<std::optional<scorecard>> find_scorecard(const kv_reader& kv, const std::string& business_id);
result<std::vector<scorecard>> all_scorecards(const kv_reader& kv);
// Calls `each` for every scorecard in id order, one at a time, until it fails.
status for_each_scorecard(const kv_reader& kv, const std::function<status(scorecard&&)>& each);
// The top n businesses by a counter name (see counter_name) or "satisfaction"; ties by id.
result<std::vector<scorecard>> top_businesses(const kv_reader& kv, const std::string& by, std::size_t n);

struct queue_entry {
  dossier_row dossier;
  case_row row;
};
// The cases an agency holds now (or, with `history`, every case it ever held).
result<std::vector<queue_entry>> agency_queue(const kv_reader& kv, const std::string& agency_id,
                                              bool history);

struct dossier_bundle {
  dossier_row dossier;
  case_row row;
  std::vector<std::string> history;  // the log's envelope bytes, in order, up to the case row's head
  party_row consumer, business;
  bool business_restricted = false;
};
result<dossier_bundle> dossier(const kv_reader& kv, event_log& log, const std::string& agency_id,
                               const std::string& case_id);

// Counts of one dimension: "month", "category", "status", "outcome" or "month_category".
result<std::vector<std::pair<std::string, std::uint64_t>>> statistics(const kv_reader& kv,
                                                                      const std::string& dimension);

result<std::optional<party_row>> find_party(const kv_reader& kv, const std::string& id);

}  // namespace sazesh::projections
