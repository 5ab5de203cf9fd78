// Credentials: `account create` (an operator, for anyone; anyone, for itself), `account revoke`
// and `account bootstrap`, which makes the first operator's credential on the machine that holds
// the data folder. The token is printed once; the log keeps only its hash.
#include <fmt/format.h>
#include <fmt/ostream.h>

#include "cli/app.h"
#include "cli/json.h"
#include "engine/domain/decide.h"
#include "engine/record/credential.h"

namespace sazesh::cli {
namespace {

result<fb::Role> credential_role(const std::string& text) {
  auto r = parse_role("role", text);
  if (!r) return r.error();
  if (*r == fb::Role_system)
    return error(errc::invalid_argument, "role", "must be consumer, business, operator, mediator, agency, auditor or analyst");
  return *r;
}

int issue(session& s, const actor& who, fb::Role role, const std::string& id, const std::string& label) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  const new_credential c = make_credential();
  auto out = (*eng)->execute(who, s.command_id, issue_credential{c.key_id, role, id, c.secret_hash, label});
  if (!out) return s.fail(out.error());
  if (out->repeated)  // the secret of the first run is gone: only its holder has it
    return s.fail(error(errc::duplicate, "--command-id",
                        "was used for a credential already issued; its token was shown then (use a new command id)"));
  if (s.json) {
    fmt::print(s.out, "{}\n",
               json_object()
                   .field("command", "issue_credential")
                   .field("stream", out->stream)
                   .field("key_id", c.key_id)
                   .field("role", role_name(role))
                   .field("id", id)
                   .field("token", c.token)
                   .str());
  } else {
    fmt::print(s.out, "{}: credential for {}:{}\n  token: {}\n", out->stream, role_name(role), id, c.token);
    fmt::print(s.out, "  (shown once: only its hash is kept; send it as \"Authorization: Bearer TOKEN\")\n");
  }
  return exit_ok;
}

int create_cmd(session& s, const parsed_args& a) {
  auto role = credential_role(a.get("role"));
  if (!role) return s.fail(role.error());
  if (!s.who)
    return s.fail(error(errc::invalid_argument, "--as", "is required: say who is acting, e.g. --as operator:ali"));
  return issue(s, *s.who, *role, a.get("id"), a.maybe("label").value_or(""));
}

int bootstrap_cmd(session& s, const parsed_args& a) {
  // Whoever can open the data folder already holds everything in it: the machine's owner
  // acts as the system here, once, to let the first operator in.
  return issue(s, actor{fb::Role_system, "bootstrap"}, fb::Role_operator_, a.get("id"), a.maybe("label").value_or(""));
}

int revoke_cmd(session& s, const parsed_args& a) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  if (!s.who)
    return s.fail(error(errc::invalid_argument, "--as", "is required: say who is acting, e.g. --as operator:ali"));
  auto out = (*eng)->execute(*s.who, s.command_id, revoke_credential{a.get("key"), a.get("reason")});
  if (!out) return s.fail(out.error());
  return print_outcome(s, "revoke_credential", *out);
}

}  // namespace

void add_account_commands(std::vector<command_spec>& t) {
  const std::string group = "accounts (sign-in credentials for sazesh serve)";
  t.push_back({"account-create", group, "issue a credential to act as ROLE:ID (operators; anyone for itself); prints its token once",
               {{"role", "ROLE", "consumer, business, operator, mediator, agency, auditor or analyst", true},
                {"id", "ID", "the party's id (U-…, a seal id, an agency id, M-…) or a staff name", true},
                {"label", "TEXT", "what it is for, e.g. \"front desk\""}},
               create_cmd, uses::write});
  t.push_back({"account-revoke", group, "revoke a credential (operators; anyone, its own)",
               {{"key", "KEY", "the credential's key id (12 hex digits, as in its token sz_KEY_…)", true},
                {"reason", "TEXT", "why", true}},
               revoke_cmd, uses::write});
  t.push_back({"account-bootstrap", group,
               "on the server's machine: the first operator's credential, issued by the system (prints its token once)",
               {{"id", "ID", "the operator's name, e.g. ali", true}, {"label", "TEXT", "what it is for"}},
               bootstrap_cmd, uses::log | uses::command_id | uses::clock | uses::rules | uses::json});
}

}  // namespace sazesh::cli
