// work_calendar: which days are working days in Iran, and deadlines counted in them.
//
// The weekend is Friday (Thursday can be added); official holidays come from yearly files
// (calendar/holidays-YYYY.txt, Jalali dates; format in calendar/README.md). A deadline in
// working days skips weekends and holidays; a deadline in hours counts only the hours of working
// days, so a 72-hour answer window that spans a Friday ends a day later.
//
//   auto cal = work_calendar::load_folder("calendar");
//   timestamp_ms due = cal->add_working_days(now, 7);
//
// Thread safety: const methods may be called from several threads.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "engine/time/calendar.h"
#include "engine/base/result.h"

namespace sazesh {

class work_calendar {
 public:
  // Friday off, no holidays.
  work_calendar() = default;

  // Weekend days as persian_weekday() numbers: 0 = Saturday … 5 = Thursday, 6 = Friday.
  void set_weekend(std::set<int> days) { weekend_ = std::move(days); }
  const std::set<int>& weekend() const { return weekend_; }
  void add_holiday(jalali_date day, std::string name);
  // Reads one holiday file; errors name the line.
  status add_holiday_file(const std::filesystem::path& file);
  // Reads every holidays-*.txt in a folder.
  static result<work_calendar> load_folder(const std::filesystem::path& folder);

  bool is_working_day(civil_date day) const;
  // The holiday's name, or empty.
  std::string holiday_name(civil_date day) const;
  const std::map<jalali_date, std::string>& holidays() const { return holidays_; }

  // `days` working days after the (Tehran) day of `from`, at the same time of day.
  timestamp_ms add_working_days(timestamp_ms from, int days) const;
  // `ms` of working time after `from`: time on weekends and holidays does not count.
  timestamp_ms add_working_time(timestamp_ms from, std::int64_t ms) const;

  bool operator==(const work_calendar&) const = default;

 private:
  std::set<int> weekend_{6};
  std::map<jalali_date, std::string> holidays_;
};

}  // namespace sazesh
