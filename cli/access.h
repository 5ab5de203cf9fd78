// Who may read what, on the command line and over HTTP alike: the README's "who may do what", extended to reads. Writes are
// authorised by the domain itself (engine/domain/decide.cc) on the actor the credential names;
// reads are checked here before the query runs (cli::run for the folder, serve for a request), and may be narrowed (a shop's `cases` lists
// only its own).
//
//   auditors   everything, read only
//   operators  everything
//   analysts   aggregates (scorecards, scores, stats, top) and case lists without parties' data
//   a case's consumer, business, assigned mediator, and the agencies that held it: that case
//   a shop: its own cases, scorecard and score; an agency: its queue and dossiers
//   anyone signed in: scorecards, scores, stats and top (the seal body publishes standings)
//   anyone at all: the open data and the signed standings (`export`), which hold nobody's data
//
// A case the actor may not know of answers 404, like a case that does not exist.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "engine/base/result.h"
#include "engine/domain/state.h"
#include <functional>
#include <optional>

namespace sazesh::cli {

enum class denial { none, forbidden, hidden };

struct access_decision {
  denial verdict = denial::none;
  error reason{errc::unauthorized, "actor", ""};
  // Options added to the request (a shop's own business, an agency's own id).
  std::vector<std::pair<std::string, std::string>> narrowed;
};

// How a read finds the case it names (the engine's state in serve, the projections on the
// command line): nothing if there is no such case.
using case_lookup = std::function<result<std::optional<case_state>>(const std::string& case_id)>;

// Whether `who` may run the read `command` with `args`.
access_decision authorize_read(const case_lookup& find_case, const actor& who, const std::string& command,
                               const parsed_args& args);

// The standings the seal body publishes (score, scorecard, top) and the case rules: anyone may
// read them, signed in or not.
bool is_public_read(std::string_view command);
// Those and the other aggregates (explain, stats): anyone signed in; on the command line they
// need no --as.
bool is_aggregate_read(std::string_view command);

}  // namespace sazesh::cli
