#include "projections/rows.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "engine/base/row_codec.h"
#include "engine/domain/state_codec.h"
#include "engine/time/calendar.h"

namespace sazesh::projections {
namespace {

template <class T>
result<T> finish(row_reader& r, T value, const char* what) {
  return finish_row(r, std::move(value), what);
}

}  // namespace

std::string outcome_of(const case_row& r) {
  const case_state& s = r.state;
  switch (s.status) {
    case case_status::rejected: return "rejected";
    case case_status::withdrawn: return "withdrawn";
    case case_status::closed:
      if (s.close_reason == fb::CloseReason_incomplete) return "incomplete";
      if (s.close_reason == fb::CloseReason_agency_decided)
        return std::string("agency_") + (r.verdict ? fb::EnumNameAgencyVerdict(*r.verdict) : "decided");
      if (s.resolution == fb::Resolution_mediation) return "settled_mediation";
      return "settled_negotiation";
    default: return "open";
  }
}

std::string filing_month(const case_state& s) { return filing_month(s.filed_at); }

std::string filing_month(timestamp_ms filed_at) {
  // Asked for twice per event applied (the row before and after), and the Jalali conversion
  // is a good part of a rebuild's time, so months are remembered by half hour: Tehran's
  // midnights, at +3:30 or +4:30, always fall on a half hour of UTC.
  constexpr timestamp_ms half_hour = 30 * 60 * 1000;
  const timestamp_ms bucket = filed_at >= 0 ? filed_at / half_hour : (filed_at - half_hour + 1) / half_hour;
  thread_local std::unordered_map<timestamp_ms, std::string> months;
  if (auto it = months.find(bucket); it != months.end()) return it->second;
  const jalali_date j = to_jalali(tehran_date(filed_at));
  std::string month = fmt::format("{:04}-{:02}", j.year, j.month);
  if (months.size() > 100'000) months.clear();
  months.emplace(bucket, month);
  return month;
}

const char* counter_name(counter c) {
  static constexpr std::array<const char*, counter_count> names{
      "complaints", "open_cases", "forwarded", "timely_responses", "late_responses", "delays_1",
      "delays_2", "unanswered", "offers", "settled_negotiation", "settled_mediation",
      "mediation_failed", "referred", "decisions_upheld", "decisions_partially_upheld",
      "decisions_dismissed", "decisions_not_competent", "remedy_not_fulfilled", "reopened",
      "withdrawn", "rejected", "incomplete", "ratings", "rating_sum", "rated_resolved",
      "restrictions"};
  return names[static_cast<std::size_t>(c)];
}

double scorecard::satisfaction() const {
  const auto n = (*this)[counter::ratings];
  return n == 0 ? 0.0 : static_cast<double>((*this)[counter::rating_sum]) / static_cast<double>(n);
}

std::string encode(const case_row& r) {
  row_writer w;
  write_case_state(w, r.state);
  w.u64(r.events);
  w.flag(r.verdict.has_value());
  w.u8(r.verdict.value_or(fb::AgencyVerdict_upheld));
  w.i64(r.forwarded_at);
  w.flag(r.mediation);
  return w.take();
}

result<case_row> decode_case_row(std::string_view bytes) {
  row_reader rd(bytes);
  case_row r;
  read_case_state(rd, r.state);
  r.events = rd.u64();
  const bool has_verdict = rd.flag();
  const auto verdict = static_cast<fb::AgencyVerdict>(rd.u8());
  if (has_verdict) r.verdict = verdict;
  r.forwarded_at = rd.i64();
  r.mediation = rd.flag();
  return finish(rd, std::move(r), "case_row");
}

std::string encode(const scorecard& r) {
  row_writer w;
  w.str(r.business_id);
  w.str(r.name);
  w.str(r.domain);
  w.u8(static_cast<std::uint8_t>(r.stars));
  w.flag(r.restricted);
  w.str(r.restriction_reason);
  w.u32(static_cast<std::uint32_t>(counter_count));
  for (auto v : r.counters) w.u64(v);
  return w.take();
}

result<scorecard> decode_scorecard(std::string_view bytes) {
  row_reader rd(bytes);
  scorecard r;
  r.business_id = rd.str();
  r.name = rd.str();
  r.domain = rd.str();
  r.stars = rd.u8();
  r.restricted = rd.flag();
  r.restriction_reason = rd.str();
  const std::uint32_t n = rd.u32();
  // Rows written with fewer counters (an older format) read the missing ones as zero.
  for (std::uint32_t i = 0; rd.ok() && i < n; ++i) {
    const auto v = rd.u64();
    if (i < counter_count) r.counters[i] = v;
  }
  return finish(rd, std::move(r), "scorecard");
}

std::string encode(const dossier_row& r) {
  row_writer w;
  w.str(r.agency_id);
  w.str(r.case_id);
  w.i64(r.received_at);
  w.str(r.received_from);
  w.i64(r.acknowledged_at);
  w.flag(r.extended);
  w.i64(r.left_at);
  w.str(r.left_to);
  w.i64(r.decided_at);
  w.flag(r.verdict.has_value());
  w.u8(r.verdict.value_or(fb::AgencyVerdict_upheld));
  return w.take();
}

result<dossier_row> decode_dossier_row(std::string_view bytes) {
  row_reader rd(bytes);
  dossier_row r;
  r.agency_id = rd.str();
  r.case_id = rd.str();
  r.received_at = rd.i64();
  r.received_from = rd.str();
  r.acknowledged_at = rd.i64();
  r.extended = rd.flag();
  r.left_at = rd.i64();
  r.left_to = rd.str();
  r.decided_at = rd.i64();
  const bool has_verdict = rd.flag();
  const auto verdict = static_cast<fb::AgencyVerdict>(rd.u8());
  if (has_verdict) r.verdict = verdict;
  return finish(rd, std::move(r), "dossier_row");
}

std::string encode(const party_row& r) {
  row_writer w;
  w.u8(r.role);
  w.str(r.id);
  w.str(r.name);
  w.str(r.national_code);
  w.str(r.mobile);
  w.str(r.domain);
  w.u8(static_cast<std::uint8_t>(r.stars));
  w.u32(static_cast<std::uint32_t>(r.categories.size()));
  for (auto c : r.categories) w.u8(c);
  w.i64(r.registered_at);
  return w.take();
}

result<party_row> decode_party_row(std::string_view bytes) {
  row_reader rd(bytes);
  party_row r;
  r.role = static_cast<fb::Role>(rd.u8());
  r.id = rd.str();
  r.name = rd.str();
  r.national_code = rd.str();
  r.mobile = rd.str();
  r.domain = rd.str();
  r.stars = rd.u8();
  for (std::uint32_t n = rd.u32(); rd.ok() && n > 0; --n) r.categories.push_back(static_cast<fb::Category>(rd.u8()));
  r.registered_at = rd.i64();
  return finish(rd, std::move(r), "party_row");
}

std::string encode_u64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
  return out;
}

std::uint64_t decode_u64(std::string_view b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < b.size(); ++i) v = (v << 8) | static_cast<unsigned char>(b[i]);
  return v;
}

namespace keys {
namespace {
std::string join(std::string_view kind, std::string_view a) {
  std::string k(kind);
  k.append(a);
  return k;
}
}  // namespace

std::string position(std::uint32_t partition) {
  std::string k = "mposition";
  if (partition != 0) k += encode_u64(partition).substr(4);
  return k;
}
std::string format() { return "mformat"; }
std::string case_row(std::string_view id) { return join("c", id); }
std::string party(std::string_view id) { return join("p", id); }
std::string scorecard(std::string_view id) { return join("b", id); }
std::string damaged_prefix() { return "z"; }
std::string damaged(std::string_view id) { return join("z", id); }
std::string dossier_prefix(std::string_view agency) { return join("d", agency) + '\0'; }
std::string dossier(std::string_view agency, std::string_view id) { return dossier_prefix(agency) + std::string(id); }
std::string stat_prefix(std::string_view dim) { return join("s", dim) + '\0'; }
std::string stat(std::string_view dim, std::string_view value) { return stat_prefix(dim) + std::string(value); }
std::string index_prefix(std::string_view idx, std::string_view value) { return join(idx, value) + '\0'; }
std::string business_status(std::string_view business_id, std::string_view status) {
  std::string v(business_id);
  v += '\0';
  v += status;
  return v;
}
std::string time_part(timestamp_ms t) { return encode_u64(static_cast<std::uint64_t>(std::max<timestamp_ms>(t, 0))); }
std::string index(std::string_view idx, std::string_view value, timestamp_ms filed_at, std::string_view id) {
  return index_prefix(idx, value) + time_part(filed_at) + std::string(id);
}
std::string due(timestamp_ms at, std::string_view id) { return join(due_prefix, time_part(at)) + std::string(id); }
static_assert(satisfaction_rank == counter_count, "the satisfaction ranking follows the counters'");
std::string top_prefix(std::size_t which) { return std::string("t") + static_cast<char>(which); }
std::string top(std::size_t which, std::uint64_t rank, std::string_view id) {
  return top_prefix(which) + encode_u64(rank) + std::string(id);
}
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = end.back();
    if (static_cast<unsigned char>(last) != 0xFF) {
      last = static_cast<char>(static_cast<unsigned char>(last) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\xFF');  // nothing sorts after every key; unused in practice
}
}  // namespace keys

}  // namespace sazesh::projections
