// A small JSON writer for the CLI's --json output: objects and arrays built in order, strings
// escaped per RFC 8259 (UTF-8 passes through as is).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sazesh::cli {

std::string json_string(std::string_view s);

class json_object {
 public:
  json_object& field(std::string_view key, std::string_view value);
  json_object& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
  json_object& field(std::string_view key, std::int64_t value);
  json_object& field(std::string_view key, std::uint64_t value);
  json_object& field(std::string_view key, int value) { return field(key, static_cast<std::int64_t>(value)); }
  json_object& field(std::string_view key, bool value);
  // `raw` must already be JSON (an object, an array, a number).
  json_object& raw(std::string_view key, std::string_view raw);
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_;
};

class json_array {
 public:
  json_array& raw(std::string_view item);
  json_array& string(std::string_view item) { return raw(json_string(item)); }
  std::string str() const { return "[" + body_ + "]"; }

 private:
  std::string body_;
};

}  // namespace sazesh::cli
