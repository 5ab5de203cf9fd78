#include "engine/time/work_calendar.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "engine/base/text_file.h"

namespace sazesh {

void work_calendar::add_holiday(jalali_date day, std::string name) {
  auto& existing = holidays_[day];
  existing = existing.empty() ? std::move(name) : existing + " / " + name;
}

status work_calendar::add_holiday_file(const std::filesystem::path& file) {
  auto text = read_text_file(file, "holidays");
  if (!text) return text.error();
  std::istringstream in(*text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos)
      return error(errc::invalid_argument, "holidays",
                   fmt::format("{} line {}: must be YYYY/MM/DD, a tab, then the holiday's name", file.filename().string(), number));
    const std::string date = line.substr(0, tab);
    const std::string name = tab == std::string::npos ? "" : line.substr(tab + 1, line.find('\t', tab + 1) - tab - 1);
    int y = 0, m = 0, d = 0;
    char s1 = 0, s2 = 0;
    int used = 0;
    if (std::sscanf(date.c_str(), "%d%c%d%c%d%n", &y, &s1, &m, &s2, &d, &used) != 5 ||
        static_cast<std::size_t>(used) != date.size() || s1 != '/' || s2 != '/' ||
        !is_valid(jalali_date{y, m, d}))
      return error(errc::invalid_argument, "holidays",
                   fmt::format("{} line {}: {} is not a Jalali date YYYY/MM/DD", file.filename().string(), number, date));
    add_holiday({y, m, d}, name.empty() ? "holiday" : name);
  }
  return ok;
}

result<work_calendar> work_calendar::load_folder(const std::filesystem::path& folder) {
  work_calendar cal;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("holidays-", 0) == 0 && entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  if (ec) return error(errc::not_found, "calendar", "cannot read the folder " + folder.string());
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    if (auto s = cal.add_holiday_file(f); !s) return s.error();
  return cal;
}

bool work_calendar::is_working_day(civil_date day) const {
  if (weekend_.count(persian_weekday(day))) return false;
  return holidays_.count(to_jalali(day)) == 0;
}

std::string work_calendar::holiday_name(civil_date day) const {
  auto it = holidays_.find(to_jalali(day));
  return it == holidays_.end() ? "" : it->second;
}

timestamp_ms work_calendar::add_working_days(timestamp_ms from, int days) const {
  const civil_date start = tehran_date(from);
  const timestamp_ms time_of_day = from - tehran_start_of_day(start);
  std::int64_t day = days_from_civil(start);
  for (int counted = 0; counted < days;) {
    ++day;
    if (is_working_day(civil_from_days(day))) ++counted;
  }
  return tehran_start_of_day(civil_from_days(day)) + time_of_day;
}

timestamp_ms work_calendar::add_working_time(timestamp_ms from, std::int64_t ms) const {
  timestamp_ms at = from;
  std::int64_t left = ms;
  // A year of holidays in a row would be a broken file; stop walking rather than loop forever.
  for (int guard = 0; left > 0 && guard < 3660; ++guard) {
    const civil_date day = tehran_date(at);
    const timestamp_ms next_midnight = tehran_start_of_day(civil_from_days(days_from_civil(day) + 1));
    if (is_working_day(day)) {
      const std::int64_t step = std::min<std::int64_t>(left, next_midnight - at);
      at += step;
      left -= step;
    } else {
      at = next_midnight;
    }
  }
  return at;
}

}  // namespace sazesh
