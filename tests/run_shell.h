// run_shell: a shell command run from a test; its exit status and standard output.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <utility>

namespace sazesh {

inline std::pair<int, std::string> run_shell(const std::string& line) {
  std::string out;
  FILE* pipe = ::popen(line.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "cannot run " << line);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int exit = ::pclose(pipe);
  return {WIFEXITED(exit) ? WEXITSTATUS(exit) : -1, out};
}

}  // namespace sazesh
