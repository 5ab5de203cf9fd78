// sazesh: the command line of the complaint-case engine.
#include <iostream>
#include <string>
#include <vector>

#include "cli/app.h"
#include "serve/client.h"
#include "serve/server.h"

int main(int argc, char** argv) {
  sazesh::cli::set_serve_command(sazesh::serve::serve_command());
  sazesh::cli::set_remote_runner(sazesh::serve::run_remote);
  std::vector<std::string> args(argv + 1, argv + argc);
  return sazesh::cli::run(args, std::cout, std::cerr);
}
