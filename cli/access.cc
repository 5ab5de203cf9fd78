#include "cli/access.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/domain/decide.h"

namespace sazesh::cli {
namespace {

access_decision allow() { return {}; }
access_decision forbid(const actor& who, const std::string& what) {
  return {denial::forbidden, error(errc::unauthorized, "actor", fmt::format("{} may not {}", role_with_article(who.role), what)), {}};
}
access_decision hide(const std::string& field, const std::string& what) {
  return {denial::hidden, error(errc::not_found, field, what), {}};
}
bool staff(const actor& who) { return who.role == fb::Role_operator_ || who.role == fb::Role_auditor; }

// A read of one case: its parties, the mediator assigned now, the agencies that held it.
access_decision one_case(const case_lookup& find_case, const actor& who, const std::string& id) {
  if (staff(who)) return allow();
  if (who.role == fb::Role_analyst) return forbid(who, "read a case's parties' data");
  auto found = find_case(id);
  if (!found) return {denial::forbidden, found.error(), {}};
  if (!*found || !knows_of_case(who, **found)) return hide("case_id", fmt::format("no case {}", id));
  return allow();
}

// A narrowing option: absent, it becomes the actor's own id; another id is refused.
access_decision own(const actor& who, const parsed_args& args, const std::string& option, const std::string& what) {
  if (args.has(option) && args.get(option) != who.id) return forbid(who, fmt::format("read another {}'s {}", option, what));
  access_decision d;
  if (!args.has(option)) d.narrowed.push_back({option, who.id});
  return d;
}

}  // namespace

bool is_public_read(std::string_view command) {
  return command == "score" || command == "scorecard" || command == "top" || command == "rules" ||
         command == "checkpoint" || command == "proof" ||  // hashes of the log, nothing of anyone's
         command == "export-open-data" || command == "export-standings";  // published for anyone
}
bool is_aggregate_read(std::string_view command) {
  return is_public_read(command) || command == "explain" || command == "stats";
}

access_decision authorize_read(const case_lookup& find_case, const actor& who, const std::string& command,
                               const parsed_args& args) {
  if (is_aggregate_read(command)) return allow();  // aggregates by business: what the seal body publishes
  if (command == "show" || command == "events") {
    if (args.has("all")) return staff(who) ? allow() : forbid(who, "read the whole log");
    if (args.has("case")) return one_case(find_case, who, args.get("case"));
    if (args.has("party")) {
      if (staff(who) || args.get("party") == who.id) return allow();
      return hide("party", fmt::format("no party {}", args.get("party")));
    }
    return allow();  // the command itself says what is missing
  }
  if (command == "case") {  // the case's row: party ids, no personal data, like a row of `cases`
    if (who.role == fb::Role_analyst) return allow();
    return one_case(find_case, who, args.get("case"));
  }
  if (command == "verify") return staff(who) ? allow() : forbid(who, "verify the whole log");
  if (command == "cases") {
    if (staff(who) || who.role == fb::Role_analyst) return allow();
    if (who.role == fb::Role_business) return own(who, args, "business", "cases");
    if (who.role == fb::Role_agency) return own(who, args, "agency", "cases");
    if (who.role == fb::Role_consumer) return own(who, args, "consumer", "cases");
    if (who.role == fb::Role_mediator) return own(who, args, "mediator", "cases");
    return forbid(who, "list cases");
  }
  if (command == "queue") {  // case rows, no personal data
    if (staff(who) || who.role == fb::Role_analyst) return allow();
    if (who.role == fb::Role_agency) return own(who, args, "agency", "queue");
    return forbid(who, "read an agency's queue");
  }
  if (command == "dossier") {
    if (staff(who)) return allow();
    if (who.role != fb::Role_agency) return forbid(who, "read a dossier");
    if (args.get("agency") != who.id) return forbid(who, "read another agency's dossier");
    return one_case(find_case, who, args.get("case"));
  }
  return forbid(who, "run " + command);
}

}  // namespace sazesh::cli
