// sazesh: the command line of the complaint-case engine.
#include <iostream>
#include <string>
#include <vector>

#include "cli/app.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return sazesh::cli::run(args, std::cout, std::cerr);
}
