// Formatting and parsing instants and dates for people (engine/time/calendar.h).
#include <fmt/format.h>

#include <array>
#include <optional>

#include "engine/time/calendar.h"
#include "engine/time/calendar_detail.h"

namespace sazesh {
namespace {

using namespace calendar_detail;

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
  const std::int64_t local = local_ms(t);
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
  const std::int64_t local = local_ms(t);
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
