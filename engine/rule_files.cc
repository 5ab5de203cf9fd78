#include "engine/rule_files.h"

#include <system_error>

#include "engine/base/text_file.h"

namespace sazesh {

result<trust_rules> load_trust_rules(const std::string& path) {
  auto text = read_text_file(path, "rules");
  if (!text) return text.error();
  return parse_trust_rules(*text, path);
}

result<case_rules> load_case_rules(const rule_files& files) {
  case_rules r;
  std::error_code ec;
  if (std::filesystem::is_directory(files.calendar_dir, ec)) {
    auto cal = work_calendar::load_folder(files.calendar_dir);
    if (!cal) return cal.error();
    r.calendar = std::move(*cal);
  } else if (!files.calendar_dir.empty()) {
    return error(errc::not_found, "calendar", "no calendar folder " + files.calendar_dir.string());
  }
  if (files.thursday_off) r.calendar.set_weekend({5, 6});
  if (!files.trust_rules_file.empty()) {
    auto trust = load_trust_rules(files.trust_rules_file.string());
    if (!trust) return trust.error();
    r.trust = std::move(*trust);
  }
  return r;
}

}  // namespace sazesh
