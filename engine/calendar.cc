#include "engine/calendar.h"

#include <fmt/format.h>

#include <array>
#include <optional>

namespace sazesh {
namespace {

constexpr std::int64_t ms_per_second = 1'000;
constexpr std::int64_t ms_per_minute = 60 * ms_per_second;
constexpr std::int64_t ms_per_hour = 60 * ms_per_minute;
constexpr std::int64_t ms_per_day = 24 * ms_per_hour;

// Integer division rounding toward negative infinity, so that instants and days before the
// epoch fall in the right day (C++ `/` rounds toward zero).
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

constexpr std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

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

constexpr std::array<int, 12> days_before_month = {0,   31,  59,  90,  120, 151,
                                                   181, 212, 243, 273, 304, 334};

constexpr std::int64_t epoch_from_0001 = days_before_year(1970);

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
constexpr std::array<std::int64_t, 20> break_years = {
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
constexpr std::int64_t anchor_year = 1403;
constexpr std::int64_t anchor_nowruz = civil_days(2024, 3, 20);

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

constexpr std::array<std::string_view, 12> month_names_persian = {
    "فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
    "مهر",     "آبان",     "آذر",   "دی",  "بهمن",  "اسفند"};

constexpr std::array<std::string_view, 12> month_names_latin = {
    "Farvardin", "Ordibehesht", "Khordad", "Tir",  "Mordad", "Shahrivar",
    "Mehr",      "Aban",        "Azar",    "Dey",  "Bahman", "Esfand"};

constexpr std::array<std::string_view, 12> gregorian_month_names = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

// The zero-width non-joiner (U+200C) keeps "سه" and "پنج" visually apart from "شنبه" as
// Persian spelling requires, without a space that would split the word.
constexpr std::array<std::string_view, 7> weekday_names = {
    "شنبه", "یکشنبه", "دوشنبه", "سه\u200cشنبه", "چهارشنبه", "پنج\u200cشنبه", "جمعه"};

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

std::int64_t local_ms(timestamp_ms t) { return t + tehran_offset_minutes(t) * ms_per_minute; }

// The instant at which Tehran's clocks showed `local`, or nothing if they skipped it.
std::optional<timestamp_ms> from_tehran_local(std::int64_t local) {
  for (int offset : offsets_in_use) {
    const timestamp_ms t = local - offset * ms_per_minute;
    if (tehran_offset_minutes(t) == offset) return t;
  }
  return std::nullopt;
}

// ---- Formatting helpers ------------------------------------------------------------------

void append_padded(std::string& out, std::int64_t value, int width) {
  if (value < 0) out += '-';
  // The magnitude is taken as unsigned so that the most negative value cannot overflow.
  const std::uint64_t magnitude =
      value < 0 ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  const std::string digits_text = std::to_string(magnitude);
  if (digits_text.size() < static_cast<std::size_t>(width)) {
    out.append(static_cast<std::size_t>(width) - digits_text.size(), '0');
  }
  out += digits_text;
}

void append_offset(std::string& out, int minutes) {
  out += minutes < 0 ? '-' : '+';
  const int magnitude = minutes < 0 ? -minutes : minutes;
  append_padded(out, magnitude / 60, 2);
  out += ':';
  append_padded(out, magnitude % 60, 2);
}

void append_hh_mm(std::string& out, std::int64_t ms_of_day) {
  append_padded(out, ms_of_day / ms_per_hour, 2);
  out += ':';
  append_padded(out, ms_of_day / ms_per_minute % 60, 2);
}

// ---- Parsing helpers ---------------------------------------------------------------------

constexpr std::string_view time_forms =
    "expected a time such as 2026-11-28T13:29:18Z (UTC), 2026-11-28 16:59 or 2026-11-28 "
    "(Tehran time), or 1405/09/07 16:59 (Jalali, Tehran time)";
constexpr std::string_view date_forms = "expected a date such as 2026-11-28 or 1405/09/07";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Text pasted from right-to-left interfaces often carries invisible direction marks (LRM
// U+200E, RLM U+200F, ALM U+061C) between the digits; they mean nothing here.
std::string drop_direction_marks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, 3) == "\u200e" || text.substr(i, 3) == "\u200f") {
      i += 2;
      continue;
    }
    if (text.substr(i, 2) == "\u061c") {
      i += 1;
      continue;
    }
    out += text[i];
  }
  return out;
}

class scanner {
 public:
  explicit scanner(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }
  std::size_t pos() const { return pos_; }
  std::string_view slice(std::size_t from) const { return text_.substr(from, pos_ - from); }

  bool eat(char c) {
    if (done() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  bool eat_spaces() {
    const std::size_t start = pos_;
    while (!done() && is_space(text_[pos_])) ++pos_;
    return pos_ > start;
  }

  // Reads min_digits..max_digits ASCII digits; nothing is consumed if there are too few.
  std::optional<int> number(int min_digits, int max_digits) {
    int value = 0;
    int count = 0;
    while (count < max_digits && !done() && is_digit(text_[pos_])) {
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
      ++count;
    }
    if (count < min_digits) {
      pos_ -= static_cast<std::size_t>(count);
      return std::nullopt;
    }
    return value;
  }

  // Reads a run of digits as a fraction of a second, keeping millisecond precision (further
  // digits are dropped, i.e. the time is truncated, never rounded into the next second).
  std::optional<int> fraction_ms() {
    int value = 0;
    int count = 0;
    while (!done() && is_digit(text_[pos_])) {
      if (count < 3) value = value * 10 + (text_[pos_] - '0');
      ++pos_;
      ++count;
    }
    if (count == 0) return std::nullopt;
    for (int i = count; i < 3; ++i) value *= 10;
    return value;
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// What a person typed, split into fields but not yet checked against the calendar.
struct typed_time {
  std::string date_text;  // e.g. "1404/12/30", for messages
  int year = 0;
  int month = 0;
  int day = 0;
  bool has_time = false;
  std::string time_text;  // e.g. "16:59"
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millisecond = 0;
  std::optional<int> utc_offset;  // minutes east of UTC, when the text names one
  std::string offset_text;
};

// Splits normalized text into fields; nothing if it does not have the shape of any accepted
// form.
std::optional<typed_time> split_time(std::string_view text) {
  scanner in(text);
  typed_time typed;

  const auto year = in.number(4, 4);
  if (!year) return std::nullopt;
  char separator = '-';
  if (!in.eat('-')) {
    if (!in.eat('/')) return std::nullopt;
    separator = '/';
  }
  const auto month = in.number(1, 2);
  if (!month || !in.eat(separator)) return std::nullopt;
  const auto day = in.number(1, 2);
  if (!day) return std::nullopt;
  typed.year = *year;
  typed.month = *month;
  typed.day = *day;
  typed.date_text = std::string(in.slice(0));
  if (in.done()) return typed;

  if (!in.eat('T') && !in.eat_spaces()) return std::nullopt;
  const std::size_t time_start = in.pos();
  const auto hour = in.number(1, 2);
  if (!hour || !in.eat(':')) return std::nullopt;
  const auto minute = in.number(2, 2);
  if (!minute) return std::nullopt;
  typed.has_time = true;
  typed.hour = *hour;
  typed.minute = *minute;
  if (in.eat(':')) {
    const auto second = in.number(2, 2);
    if (!second) return std::nullopt;
    typed.second = *second;
    if (in.eat('.') || in.eat(',')) {
      const auto fraction = in.fraction_ms();
      if (!fraction) return std::nullopt;
      typed.millisecond = *fraction;
    }
  }
  typed.time_text = std::string(in.slice(time_start));

  in.eat_spaces();
  const std::size_t zone_start = in.pos();
  if (in.eat('Z') || in.eat('z')) {
    typed.utc_offset = 0;
  } else if (in.eat('+') || in.eat('-')) {
    const bool west = text[zone_start] == '-';
    const auto hours = in.number(2, 2);
    if (!hours) return std::nullopt;
    in.eat(':');
    const auto minutes = in.number(2, 2);
    if (!minutes) return std::nullopt;
    typed.offset_text = std::string(in.slice(zone_start));
    if (*hours > 14 || *minutes > 59) {
      typed.utc_offset = 24 * 60;  // out of range on purpose: reported by check_time
    } else {
      typed.utc_offset = (west ? -1 : 1) * (*hours * 60 + *minutes);
    }
  }
  in.eat_spaces();
  if (!in.done()) return std::nullopt;
  return typed;
}

enum class calendar_kind { jalali, gregorian };

// Checks the date against its calendar and returns its day number (days since 1970-01-01).
result<std::int64_t> check_date(std::string_view field, const typed_time& typed) {
  const auto refuse = [&](const std::string& why) {
    return error(errc::invalid_argument, std::string(field),
                 typed.date_text + " is not a date: " + why);
  };
  calendar_kind kind;
  if (typed.year >= 1200 && typed.year <= 1600) {
    kind = calendar_kind::jalali;
  } else if (typed.year >= 1900) {
    kind = calendar_kind::gregorian;
  } else {
    return refuse("year " + std::to_string(typed.year) +
                  " is neither Jalali (1200 to 1600) nor Gregorian (1900 to 9999)");
  }
  if (typed.month < 1 || typed.month > 12) {
    return refuse("there is no month " + std::to_string(typed.month));
  }
  if (typed.day < 1) return refuse("there is no day 0");
  const auto index = static_cast<std::size_t>(typed.month - 1);
  if (kind == calendar_kind::jalali) {
    const int length = jalali_month_length(typed.year, typed.month);
    if (typed.day > length) {
      return refuse(std::string(month_names_latin[index]) + " " + std::to_string(typed.year) +
                    " has " + std::to_string(length) + " days");
    }
    return jalali_days(typed.year, typed.month, typed.day);
  }
  const int length = gregorian_month_length(typed.year, typed.month);
  if (typed.day > length) {
    return refuse(std::string(gregorian_month_names[index]) + " " +
                  std::to_string(typed.year) + " has " + std::to_string(length) + " days");
  }
  return civil_days(typed.year, typed.month, typed.day);
}

// Checks the time of day and offset; returns milliseconds since local midnight.
result<std::int64_t> check_time(std::string_view field, const typed_time& typed) {
  const auto refuse = [&](const std::string& why) {
    return error(errc::invalid_argument, std::string(field),
                 typed.time_text + " is not a time of day: " + why);
  };
  if (typed.hour > 23) return refuse("hours go from 00 to 23");
  if (typed.minute > 59) return refuse("minutes go from 00 to 59");
  if (typed.second > 59) return refuse("seconds go from 00 to 59");
  if (typed.utc_offset && (*typed.utc_offset < -14 * 60 || *typed.utc_offset > 14 * 60)) {
    return error(errc::invalid_argument, std::string(field),
                 typed.offset_text + " is not a UTC offset: it must lie between -14:00 and +14:00");
  }
  return typed.hour * ms_per_hour + typed.minute * ms_per_minute + typed.second * ms_per_second +
         typed.millisecond;
}

std::optional<typed_time> split_input(std::string_view text) {
  return split_time(normalize_digits(drop_direction_marks(text)));
}

}  // namespace

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

// ---- Formatting ----------------------------------------------------------------------------

std::string format_date(civil_date date) {
  std::string out;
  append_padded(out, date.year, 4);
  out += '-';
  append_padded(out, date.month, 2);
  out += '-';
  append_padded(out, date.day, 2);
  return out;
}

std::string format_date(jalali_date date, digits d) {
  std::string out;
  append_padded(out, date.year, 4);
  out += '/';
  append_padded(out, date.month, 2);
  out += '/';
  append_padded(out, date.day, 2);
  return d == digits::persian ? to_persian_digits(out) : out;
}

std::string format_gregorian(timestamp_ms t, zone_suffix zone) {
  const int offset = tehran_offset_minutes(t);
  const std::int64_t local = t + offset * ms_per_minute;
  std::string out = format_date(civil_from_days(floor_div(local, ms_per_day)));
  out += ' ';
  append_hh_mm(out, floor_mod(local, ms_per_day));
  if (zone == zone_suffix::show) {
    out += ' ';
    append_offset(out, offset);
  }
  return out;
}

std::string format_jalali(timestamp_ms t, digits d, zone_suffix zone) {
  const int offset = tehran_offset_minutes(t);
  const std::int64_t local = t + offset * ms_per_minute;
  std::string out = format_date(to_jalali(civil_from_days(floor_div(local, ms_per_day))));
  out += ' ';
  append_hh_mm(out, floor_mod(local, ms_per_day));
  if (zone == zone_suffix::show) {
    out += ' ';
    append_offset(out, offset);
  }
  return d == digits::persian ? to_persian_digits(out) : out;
}

std::string format_iso_utc(timestamp_ms t) {
  const std::int64_t ms_of_day = floor_mod(t, ms_per_day);
  std::string out = format_date(civil_from_days(floor_div(t, ms_per_day)));
  out += 'T';
  append_hh_mm(out, ms_of_day);
  out += ':';
  append_padded(out, ms_of_day / ms_per_second % 60, 2);
  out += '.';
  append_padded(out, ms_of_day % ms_per_second, 3);
  out += 'Z';
  return out;
}

// ---- Digits --------------------------------------------------------------------------------

// In UTF-8, Persian digits are 0xDB 0xB0..0xB9 and Arabic-Indic digits 0xD9 0xA0..0xA9; a
// lead byte never occurs inside another character, so a byte-wise scan is safe.
std::string to_persian_digits(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 2);
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      out += static_cast<char>(0xDB);
      out += static_cast<char>(0xB0 + (c - '0'));
    } else {
      out += c;
    }
  }
  return out;
}

std::string normalize_digits(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (i + 1 < text.size() && (lead == 0xDB || lead == 0xD9)) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      const unsigned char zero = lead == 0xDB ? 0xB0 : 0xA0;
      if (next >= zero && next <= zero + 9) {
        out += static_cast<char>('0' + (next - zero));
        ++i;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// ---- Parsing -------------------------------------------------------------------------------

result<timestamp_ms> parse_time(std::string_view field, std::string_view text) {
  const std::string_view trimmed = trim(text);
  if (trimmed.empty()) {
    return error(errc::invalid_argument, std::string(field),
                 "is empty; " + std::string(time_forms));
  }
  const auto typed = split_input(trimmed);
  if (!typed) {
    return error(errc::invalid_argument, std::string(field),
                 "'" + std::string(trimmed) + "' is not a date and time; " +
                     std::string(time_forms));
  }
  auto day = check_date(field, *typed);
  if (!day) return day.error();
  auto time_of_day = check_time(field, *typed);
  if (!time_of_day) return time_of_day.error();

  if (!typed->has_time) return tehran_start_of_day(civil_from_days(*day));
  const std::int64_t local = *day * ms_per_day + *time_of_day;
  if (typed->utc_offset) return local - *typed->utc_offset * ms_per_minute;
  if (auto t = from_tehran_local(local)) return *t;
  return error(errc::invalid_argument, std::string(field),
               typed->date_text + " " + typed->time_text +
                   " never happened in Tehran: the clocks skipped it when they were put forward");
}

result<civil_date> parse_date(std::string_view field, std::string_view text) {
  const std::string_view trimmed = trim(text);
  if (trimmed.empty()) {
    return error(errc::invalid_argument, std::string(field),
                 "is empty; " + std::string(date_forms));
  }
  const auto typed = split_input(trimmed);
  if (!typed) {
    return error(errc::invalid_argument, std::string(field),
                 fmt::format("'{}' is not a date; {}", trimmed, date_forms));
  }
  if (typed->has_time) {
    return error(errc::invalid_argument, std::string(field),
                 fmt::format("'{}' has a time of day; {}", trimmed, date_forms));
  }
  auto day = check_date(field, *typed);
  if (!day) return day.error();
  return civil_from_days(*day);
}

}  // namespace sazesh
