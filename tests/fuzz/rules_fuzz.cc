// The files an operator keeps the rules in: the first byte picks the trust rule set
// (rules/trust-v*.rules) or a holiday file (calendar/holidays-YYYY.txt); the rest is the file.
// Each either loads or is refused naming its line; a calendar that loads then answers deadlines.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "engine/domain/trust.h"
#include "engine/time/calendar.h"
#include "engine/time/work_calendar.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto rules = sazesh::parse_trust_rules(text, "fuzz.rules");
    if (!rules && rules.error().message().empty()) __builtin_trap();
    return 0;
  }
  // Holiday files are read from a file (engine/base/text_file.h's limits apply).
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("sazesh-fuzz-holidays-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  sazesh::work_calendar cal;
  if (auto s = cal.add_holiday_file(file); !s) {
    if (s.error().message().empty()) __builtin_trap();
    return 0;
  }
  const auto start = sazesh::parse_time("t", "2026-03-15T08:00:00Z").value();
  const auto due = cal.add_working_days(start, 7);
  if (due <= start) __builtin_trap();
  if (cal.add_working_time(start, 72ll * 3'600'000) < start) __builtin_trap();
  return 0;
}
