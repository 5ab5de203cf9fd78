#include "cli/json.h"

#include <fmt/format.h>

namespace sazesh::cli {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) out += fmt::format("\\u{:04x}", c);
        else out += ch;
    }
  }
  return out + "\"";
}

void json_object::key(std::string_view k) {
  if (!body_.empty()) body_ += ',';
  body_ += json_string(k);
  body_ += ':';
}

json_object& json_object::field(std::string_view k, std::string_view v) { key(k); body_ += json_string(v); return *this; }
json_object& json_object::field(std::string_view k, std::int64_t v) { key(k); body_ += std::to_string(v); return *this; }
json_object& json_object::field(std::string_view k, std::uint64_t v) { key(k); body_ += std::to_string(v); return *this; }
json_object& json_object::field(std::string_view k, bool v) { key(k); body_ += v ? "true" : "false"; return *this; }
json_object& json_object::raw(std::string_view k, std::string_view r) { key(k); body_ += r; return *this; }

json_array& json_array::raw(std::string_view item) {
  if (!body_.empty()) body_ += ',';
  body_ += item;
  return *this;
}

}  // namespace sazesh::cli
