// rule_files: the engine's rules read from the files an operator keeps them in: the trust score
// rule set (rules/trust-v*.rules) and the working calendar's holiday files
// (calendar/holidays-YYYY.txt). The domain parses text; this is where the files are read.
//
//   auto rules = load_case_rules({.calendar_dir = "calendar", .trust_rules_file = "rules/trust-v1.rules"});
//
// Every file is read with engine/base/text_file.h's limits (regular files, 1 MiB).
#pragma once

#include <filesystem>
#include <string>

#include "engine/base/result.h"
#include "engine/domain/rules.h"
#include "engine/domain/trust.h"

namespace sazesh {

// Parses the trust rule file at `path`; errors name the file's line and the rule broken.
result<trust_rules> load_trust_rules(const std::string& path);

struct rule_files {
  std::filesystem::path calendar_dir;      // holidays-YYYY.txt files; empty: no holidays
  bool thursday_off = false;               // the weekend is Thursday and Friday
  std::filesystem::path trust_rules_file;  // empty: the score and seal policy are off
};

// The case rules (defaults of engine/domain/rules.h) with the calendar and trust rules read
// from `files`. errc::not_found names a missing folder or file.
result<case_rules> load_case_rules(const rule_files& files);

}  // namespace sazesh
