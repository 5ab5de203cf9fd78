// Calendars and Tehran time: the Gregorian and Jalali (Solar Hijri) calendars, Iran's clock
// offsets, and the formatting and parsing of instants for people.
//
// Sazesh stores every instant as milliseconds since the Unix epoch in UTC (`timestamp_ms`) and
// turns it into a calendar date only at the edges: when a time is shown to a person, or read
// from one. People in Iran read and write Jalali dates in Tehran local time, often with Persian
// digits; logs and wire formats use ISO 8601 in UTC.
//
//   auto t = parse_time("deadline", "۱۴۰۵/۰۹/۰۷ ۱۶:۵۹");       // Tehran local, Persian digits
//   format_iso_utc(*t);                                      // "2026-11-28T13:29:00.000Z"
//   format_jalali(*t, digits::persian);                      // "۱۴۰۵/۰۹/۰۷ ۱۶:۵۹"
//
// Jalali dates follow the calendar in official use in Iran, computed with the 33-year leap
// pattern corrected at a table of break years (the arithmetic equivalent of the astronomical
// rule). It is exact at least for 1300..1500 SH; the break table covers -61..3177 SH, and years
// outside it continue the plain 33-year pattern, which is well defined but not historical.
//
// Instants are meant for years 1..9999; far outside that, formatting may overflow.
//
// Thread safety: every function is pure (no shared state) and may be called from any thread.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/base/result.h"

namespace sazesh {

// Milliseconds since 1970-01-01T00:00:00Z; leap seconds are not counted (Unix time).
using timestamp_ms = std::int64_t;

// A day of the proleptic Gregorian calendar. Months and days count from 1.
struct civil_date {
  int year;
  int month;
  int day;
  auto operator<=>(const civil_date&) const = default;
};

// A day of the Jalali (Solar Hijri) calendar: month 1 is Farvardin, month 12 Esfand.
struct jalali_date {
  int year;
  int month;
  int day;
  auto operator<=>(const jalali_date&) const = default;
};

// ---- Gregorian -----------------------------------------------------------------------------

bool is_gregorian_leap(int year);
// Days in the month, or 0 if month is not 1..12.
int gregorian_month_length(int year, int month);
bool is_valid(civil_date date);
// Days since 1970-01-01 (negative before it). Defined for every date, valid or not: an
// out-of-range day simply counts on from the first of the month.
std::int64_t days_from_civil(civil_date date);
civil_date civil_from_days(std::int64_t days);

// ---- Jalali --------------------------------------------------------------------------------

bool is_jalali_leap(int year);
// Days in the month (1-6: 31, 7-11: 30, Esfand: 29 or 30 in a leap year), or 0 if month is
// not 1..12.
int jalali_month_length(int year, int month);
bool is_valid(jalali_date date);
jalali_date to_jalali(civil_date date);
// `date` must be valid (see is_valid); an out-of-range day counts on from the first of the month.
civil_date to_civil(jalali_date date);

enum class name_script { persian, latin };
// "فروردین" … "اسفند", or "Farvardin" … "Esfand"; empty if month is not 1..12.
std::string_view jalali_month_name(int month, name_script script = name_script::persian);

// Day of the Persian week, which starts on Saturday: 0 = شنبه (Saturday) … 6 = جمعه (Friday).
int persian_weekday(civil_date date);
// "شنبه" … "جمعه"; empty if weekday is not 0..6.
std::string_view persian_weekday_name(int weekday);

// ---- Tehran time ---------------------------------------------------------------------------

// Offset of Asia/Tehran from UTC at the instant, in minutes: 210 (+03:30) since 2022; 270 in the
// summers of 1991-2005 and 2008-2022 (from 24:00 of 1 Farvardin to 24:00 of 30 Shahrivar);
// the irregular offsets of 1977-1980 as recorded in the IANA time zone database; 210 before
// 1977 (Tehran mean time, +03:25:44 before 1935, is not modelled).
int tehran_offset_minutes(timestamp_ms t);
// The date on the wall calendar in Tehran at the instant.
civil_date tehran_date(timestamp_ms t);
// The first instant of the day in Tehran: local midnight, or the moment the clocks jumped
// forward if midnight was skipped (2 Farvardin in the years with daylight saving time).
timestamp_ms tehran_start_of_day(civil_date date);

// ---- Formatting ----------------------------------------------------------------------------

enum class digits { latin, persian };
enum class zone_suffix { omit, show };

// "2026-11-28 16:59" in Tehran local time; with zone_suffix::show, "2026-11-28 16:59 +03:30".
std::string format_gregorian(timestamp_ms t, zone_suffix zone = zone_suffix::omit);
// "1405/09/07 16:59" in Tehran local time ("۱۴۰۵/۰۹/۰۷ ۱۶:۵۹" with Persian digits).
std::string format_jalali(timestamp_ms t, digits d = digits::latin,
                          zone_suffix zone = zone_suffix::omit);
// "2026-11-28T13:29:18.123Z": UTC, always with milliseconds, for logs and wire formats.
std::string format_iso_utc(timestamp_ms t);
// "2026-11-28".
std::string format_date(civil_date date);
// "1405/09/07".
std::string format_date(jalali_date date, digits d = digits::latin);

// ---- Digits --------------------------------------------------------------------------------

// ASCII 0-9 become Persian ۰-۹ (U+06F0..U+06F9); everything else is copied unchanged.
std::string to_persian_digits(std::string_view text);
// Persian ۰-۹ and Arabic-Indic ٠-٩ (U+0660..U+0669) become ASCII 0-9; everything else is
// copied unchanged.
std::string normalize_digits(std::string_view text);

// ---- Parsing -------------------------------------------------------------------------------

// Reads an instant typed by a person. Digits may be Latin, Persian or Arabic-Indic. Accepted:
//   2026-11-28T13:29:18Z, 2026-11-28T13:29:18.123Z   UTC (also +03:30 style offsets)
//   2026-11-28T16:59, 2026-11-28 16:59[:05]           Tehran local time
//   2026-11-28                                        start of that day in Tehran
//   1405/09/07, 1405/09/07 16:59                      Jalali, Tehran local time
// The year chooses the calendar: 1200..1600 is Jalali and 1900..9999 Gregorian, whichever
// separator is used. A local time that Tehran's clocks skipped is refused; one they showed
// twice means the first. Failures are errc::invalid_argument naming `field`, with a rule such
// as "1404/12/30 is not a date: Esfand 1404 has 29 days".
result<timestamp_ms> parse_time(std::string_view field, std::string_view text);
// Reads a date without a time (e.g. a purchase date), Gregorian or Jalali as above, and returns
// it as a Gregorian date.
result<civil_date> parse_date(std::string_view field, std::string_view text);

}  // namespace sazesh
