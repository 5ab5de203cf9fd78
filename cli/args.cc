#include "cli/args.h"

#include <fmt/format.h>

#include <algorithm>

namespace sazesh::cli {

const std::string& parsed_args::get(std::string_view name) const {
  static const std::string empty;
  auto it = values_.find(std::string(name));
  return it == values_.end() || it->second.empty() ? empty : it->second.back();
}

std::optional<std::string> parsed_args::maybe(std::string_view name) const {
  if (!has(name)) return std::nullopt;
  return get(name);
}

const std::vector<std::string>& parsed_args::all(std::string_view name) const {
  static const std::vector<std::string> none;
  auto it = values_.find(std::string(name));
  return it == values_.end() ? none : it->second;
}

result<parsed_args> parse_options(const std::vector<option_spec>& specs,
                                  const std::vector<std::string>& args) {
  parsed_args out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 3 || a.rfind("--", 0) != 0)
      return error(errc::invalid_argument, a, "is not an option (options look like --name value)");
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const option_spec& s) { return s.name == name; });
    if (spec == specs.end()) return error(errc::invalid_argument, "--" + name, "is not an option of this command");
    if (spec->value.empty()) {
      if (inline_value) return error(errc::invalid_argument, "--" + name, "takes no value");
      value = "true";
    } else if (!inline_value) {
      if (i + 1 >= args.size()) return error(errc::invalid_argument, "--" + name, fmt::format("needs a value ({})", spec->value));
      value = args[++i];
    }
    if (out.has(name) && !spec->repeated)
      return error(errc::invalid_argument, "--" + name, "may be given only once");
    out.add(name, std::move(value));
  }
  for (const auto& s : specs)
    if (s.required && !out.has(s.name)) return error(errc::invalid_argument, "--" + s.name, "is required");
  return out;
}

std::string describe_options(const std::vector<option_spec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.value.empty() ? "" : " " + s.value);
    std::string note;
    if (s.required) note += " (required)";
    if (s.repeated) note += " (repeatable)";
    out += fmt::format("{:<34} {}{}\n", left, s.help, note);
  }
  return out;
}

}  // namespace sazesh::cli
