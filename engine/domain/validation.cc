#include "engine/domain/validation.h"

#include <fmt/format.h>

namespace sazesh {
namespace {

error invalid(std::string_view field, std::string rule) {
  return error(errc::invalid_argument, std::string(field), std::move(rule));
}

bool all_ascii_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

status check_national_code(std::string_view field, std::string_view v) {
  if (v.size() != 10 || !all_ascii_digits(v))
    return invalid(field, "must be exactly 10 digits");
  if (v.find_first_not_of(v[0]) == std::string_view::npos)
    return invalid(field, "must not be ten identical digits");
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (v[static_cast<std::size_t>(i)] - '0') * (10 - i);
  const int r = sum % 11;
  const int check = v[9] - '0';
  const int expected = r < 2 ? r : 11 - r;
  if (check != expected) return invalid(field, "has an invalid check digit");
  return ok;
}

status check_mobile(std::string_view field, std::string_view v) {
  if (v.size() != 11 || !all_ascii_digits(v) || v.substr(0, 2) != "09")
    return invalid(field, "must be a mobile number of the form 09xxxxxxxxx");
  return ok;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned char c = byte(i);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    // Overlong encodings, surrogates and code points past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
      return false;
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

status check_text(std::string_view field, std::string_view v, std::size_t min_bytes,
                  std::size_t max_bytes) {
  if (!is_valid_utf8(v)) return invalid(field, "must be valid UTF-8 text");
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    const auto next = [&](std::size_t k) { return i + k < v.size() ? static_cast<unsigned char>(v[i + k]) : 0; };
    // C0 controls but newline, DEL, and C1 controls (U+0080-U+009F, encoded C2 80-C2 9F).
    if ((c < 0x20 && c != '\n') || c == 0x7F || (c == 0xC2 && next(1) >= 0x80 && next(1) <= 0x9F))
      return invalid(field, "must not contain control characters other than newline");
    // Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they
    // make text display in an order other than the one it is stored in.
    if (c == 0xE2 && ((next(1) == 0x80 && next(2) >= 0xAA && next(2) <= 0xAE) ||
                      (next(1) == 0x81 && next(2) >= 0xA6 && next(2) <= 0xA9)))
      return invalid(field, "must not contain bidirectional override or isolate characters (U+202A-U+202E, U+2066-U+2069)");
  }
  if (v.size() < min_bytes)
    return invalid(field, min_bytes == 1 ? std::string("is required")
                                         : fmt::format("must be at least {} bytes", min_bytes));
  if (v.size() > max_bytes) return invalid(field, fmt::format("must be at most {} bytes", max_bytes));
  return ok;
}

status check_identifier(std::string_view field, std::string_view v, std::size_t max) {
  if (v.empty()) return invalid(field, "is required");
  if (v.size() > max) return invalid(field, fmt::format("must be at most {} characters", max));
  for (char c : v) {
    const bool good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
    if (!good) return invalid(field, "may contain only letters, digits, '-', '_' and '.'");
  }
  return ok;
}

status check_domain(std::string_view field, std::string_view v) {
  if (v.empty() || v.size() > 253) return invalid(field, "must be a domain name such as shop.example.ir");
  std::size_t labels = 0, start = 0;
  while (start <= v.size()) {
    std::size_t end = v.find('.', start);
    if (end == std::string_view::npos) end = v.size();
    const std::string_view label = v.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return invalid(field, "must be a lower-case domain name such as shop.example.ir");
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
        return invalid(field, "must be a lower-case domain name such as shop.example.ir");
    }
    ++labels;
    start = end + 1;
  }
  if (labels < 2) return invalid(field, "must be a domain name with at least two labels");
  return ok;
}

result<std::uint64_t> parse_rials(std::string_view field, std::string_view text) {
  std::string ascii;
  // Persian (U+06F0..U+06F9) and Arabic-Indic (U+0660..U+0669) digits are two bytes each.
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (i + 1 < text.size() && (c == 0xDB || c == 0xD9)) {
      const auto d = static_cast<unsigned char>(text[i + 1]);
      if (c == 0xDB && d >= 0xB0 && d <= 0xB9) { ascii += static_cast<char>('0' + d - 0xB0); ++i; continue; }
      if (c == 0xD9 && d >= 0xA0 && d <= 0xA9) { ascii += static_cast<char>('0' + d - 0xA0); ++i; continue; }
    }
    if (c == ',' || c == '_') continue;  // thousands separators
    ascii += static_cast<char>(c);
  }
  if (!ascii.empty() && ascii[0] == '-')
    return invalid(field, "must not be negative: amounts are non-negative whole numbers of rials");
  if (ascii.empty() || !all_ascii_digits(ascii))
    return invalid(field, "must be a whole number of rials");
  if (ascii.size() > 16) return invalid(field, "must be at most 10^16 rials");
  std::uint64_t v = 0;
  for (char c : ascii) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return v;
}

}  // namespace sazesh
