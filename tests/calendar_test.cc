// Tests for engine/time/calendar.h and engine/time/clock.h.
//
// Expected values come from sources independent of the code under test:
//  - Nowruz dates and leap years: the instant of the March equinox (Meeus, Astronomical
//    Algorithms, ch. 27, with ΔT) and Iran's rule that Nowruz is the day of the equinox when it
//    falls before 12:00 Tehran time (UTC+03:30), else the next day; computed separately and
//    written down here, and consistent with the well-known anchors (1 Farvardin 1354 =
//    1975-03-21, 1379 = 2000-03-20, 1400 = 2021-03-21, 1403 = 2024-03-20, ...).
//  - Tehran offsets: the IANA time zone database (zdump -v Asia/Tehran).
//  - Gregorian day counts: a day-by-day walk with the month lengths spelled out below.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/time/clock.h"

using namespace sazesh;

namespace {

constexpr std::int64_t minute_ms = 60'000;
constexpr std::int64_t hour_ms = 60 * minute_ms;
constexpr std::int64_t day_ms = 24 * hour_ms;

// 2026-11-28T13:29:18.123Z (from `calendar.timegm` in Python), 16:59 in Tehran, 7 Azar 1405.
constexpr timestamp_ms sample = 1'795'872'558'123;

bool test_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

civil_date next_day(civil_date d) {
  static constexpr std::array<int, 12> lengths = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int length = d.month == 2 && test_leap(d.year) ? 29 : lengths[d.month - 1];
  if (d.day < length) return {d.year, d.month, d.day + 1};
  if (d.month < 12) return {d.year, d.month + 1, 1};
  return {d.year + 1, 1, 1};
}

// An instant given in UTC fields; relies on days_from_civil, which is checked on its own.
timestamp_ms utc(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) {
  return days_from_civil({year, month, day}) * day_ms + hour * hour_ms + minute * minute_ms +
         second * 1000;
}

struct nowruz_row {
  int jalali_year;
  civil_date nowruz;
};

// 1 Farvardin of 1354..1411 SH. The equinox is at least 18 minutes from noon in all of them.
constexpr std::array<nowruz_row, 58> nowruz_table = {{
    {1354, {1975, 3, 21}}, {1355, {1976, 3, 21}}, {1356, {1977, 3, 21}}, {1357, {1978, 3, 21}},
    {1358, {1979, 3, 21}}, {1359, {1980, 3, 21}}, {1360, {1981, 3, 21}}, {1361, {1982, 3, 21}},
    {1362, {1983, 3, 21}}, {1363, {1984, 3, 21}}, {1364, {1985, 3, 21}}, {1365, {1986, 3, 21}},
    {1366, {1987, 3, 21}}, {1367, {1988, 3, 21}}, {1368, {1989, 3, 21}}, {1369, {1990, 3, 21}},
    {1370, {1991, 3, 21}}, {1371, {1992, 3, 21}}, {1372, {1993, 3, 21}}, {1373, {1994, 3, 21}},
    {1374, {1995, 3, 21}}, {1375, {1996, 3, 20}}, {1376, {1997, 3, 21}}, {1377, {1998, 3, 21}},
    {1378, {1999, 3, 21}}, {1379, {2000, 3, 20}}, {1380, {2001, 3, 21}}, {1381, {2002, 3, 21}},
    {1382, {2003, 3, 21}}, {1383, {2004, 3, 20}}, {1384, {2005, 3, 21}}, {1385, {2006, 3, 21}},
    {1386, {2007, 3, 21}}, {1387, {2008, 3, 20}}, {1388, {2009, 3, 21}}, {1389, {2010, 3, 21}},
    {1390, {2011, 3, 21}}, {1391, {2012, 3, 20}}, {1392, {2013, 3, 21}}, {1393, {2014, 3, 21}},
    {1394, {2015, 3, 21}}, {1395, {2016, 3, 20}}, {1396, {2017, 3, 21}}, {1397, {2018, 3, 21}},
    {1398, {2019, 3, 21}}, {1399, {2020, 3, 20}}, {1400, {2021, 3, 21}}, {1401, {2022, 3, 21}},
    {1402, {2023, 3, 21}}, {1403, {2024, 3, 20}}, {1404, {2025, 3, 21}}, {1405, {2026, 3, 21}},
    {1406, {2027, 3, 21}}, {1407, {2028, 3, 20}}, {1408, {2029, 3, 20}}, {1409, {2030, 3, 21}},
    {1410, {2031, 3, 21}}, {1411, {2032, 3, 20}},
}};

// Leap years of 1300..1500 SH by the same equinox rule. Three equinoxes come within the error
// of that approximation to noon (1309 by seconds, 1342 and 1470 by about ten minutes); for
// them this list agrees with the published official calendar.
constexpr std::array<int, 49> leap_years_1300_1500 = {
    1300, 1304, 1309, 1313, 1317, 1321, 1325, 1329, 1333, 1337, 1342, 1346, 1350,
    1354, 1358, 1362, 1366, 1370, 1375, 1379, 1383, 1387, 1391, 1395, 1399, 1403,
    1408, 1412, 1416, 1420, 1424, 1428, 1432, 1436, 1441, 1445, 1449, 1453, 1457,
    1461, 1465, 1469, 1474, 1478, 1482, 1486, 1490, 1494, 1498};

std::int64_t days_between(civil_date from, civil_date to) {
  std::int64_t n = 0;
  for (civil_date d = from; d != to; d = next_day(d)) ++n;
  return n;
}

// The rule of a refused input, checking that it is an invalid_argument on the named field.
std::string refusal(std::string_view text) {
  auto r = parse_time("deadline", text);
  REQUIRE_MESSAGE(!r.has_value(), "accepted: ", text);
  CHECK(r.error().code() == errc::invalid_argument);
  CHECK(r.error().field() == "deadline");
  return r.error().rule();
}

std::string date_refusal(std::string_view text) {
  auto r = parse_date("purchase_date", text);
  REQUIRE_MESSAGE(!r.has_value(), "accepted: ", text);
  CHECK(r.error().code() == errc::invalid_argument);
  CHECK(r.error().field() == "purchase_date");
  return r.error().rule();
}

timestamp_ms parsed(std::string_view text) {
  auto r = parse_time("deadline", text);
  REQUIRE_MESSAGE(r.has_value(), text, " refused: ", r ? "" : r.error().message());
  return *r;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// ---- Gregorian -----------------------------------------------------------------------------

TEST_CASE("days_from_civil counts from 1970-01-01") {
  CHECK(days_from_civil({1970, 1, 1}) == 0);
  CHECK(days_from_civil({1970, 1, 2}) == 1);
  CHECK(days_from_civil({1969, 12, 31}) == -1);
  CHECK(days_from_civil({2000, 3, 1}) == 11017);
  CHECK(days_from_civil({2026, 11, 28}) == 20785);
  CHECK(days_from_civil({1900, 1, 1}) == -25567);
  CHECK(civil_from_days(0) == civil_date{1970, 1, 1});
  CHECK(civil_from_days(-1) == civil_date{1969, 12, 31});
  CHECK(civil_from_days(11016) == civil_date{2000, 2, 29});
  CHECK(civil_from_days(-719162) == civil_date{1, 1, 1});
  CHECK(civil_from_days(2932896) == civil_date{9999, 12, 31});
}

TEST_CASE("Gregorian days follow each other from 1600 to 2400") {
  civil_date d{1600, 1, 1};
  std::int64_t n = days_from_civil(d);
  int failures = 0;
  for (; d.year < 2400; d = next_day(d), ++n) {
    if (days_from_civil(d) != n || civil_from_days(n) != d) {
      if (++failures < 5) FAIL_CHECK("mismatch at ", format_date(d));
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("Gregorian leap years and month lengths") {
  CHECK(is_gregorian_leap(2024));
  CHECK(is_gregorian_leap(2000));
  CHECK_FALSE(is_gregorian_leap(1900));
  CHECK_FALSE(is_gregorian_leap(2025));
  CHECK(gregorian_month_length(2024, 2) == 29);
  CHECK(gregorian_month_length(2025, 2) == 28);
  CHECK(gregorian_month_length(2025, 4) == 30);
  CHECK(gregorian_month_length(2025, 12) == 31);
  CHECK(gregorian_month_length(2025, 13) == 0);
  CHECK(is_valid(civil_date{2024, 2, 29}));
  CHECK_FALSE(is_valid(civil_date{2025, 2, 29}));
  CHECK_FALSE(is_valid(civil_date{2025, 0, 1}));
  CHECK_FALSE(is_valid(civil_date{2025, 1, 0}));
}

// ---- Jalali --------------------------------------------------------------------------------

TEST_CASE("Nowruz 1354..1411 falls on the known Gregorian dates") {
  for (const nowruz_row& row : nowruz_table) {
    CAPTURE(row.jalali_year);
    CHECK(to_civil({row.jalali_year, 1, 1}) == row.nowruz);
    CHECK(to_jalali(row.nowruz) == jalali_date{row.jalali_year, 1, 1});
  }
}

TEST_CASE("leap years in the Nowruz table are the years of 366 days") {
  for (std::size_t i = 0; i + 1 < nowruz_table.size(); ++i) {
    const int year = nowruz_table[i].jalali_year;
    const std::int64_t length = days_between(nowruz_table[i].nowruz, nowruz_table[i + 1].nowruz);
    CAPTURE(year);
    REQUIRE((length == 365 || length == 366));
    CHECK(is_jalali_leap(year) == (length == 366));
    CHECK(jalali_month_length(year, 12) == (length == 366 ? 30 : 29));
  }
  // The anchors named in the brief.
  CHECK(is_jalali_leap(1399));
  CHECK(is_jalali_leap(1403));
  CHECK(is_jalali_leap(1408));
  CHECK_FALSE(is_jalali_leap(1404));
  CHECK_FALSE(is_jalali_leap(1400));
}

TEST_CASE("leap years 1300..1500 follow the equinox") {
  for (int year = 1300; year <= 1500; ++year) {
    const bool expected = std::find(leap_years_1300_1500.begin(), leap_years_1300_1500.end(),
                                    year) != leap_years_1300_1500.end();
    CAPTURE(year);
    CHECK(is_jalali_leap(year) == expected);
  }
}

TEST_CASE("month ends and known days") {
  CHECK(to_civil({1403, 6, 31}) == civil_date{2024, 9, 21});
  CHECK(to_civil({1403, 7, 1}) == civil_date{2024, 9, 22});
  CHECK(to_civil({1403, 10, 1}) == civil_date{2024, 12, 21});
  CHECK(to_civil({1403, 12, 30}) == civil_date{2025, 3, 20});
  CHECK(to_civil({1404, 12, 29}) == civil_date{2026, 3, 20});
  CHECK(to_civil({1399, 12, 30}) == civil_date{2021, 3, 20});
  CHECK(to_civil({1405, 9, 7}) == civil_date{2026, 11, 28});
  CHECK(to_civil({1357, 11, 22}) == civil_date{1979, 2, 11});
  CHECK(to_civil({1348, 10, 11}) == civil_date{1970, 1, 1});
  CHECK(to_civil({1300, 1, 1}) == civil_date{1921, 3, 21});
  CHECK(to_civil({1301, 1, 1}) == civil_date{1922, 3, 22});
  CHECK(to_civil({1501, 1, 1}) == civil_date{2122, 3, 21});
  CHECK(to_jalali({2024, 9, 21}) == jalali_date{1403, 6, 31});
  CHECK(to_jalali({2024, 9, 22}) == jalali_date{1403, 7, 1});
  CHECK(to_jalali({2025, 3, 20}) == jalali_date{1403, 12, 30});
  CHECK(to_jalali({2025, 3, 21}) == jalali_date{1404, 1, 1});
  CHECK(to_jalali({2026, 3, 20}) == jalali_date{1404, 12, 29});
  CHECK(to_jalali({2026, 3, 21}) == jalali_date{1405, 1, 1});
}

TEST_CASE("Jalali month lengths") {
  for (int month = 1; month <= 6; ++month) CHECK(jalali_month_length(1405, month) == 31);
  for (int month = 7; month <= 11; ++month) CHECK(jalali_month_length(1405, month) == 30);
  CHECK(jalali_month_length(1403, 12) == 30);
  CHECK(jalali_month_length(1404, 12) == 29);
  CHECK(jalali_month_length(1404, 0) == 0);
  CHECK(jalali_month_length(1404, 13) == 0);
  CHECK(is_valid(jalali_date{1403, 12, 30}));
  CHECK_FALSE(is_valid(jalali_date{1404, 12, 30}));
  CHECK_FALSE(is_valid(jalali_date{1404, 7, 31}));
  CHECK_FALSE(is_valid(jalali_date{1404, 13, 1}));
}

TEST_CASE("every day from 1 Farvardin 1300 to the end of 1500 round-trips") {
  jalali_date j{1300, 1, 1};
  civil_date expected{1921, 3, 21};
  int days = 0;
  int failures = 0;
  while (j.year <= 1500) {
    const civil_date c = to_civil(j);
    if (c != expected || to_jalali(c) != j) {
      if (++failures < 5) {
        FAIL_CHECK(format_date(j), " -> ", format_date(c), ", expected ", format_date(expected));
      }
    }
    ++days;
    expected = next_day(expected);
    if (j.day < jalali_month_length(j.year, j.month)) {
      ++j.day;
    } else if (j.month < 12) {
      j = {j.year, j.month + 1, 1};
    } else {
      j = {j.year + 1, 1, 1};
    }
  }
  CHECK(failures == 0);
  // The walk used the month lengths under test, so check it ended where the equinox says.
  CHECK(expected == civil_date{2122, 3, 21});
  CHECK(days == 365 * 201 + static_cast<int>(leap_years_1300_1500.size()));
}

TEST_CASE("month and weekday names") {
  CHECK(jalali_month_name(1) == "فروردین");
  CHECK(jalali_month_name(2) == "اردیبهشت");
  CHECK(jalali_month_name(6) == "شهریور");
  CHECK(jalali_month_name(9) == "آذر");
  CHECK(jalali_month_name(12) == "اسفند");
  CHECK(jalali_month_name(1, name_script::latin) == "Farvardin");
  CHECK(jalali_month_name(9, name_script::latin) == "Azar");
  CHECK(jalali_month_name(12, name_script::latin) == "Esfand");
  CHECK(jalali_month_name(0).empty());
  CHECK(jalali_month_name(13, name_script::latin).empty());

  CHECK(persian_weekday({2026, 11, 28}) == 0);  // a Saturday
  CHECK(persian_weekday({1970, 1, 1}) == 5);    // a Thursday
  CHECK(persian_weekday({2024, 3, 20}) == 4);   // a Wednesday
  CHECK(persian_weekday({1969, 12, 26}) == 6);  // a Friday
  CHECK(persian_weekday_name(0) == "شنبه");
  CHECK(persian_weekday_name(1) == "یکشنبه");
  CHECK(persian_weekday_name(3) == "سه\u200cشنبه");
  CHECK(persian_weekday_name(5) == "پنج\u200cشنبه");
  CHECK(persian_weekday_name(6) == "جمعه");
  CHECK(persian_weekday_name(7).empty());
  // Persian names use Persian yeh and keheh (U+06CC, U+06A9), never the Arabic letters.
  for (int month = 1; month <= 12; ++month) {
    const std::string_view name = jalali_month_name(month);
    CHECK(name.find("\u064a") == std::string_view::npos);
    CHECK(name.find("\u0643") == std::string_view::npos);
  }
  for (int day = 0; day < 7; ++day) {
    CHECK(persian_weekday_name(day).find("\u064a") == std::string_view::npos);
    CHECK(persian_weekday_name(day).find("\u0643") == std::string_view::npos);
  }
}

// ---- Tehran time ---------------------------------------------------------------------------

TEST_CASE("Tehran offset follows the time zone database") {
  // Fixed +03:30 since 2023.
  CHECK(tehran_offset_minutes(sample) == 210);
  CHECK(tehran_offset_minutes(utc(2023, 7, 1)) == 210);
  CHECK(tehran_offset_minutes(utc(2025, 7, 1)) == 210);
  // The last summer with daylight saving time, 1401.
  CHECK(tehran_offset_minutes(utc(2022, 3, 21, 20, 30) - 1) == 210);
  CHECK(tehran_offset_minutes(utc(2022, 3, 21, 20, 30)) == 270);
  CHECK(tehran_offset_minutes(utc(2022, 9, 21, 19, 30) - 1) == 270);
  CHECK(tehran_offset_minutes(utc(2022, 9, 21, 19, 30)) == 210);
  // 1399, where Nowruz fell on 20 March.
  CHECK(tehran_offset_minutes(utc(2020, 3, 20, 20, 30) - 1) == 210);
  CHECK(tehran_offset_minutes(utc(2020, 3, 20, 20, 30)) == 270);
  CHECK(tehran_offset_minutes(utc(2020, 9, 20, 19, 30) - 1) == 270);
  CHECK(tehran_offset_minutes(utc(2020, 9, 20, 19, 30)) == 210);
  // No daylight saving time in 2006 and 2007.
  CHECK(tehran_offset_minutes(utc(2005, 7, 1)) == 270);
  CHECK(tehran_offset_minutes(utc(2006, 7, 1)) == 210);
  CHECK(tehran_offset_minutes(utc(2007, 7, 1)) == 210);
  CHECK(tehran_offset_minutes(utc(2008, 3, 20, 20, 30)) == 270);
  CHECK(tehran_offset_minutes(utc(2008, 7, 1)) == 270);
  // 1991 began late, on 2 May; 1992 followed the Farvardin rule.
  CHECK(tehran_offset_minutes(utc(1991, 4, 1)) == 210);
  CHECK(tehran_offset_minutes(utc(1991, 5, 2, 20, 30) - 1) == 210);
  CHECK(tehran_offset_minutes(utc(1991, 5, 2, 20, 30)) == 270);
  CHECK(tehran_offset_minutes(utc(1991, 9, 21, 19, 30)) == 210);
  CHECK(tehran_offset_minutes(utc(1992, 3, 21, 20, 30)) == 270);
  // 1977-1980: +04:00 standard time in 1977-1978 and irregular summers.
  CHECK(tehran_offset_minutes(utc(1977, 1, 1)) == 210);
  CHECK(tehran_offset_minutes(utc(1977, 6, 1)) == 270);
  CHECK(tehran_offset_minutes(utc(1978, 1, 1)) == 240);
  CHECK(tehran_offset_minutes(utc(1978, 6, 1)) == 300);
  CHECK(tehran_offset_minutes(utc(1978, 9, 1)) == 240);
  CHECK(tehran_offset_minutes(utc(1979, 1, 1)) == 210);
  CHECK(tehran_offset_minutes(utc(1979, 7, 1)) == 270);
  CHECK(tehran_offset_minutes(utc(1980, 7, 1)) == 270);
  CHECK(tehran_offset_minutes(utc(1985, 7, 1)) == 210);
  CHECK(tehran_offset_minutes(0) == 210);
  CHECK(tehran_offset_minutes(-1) == 210);
}

TEST_CASE("Tehran dates and the start of the day") {
  CHECK(tehran_date(utc(2026, 11, 28, 20, 29, 59)) == civil_date{2026, 11, 28});
  CHECK(tehran_date(utc(2026, 11, 28, 20, 30)) == civil_date{2026, 11, 29});
  CHECK(tehran_date(utc(2020, 6, 1, 19, 29, 59)) == civil_date{2020, 6, 1});
  CHECK(tehran_date(utc(2020, 6, 1, 19, 30)) == civil_date{2020, 6, 2});
  CHECK(tehran_start_of_day({2026, 11, 28}) == utc(2026, 11, 27, 20, 30));
  CHECK(tehran_start_of_day({2020, 6, 1}) == utc(2020, 5, 31, 19, 30));
  // 2 Farvardin 1399 had no midnight: the clocks went from 24:00 to 01:00.
  CHECK(tehran_start_of_day({2020, 3, 21}) == utc(2020, 3, 20, 20, 30));
  CHECK(tehran_date(tehran_start_of_day({2020, 3, 21})) == civil_date{2020, 3, 21});
  CHECK(tehran_date(tehran_start_of_day({2020, 3, 21}) - 1) == civil_date{2020, 3, 20});
}

// ---- Formatting ----------------------------------------------------------------------------

TEST_CASE("formatting known instants") {
  CHECK(format_iso_utc(sample) == "2026-11-28T13:29:18.123Z");
  CHECK(format_gregorian(sample) == "2026-11-28 16:59");
  CHECK(format_gregorian(sample, zone_suffix::show) == "2026-11-28 16:59 +03:30");
  CHECK(format_jalali(sample) == "1405/09/07 16:59");
  CHECK(format_jalali(sample, digits::persian) == "۱۴۰۵/۰۹/۰۷ ۱۶:۵۹");
  CHECK(format_jalali(sample, digits::latin, zone_suffix::show) == "1405/09/07 16:59 +03:30");

  CHECK(format_iso_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_iso_utc(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_gregorian(0) == "1970-01-01 03:30");
  CHECK(format_jalali(0) == "1348/10/11 03:30");

  // Summer time in 1399.
  const timestamp_ms summer = utc(2020, 6, 1, 12, 0);
  CHECK(format_gregorian(summer, zone_suffix::show) == "2020-06-01 16:30 +04:30");
  CHECK(format_jalali(summer) == "1399/03/12 16:30");
  // Just before the clocks went back at 24:00 of 30 Shahrivar 1399, and just after.
  CHECK(format_jalali(utc(2020, 9, 20, 19, 29)) == "1399/06/30 23:59");
  CHECK(format_jalali(utc(2020, 9, 20, 19, 30)) == "1399/06/30 23:00");

  CHECK(format_date(civil_date{2026, 3, 1}) == "2026-03-01");
  CHECK(format_date(jalali_date{1405, 1, 1}) == "1405/01/01");
  CHECK(format_date(jalali_date{1405, 1, 1}, digits::persian) == "۱۴۰۵/۰۱/۰۱");
}

TEST_CASE("Persian digits") {
  CHECK(to_persian_digits("0123456789") == "۰۱۲۳۴۵۶۷۸۹");
  CHECK(to_persian_digits("1405/09/07 16:59") == "۱۴۰۵/۰۹/۰۷ ۱۶:۵۹");
  CHECK(to_persian_digits("تاریخ: 7 آذر") == "تاریخ: ۷ آذر");
  CHECK(to_persian_digits("") == "");
  CHECK(normalize_digits("۰۱۲۳۴۵۶۷۸۹") == "0123456789");
  CHECK(normalize_digits("٠١٢٣٤٥٦٧٨٩") == "0123456789");
  CHECK(normalize_digits("۱۴۰۵/٠٩/07") == "1405/09/07");
  CHECK(normalize_digits("تاریخ ۱۴۰۵ آذر") == "تاریخ 1405 آذر");
  CHECK(normalize_digits(to_persian_digits("2026-11-28T13:29:18Z")) == "2026-11-28T13:29:18Z");
  // Other Arabic-script characters sharing a lead byte with the digits are left alone.
  CHECK(normalize_digits("ی٪") == "ی٪");
}

// ---- Parsing -------------------------------------------------------------------------------

TEST_CASE("parsing UTC instants") {
  CHECK(parsed("2026-11-28T13:29:18Z") == sample - 123);
  CHECK(parsed("2026-11-28T13:29:18.123Z") == sample);
  CHECK(parsed("2026-11-28T13:29:18.1Z") == sample - 23);
  CHECK(parsed("2026-11-28T13:29:18.123999Z") == sample);
  CHECK(parsed("2026-11-28T13:29Z") == sample - 18123);
  CHECK(parsed("2026-11-28T16:59:18.123+03:30") == sample);
  CHECK(parsed("2026-11-28T08:29:18.123-05:00") == sample);
  CHECK(parsed("2026-11-28T16:59:18.123+0330") == sample);
  CHECK(parsed(format_iso_utc(sample)) == sample);
  CHECK(parsed("1969-12-31T23:59:59.999Z") == -1);
}

TEST_CASE("parsing Tehran local times") {
  const timestamp_ms minute = sample - 18123;  // 2026-11-28 16:59 in Tehran
  CHECK(parsed("2026-11-28T16:59") == minute);
  CHECK(parsed("2026-11-28 16:59") == minute);
  CHECK(parsed("2026-11-28  16:59:18") == minute + 18000);
  CHECK(parsed("  2026-11-28 16:59\n") == minute);
  CHECK(parsed("2026/11/28 16:59") == minute);
  CHECK(parsed("2026-11-28") == utc(2026, 11, 27, 20, 30));
  CHECK(parsed("2026-11-28 16:59 +03:30") == minute);
  CHECK(parsed(format_gregorian(minute, zone_suffix::show)) == minute);
  // Summer time of 1399.
  CHECK(parsed("2020-06-01 16:30") == utc(2020, 6, 1, 12, 0));
}

TEST_CASE("parsing Jalali dates") {
  const timestamp_ms minute = sample - 18123;
  CHECK(parsed("1405/09/07 16:59") == minute);
  CHECK(parsed("1405/9/7 16:59") == minute);
  CHECK(parsed("۱۴۰۵/۰۹/۰۷ ۱۶:۵۹") == minute);
  CHECK(parsed("١٤٠٥/٠٩/٠٧ ١٦:٥٩") == minute);
  CHECK(parsed("\u200f۱۴۰۵/۰۹/۰۷\u200f ۱۶:۵۹") == minute);  // with right-to-left marks
  CHECK(parsed(format_jalali(minute, digits::persian)) == minute);
  CHECK(parsed("1405/09/07") == utc(2026, 11, 27, 20, 30));
  CHECK(parsed("1405-09-07") == utc(2026, 11, 27, 20, 30));
  CHECK(parsed("1403/12/30") == utc(2025, 3, 19, 20, 30));
  CHECK(parsed("1399/03/12 16:30") == utc(2020, 6, 1, 12, 0));
}

TEST_CASE("local times around the daylight saving changes") {
  // 2 Farvardin 1399: the clocks jumped from 00:00 to 01:00.
  CHECK(parsed("1399/01/01 23:59") == utc(2020, 3, 20, 20, 29));
  CHECK(parsed("1399/01/02 01:00") == utc(2020, 3, 20, 20, 30));
  CHECK(parsed("1399/01/02") == utc(2020, 3, 20, 20, 30));
  CHECK(refusal("1399/01/02 00:30") ==
        "1399/01/02 00:30 never happened in Tehran: the clocks skipped it when they were put "
        "forward");
  CHECK(starts_with(refusal("2020-03-21 00:00"), "2020-03-21 00:00 never happened in Tehran"));
  // 30 Shahrivar 1399: 23:00-23:59 came twice; the first one is meant.
  CHECK(parsed("1399/06/30 23:30") == utc(2020, 9, 20, 19, 0));
  CHECK(parsed("1399/06/30 22:59") == utc(2020, 9, 20, 18, 29));
  CHECK(parsed("1399/06/31 00:00") == utc(2020, 9, 20, 20, 30));
}

TEST_CASE("impossible dates are refused with the reason") {
  CHECK(refusal("1404/12/30") == "1404/12/30 is not a date: Esfand 1404 has 29 days");
  CHECK(refusal("۱۴۰۴/۱۲/۳۰ ۱۰:۰۰") == "1404/12/30 is not a date: Esfand 1404 has 29 days");
  CHECK(refusal("1405/07/31") == "1405/07/31 is not a date: Mehr 1405 has 30 days");
  CHECK(refusal("1405/13/01") == "1405/13/01 is not a date: there is no month 13");
  CHECK(refusal("1405/00/10") == "1405/00/10 is not a date: there is no month 0");
  CHECK(refusal("1405/01/00") == "1405/01/00 is not a date: there is no day 0");
  CHECK(refusal("2025-02-29") == "2025-02-29 is not a date: February 2025 has 28 days");
  CHECK(refusal("2024-02-30 10:00") == "2024-02-30 is not a date: February 2024 has 29 days");
  CHECK(refusal("2026-04-31T10:00:00Z") == "2026-04-31 is not a date: April 2026 has 30 days");
  CHECK(refusal("2026-13-01") == "2026-13-01 is not a date: there is no month 13");
  CHECK(refusal("1700-01-01") ==
        "1700-01-01 is not a date: year 1700 is neither Jalali (1200 to 1600) nor Gregorian "
        "(1900 to 9999)");
  CHECK(starts_with(refusal("1199/01/01"), "1199/01/01 is not a date: year 1199 is neither"));
  CHECK(starts_with(refusal("1899-12-31"), "1899-12-31 is not a date: year 1899 is neither"));
}

TEST_CASE("impossible times are refused with the reason") {
  CHECK(refusal("2026-11-28 24:00") == "24:00 is not a time of day: hours go from 00 to 23");
  CHECK(refusal("2026-11-28 16:60") == "16:60 is not a time of day: minutes go from 00 to 59");
  CHECK(refusal("2026-11-28T16:59:60Z") ==
        "16:59:60 is not a time of day: seconds go from 00 to 59");
  CHECK(refusal("2026-11-28T16:59+15:00") ==
        "+15:00 is not a UTC offset: it must lie between -14:00 and +14:00");
  CHECK(refusal("2026-11-28T16:59+03:60") ==
        "+03:60 is not a UTC offset: it must lie between -14:00 and +14:00");
}

TEST_CASE("text that is not a time is refused") {
  const std::string expected =
      "expected a time such as 2026-11-28T13:29:18Z (UTC), 2026-11-28 16:59 or 2026-11-28 "
      "(Tehran time), or 1405/09/07 16:59 (Jalali, Tehran time)";
  CHECK(refusal("") == "is empty; " + expected);
  CHECK(refusal("   ") == "is empty; " + expected);
  CHECK(refusal("tomorrow") == "'tomorrow' is not a date and time; " + expected);
  for (const char* text :
       {"2026-11", "2026-11-28T", "2026-11-28 16", "2026-11-28 16:5", "2026-11/28", "26-11-28",
        "20261128", "2026-11-28 16:59 xyz", "2026-11-28T16:59:18.Z", "2026-11-28T16:59+3",
        "2026-11-28X16:59", "02026-11-28", "2026-011-28", "1405/09/07/01", "1405/09/07 16:59Z1"}) {
    CAPTURE(text);
    CHECK(refusal(text) == "'" + std::string(text) + "' is not a date and time; " + expected);
  }
  auto r = parse_time("deadline", "1404/12/30");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message() == "deadline: 1404/12/30 is not a date: Esfand 1404 has 29 days");
}

TEST_CASE("parse_date reads a date without a time") {
  auto a = parse_date("purchase_date", "2024-03-20");
  REQUIRE(a.has_value());
  CHECK(*a == civil_date{2024, 3, 20});
  auto b = parse_date("purchase_date", "1403/01/01");
  REQUIRE(b.has_value());
  CHECK(*b == civil_date{2024, 3, 20});
  auto c = parse_date("purchase_date", " ۱۴۰۳/۱۲/۳۰ ");
  REQUIRE(c.has_value());
  CHECK(*c == civil_date{2025, 3, 20});
  auto d = parse_date("purchase_date", "2026/11/28");
  REQUIRE(d.has_value());
  CHECK(*d == civil_date{2026, 11, 28});
  // A date that Tehran's clocks entered at 01:00 is still a date.
  auto e = parse_date("purchase_date", "1399/01/02");
  REQUIRE(e.has_value());
  CHECK(*e == civil_date{2020, 3, 21});

  const std::string forms = "expected a date such as 2026-11-28 or 1405/09/07";
  CHECK(date_refusal("1404/12/30") == "1404/12/30 is not a date: Esfand 1404 has 29 days");
  CHECK(date_refusal("2025-02-29") == "2025-02-29 is not a date: February 2025 has 28 days");
  CHECK(date_refusal("") == "is empty; " + forms);
  CHECK(date_refusal("2026-11-28 16:59") == "'2026-11-28 16:59' has a time of day; " + forms);
  CHECK(date_refusal("yesterday") == "'yesterday' is not a date; " + forms);
}

TEST_CASE("formatting and parsing agree on every hour of 1399 and 1404") {
  int failures = 0;
  // 1399 had summer time; a local time shown twice only round-trips with its offset.
  for (timestamp_ms t = utc(2020, 3, 19); t < utc(2020, 3, 19) + 366 * day_ms; t += hour_ms) {
    if (parsed(format_jalali(t, digits::persian, zone_suffix::show)) != t ||
        parsed(format_gregorian(t, zone_suffix::show)) != t) {
      ++failures;
    }
  }
  // 1404 had none, so local time alone is unambiguous.
  for (timestamp_ms t = utc(2025, 3, 20); t < utc(2025, 3, 20) + 365 * day_ms; t += hour_ms) {
    if (parsed(format_gregorian(t)) != t) ++failures;
  }
  CHECK(failures == 0);
}

// ---- Clocks --------------------------------------------------------------------------------

TEST_CASE("fixed_clock shows what it was set to") {
  fixed_clock c(sample);
  const sazesh::clock& source = c;
  CHECK(source.now() == sample);
  c.advance(day_ms);
  CHECK(source.now() == sample + day_ms);
  c.advance(-hour_ms);
  CHECK(source.now() == sample + day_ms - hour_ms);
  c.set(0);
  CHECK(source.now() == 0);
  CHECK(fixed_clock().now() == 0);
}

TEST_CASE("system_clock_source reads the wall clock") {
  system_clock_source wall;
  const timestamp_ms t = wall.now();
  CHECK(t > utc(2024, 1, 1));
  CHECK(wall.now() >= t);
}
