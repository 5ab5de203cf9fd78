// The `sazesh` command line driven in-process through cli::run, on a real data folder per test.

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/app.h"
#include "serve/client.h"
#include "engine/log/document_store.h"
#include "engine/engine.h"
#include "engine/record/codec.h"
#include "engine/time/clock.h"
#include "workload/history_generator.h"
#include "engine/record/hash.h"
#include "engine/log/event_log.h"
#include "engine/time/calendar.h"
#include "tests/run_shell.h"
#include "tests/temp_dir.h"

namespace sazesh {
namespace {

struct run_result {
  int code = -1;
  std::string out, err;
};

// Runs the CLI on exactly these arguments.
run_result sazesh_cli_exact(const std::vector<std::string>& args) {
  // The environment must not choose the folder, the actor or the time for us.
  unsetenv("SAZESH_DATA_DIR");
  unsetenv("SAZESH_ACTOR");
  unsetenv("SAZESH_NOW");
  std::ostringstream out, err;
  const int code = cli::run(args, out, err);
  return {code, out.str(), err.str()};
}

std::vector<cli::command_spec> known_specs();

// The workspace gives every invocation --now and often --as; a command that takes neither
// refuses them (cli/app.h, uses::), so they are dropped for it here.
std::vector<std::string> fitted(const std::vector<std::string>& args) {
  static const std::vector<cli::command_spec> specs = known_specs();
  static const std::set<std::string> with_value{"--data-dir", "--as", "--now", "--command-id", "--digits", "--calendar",
                                                "--rules", "--weekend", "--kafka", "--kafka-prefix", "--kafka-config",
                                                "--kafka-timeout", "--kafka-projector-group"};
  const cli::command_spec* spec = nullptr;
  for (std::size_t i = 0; i < args.size() && spec == nullptr; ++i) {
    if (with_value.count(args[i])) ++i;
    else if (args[i].rfind("--", 0) != 0)
      for (const auto& c : specs)
        if (c.name == args[i]) spec = &c;
  }
  if (spec == nullptr) return args;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool drop = i + 1 < args.size() && ((args[i] == "--now" && !(spec->globals & cli::uses::clock)) ||
                                              (args[i] == "--as" && !(spec->globals & cli::uses::actor)));
    if (drop) ++i;
    else out.push_back(args[i]);
  }
  return out;
}

run_result sazesh_cli(const std::vector<std::string>& args) { return sazesh_cli_exact(fitted(args)); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// "error: <field>: <rule>" on exactly one line, nothing on stdout.
void check_one_error_line(const run_result& r, const std::string& field) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.out.empty());
  REQUIRE_FALSE(r.err.empty());
  CHECK(r.err.back() == '\n');
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.rfind("error: " + field + ": ", 0) == 0);
  CHECK(r.err.size() > ("error: " + field + ": \n").size());  // a rule follows
}

// With $SAZESH_CLI_TEST_OVER_SERVER set, the suites marked for it run once more with every
// command sent through --server to a `sazesh serve` on the workspace's folder, each actor
// signed in with a credential of its own (tests/CMakeLists.txt: cli_test_over_server).
bool over_server() {
  static const bool on = std::getenv("SAZESH_CLI_TEST_OVER_SERVER") != nullptr;
  return on;
}

// A `sazesh serve` on a folder, and a credential per actor, issued as the actors first appear.
class remote_folder {
 public:
  explicit remote_folder(const std::filesystem::path& dir) {
    cli::set_remote_runner(serve::run_remote);
    std::ostringstream out, err;
    REQUIRE_MESSAGE(cli::run({"--data-dir", dir.string(), "--json", "account", "bootstrap", "--id", "ops-root"}, out, err) == 0,
                    err.str());
    operator_token_ = member(out.str(), "token");
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      const std::string log = (dir / "serve.log").string();
      FILE* e = freopen(log.c_str(), "a", stderr);
      (void)e;
      std::vector<std::string> args{SAZESH_BINARY, "--data-dir", dir.string(), "serve", "--listen", "127.0.0.1:0",
                                    "--tick-every", "0"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(SAZESH_BINARY, argv.data());
      _exit(127);
    }
    close(fds[1]);
    std::string line;
    char c;
    while (read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    close(fds[0]);
    REQUIRE_MESSAGE(line.rfind("listening on http://", 0) == 0, "serve printed: ", line);
    url_ = line.substr(std::string("listening on ").size());
  }
  ~remote_folder() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  remote_folder(const remote_folder&) = delete;
  remote_folder& operator=(const remote_folder&) = delete;

  // --server URL, and --token for `as` ("ROLE:ID"; none for "" or "consumer:", who registers).
  std::vector<std::string> args(const std::string& as) {
    std::vector<std::string> a{"--server", url_};
    if (as.empty() || as == "consumer:") return a;
    auto& token = tokens_[as];
    if (token.empty()) token = issue(as);
    a.insert(a.end(), {"--token", token});
    return a;
  }

 private:
  static std::string member(const std::string& json, const std::string& key) {
    const std::string needle = "\"" + key + "\":\"";
    const auto at = json.find(needle);
    if (at == std::string::npos) return "";
    const auto start = at + needle.size();
    return json.substr(start, json.find('"', start) - start);
  }
  std::string issue(const std::string& as) {
    const auto colon = as.find(':');
    const std::string role = as.substr(0, colon), id = as.substr(colon + 1);
    std::ostringstream out, err;
    if (cli::run({"--server", url_, "--token", operator_token_, "--json", "account", "create", "--role", role, "--id", id},
                 out, err) == 0)
      return member(out.str(), "token");
    // An actor the folder does not know yet. A consumer the test made up to be a stranger: a
    // stranger registered now. Anyone else: a token that signs in nobody (the commands given
    // it are refused by the CLI before they are sent).
    if (role != "consumer") return "sz_000000000000_" + std::string(64, '0');
    static const std::vector<std::string> spare_codes{"0067749828", "0013542419", "0499370899"};
    REQUIRE(strangers_ < spare_codes.size());
    std::ostringstream o2, e2;
    REQUIRE_MESSAGE(cli::run({"--server", url_, "--json", "register-consumer", "--national-code", spare_codes[strangers_],
                              "--mobile", fmt::format("0912555000{}", strangers_), "--name", "غریبه"},
                             o2, e2) == 0,
                    e2.str());
    ++strangers_;
    return member(o2.str(), "token");
  }

  pid_t pid_ = -1;
  std::string url_, operator_token_;
  std::map<std::string, std::string> tokens_;
  std::size_t strangers_ = 0;
};

// The log as `events --all` prints it, without the sign-ins (credentials issued as actors first
// appear, strangers registered) a run through a server adds as it goes.
std::string without_sign_ins(const std::string& events) {
  std::string out;
  std::istringstream in(events);
  for (std::string line; std::getline(in, line);)
    if (line.find("\"payload_type\": \"CredentialIssued\"") == std::string::npos && line.find("غریبه") == std::string::npos)
      out += line + "\n";
  return out;
}

// A data folder and the options every invocation on it starts with.
struct workspace {
  temp_dir dir;
  std::string now = "2026-11-28T13:29:00Z";  // 16:59 in Tehran, 1405/09/07
  mutable std::unique_ptr<remote_folder> remote;

  std::vector<std::string> base(const std::string& as = "") const {
    if (over_server()) {
      if (!remote) remote = std::make_unique<remote_folder>(dir.path());
      return remote->args(as);
    }
    std::vector<std::string> a{"--data-dir", dir.path().string(), "--now", now};
    if (!as.empty()) {
      a.push_back("--as");
      a.push_back(as);
    }
    return a;
  }
  run_result run(const std::string& as, std::vector<std::string> args) const {
    auto a = base(as);
    a.insert(a.end(), args.begin(), args.end());
    return sazesh_cli(a);
  }
  // Runs a command that must succeed and returns the stream it printed first.
  std::string ok(const std::string& as, std::vector<std::string> args) const {
    auto r = run(as, args);
    INFO("args: " << args.front() << "\nstdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.empty());
    const auto ls = lines_of(r.out);
    REQUIRE_FALSE(ls.empty());
    return ls.front();
  }
  std::string file(const std::string& name, const std::string& content) const {
    const auto p = dir.path() / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
};

// Shops, an agency, a consumer, and one filed, accepted case.
struct scenario {
  workspace ws;
  std::string consumer, case_id;
  scenario() {
    ws.ok("operator:ops-ali", {"register-business", "--seal-id", "1001", "--domain", "kalaland.ir", "--name", "کالالند"});
    ws.ok("operator:ops-ali", {"register-agency", "--id", "consumer-protection", "--name", "حمایت", "--categories", "defective,other"});
    consumer = ws.ok("", {"register-consumer", "--national-code", "5260181591", "--mobile", "09121234567", "--name", "سارا"});
    REQUIRE(consumer.rfind("U-", 0) == 0);
    case_id = ws.ok("consumer:" + consumer,
                    {"file", "--business", "kalaland.ir", "--order-ref", "KL-1", "--purchase-date", "1405/09/01",
                     "--amount", "۴۸,۵۰۰,۰۰۰", "--category", "defective", "--description", "بدنه ترک داشت",
                     "--document", "invoice=" + ws.file("invoice.pdf", "invoice KL-1"),
                     "--document", "photo=" + ws.file("photo.jpg", "photo KL-1")});
    REQUIRE(case_id.rfind("C-", 0) == 0);
    ws.ok("operator:ops-ali", {"accept", "--case", case_id});
  }
};

// The tables app.h declares. The overview is the list of record: a command it lists that is not
// in these tables (a table added since) is still checked, only without its option specs.
std::vector<cli::command_spec> known_specs() {
  std::vector<cli::command_spec> t;
  cli::add_write_commands(t);
  cli::add_read_commands(t);
  cli::add_integrity_commands(t);
  cli::add_query_commands(t);
  cli::add_trust_commands(t);
  cli::add_kafka_commands(t);
  cli::add_account_commands(t);
  t.push_back(cli::demo_command());
  return t;
}

TEST_CASE("every subcommand has a working --help naming each of its options") {
  temp_dir dir;
  const auto overview = sazesh_cli({"help"});
  CHECK(overview.code == 0);
  CHECK(contains(overview.out, "usage: sazesh COMMAND"));
  std::vector<std::string> listed;
  bool in_commands = false;
  for (const auto& line : lines_of(overview.out)) {
    if (line.rfind("usage:", 0) == 0) in_commands = true;
    if (line.rfind("global options:", 0) == 0) in_commands = false;
    if (in_commands && line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ' && line[2] != '-')
      listed.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  CHECK(listed.size() >= 30);
  const auto specs = known_specs();
  for (const auto& spec : specs) CHECK_MESSAGE(std::count(listed.begin(), listed.end(), spec.name) == 1, spec.name);
  for (const char* core : {"register-consumer", "file", "accept", "respond", "offer", "refer", "decide", "rate",
                           "reopen", "tick", "show", "events", "verify", "demo"})
    CHECK_MESSAGE(std::count(listed.begin(), listed.end(), core) == 1, core);

  int without_spec = 0;
  for (const auto& name : listed) {
    INFO("command: " << name);
    const auto r = sazesh_cli({"--data-dir", dir.path().string(), name, "--help"});
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK(contains(r.out, "usage: sazesh " + name + " [options]"));
    CHECK(contains(r.out, "options:"));
    // The global options it takes are named on one line that points to `sazesh help options`,
    // not described again for every command.
    std::string globals_line;
    for (const auto& line : lines_of(r.out))
      if (line.rfind("global options:", 0) == 0) globals_line = line + " ";
    CHECK(contains(globals_line, "sazesh help options"));
    CHECK(contains(globals_line, " --help "));
    // --help before the name works the same, and so does `sazesh help NAME`.
    CHECK(sazesh_cli({"--help", name}).out == r.out);
    CHECK(sazesh_cli({"help", name}).out == r.out);
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const cli::command_spec& c) { return c.name == name; });
    if (spec == specs.end()) {
      ++without_spec;
      continue;
    }
    const std::pair<const char*, unsigned> groups[] = {{" --data-dir ", cli::uses::folder},
                                                       {" --as ", cli::uses::actor},
                                                       {" --command-id ", cli::uses::command_id},
                                                       {" --now ", cli::uses::clock},
                                                       {" --kafka ", cli::uses::kafka},
                                                       {" --json ", cli::uses::json},
                                                       {" --csv ", cli::uses::csv}};
    for (const auto& [option, group] : groups) {
      INFO("global option" << option);
      CHECK(contains(globals_line, option) == ((spec->globals & group) != 0));
    }
    CHECK(contains(r.out, spec->summary));
    for (const auto& o : spec->options) {
      INFO("option: --" << o.name);
      const auto at = r.out.find("  --" + o.name + (o.value.empty() ? "" : " " + o.value));
      REQUIRE(at != std::string::npos);
      const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
      CHECK(contains(line, o.help));
      CHECK(contains(line, "(required)") == o.required);
    }
  }
  MESSAGE(listed.size() << " commands' help checked; " << without_spec << " without a known option table");
  // Help touches no data folder.
  CHECK(std::filesystem::is_empty(dir.path()));
  // No command at all: the overview, as a usage error.
  const auto none = sazesh_cli({});
  CHECK(none.code == 2);
  CHECK(contains(none.out, "usage: sazesh COMMAND"));
}

TEST_CASE("two-word spellings: 'account' and 'business' list their commands, and each word pair is its command") {
  const auto account = sazesh_cli({"account", "--help"});
  CHECK(account.code == 0);
  for (const char* word : {"create", "revoke", "bootstrap"}) CHECK(contains(account.out, std::string("  ") + word + " "));
  const auto business = sazesh_cli({"business", "--help"});
  CHECK(business.code == 0);
  CHECK(contains(business.out, "  explain "));
  CHECK(sazesh_cli({"account", "create", "--help"}).out == sazesh_cli({"account-create", "--help"}).out);
  CHECK(sazesh_cli({"business", "explain", "--help"}).out == sazesh_cli({"explain", "--help"}).out);
  const auto bare = sazesh_cli({"account"});
  CHECK(bare.code == 2);
  CHECK(contains(bare.err, "usage: sazesh account COMMAND"));
  const auto unknown = sazesh_cli({"account", "frob"});
  CHECK(unknown.code == 2);
  CHECK(contains(unknown.err, "account frob is not a sazesh command"));
}

TEST_CASE("sazesh help options describes every global option once") {
  const auto r = sazesh_cli({"help", "options"});
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  for (const char* g : {"--data-dir DIR", "--as ROLE:ID", "--command-id ID", "--now TIME", "--digits", "--calendar DIR",
                        "--rules FILE", "--weekend", "--kafka BOOTSTRAP", "--kafka-prefix", "--kafka-config",
                        "--kafka-timeout", "--kafka-projector-group", "--json", "--csv", "--help"})
    CHECK_MESSAGE(contains(r.out, std::string("  ") + g), g);
  // The overview points there instead of repeating them.
  const auto overview = sazesh_cli({"help"});
  CHECK(contains(overview.out, "sazesh help options"));
  CHECK_FALSE(contains(overview.out, "--kafka-projector-group"));
}

TEST_CASE("a global option the command does not take is refused, not ignored") {
  temp_dir dir;
  struct refused {
    std::vector<std::string> args;
    std::string option;
  };
  const std::vector<refused> cases{
      {{"demo", "--kafka", "127.0.0.1:9092"}, "--kafka"},
      {{"--kafka-prefix", "x.", "demo"}, "--kafka-prefix"},
      {{"--as", "operator:ops-ali", "tick"}, "--as"},
      {{"--command-id", "c-1", "cases"}, "--command-id"},
      {{"--csv", "register-mediator", "--name", "x", "--mobile", "09121234567"}, "--csv"},
      {{"--now", "2026-11-28", "stats"}, "--now"},
      {{"--rules", "rules/trust-v1.rules", "events", "--all"}, "--rules"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"--data-dir", (dir.path() / "d").string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto r = sazesh_cli_exact(args);
    INFO("sazesh " << fmt::format("{}", fmt::join(args, " ")) << "\nstderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("error: " + c.option + ": is not an option of ", 0) == 0);
  }
  // Nothing was created for any of them.
  CHECK_FALSE(std::filesystem::exists(dir.path() / "d"));
}

TEST_CASE("unknown commands and options are usage errors naming them") {
  workspace ws;
  SUBCASE("unknown command") {
    const auto r = ws.run("", {"frobnicate", "--case", "C-1"});
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(contains(r.err, "frobnicate"));
  }
  SUBCASE("unknown option of a read command") {
    const auto r = ws.run("auditor:audit", {"show", "--bogus", "x"});
    CHECK(r.code == 2);
    check_one_error_line(r, "--bogus");
  }
  SUBCASE("unknown option of a write command") {
    const auto r = ws.run("operator:ops-ali", {"register-mediator", "--name", "x", "--mobile", "09121234567", "--colour", "red"});
    CHECK(r.code == 2);
    check_one_error_line(r, "--colour");
  }
  SUBCASE("a global option without its value") {
    const auto r = sazesh_cli({"show", "--case", "C-1", "--data-dir"});
    CHECK(r.code == 2);
    check_one_error_line(r, "--data-dir");
  }
  SUBCASE("a bad --as") {
    const auto r = ws.run("wizard:merlin", {"respond", "--case", "C-1", "--text", "x"});
    CHECK(r.code == 2);
    check_one_error_line(r, "--as");
  }
  SUBCASE("a bad --now") {
    auto args = ws.base("operator:x");
    args[3] = "1404/12/30";  // Esfand 1404 has 29 days
    args.push_back("tick");
    const auto r = sazesh_cli(args);
    CHECK(r.code == 2);
    check_one_error_line(r, "--now");
  }
  SUBCASE("an option given twice") {
    const auto r = ws.run("operator:ops-ali", {"register-mediator", "--name", "x", "--name", "y", "--mobile", "09121234567"});
    CHECK(r.code == 2);
    check_one_error_line(r, "--name");
  }
  // None of them got as far as opening the data folder.
  CHECK_FALSE(std::filesystem::exists(ws.dir.path() / "log"));
}

TEST_CASE("a missing required option is named") {
  workspace ws;
  const auto r1 = ws.run("business:1001", {"respond", "--text", "hello"});
  CHECK(r1.code == 2);
  check_one_error_line(r1, "--case");
  const auto r2 = ws.run("business:1001", {"respond", "--case", "C-1"});
  CHECK(r2.code == 2);
  check_one_error_line(r2, "--text");
  const auto r3 = ws.run("consumer:U-1", {"file", "--business", "kalaland.ir", "--order-ref", "1", "--purchase-date",
                                          "2026-11-20", "--category", "other", "--description", "x"});
  CHECK(r3.code == 2);
  check_one_error_line(r3, "--amount");
  // A write command with no --as (other than a consumer registering); through a server, with no
  // credential.
  const auto r4 = ws.run("", {"respond", "--case", "C-1", "--text", "x"});
  CHECK(r4.code == (over_server() ? 1 : 2));
  check_one_error_line(r4, over_server() ? "Authorization" : "--as");
}

TEST_CASE("a refused command prints one error line and writes nothing") {
  scenario s;
  const auto before = s.ws.run("auditor:audit", {"events", "--all"});
  REQUIRE(before.code == 0);

  const auto bad_code = s.ws.run("", {"register-consumer", "--national-code", "5260181592", "--mobile", "09120000000", "--name", "x"});
  CHECK(bad_code.code == 1);
  check_one_error_line(bad_code, "national_code");

  const auto bad_mobile = s.ws.run("", {"register-consumer", "--national-code", "0830166130", "--mobile", "9120000000", "--name", "x"});
  CHECK(bad_mobile.code == 1);
  check_one_error_line(bad_mobile, "mobile");

  const auto unknown_case = s.ws.run("business:1001", {"respond", "--case", "C-NOSUCH", "--text", "x"});
  CHECK(unknown_case.code == 1);
  check_one_error_line(unknown_case, "case_id");
  CHECK(contains(unknown_case.err, "C-NOSUCH"));

  // Another consumer is told what it would be told of a case that does not exist.
  const auto wrong_party = s.ws.run("consumer:U-SOMEONE", {"message", "--case", s.case_id, "--text", "x"});
  CHECK(wrong_party.code == 1);
  check_one_error_line(wrong_party, "case_id");
  CHECK(contains(wrong_party.err, "no case " + s.case_id));
  // The case's own consumer may not do what is an operator's.
  const auto wrong_role = s.ws.run("consumer:" + s.consumer, {"accept", "--case", s.case_id});
  CHECK(wrong_role.code == 1);
  check_one_error_line(wrong_role, "actor");

  const auto duplicate = s.ws.run("consumer:" + s.consumer,
                                  {"file", "--business", "1001", "--order-ref", "KL-1", "--purchase-date", "2026-11-20",
                                   "--amount", "1", "--category", "other", "--description", "again"});
  CHECK(duplicate.code == 1);
  check_one_error_line(duplicate, "order_reference");
  CHECK(contains(duplicate.err, s.case_id));

  const auto negative = s.ws.run("consumer:" + s.consumer,
                                 {"file", "--business", "1001", "--order-ref", "KL-2", "--purchase-date", "2026-11-20",
                                  "--amount", "-5", "--category", "other", "--description", "x"});
  CHECK(negative.code != 0);
  check_one_error_line(negative, "amount_rials");

  const auto bad_stars = s.ws.run("consumer:" + s.consumer, {"rate", "--case", s.case_id, "--stars", "many", "--resolved", "yes"});
  CHECK(bad_stars.code == 1);
  check_one_error_line(bad_stars, "stars");

  const auto missing_file = s.ws.run("consumer:" + s.consumer, {"attach", "--case", s.case_id, "--kind", "other", "--file", "/nonexistent/x.pdf"});
  CHECK(missing_file.code == 1);
  CHECK(std::count(missing_file.err.begin(), missing_file.err.end(), '\n') == 1);

  // With --json the error is one JSON object naming the code, the field and the rule.
  auto json_args = s.ws.base();
  json_args.insert(json_args.end(), {"--json", "register-consumer", "--national-code", "1111111111", "--mobile", "09120000000", "--name", "x"});
  const auto as_json = sazesh_cli(json_args);
  CHECK(as_json.code == 1);
  CHECK(as_json.out.empty());
  CHECK(as_json.err.rfind("{\"error\":{", 0) == 0);
  CHECK(contains(as_json.err, "\"code\":\"invalid_argument\""));
  CHECK(contains(as_json.err, "\"field\":\"national_code\""));
  CHECK(std::count(as_json.err.begin(), as_json.err.end(), '\n') == 1);

  const auto after = s.ws.run("auditor:audit", {"events", "--all"});
  REQUIRE(after.code == 0);
  CHECK(without_sign_ins(after.out) == without_sign_ins(before.out));
}

TEST_CASE("--json output is one JSON object with the stream") {
  workspace ws;
  auto args = ws.base("operator:ops-ali");
  args.insert(args.end(), {"--json", "register-business", "--seal-id", "1001", "--domain", "kalaland.ir", "--name", "کالالند"});
  const auto r = sazesh_cli(args);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  REQUIRE_FALSE(r.out.empty());
  CHECK(r.out.front() == '{');
  CHECK(r.out[r.out.find_last_not_of('\n')] == '}');
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  CHECK(contains(r.out, "\"stream\":\"1001\""));
  CHECK(contains(r.out, "\"command\":\"register_business\""));
  CHECK(contains(r.out, "\"repeated\":false"));
  CHECK(contains(r.out, "\"type\":\"BusinessRegistered\""));
  CHECK(contains(r.out, "کالالند"));  // UTF-8 passes through as is
  CHECK(std::count(r.out.begin(), r.out.end(), '{') == std::count(r.out.begin(), r.out.end(), '}'));
  CHECK(std::count(r.out.begin(), r.out.end(), '[') == std::count(r.out.begin(), r.out.end(), ']'));
}

TEST_CASE("show prints Gregorian and Jalali dates, and --now sets the time") {
  scenario s;
  // The filing and the acceptance ran at --now 2026-11-28T13:29:00Z: 16:59 in Tehran, 1405/09/07.
  const auto shown = s.ws.run("auditor:audit", {"show", "--case", s.case_id});
  REQUIRE(shown.code == 0);
  CHECK(contains(shown.out, "case " + s.case_id));
  CHECK(contains(shown.out, "filed 2026-11-28 16:59 (1405/09/07 16:59)"));
  CHECK(contains(shown.out, "amount 48500000 rials"));  // typed as ۴۸,۵۰۰,۰۰۰
  CHECK(contains(shown.out, "[with_business]"));
  // The response deadline (72 hours on, or later when they span a weekend or a holiday), in both
  // calendars.
  static const std::regex deadline_line(
      R"(  deadline response: 2026-1[12]-\d\d \d\d:\d\d \(1405/09/\d\d \d\d:\d\d\))");
  bool found = false;
  for (const auto& line : lines_of(shown.out)) found = found || std::regex_match(line, deadline_line);
  CHECK_MESSAGE(found, shown.out);
  CHECK(contains(shown.out, "hash chain verified"));

  // A later --now is the time of the next event.
  s.ws.now = "1405/09/08 10:00";  // Jalali, Tehran time
  s.ws.ok("business:1001", {"respond", "--case", s.case_id, "--text", "پوزش"});
  const auto later = s.ws.run("auditor:audit", {"show", "--case", s.case_id});
  REQUIRE(later.code == 0);
  CHECK(contains(later.out, "2026-11-29 10:00"));
  CHECK(contains(later.out, "1405/09/08 10:00"));

  // Persian digits on request.
  auto args = s.ws.base();
  args.insert(args.end(), {"--as", "auditor:audit", "--digits", "persian", "show", "--case", s.case_id});
  const auto persian = sazesh_cli(args);
  REQUIRE(persian.code == 0);
  CHECK(contains(persian.out, "۱۴۰۵/۰۹/۰۷ ۱۶:۵۹"));

  // --json too.
  auto json_args = s.ws.base();
  json_args.insert(json_args.end(), {"--as", "auditor:audit", "--json", "show", "--case", s.case_id});
  const auto as_json = sazesh_cli(json_args);
  REQUIRE(as_json.code == 0);
  CHECK(as_json.out.front() == '{');
  CHECK(contains(as_json.out, "\"stream\":\"" + s.case_id + "\""));
  CHECK(contains(as_json.out, "\"time_jalali\":\"1405/09/07 16:59\""));
  CHECK(contains(as_json.out, "\"time\":\"2026-11-28T13:29:00.000Z\""));
}

std::string from_base64(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0, value = 0;
  for (char c : text) {
    if (c == '=') break;
    const auto at = alphabet.find(c);
    REQUIRE(at != std::string::npos);
    value = value << 6 | static_cast<unsigned>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xff);
    }
  }
  return out;
}

TEST_CASE("show --json names each deadline and who must act by it") {
  scenario s;  // accepted: the shop's answer is due
  const auto r = s.ws.run("auditor:audit", {"--json", "show", "--case", s.case_id});
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "\"deadlines\":[{\"kind\":\"response\",\"who\":\"business\",\"due\":\"2026-12-"));
  // The lists carry the earliest one the same way, to sort and act by.
  const auto listed = s.ws.run("consumer:" + s.consumer, {"--json", "cases"});
  REQUIRE(listed.code == 0);
  CHECK(contains(listed.out, "\"next_due\":\"2026-12-"));
  CHECK(contains(listed.out, "\"next_who\":\"business\""));
}

TEST_CASE("rules prints each deadline's length and the documents each category needs, for anyone") {
  const auto r = sazesh_cli_exact({"--json", "rules"});  // no folder, no actor: the rules are public
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, R"("defective":["invoice","photo"])"));
  CHECK(contains(r.out, R"("other":[])"));
  CHECK(contains(r.out, R"("response_first":{"value":72,"unit":"working_hours"})"));
  CHECK(contains(r.out, R"("weekend":"friday")"));
}

TEST_CASE("events --bytes gives each stored envelope; its SHA-256 is the next event's previous_hash") {
  scenario s;
  const auto r = s.ws.run("auditor:audit", {"events", "--case", s.case_id, "--bytes"});
  REQUIRE(r.code == 0);
  const auto ls = lines_of(r.out);
  REQUIRE(ls.size() == 5);
  const std::regex line(R"re(^\{"sequence":(\d+),"envelope":"([A-Za-z0-9+/=]+)","record":\{.*"previous_hash": \[([0-9, ]*)\].*\}\}$)re");
  std::string previous_bytes;
  for (std::size_t i = 0; i < ls.size(); ++i) {
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_match(ls[i], m, line), ls[i]);
    CHECK(std::stoul(m[1]) == i + 1);
    std::string previous_hash;
    std::istringstream numbers(std::regex_replace(std::string(m[3]), std::regex(","), " "));
    for (unsigned b; numbers >> b;) previous_hash += static_cast<char>(b);
    CHECK(previous_hash == (i == 0 ? std::string() : sha256(previous_bytes)));
    previous_bytes = from_base64(m[2]);
    CHECK(previous_bytes.size() > 32);
  }
}

TEST_CASE("events --case prints one JSON line per event; verify says ok") {
  scenario s;
  // Filed with two documents (3 events), accepted and forwarded (2 events).
  const auto r = s.ws.run("auditor:audit", {"events", "--case", s.case_id});
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  const auto ls = lines_of(r.out);
  CHECK(ls.size() == 5);
  for (const auto& l : ls) {
    INFO(l);
    REQUIRE_FALSE(l.empty());
    CHECK(l.front() == '{');
    CHECK(l.back() == '}');
    CHECK(contains(l, s.case_id));
  }
  CHECK(contains(ls.front(), "CaseFiled"));
  CHECK(contains(ls.front(), "بدنه ترک داشت"));
  CHECK(contains(ls.back(), "ForwardedToBusiness"));

  const auto all = s.ws.run("auditor:audit", {"events", "--all"});
  REQUIRE(all.code == 0);
  const auto all_lines = lines_of(without_sign_ins(all.out));
  CHECK(all_lines.size() == 5 + 3);  // and the business, the agency, the consumer
  if (!over_server())
    for (std::size_t i = 0; i < all_lines.size(); ++i)
      CHECK(all_lines[i].rfind("{\"position\":" + std::to_string(i) + ",", 0) == 0);

  const auto none = s.ws.run("auditor:audit", {"events", "--case", "C-NOSUCH"});
  CHECK(none.code == 1);
  check_one_error_line(none, "case_id");

  const auto v = s.ws.run("auditor:audit-1", {"verify"});
  REQUIRE(v.code == 0);
  // (through a server the log also holds the credentials the actors signed in with)
  CHECK(v.out.rfind(over_server() ? "ok: " : "ok: 8 events in 4 streams", 0) == 0);
}

TEST_CASE("a repeated --command-id prints the repeat and writes nothing") {
  scenario s;
  auto with_id = [&](const std::string& id, const std::string& as, std::vector<std::string> rest) {
    auto a = s.ws.base(as);
    a.push_back("--command-id");
    a.push_back(id);
    a.insert(a.end(), rest.begin(), rest.end());
    return sazesh_cli(a);
  };
  const auto first = with_id("msg-1", "consumer:" + s.consumer, {"message", "--case", s.case_id, "--text", "سلام"});
  REQUIRE(first.code == 0);
  CHECK_FALSE(contains(first.out, "seen before"));
  const auto before = s.ws.run("auditor:audit", {"events", "--all"});
  REQUIRE(before.code == 0);

  const auto again = with_id("msg-1", "consumer:" + s.consumer, {"message", "--case", s.case_id, "--text", "سلام"});
  CHECK(again.code == 0);
  CHECK(contains(again.out, s.case_id + ": command id seen before; nothing new written"));
  CHECK(contains(again.out, "سلام"));  // what the first run wrote
  // Even another command under the same id repeats the first.
  const auto other = with_id("msg-1", "consumer:" + s.consumer, {"withdraw", "--case", s.case_id});
  CHECK(other.code == 0);
  CHECK(contains(other.out, "seen before"));
  auto json = s.ws.base("consumer:" + s.consumer);
  json.insert(json.end(), {"--json", "--command-id", "msg-1", "message", "--case", s.case_id, "--text", "x"});
  const auto as_json = sazesh_cli(json);
  CHECK(as_json.code == 0);
  CHECK(contains(as_json.out, "\"repeated\":true"));

  // Someone else's command id is refused, and so is one shaped like the scheduler's.
  const auto stolen = with_id("msg-1", "business:1001", {"message", "--case", s.case_id, "--text", "x"});
  CHECK(stolen.code == 1);
  check_one_error_line(stolen, "command_id");
  const auto scheduler_like = with_id("deadline:" + s.case_id + ":9", "consumer:" + s.consumer,
                                      {"message", "--case", s.case_id, "--text", "x"});
  CHECK(scheduler_like.code == 1);
  check_one_error_line(scheduler_like, "command_id");

  const auto after = s.ws.run("auditor:audit", {"events", "--all"});
  REQUIRE(after.code == 0);
  CHECK(without_sign_ins(after.out) == without_sign_ins(before.out));
  const auto shown = s.ws.run("auditor:audit", {"show", "--case", s.case_id});
  CHECK(contains(shown.out, "[with_business]"));
}

TEST_CASE("a write while another writer holds the folder exits 75: retry it, nothing was written") {
  scenario s;
  const auto before = s.ws.run("auditor:audit", {"events", "--all"});
  REQUIRE(before.code == 0);
  {
    auto holder = open_embedded_log(s.ws.dir.path() / "log");
    REQUIRE(holder);
    const auto text = s.ws.run("consumer:" + s.consumer, {"message", "--case", s.case_id, "--text", "x"});
    CHECK(text.code == 75);
    check_one_error_line(text, "data_dir");
    auto json = s.ws.base("consumer:" + s.consumer);
    json.insert(json.end(), {"--json", "message", "--case", s.case_id, "--text", "x"});
    const auto as_json = sazesh_cli(json);
    CHECK(as_json.code == 75);
    CHECK(contains(as_json.err, "\"retryable\":true"));
  }
  // A refusal is not worth retrying, and says so.
  const auto refused = s.ws.run("consumer:" + s.consumer, {"--json", "rate", "--case", s.case_id, "--stars", "many", "--resolved", "yes"});
  CHECK(refused.code == 1);
  CHECK(contains(refused.err, "\"retryable\":false"));
  const auto after = s.ws.run("auditor:audit", {"events", "--all"});
  REQUIRE(after.code == 0);
  CHECK(without_sign_ins(after.out) == without_sign_ins(before.out));
}

TEST_CASE("a document must be a regular file within the size limit, refused before the folder is opened") {
  scenario s;
  const auto before = s.ws.run("auditor:audit", {"events", "--all"});
  REQUIRE(before.code == 0);
  const auto fifo = s.ws.dir.path() / "pipe";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const auto big = s.ws.dir.path() / "big.pdf";
  std::filesystem::resize_file(s.ws.file("big.pdf", "x"), max_document_bytes + 1);
  const std::string consumer = "consumer:" + s.consumer;
  for (const std::string& path : std::vector<std::string>{s.ws.dir.path().string(), fifo.string(), "/dev/zero", big.string()}) {
    CAPTURE(path);
    auto attach = s.ws.run(consumer, {"attach", "--case", s.case_id, "--kind", "photo", "--file", path});
    CHECK(attach.code == 1);
    check_one_error_line(attach, "file");
    auto filed = s.ws.run(consumer, {"file", "--business", "1001", "--order-ref", "KL-9", "--purchase-date", "1405/09/01",
                                     "--amount", "1000", "--category", "other", "--description", "x", "--document",
                                     "photo=" + path});
    CHECK(filed.code == 1);
    check_one_error_line(filed, "document");
  }
  // Even while another process holds the folder, the answer is about the file, at once.
  if (!over_server()) {
    auto holder = open_embedded_log(s.ws.dir.path() / "log");
    REQUIRE(holder);
    auto attach = s.ws.run(consumer, {"attach", "--case", s.case_id, "--kind", "photo", "--file", fifo.string()});
    CHECK(attach.code == 1);
    check_one_error_line(attach, "file");
  }
  const auto after = s.ws.run("auditor:audit", {"events", "--all"});
  CHECK(without_sign_ins(after.out) == without_sign_ins(before.out));
}

TEST_CASE("text refuses bidirectional overrides and isolates, and C0 and C1 controls but newline") {
  scenario s;
  const std::string consumer = "consumer:" + s.consumer;
  for (const std::string& bad : std::vector<std::string>{std::string("invoice\u202Efdp.exe"), std::string("a\u2066b\u2069"),
                                std::string("a\u202Ab"), std::string("tab\there"), std::string("c1\u0085x"),
                                std::string("bell\x07")}) {
    CAPTURE(bad);
    auto r = s.ws.run(consumer, {"message", "--case", s.case_id, "--text", bad});
    CHECK(r.code == 1);
    check_one_error_line(r, "text");
  }
  CHECK(s.ws.run(consumer, {"message", "--case", s.case_id, "--text", "سطر اول\nسطر دوم \u200c نیم‌فاصله"}).code == 0);
}

TEST_CASE("refused and read-only commands leave no files behind in the log's folder") {
  scenario s;
  const auto files = [&] {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(s.ws.dir.path() / "log")) n += e.is_regular_file();
    return n;
  };
  const std::size_t before = files();
  for (int i = 0; i < 20; ++i) {
    CHECK(s.ws.run("consumer:" + s.consumer, {"rate", "--case", s.case_id, "--stars", "5", "--resolved", "yes"}).code == 1);
    CHECK(s.ws.run("auditor:audit", {"show", "--case", s.case_id}).code == 0);
    CHECK(s.ws.run("auditor:audit", {"verify"}).code == 0);
  }
  CHECK(files() == before);
}

TEST_CASE("tick from the command line applies deadlines once") {
  scenario s;
  s.ws.now = "2027-01-28T13:29:00Z";  // two months after forwarding: the whole ladder is due
  // The scheduler's alone: nobody may claim to run it as someone.
  for (const char* as : {"operator:ops-ali", "business:1001", "system:scheduler"}) {
    auto claimed = s.ws.base(as);
    claimed.push_back("tick");
    const auto refused = sazesh_cli_exact(claimed);
    CHECK(refused.code == 2);
    check_one_error_line(refused, "--as");
  }
  const auto first = s.ws.run("", {"tick"});
  REQUIRE(first.code == 0);
  CHECK(contains(first.out, "1 case(s) had deadlines due"));
  CHECK(contains(first.out, s.case_id));
  const auto events = s.ws.run("auditor:audit", {"events", "--all"}).out;
  const auto second = s.ws.run("", {"tick"});
  REQUIRE(second.code == 0);
  CHECK(contains(second.out, "0 case(s) had deadlines due"));
  CHECK(s.ws.run("auditor:audit", {"events", "--all"}).out == events);
  const auto shown = s.ws.run("auditor:audit", {"show", "--case", s.case_id});
  CHECK(contains(shown.out, "[awaiting_mediator]"));
}

TEST_CASE("demo runs the six stories into a fresh folder") {
  temp_dir dir;
  const auto folder = dir.path() / "demo";
  const auto r = sazesh_cli({"demo", "--data-dir-fresh", folder.string()});
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  for (const char* story : {"1. Settled by negotiation", "2. Up the response ladder to unanswered, settled in mediation",
                            "3. Mediation fails; referred, transferred and decided", "4. Refused as a duplicate",
                            "5. Waiting for documents", "6. Reopened when the remedy was not delivered"})
    CHECK_MESSAGE(contains(r.out, story), story);
  CHECK(contains(r.out, "Where every case stands"));
  CHECK(contains(r.out, "hash chain verified"));
  const auto v = sazesh_cli({"--data-dir", folder.string(), "--as", "auditor:audit", "verify"});
  CHECK(v.code == 0);
  CHECK(v.out.rfind("ok: ", 0) == 0);
  // A second demo into the same (now full) folder is refused.
  const auto again = sazesh_cli({"demo", "--data-dir-fresh", folder.string()});
  CHECK(again.code == 1);
  check_one_error_line(again, "data_dir");
}


// Every file under `root` whose bytes contain `needle`.
std::vector<std::string> files_holding(const std::filesystem::path& root, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& f : std::filesystem::recursive_directory_iterator(root)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) found.push_back(f.path().string());
  }
  return found;
}

TEST_CASE("personal data is sealed in the log under the consumer's key: readers who may see it read it, and no file of the log holds it") {
  if (over_server()) return;  // a folder-level check
  scenario sc;
  sc.ws.ok("operator:ops-ali", {"register-mediator", "--name", "مهدی میانجی", "--mobile", "09351112233"});
  const auto& dir = sc.ws.dir.path();
  // The engine's state and the projections keep none of it either; the keys folder holds keys.
  sc.ws.run("analyst:an", {"cases"});
  for (const std::string secret : {"5260181591", "09121234567", "سارا", "بدنه ترک داشت", "KL-1", "invoice.pdf", "مهدی میانجی",
                                   "09351112233"}) {
    INFO("secret: " << secret);
    CHECK(files_holding(dir / "log", secret).empty());
    CHECK(files_holding(dir / "projections", secret).empty());
    CHECK(files_holding(dir / "keys", secret).empty());
  }
  // The case's consumer reads the case whole.
  const auto shown = sc.ws.run("consumer:" + sc.consumer, {"show", "--case", sc.case_id});
  REQUIRE(shown.code == 0);
  CHECK(contains(shown.out, "بدنه ترک داشت"));
  CHECK(contains(shown.out, "order KL-1"));
  // The raw records carry the box, and beside it the fields opened.
  const auto raw = sc.ws.run("consumer:" + sc.consumer, {"events", "--party", sc.consumer});
  REQUIRE(raw.code == 0);
  CHECK(contains(raw.out, "\"personal_state\":\"opened\""));
  CHECK(contains(raw.out, "5260181591"));
  CHECK(contains(raw.out, "\"sealed\""));
  // The hash chains hold over the sealed bytes.
  CHECK(sc.ws.run("auditor:au", {"verify"}).code == 0);
  // Without the keys, the same log reads its ids only: nothing of the person anywhere.
  temp_dir copy;
  std::filesystem::copy(dir / "log", copy.path() / "log", std::filesystem::copy_options::recursive);
  const auto keyless = sazesh_cli({"--data-dir", copy.path().string(), "--now", sc.ws.now, "--as", "auditor:au", "events", "--all"});
  REQUIRE(keyless.code == 0);
  for (const std::string secret : {"5260181591", "09121234567", "سارا", "بدنه ترک داشت", "KL-1"}) CHECK_FALSE(contains(keyless.out, secret));
  CHECK(contains(keyless.out, sc.case_id));
}


TEST_CASE("forget erases a person's data once no open case needs it: every reader shows erased, every check still passes, no file holds it") {
  if (over_server()) return;  // a folder-level check
  scenario sc;
  const auto& ws = sc.ws;
  const std::string mediator =
      ws.ok("operator:ops-ali", {"register-mediator", "--name", "مهدی میانجی", "--mobile", "09351112233"});
  // Refused while the consumer's case is open, naming it; refused to anyone but an operator.
  auto refused = ws.run("operator:ops-ali", {"--json", "forget", "--party", sc.consumer, "--reason", "درخواست حذف"});
  CHECK(refused.code != 0);
  CHECK(contains(refused.out + refused.err, sc.case_id));
  CHECK(contains(refused.out + refused.err, "\"field\":\"party\""));
  CHECK(ws.run("consumer:" + sc.consumer, {"forget", "--party", sc.consumer, "--reason", "x"}).code != 0);
  CHECK(ws.run("operator:ops-ali", {"forget", "--party", "1001", "--reason", "x"}).code != 0);  // a shop: public
  CHECK(ws.run("operator:ops-ali", {"forget", "--party", sc.consumer}).code != 0);            // no reason
  // A mediator with no case is forgotten at once, and is assigned no more.
  ws.ok("operator:ops-ali", {"forget", "--party", mediator, "--reason", "پایان همکاری"});
  ws.ok("business:1001", {"respond", "--case", sc.case_id, "--text", "بررسی می‌کنیم"});
  ws.ok("consumer:" + sc.consumer, {"request-mediation", "--case", sc.case_id, "--text", "توافق نشد"});
  auto assigned = ws.run("operator:ops-ali", {"--json", "assign-mediator", "--case", sc.case_id, "--mediator", mediator});
  CHECK(assigned.code != 0);
  CHECK(contains(assigned.out + assigned.err, "\"field\":\"mediator\""));
  // The case closes; then the consumer's data goes.
  ws.ok("consumer:" + sc.consumer, {"withdraw", "--case", sc.case_id, "--reason", "حل شد"});
  ws.ok("operator:ops-ali", {"forget", "--party", sc.consumer, "--reason", "درخواست حذف ۱۴۰۵/۰۹"});
  // Again: nothing more, and no error.
  CHECK(ws.run("operator:ops-ali", {"forget", "--party", sc.consumer, "--reason", "دوباره"}).code == 0);

  const auto shown = ws.run("operator:ops-ali", {"show", "--case", sc.case_id});
  REQUIRE(shown.code == 0);
  CHECK(contains(shown.out, "erased"));
  CHECK_FALSE(contains(shown.out, "بدنه ترک داشت"));
  CHECK_FALSE(contains(shown.out, "KL-1"));
  const auto raw = ws.run("operator:ops-ali", {"events", "--party", sc.consumer});
  REQUIRE(raw.code == 0);
  CHECK(contains(raw.out, "\"personal_state\":\"erased\""));
  CHECK(contains(raw.out, "PartyForgotten"));
  // The hash chains, the checkpoints and the projections still hold.
  const auto verified = ws.run("auditor:au", {"verify"});
  CHECK_MESSAGE(verified.code == 0, verified.out << verified.err);
  CHECK(ws.run("operator:ops-ali", {"rebuild"}).code == 0);
  // Nothing of them is left in any file of the data folder: the log, its state rows, the
  // projections, the checkpoints, the keys, the documents (the folder's top level also holds
  // the files this test attached from, "invoice KL-1" and "photo KL-1").
  std::size_t folders = 0;
  for (const auto& sub : std::filesystem::directory_iterator(ws.dir.path())) {
    if (!sub.is_directory()) continue;
    ++folders;
    for (const std::string secret : {"5260181591", "09121234567", "سارا", "بدنه ترک داشت", "KL-1", "invoice.pdf",
                                     "مهدی میانجی", "09351112233"}) {
      INFO("secret: " << secret);
      CHECK(files_holding(sub.path(), secret).empty());
    }
  }
  CHECK(folders >= 5);
  // The same national code may register again: a new person.
  const std::string again = ws.ok("", {"register-consumer", "--national-code", "5260181591", "--mobile", "09121234567", "--name", "سارا"});
  CHECK(again != sc.consumer);
}



TEST_CASE("after forget, a referred case's dossier reads erased and its bundle still verifies, the documents marked erased") {
  if (over_server()) return;  // a folder-level check
  scenario sc;
  const auto& ws = sc.ws;
  const std::string agency = "agency:consumer-protection";
  ws.ok("consumer:" + sc.consumer, {"withdraw", "--case", sc.case_id, "--reason", "حل شد"});
  const std::string kase =
      ws.ok("consumer:" + sc.consumer,
            {"file", "--business", "kalaland.ir", "--order-ref", "KL-2", "--purchase-date", "1405/09/01", "--amount", "1000",
             "--category", "defective", "--description", "بدنه ترک داشت", "--document", "invoice=" + ws.file("invoice.pdf", "invoice KL-2"),
             "--document", "photo=" + ws.file("photo.jpg", "photo KL-2")});
  ws.ok("operator:ops-ali", {"accept", "--case", kase, "--route", "referral", "--agency", "consumer-protection"});
  ws.ok(agency, {"acknowledge", "--case", kase});
  const auto bundle_verifies = [&](const std::string& name) {
    const auto bundle = (ws.dir.path() / name).string();
    const auto written = ws.run("operator:ops-ali", {"dossier", "--agency", "consumer-protection", "--case", kase, "--bundle", bundle});
    REQUIRE_MESSAGE(written.code == 0, written.err);
    const auto vkey = ws.run("", {"keys-show"});
    REQUIRE(vkey.code == 0);
    const auto [status, out] = run_shell("python3 '" SAZESH_SOURCE_DIR "/tools/verify-bundle.py' '" + bundle + "' --vkey '" +
                                         lines_of(vkey.out).front() + "' 2>&1");
    CHECK_MESSAGE(status == 0, out);
    return out;
  };
  // While the case is referred, the agency reads the person and the documents.
  CHECK(contains(bundle_verifies("before.tar"), "2 documents,"));
  const auto held = ws.run(agency, {"dossier", "--agency", "consumer-protection", "--case", kase});
  REQUIRE(held.code == 0);
  CHECK(contains(held.out, "5260181591"));
  CHECK(contains(held.out, "invoice.pdf"));
  CHECK(ws.run("operator:ops-ali", {"forget", "--party", sc.consumer, "--reason", "x"}).code != 0);  // the referral needs it
  ws.ok(agency, {"decide", "--case", kase, "--verdict", "upheld", "--text", "رأی"});
  ws.ok("operator:ops-ali", {"forget", "--party", sc.consumer, "--reason", "درخواست حذف"});
  const auto after = bundle_verifies("after.tar");
  CHECK(contains(after, "0 documents (2 erased; the consumer's PartyForgotten proven at leaf"));
  const auto erased = ws.run(agency, {"dossier", "--agency", "consumer-protection", "--case", kase});
  REQUIRE(erased.code == 0);
  CHECK(contains(erased.out, "consumer erased"));
  CHECK_FALSE(contains(erased.out, "5260181591"));
  CHECK_FALSE(contains(erased.out, "بدنه ترک داشت"));
}

// The names of the files under `root`, recursively.
std::set<std::string> file_names(const std::filesystem::path& root) {
  std::set<std::string> out;
  for (const auto& f : std::filesystem::recursive_directory_iterator(root))
    if (f.is_regular_file()) out.insert(f.path().filename().string());
  return out;
}

TEST_CASE("a document is sealed before its command is written: a refused attachment leaves nothing, an accepted one no plaintext") {
  if (over_server()) return;  // a folder-level check
  scenario sc;
  const auto docs = sc.ws.dir.path() / "documents";
  const auto before = file_names(docs);
  const std::string receipt = sc.ws.file("receipt.txt", "receipt 77 for the blender");
  // Refused (not the case's consumer): neither the upload nor a sealed copy stays.
  const auto refused = sc.ws.run("consumer:U-NOTTHEIRS", {"attach", "--case", sc.case_id, "--kind", "other", "--file", receipt});
  CHECK(refused.code != 0);
  CHECK(file_names(docs) == before);
  // Accepted: one sealed copy more, and no file holds the bytes.
  sc.ws.ok("consumer:" + sc.consumer, {"attach", "--case", sc.case_id, "--kind", "other", "--file", receipt});
  const auto after = file_names(docs);
  CHECK(after.size() == before.size() + 1);
  for (const auto& name : after) CHECK(name.find('.') == 64);  // <sha256>.<tag>: sealed copies only
  CHECK(files_holding(docs, "receipt 77 for the blender").empty());
  const auto shown = sc.ws.run("consumer:" + sc.consumer, {"events", "--case", sc.case_id});
  CHECK(contains(shown.out, "receipt.txt"));
}

// The number a --json line gives `field`, or -1.
long long json_number(const std::string& line, const std::string& field) {
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("\"" + field + "\":([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

TEST_CASE("seal-log copies a log written before sealing into a new folder, sealed: no file of it holds the personal data, the checks pass, the figures agree, and its people can be forgotten") {
  if (over_server()) return;  // a folder-level command
  temp_dir t;
  const auto old_dir = t.path() / "old", new_dir = t.path() / "new";
  std::vector<std::string> secrets, consumers;
  std::string consumer, national_code;
  std::uint64_t events = 0, attached = 0;
  {
    // The engine without a key store writes personal data in the clear, as before sealing.
    auto log = open_embedded_log(old_dir / "log", {.sync = false});
    REQUIRE(log);
    fixed_clock clock(workload::history_generator::default_start());
    auto eng = engine::open(**log, clock);
    REQUIRE(eng);
    workload::history_options o;
    o.cases = 60;
    o.in_flight = 15;
    workload::history_generator gen(**eng, clock, 23, o);
    gen.register_parties();
    gen.run();
    REQUIRE(gen.stats().unexpected == 0);
    events = gen.stats().events;
    for (std::size_t i = 0; i < gen.national_codes().size() && i < 20; ++i)
      secrets.insert(secrets.end(), {gen.national_codes()[i], gen.mobiles()[i], gen.consumer_names()[i]});
    for (std::size_t i = 0; i < gen.descriptions().size() && i < 10; ++i) secrets.push_back(gen.descriptions()[i]);
    consumer = gen.consumers().front();
    consumers = gen.consumers();
    national_code = gen.national_codes().front();
    // The documents the cases attached, in the old folder's store (the generator makes their
    // bytes from a counter).
    std::set<std::string> shas;
    auto all = (*log)->read_partition(0, log_position{0}, 1'000'000);
    REQUIRE(all);
    for (const auto& e : *all) {
      const auto rec = decode(e.bytes);
      REQUIRE(rec);
      if (const auto* d = rec->payload.AsDocumentAttached()) shas.insert(std::string(d->sha256.begin(), d->sha256.end()));
    }
    REQUIRE_FALSE(shas.empty());
    document_store docs(old_dir / "documents");
    for (int n = 1; n < 5000; ++n) {
      const std::string bytes = fmt::format("document {} of history {}", n, 23);
      if (shas.count(sha256(bytes)) == 0) continue;
      REQUIRE(docs.put_bytes(bytes, "document"));
      ++attached;
      if (n < 20) secrets.push_back(bytes);
    }
    REQUIRE(attached > 0);
  }
  // The old folder holds the data in the clear (else this test would prove nothing).
  CHECK_FALSE(files_holding(old_dir / "log", secrets.front()).empty());
  const auto cli = [](const std::filesystem::path& dir, std::vector<std::string> args) {
    args.insert(args.begin(), {"--data-dir", dir.string()});
    return sazesh_cli_exact(args);
  };

  const auto sealed = cli(new_dir, {"--json", "seal-log", "--from", old_dir.string()});
  INFO(sealed.err);
  REQUIRE(sealed.code == 0);
  CHECK(json_number(sealed.out, "events") == static_cast<long long>(events));
  CHECK(json_number(sealed.out, "sealed") > 0);
  CHECK(json_number(sealed.out, "documents") == static_cast<long long>(attached));
  CHECK(json_number(sealed.out, "documents_missing") == 0);
  for (const auto& secret : secrets) {
    INFO("secret: " << secret);
    CHECK(files_holding(new_dir, secret).empty());
  }
  CHECK(cli(new_dir, {"--as", "auditor:au", "verify"}).code == 0);
  // The same figures, folded from either log.
  for (const std::string by : {"status", "category", "outcome"}) {
    const auto before = cli(old_dir, {"--as", "analyst:an", "--csv", "stats", "--by", by});
    const auto after = cli(new_dir, {"--as", "analyst:an", "--csv", "stats", "--by", by});
    REQUIRE(before.code == 0);
    CHECK(after.out == before.out);
  }
  // The person reads their own data, opened from the box.
  const auto own = cli(new_dir, {"--as", "consumer:" + consumer, "events", "--party", consumer});
  REQUIRE(own.code == 0);
  CHECK(contains(own.out, "\"personal_state\":\"opened\""));
  CHECK(contains(own.out, secrets.front()));
  // The copy finds a national code registered already, by the digest it made under its own key.
  const auto again_registered = cli(new_dir, {"register-consumer", "--national-code", national_code, "--mobile",
                                              "09120000000", "--name", "someone"});
  CHECK(again_registered.code != 0);
  CHECK(contains(again_registered.err, "national_code"));
  // Before, they could not be forgotten (their data lay in the log in the clear); now they can,
  // once no open case needs them.
  const auto old_forget = cli(old_dir, {"--as", "operator:ops", "forget", "--party", consumer, "--reason", "asked"});
  CHECK(old_forget.code != 0);
  CHECK(contains(old_forget.err, "before personal data was sealed"));
  std::string forgotten;
  for (const auto& u : consumers) {
    const auto tried = cli(new_dir, {"--as", "operator:ops", "forget", "--party", u, "--reason", "asked"});
    CHECK_FALSE(contains(tried.err, "before personal data was sealed"));
    if (tried.code == 0) {
      forgotten = u;
      break;
    }
  }
  REQUIRE_FALSE(forgotten.empty());
  const auto erased = cli(new_dir, {"--as", "operator:ops", "events", "--party", forgotten});
  REQUIRE(erased.code == 0);
  CHECK(contains(erased.out, "\"personal_state\":\"erased\""));
  // A folder that has a log already is refused, and keeps what it had.
  const auto again = cli(new_dir, {"seal-log", "--from", old_dir.string()});
  CHECK(again.code != 0);
  CHECK(contains(again.err, "--data-dir"));
  const auto itself = cli(old_dir, {"seal-log", "--from", old_dir.string()});
  CHECK(itself.code != 0);
  CHECK(contains(itself.err, "--from"));
}


}  // namespace
}  // namespace sazesh
