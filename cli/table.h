// Query results as a text table, JSON (an array of objects) or CSV (RFC 4180), from one
// description, so the three forms always carry the same columns.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace sazesh::cli {

enum class output_format { text, json, csv };

struct cell {
  std::string text;
  bool number = false;  // unquoted in JSON
};

struct table {
  std::vector<std::string> columns;
  std::vector<std::vector<cell>> rows;
  void add(std::vector<cell> row) { rows.push_back(std::move(row)); }
};

inline cell num(std::uint64_t v) { return {std::to_string(v), true}; }
inline cell txt(std::string s) { return {std::move(s), false}; }

void print(std::ostream& out, const table& t, output_format f);

}  // namespace sazesh::cli
