// Command-line parsing for `sazesh`: subcommands with `--name value` options, described by
// tables so that every subcommand's --help is generated from the same specs it parses with.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.h"

namespace sazesh::cli {

struct option_spec {
  std::string name;         // without the leading "--"
  std::string value;        // placeholder shown in help, e.g. "CASE"; empty for a flag
  std::string help;
  bool required = false;
  bool repeated = false;    // may be given several times
};

class parsed_args {
 public:
  bool has(std::string_view name) const { return values_.count(std::string(name)) != 0; }
  // The value of an option that was given (the last one, if repeated); "" if absent.
  const std::string& get(std::string_view name) const;
  std::optional<std::string> maybe(std::string_view name) const;
  const std::vector<std::string>& all(std::string_view name) const;
  void add(const std::string& name, std::string value) { values_[name].push_back(std::move(value)); }
  // Every option given, by name, with its values in order.
  const std::map<std::string, std::vector<std::string>>& values() const { return values_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// Parses `args` against `specs`. Unknown options, missing values, missing required options
// and repeated single options are errors naming the option.
result<parsed_args> parse_options(const std::vector<option_spec>& specs,
                                  const std::vector<std::string>& args);

// "  --case CASE      the case id (required)" lines for help.
std::string describe_options(const std::vector<option_spec>& specs);

}  // namespace sazesh::cli
