// The rows of the projection store and their keys. Key layout (every key starts with a kind
// byte; integers are big-endian so keys sort numerically; 0x00 ends variable-length parts):
//
//   m position [u32 partition]      u64 the next position to apply (partition 0 has no suffix)
//   m format                        u64 row format version
//   c <case>                        case_row
//   p <party>                       party_row: consumers' personal data lives only here
//   b <business>                    scorecard
//   d <agency> 0 <case>             dossier_row: one per agency that ever held the case
//   z <case>                        a case whose hash chain broke: what was found
//   s <dimension> 0 <value>         u64 count: month, category, status, outcome, month_category
//   t <counter u8> <rank u64> <business>
//                                   index: businesses by a counter (rank = ~value) or, counter
//                                   26, by satisfaction (rank = ~bits of the rated average)
//
// Case indexes: every one ends with <filed_at u64> <case>, so a range of one lists its cases in
// the order queries answer (filing time, then id) and a query stops at its limit:
//   xs <status> 0                   by current status
//   xb <business> 0                 by business
//   xt <business> 0 <status> 0      by business and status
//   xa <agency> 0                   open cases held by an agency (its queue)
//   xc <category> 0                 by category (a month is a range of filing times)
//   xu <consumer> 0                 by consumer
//   xe <mediator> 0                 by the mediator assigned now
//   xf                              every case
//   xd <due u64> <case>             open cases by their earliest deadline (overdue = due < now)
//
// A case's history is not copied here: the log holds its envelopes (event_log::read_stream),
// and the case row's head says how far the projections have applied them.
//
// Values are this file's own compact binary encoding (row_writer/row_reader), checked on
// decode; a row that does not decode is reported as corrupt, never guessed at.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.h"
#include "engine/domain/state.h"

namespace sazesh::projections {

inline constexpr std::uint32_t row_format_version = 4;

struct case_row {
  case_state state;
  std::uint64_t events = 0;
  std::optional<fb::AgencyVerdict> verdict;
  timestamp_ms forwarded_at = 0;  // when it was first sent to the business (0: never)
  bool mediation = false;         // mediation was asked for at some point
  bool operator==(const case_row&) const = default;
};

// How a case ended (or "open"): the outcome dimension of the statistics.
std::string outcome_of(const case_row& r);
// The Jalali month a case was filed in, "1405-08".
std::string filing_month(const case_state& s);
std::string filing_month(timestamp_ms filed_at);

// The counters of a business scorecard. Names are the column names of queries.
enum class counter : std::size_t {
  complaints, open_cases, forwarded, timely_responses, late_responses, delays_1, delays_2,
  unanswered, offers, settled_negotiation, settled_mediation, mediation_failed, referred,
  decisions_upheld, decisions_partially_upheld, decisions_dismissed, decisions_not_competent,
  remedy_not_fulfilled, reopened, withdrawn, rejected, incomplete, ratings, rating_sum,
  rated_resolved, restrictions,
  count_  // the number of counters
};
inline constexpr std::size_t counter_count = static_cast<std::size_t>(counter::count_);
const char* counter_name(counter c);

struct scorecard {
  std::string business_id, name, domain;
  int stars = 0;
  bool restricted = false;
  std::string restriction_reason;
  std::array<std::uint64_t, counter_count> counters{};
  std::uint64_t& operator[](counter c) { return counters[static_cast<std::size_t>(c)]; }
  std::uint64_t operator[](counter c) const { return counters[static_cast<std::size_t>(c)]; }
  // Average rating, 0 when unrated.
  double satisfaction() const;
  bool operator==(const scorecard&) const = default;
};

struct dossier_row {
  std::string agency_id, case_id;
  timestamp_ms received_at = 0;
  std::string received_from;          // empty: referred by an operator; else the agency it came from
  timestamp_ms acknowledged_at = 0;
  bool extended = false;
  timestamp_ms left_at = 0;           // 0 while the agency holds the case
  std::string left_to;                // the agency it was transferred to
  timestamp_ms decided_at = 0;
  std::optional<fb::AgencyVerdict> verdict;
  bool operator==(const dossier_row&) const = default;
};

struct party_row {
  fb::Role role = fb::Role_consumer;
  std::string id, name;
  std::string national_code, mobile;   // consumers and mediators (mobile only)
  std::string domain;                  // businesses
  int stars = 0;
  std::vector<fb::Category> categories;  // agencies
  timestamp_ms registered_at = 0;
  bool operator==(const party_row&) const = default;
};

std::string encode(const case_row& r);
std::string encode(const scorecard& r);
std::string encode(const dossier_row& r);
std::string encode(const party_row& r);
result<case_row> decode_case_row(std::string_view bytes);
result<scorecard> decode_scorecard(std::string_view bytes);
result<dossier_row> decode_dossier_row(std::string_view bytes);
result<party_row> decode_party_row(std::string_view bytes);

std::string encode_u64(std::uint64_t v);   // 8 bytes, big-endian
std::uint64_t decode_u64(std::string_view bytes);

// ---- Keys ----
namespace keys {
std::string position(std::uint32_t partition = 0);
std::string format();
std::string case_row(std::string_view case_id);
std::string party(std::string_view id);
std::string scorecard(std::string_view business_id);
// A case whose next event in the log did not continue its hash chain: what was found. The
// case is frozen at its last good event (damaged_prefix(): every such case).
std::string damaged(std::string_view case_id);
std::string damaged_prefix();
inline constexpr std::string_view scorecard_prefix = "b";
std::string dossier(std::string_view agency_id, std::string_view case_id);
std::string dossier_prefix(std::string_view agency_id);
std::string stat(std::string_view dimension, std::string_view value);
std::string stat_prefix(std::string_view dimension);
// Case index keys: `index` is "xs", "xb", "xt", "xa", "xc", "xu", "xe" or "xf" (layout above);
// `value` is the indexed value ("" for xf; "<business>\0<status>" for xt).
std::string index_prefix(std::string_view index, std::string_view value);
// The value of the "xt" index: a business and a status.
std::string business_status(std::string_view business_id, std::string_view status);
// A time as it stands in keys: 8 bytes, big-endian, so keys sort by time (before 1970 as 1970).
std::string time_part(timestamp_ms t);
std::string index(std::string_view index, std::string_view value, timestamp_ms filed_at, std::string_view case_id);
std::string due(timestamp_ms due, std::string_view case_id);  // xd
inline constexpr std::string_view due_prefix = "xd";
// The business ranking index: `rank` orders first (smaller first).
inline constexpr std::size_t satisfaction_rank = 26;
std::string top_prefix(std::size_t counter_or_satisfaction);
std::string top(std::size_t counter_or_satisfaction, std::uint64_t rank, std::string_view business_id);
// The end of a prefix range: the smallest key greater than every key starting with `prefix`.
std::string prefix_end(std::string_view prefix);
}  // namespace keys

}  // namespace sazesh::projections
