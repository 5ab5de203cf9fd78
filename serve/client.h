// The CLI's --server mode: a command sent to a running `sazesh serve` as the HTTP request its
// endpoint takes, printed as the CLI prints it locally, with the same exit code.
#pragma once

#include <string>

#include "cli/app.h"

namespace sazesh::serve {

int run_remote(cli::session& s, const cli::command_spec& spec, const cli::parsed_args& args, const std::string& url,
               const std::string& token);

}  // namespace sazesh::serve
