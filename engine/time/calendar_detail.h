// Internal to engine/time: the calendar arithmetic that calendar.cc (dates and Tehran time) and
// calendar_text.cc (formatting and parsing) share. Not a public header: the contract is
// engine/time/calendar.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/time/calendar.h"

namespace sazesh::calendar_detail {

inline constexpr std::int64_t ms_per_second = 1'000;
inline constexpr std::int64_t ms_per_minute = 60 * ms_per_second;
inline constexpr std::int64_t ms_per_hour = 60 * ms_per_minute;
inline constexpr std::int64_t ms_per_day = 24 * ms_per_hour;

// Integer division rounding toward negative infinity, so that instants and days before the
// epoch fall in the right day (C++ `/` rounds toward zero).
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// Without a multiplication, so no instant, however far from the epoch, overflows it.
constexpr std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
  const std::int64_t r = a % b;
  return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

// ---- Gregorian ---------------------------------------------------------------------------

constexpr bool gregorian_leap(std::int64_t year) {
  return floor_mod(year, 4) == 0 && (floor_mod(year, 100) != 0 || floor_mod(year, 400) == 0);
}

// Days from 0001-01-01 to the first of January of `year`: every year has 365 days, plus one
// for each leap year before it.
constexpr std::int64_t days_before_year(std::int64_t year) {
  const std::int64_t y = year - 1;
  return 365 * y + floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
}

inline constexpr std::array<int, 12> days_before_month = {0,   31,  59,  90,  120, 151,
                                                   181, 212, 243, 273, 304, 334};

inline constexpr std::int64_t epoch_from_0001 = days_before_year(1970);

constexpr std::int64_t civil_days(std::int64_t year, std::int64_t month, std::int64_t day) {
  // An out-of-range month rolls into the neighbouring years rather than indexing off the table.
  year += floor_div(month - 1, 12);
  month = floor_mod(month - 1, 12) + 1;
  const bool after_leap_day = month > 2 && gregorian_leap(year);
  return days_before_year(year) + days_before_month[static_cast<std::size_t>(month - 1)] +
         (after_leap_day ? 1 : 0) + (day - 1) - epoch_from_0001;
}

constexpr timestamp_ms utc_ms(int year, int month, int day, int hour, int minute) {
  return civil_days(year, month, day) * ms_per_day + hour * ms_per_hour + minute * ms_per_minute;
}

// ---- Jalali ------------------------------------------------------------------------------
//
// Within each span between two break years the leap years follow a 33-year pattern: counting
// n from the span's first year, n is a leap year when n mod 33 is one of 0, 4, 8, ..., 28.
// In the last five years of a span the pattern is shifted so that the next span can start a
// fresh cycle. The break years mark where this arithmetic had to be re-aligned with the
// vernal equinox; between them it reproduces the astronomical calendar.
inline constexpr std::array<std::int64_t, 20> break_years = {
    -61,  9,    38,   199,  426,  686,  756,  818,  1111, 1181,
    1210, 1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178};

constexpr bool in_leap_pattern(std::int64_t n) {
  const std::int64_t r = floor_mod(n, 33);
  return r % 4 == 0 && r <= 28;
}

// How many n in [0, count) are in the pattern; for a negative count, minus how many are in
// [count, 0). Either way, pattern_count(b) - pattern_count(a) counts the pattern in [a, b).
constexpr std::int64_t pattern_count(std::int64_t count) {
  const std::int64_t partial = (floor_mod(count, 33) + 3) / 4;
  return 8 * floor_div(count, 33) + (partial < 8 ? partial : 8);
}

// The closed-form count and the per-year test must describe the same pattern, or a year's
// length would disagree with the day on which the next year starts.
constexpr bool pattern_count_matches_pattern() {
  for (std::int64_t n = -33; n < 66; ++n) {
    if (pattern_count(n + 1) - pattern_count(n) != (in_leap_pattern(n) ? 1 : 0)) return false;
  }
  return true;
}
static_assert(pattern_count_matches_pattern());

// Whether year n of a span of `length` years is a leap year; length 0 means the span never
// ends (before the first or after the last break year).
constexpr bool span_leap(std::int64_t n, std::int64_t length) {
  if (length > 0 && length - n < 6) n += (length + 4) / 33 * 33 - length;
  return in_leap_pattern(n);
}

// Leap years among the first n years of a span.
constexpr std::int64_t span_leaps_before(std::int64_t n, std::int64_t length) {
  if (length == 0 || n <= length - 5) return pattern_count(n);
  std::int64_t count = pattern_count(length - 5);
  for (std::int64_t k = length - 5; k < n; ++k) count += span_leap(k, length) ? 1 : 0;
  return count;
}

// Leap years from the first break year up to (not including) `year`; negative before it.
// Differences of this count give the leap years between any two years, which is all that is
// needed to place a year on the day line.
constexpr std::int64_t jalali_leaps_before(std::int64_t year) {
  std::int64_t total = 0;
  for (std::size_t i = 0; i + 1 < break_years.size(); ++i) {
    const std::int64_t length = break_years[i + 1] - break_years[i];
    if (year < break_years[i + 1]) return total + span_leaps_before(year - break_years[i], length);
    total += span_leaps_before(length, length);
  }
  return total + pattern_count(year - break_years.back());
}

// 1 Farvardin 1403 fell on 2024-03-20; every other year is placed relative to it.
inline constexpr std::int64_t anchor_year = 1403;
inline constexpr std::int64_t anchor_nowruz = civil_days(2024, 3, 20);

// Days since 1970-01-01 of 1 Farvardin of `year`.
constexpr std::int64_t nowruz_days(std::int64_t year) {
  return anchor_nowruz + 365 * (year - anchor_year) + jalali_leaps_before(year) -
         jalali_leaps_before(anchor_year);
}

// Days from 1 Farvardin to the first of the month: six months of 31 days, then 30.
constexpr std::int64_t days_before_jalali_month(std::int64_t month) {
  return month <= 7 ? (month - 1) * 31 : 186 + (month - 7) * 30;
}

constexpr std::int64_t jalali_days(std::int64_t year, std::int64_t month, std::int64_t day) {
  year += floor_div(month - 1, 12);
  month = floor_mod(month - 1, 12) + 1;
  return nowruz_days(year) + days_before_jalali_month(month) + (day - 1);
}

inline constexpr std::array<std::string_view, 12> month_names_persian = {
    "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر",     "آبان",     "آذر",   "دی",  "بهمن",  "اسفند"};

inline constexpr std::array<std::string_view, 12> month_names_latin = {
    "Farvardin", "Ordibehesht", "Khordad", "Tir",  "Mordad", "Shahrivar",
    "Mehr",      "Aban",        "Azar",    "Dey",  "Bahman", "Esfand"};

inline constexpr std::array<std::string_view, 12> gregorian_month_names = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

// The zero-width non-joiner (U+200C) keeps "سه" and "پنج" visually apart from "شنبه" as
// Persian spelling requires, without a space that would split the word.
inline constexpr std::array<std::string_view, 7> weekday_names = {
    "شنبه", "یکشنبه", "دوشنبه", "سه\u200cشنبه", "چهارشنبه", "پنج\u200cشنبه", "جمعه"};

// ---- Tehran time (calendar.cc) -----------------------------------------------------------

// The instant as Tehran's wall clock showed it, in milliseconds since the local epoch.
std::int64_t local_ms(timestamp_ms t);
// The instant at which Tehran's clocks showed `local`, or nothing if they skipped it.
std::optional<timestamp_ms> from_tehran_local(std::int64_t local);

}  // namespace sazesh::calendar_detail
