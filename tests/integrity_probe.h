// integrity_probe: what the tests of checkpoints, proofs and bundles read from outside, as an
// auditor would: a member of the CLI's JSON, a JSON list of base64 hashes, and the standalone
// bundle verifier (tools/verify-bundle.py) run on a bundle.
#pragma once

#include <doctest/doctest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <filesystem>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "engine/record/hash.h"

namespace sazesh {

// A member's text in a line of JSON: an array, a string (quotes kept) or a whole number.
inline std::string json_member(const std::string& json, const std::string& name) {
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(json, m, std::regex("\"" + name + "\":(\\[[^\\]]*\\]|\"[^\"]*\"|[0-9]+)")),
                  name << " in " << json);
  return m[1].str();
}

// The raw hashes of a JSON array of base64 strings.
inline std::vector<std::string> base64_hashes(const std::string& json_array) {
  std::vector<std::string> out;
  const std::regex item("\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(json_array.begin(), json_array.end(), item); it != std::sregex_iterator(); ++it) {
    auto raw = from_base64((*it)[1].str());
    REQUIRE(raw.has_value());
    out.push_back(*raw);
  }
  return out;
}

// tools/verify-bundle.py on a bundle with a verifier key: its exit status and its output
// (stdout and stderr). The test's target defines SAZESH_SOURCE_DIR.
inline std::pair<int, std::string> run_bundle_verifier(const std::filesystem::path& bundle, const std::string& vkey) {
  const std::string cmd = std::string("python3 ") + SAZESH_SOURCE_DIR + "/tools/verify-bundle.py '" + bundle.string() +
                          "' --vkey '" + vkey + "' 2>&1";
  std::string output;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  while (::fgets(buf, sizeof buf, p) != nullptr) output += buf;
  const int exit_status = ::pclose(p);
  return {WIFEXITED(exit_status) ? WEXITSTATUS(exit_status) : -1, output};
}

}  // namespace sazesh
