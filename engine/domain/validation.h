// Field validation shared by the domain core and the CLI. Each check returns an error naming
// the field and the rule, so the message can be shown to the person who typed the value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/base/result.h"

namespace sazesh {

// Iranian national code: exactly 10 ASCII digits with a valid check digit, not all alike.
status check_national_code(std::string_view field, std::string_view value);
// Iranian mobile number: 11 digits starting 09.
status check_mobile(std::string_view field, std::string_view value);
// Text: valid UTF-8 (overlong forms and surrogates refused), no C0 or C1 control characters
// other than newline, no bidirectional overrides or isolates, between min_bytes and max_bytes
// long.
status check_text(std::string_view field, std::string_view value, std::size_t min_bytes,
                  std::size_t max_bytes);
// Identifier: 1..max ASCII letters, digits, '-', '_', '.'.
status check_identifier(std::string_view field, std::string_view value, std::size_t max = 64);
// Domain name: lower-case labels of letters, digits and '-', joined by dots, at least two.
status check_domain(std::string_view field, std::string_view value);
// A non-negative whole number of rials written in decimal (Persian digits accepted).
result<std::uint64_t> parse_rials(std::string_view field, std::string_view value);

bool is_valid_utf8(std::string_view s);

}  // namespace sazesh
