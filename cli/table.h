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
// One row as print() writes it, for answers printed row by row as they are made: a CSV line
// (RFC 4180, ending in CRLF), or a JSON object of the columns.
std::string csv_line(const std::vector<cell>& cells);
std::string json_row(const std::vector<std::string>& columns, const std::vector<cell>& row);

}  // namespace sazesh::cli
