#include "cli/table.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>

#include "cli/json.h"

namespace sazesh::cli {
namespace {

// Display width: UTF-8 continuation bytes and zero-width joiners/non-joiners take no column.
std::size_t width(const std::string& s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;
    if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0x8C || static_cast<unsigned char>(s[i + 2]) == 0x8D))
      continue;
    ++w;
  }
  return w;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string csv_line(const std::vector<cell>& cells) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + csv_field(cells[i].text);
  return line + "\r\n";
}

std::string json_row(const std::vector<std::string>& columns, const std::vector<cell>& row) {
  json_object o;
  for (std::size_t i = 0; i < columns.size() && i < row.size(); ++i) {
    if (row[i].number) o.raw(columns[i], row[i].text);
    else o.field(columns[i], row[i].text);
  }
  return o.str();
}

void print(std::ostream& out, const table& t, output_format f) {
  switch (f) {
    case output_format::json: {
      json_array arr;
      for (const auto& row : t.rows) arr.raw(json_row(t.columns, row));
      fmt::print(out, "{}\n", arr.str());
      return;
    }
    case output_format::csv: {
      std::vector<cell> header;
      for (const auto& c : t.columns) header.push_back(txt(c));
      out << csv_line(header);
      for (const auto& row : t.rows) out << csv_line(row);
      return;
    }
    case output_format::text: {
      std::vector<std::size_t> w(t.columns.size());
      for (std::size_t i = 0; i < t.columns.size(); ++i) w[i] = width(t.columns[i]);
      for (const auto& row : t.rows)
        for (std::size_t i = 0; i < row.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(row[i].text));
      const auto line = [&](const std::vector<cell>& cells) {
        std::string s;
        for (std::size_t i = 0; i < cells.size() && i < w.size(); ++i) {
          const std::string pad(w[i] - width(cells[i].text), ' ');
          s += cells[i].number ? pad + cells[i].text : cells[i].text + pad;
          if (i + 1 < cells.size()) s += "  ";
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        fmt::print(out, "{}\n", s);
      };
      std::vector<cell> header;
      for (const auto& c : t.columns) header.push_back(txt(c));
      line(header);
      if (t.rows.empty()) fmt::print(out, "(none)\n");
      for (const auto& row : t.rows) line(row);
      return;
    }
  }
}

}  // namespace sazesh::cli
