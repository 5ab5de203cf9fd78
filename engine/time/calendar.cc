#include "engine/time/calendar.h"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>

#include "engine/time/calendar_detail.h"

namespace sazesh {
namespace calendar_detail {
namespace {

// ---- Tehran time -------------------------------------------------------------------------

constexpr int standard_offset = 210;  // +03:30
constexpr int summer_offset = 270;    // +04:30

struct offset_span {
  timestamp_ms from;  // inclusive
  timestamp_ms until;  // exclusive
  int minutes;
};

// The offsets of 1977-1980 and 1991 followed no calendar rule, so they are listed (UTC
// instants, from the IANA time zone database). In 1977-1978 standard time itself was +04:00.
constexpr std::array<offset_span, 7> irregular_offsets = {{
    {utc_ms(1977, 3, 21, 19, 30), utc_ms(1977, 10, 20, 19, 30), 270},
    {utc_ms(1977, 10, 20, 19, 30), utc_ms(1978, 3, 24, 20, 0), 240},
    {utc_ms(1978, 3, 24, 20, 0), utc_ms(1978, 8, 4, 20, 0), 300},
    {utc_ms(1978, 8, 4, 20, 0), utc_ms(1978, 11, 10, 20, 0), 240},
    {utc_ms(1979, 5, 26, 20, 30), utc_ms(1979, 9, 18, 19, 30), 270},
    {utc_ms(1980, 3, 20, 20, 30), utc_ms(1980, 9, 22, 19, 30), 270},
    {utc_ms(1991, 5, 2, 20, 30), utc_ms(1991, 9, 21, 19, 30), 270},
}};

// Jalali years (1992-2005 and 2008-2022) whose summers followed the rule: clocks forward at
// 24:00 of 1 Farvardin, back at 24:00 of 30 Shahrivar. Iran abolished daylight saving time
// from 1402 (2023); 1385-1386 (2006-2007) had none either.
constexpr bool follows_summer_rule(std::int64_t jalali_year) {
  return (jalali_year >= 1371 && jalali_year <= 1384) ||
         (jalali_year >= 1387 && jalali_year <= 1401);
}

// Iran has kept +03:30 all year since the end of the 1401 (2022) summer.
constexpr timestamp_ms no_summer_time_since = utc_ms(2023, 1, 1, 0, 0);

// Every offset Tehran has used since 1935, largest first so that the earliest of two instants
// showing the same local time is found first.
constexpr std::array<int, 4> offsets_in_use = {300, 270, 240, 210};

}  // namespace

std::int64_t local_ms(timestamp_ms t) {
  // Saturating: an instant within hours of the end of timestamp_ms (only a damaged record holds
  // one) stays at that end instead of overflowing.
  std::int64_t local = 0;
  if (__builtin_add_overflow(t, std::int64_t{tehran_offset_minutes(t)} * ms_per_minute, &local))
    return t < 0 ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
  return local;
}

std::optional<timestamp_ms> from_tehran_local(std::int64_t local) {
  for (int offset : offsets_in_use) {
    const timestamp_ms t = local - offset * ms_per_minute;
    if (tehran_offset_minutes(t) == offset) return t;
  }
  return std::nullopt;
}

}  // namespace calendar_detail

using namespace calendar_detail;

// ---- Gregorian -----------------------------------------------------------------------------

bool is_gregorian_leap(int year) { return gregorian_leap(year); }

int gregorian_month_length(int year, int month) {
  static constexpr std::array<int, 12> lengths = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  if (month == 2 && gregorian_leap(year)) return 29;
  return lengths[static_cast<std::size_t>(month - 1)];
}

bool is_valid(civil_date date) {
  return date.day >= 1 && date.day <= gregorian_month_length(date.year, date.month);
}

std::int64_t days_from_civil(civil_date date) {
  return civil_days(date.year, date.month, date.day);
}

civil_date civil_from_days(std::int64_t days) {
  const std::int64_t n = days + epoch_from_0001;
  // 400 Gregorian years are exactly 146097 days; the estimate is off by at most a year, which
  // the two loops correct.
  std::int64_t year = floor_div(n, 146097) * 400 + floor_mod(n, 146097) * 400 / 146097 + 1;
  while (days_before_year(year) > n) --year;
  while (days_before_year(year + 1) <= n) ++year;
  const std::int64_t day_of_year = n - days_before_year(year);
  const bool leap = gregorian_leap(year);
  const auto month_start = [leap](int month) -> std::int64_t {
    return days_before_month[static_cast<std::size_t>(month - 1)] + (leap && month > 2 ? 1 : 0);
  };
  int month = 12;
  while (month > 1 && day_of_year < month_start(month)) --month;
  return civil_date{static_cast<int>(year), month,
                    static_cast<int>(day_of_year - month_start(month) + 1)};
}

// ---- Jalali --------------------------------------------------------------------------------

bool is_jalali_leap(int year) {
  return jalali_leaps_before(year + 1) - jalali_leaps_before(year) == 1;
}

int jalali_month_length(int year, int month) {
  if (month < 1 || month > 12) return 0;
  if (month <= 6) return 31;
  if (month <= 11) return 30;
  return is_jalali_leap(year) ? 30 : 29;
}

bool is_valid(jalali_date date) {
  return date.day >= 1 && date.day <= jalali_month_length(date.year, date.month);
}

jalali_date to_jalali(civil_date date) {
  const std::int64_t days = days_from_civil(date);
  // Nowruz falls around 20 March, so the Jalali year is the Gregorian one less 621 or 622.
  std::int64_t year = date.year - 621;
  while (nowruz_days(year) > days) --year;
  while (nowruz_days(year + 1) <= days) ++year;
  const std::int64_t day_of_year = days - nowruz_days(year);
  if (day_of_year < 186) {
    return jalali_date{static_cast<int>(year), static_cast<int>(day_of_year / 31 + 1),
                       static_cast<int>(day_of_year % 31 + 1)};
  }
  const std::int64_t rest = day_of_year - 186;
  return jalali_date{static_cast<int>(year), static_cast<int>(rest / 30 + 7),
                     static_cast<int>(rest % 30 + 1)};
}

civil_date to_civil(jalali_date date) {
  return civil_from_days(jalali_days(date.year, date.month, date.day));
}

std::string_view jalali_month_name(int month, name_script script) {
  if (month < 1 || month > 12) return {};
  const auto index = static_cast<std::size_t>(month - 1);
  return script == name_script::persian ? month_names_persian[index] : month_names_latin[index];
}

int persian_weekday(civil_date date) {
  // 1970-01-01 was a Thursday, the sixth day (index 5) of a week that starts on Saturday.
  return static_cast<int>(floor_mod(days_from_civil(date) + 5, 7));
}

std::string_view persian_weekday_name(int weekday) {
  if (weekday < 0 || weekday > 6) return {};
  return weekday_names[static_cast<std::size_t>(weekday)];
}

// ---- Tehran time ---------------------------------------------------------------------------

int tehran_offset_minutes(timestamp_ms t) {
  // Outside 1977-2022 the offset never changed; answering early also keeps the arithmetic
  // below away from the extremes of timestamp_ms.
  if (t < irregular_offsets.front().from || t >= no_summer_time_since) return standard_offset;
  for (const offset_span& span : irregular_offsets) {
    if (t >= span.from && t < span.until) return span.minutes;
  }
  // Under the rule, summer time lies inside Farvardin..Shahrivar, so the Jalali year of the
  // standard-time date is the year whose summer could contain t.
  const std::int64_t standard_day = floor_div(t + standard_offset * ms_per_minute, ms_per_day);
  const std::int64_t year = to_jalali(civil_from_days(standard_day)).year;
  if (!follows_summer_rule(year)) return standard_offset;
  // From 24:00 of 1 Farvardin (standard time) to 24:00 of 30 Shahrivar (summer time).
  const timestamp_ms start = (nowruz_days(year) + 1) * ms_per_day - standard_offset * ms_per_minute;
  const timestamp_ms end =
      (nowruz_days(year) + days_before_jalali_month(6) + 30) * ms_per_day -
      summer_offset * ms_per_minute;
  return t >= start && t < end ? summer_offset : standard_offset;
}

civil_date tehran_date(timestamp_ms t) {
  return civil_from_days(floor_div(local_ms(t), ms_per_day));
}

timestamp_ms tehran_start_of_day(civil_date date) {
  const std::int64_t midnight = days_from_civil(date) * ms_per_day;
  if (auto t = from_tehran_local(midnight)) return *t;
  // Midnight was skipped: the day began when the clocks jumped, which is the instant midnight
  // would have been under the offset in force just before. Five hours earlier is before any
  // jump that could have skipped this midnight.
  const int before = tehran_offset_minutes(midnight - 300 * ms_per_minute);
  return midnight - before * ms_per_minute;
}

}  // namespace sazesh
