// The `sazesh` command line: one binary, one table of subcommands. Each subcommand declares its
// options (so --help is generated from what is parsed) and a function that runs it.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "engine/time/calendar.h"
#include "engine/time/clock.h"
#include "engine/domain/commands.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/kafka/kafka_log.h"
#include "engine/log/checkpoint_store.h"
#include "projections/projector.h"
#include "projections/store.h"

namespace sazesh::cli {

// Exit codes: 0 success; 1 the command was refused (or failed for good); 2 the command line is
// wrong; 75 the outcome is unknown or the service is unavailable for now (the log unreachable,
// another writer holding it, a write whose answer was lost): retry with the same command id.
inline constexpr int exit_ok = 0;
inline constexpr int exit_refused = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_retry = 75;  // EX_TEMPFAIL

// --as-of: a date (either calendar) means the end of that day in Tehran; a time, that moment.
// Errors name field "as_of".
result<timestamp_ms> parse_as_of(const std::string& text);

// Whether an error is worth retrying as it is (exit_retry), rather than a refusal.
bool is_retryable(const error& e);

// What every subcommand runs with: the global options and the engine, opened on first use.
class session {
 public:
  session(std::ostream& out_stream, std::ostream& err_stream) : out(out_stream), err(err_stream) {}

  std::filesystem::path data_dir = "sazesh-data";
  bool json = false;
  bool csv = false;
  std::optional<actor> who;
  std::string command_id;                 // --command-id, or a fresh random one
  std::optional<timestamp_ms> fixed_now;  // --now: decide as of this time
  digits jalali_digits = digits::latin;
  bool persian_digits_asked = false;  // --digits persian was given (sent on to a server)
  // --kafka BOOTSTRAP ($SAZESH_KAFKA): the log is on Kafka instead of in data_dir/log, with
  // --kafka-prefix ($SAZESH_KAFKA_PREFIX) and --kafka-config key=value ($SAZESH_KAFKA_CONFIG,
  // comma-separated) passed to librdkafka. Projections and documents stay in data_dir.
  std::optional<kafka_log_options> kafka;
  std::ostream& out;
  std::ostream& err;

  result<engine*> open_engine();
  // The keys that seal personal data (engine/log/key_store.h), opened on first use: DATA_DIR/keys,
  // or with --kafka the log's keys topic (engine/kafka/kafka_key_store.h). The engine seals with
  // them and reads that may see personal data open with them.
  result<key_store*> keys();
  key_store* shared_keys = nullptr;  // set by `sazesh serve`
  // The case rules with the working calendar (--calendar DIR, $SAZESH_CALENDAR_DIR, or the
  // calendar/ folder the binary was built with; --weekend adds Thursday).
  result<case_rules> rules();
  std::filesystem::path calendar_dir;
  std::filesystem::path rules_file;  // --rules, $SAZESH_RULES, or rules/trust-v1.rules
  bool thursday_off = false;
  event_log* log() { return shared_log ? shared_log : log_.get(); }
  // The log for reading: the engine's if it is open, else a read-only follower, so queries and
  // feeds run while another process writes.
  result<event_log*> open_log_for_reading();
  std::filesystem::path projections_dir() const { return data_dir / "projections"; }
  // The projections opened for writing; projections of another row format (written by an
  // older version) are first rebuilt from the log, with a note on stderr.
  result<std::unique_ptr<projections::projection_store>> open_projections_writer();
  // The same, but projections that hold nothing yet are first built from `log` the way a
  // rebuild builds them (a bulk load without a write-ahead log, several times faster than
  // catching up batch by batch); `built` is how many events that applied (0 if they held some).
  result<std::unique_ptr<projections::projection_store>> open_projections_writer(event_log& log, const projections::progress_fn& progress,
                                                                                 std::uint64_t& built);
  // Brings the projections up to the end of the log, unless another projector holds them
  // (errc::unavailable: that one keeps them current).
  status refresh_projections();

  // The log's Merkle tree and signed checkpoints (DATA_DIR/checkpoints), and the key that signs
  // them: $SAZESH_SIGNING_KEY, else DATA_DIR/keys/signing.key (keep it elsewhere where the folder
  // is shared: whoever holds the key can sign).
  // The Kafka log's are kept apart (DATA_DIR/kafka-checkpoints), beside its local store.
  std::filesystem::path checkpoints_dir() const { return data_dir / (kafka ? "kafka-checkpoints" : "checkpoints"); }
  std::filesystem::path signing_key_file() const;
  // Brings the Merkle tree of the folder's checkpoints up to `log`'s end and signs a checkpoint
  // of it with the folder's key (signing_key_file()), making the key the first time. Refused, so
  // that nothing signs a log it cannot vouch for: a key but no checkpoints over a log that has
  // events (they were removed: `checkpoint --start-over` signs it as it stands, on purpose), or
  // checkpoints but no key (a new one would not match them). `start_over` is for a log this
  // process has just written whole (copy-log, the main job) or an operator's --start-over.
  // One tree and checkpoint per partition of the log; on a log with topics (Kafka) the
  // checkpoints are published with the agencies' dossiers of the events they newly cover
  // (engine/feed_relay.h), now or, if that fails, at the next signing. Returns the latest
  // checkpoint of each partition. `folder` is the store's (default checkpoints_dir());
  // `history`, where the dossiers' case histories are read (default: `log`).
  result<std::vector<signed_checkpoint>> sign_log(event_log& log, bool start_over = false,
                                                  const std::filesystem::path& folder = {}, event_log* history = nullptr);
  // The same for the log this process holds for writing (the engine opened here); none when it
  // holds none.
  result<std::vector<signed_checkpoint>> write_checkpoint();
  // write_checkpoint(), a failure a warning on err: what was written stands either way.
  void checkpoint_or_warn();
  // Signs what this process wrote: after a command that succeeded and made the log grow.
  void sign_what_was_written(int exit_code);
  // The checkpoints for reading: the service's, or this process's if it signs, else the folder's
  // store opened read-only as it is now.
  result<checkpoint_store*> open_checkpoints();

  // Prints a one-line error (JSON on --json) and returns the exit code for it.
  int fail(const error& e);
  // The error fail() reported last (the HTTP service answers with it).
  std::optional<error> last_error;
  // The stream the last command printed acted on (print_outcome), and whether it was a repeat.
  std::string last_stream;
  bool last_repeated = false;

  // Set by `sazesh serve` for each request: the engine and log the service holds (shared by
  // every request, never opened or closed by the session) and how it brings its projections up.
  engine* shared_engine = nullptr;
  event_log* shared_log = nullptr;
  std::function<status()> shared_refresh;
  projections::projection_store* shared_projections = nullptr;  // queries read through it
  checkpoint_store* shared_checkpoints = nullptr;               // proofs and checkpoints read it
  // The projections this invocation opened for reading (cli/query_commands.cc open_for_query).
  std::unique_ptr<projections::projection_store> opened_projections;
  // If-Match over HTTP: the version the client read of the case it acts on.
  std::optional<stream_version> if_version;

 private:
  std::unique_ptr<clock> clock_;
  std::unique_ptr<event_log> log_;
  std::unique_ptr<event_log> follower_;
  std::unique_ptr<engine> engine_;
  std::unique_ptr<checkpoint_store> checkpoints_;
  std::unique_ptr<key_store> keys_;
  bool checkpoints_writable_ = false;  // checkpoints_ was opened for signing
  std::uint64_t end_at_open_ = 0;  // the log's end when this process opened it
};

// A record as JSON (its envelope as the log holds it); a sealed one also carries "personal", its
// personal fields, and "personal_state": opened, erased, or sealed where the key is not known
// (cli/read_commands.cc). The first opens `bytes` with the folder's keys; the second takes the
// record already decoded from them, opened or not.
result<std::string> record_json(session& s, std::string_view bytes);
std::string record_json(std::string_view bytes, const event_record& r);

// Seals the documents a file or attach command attached to `case_id` under the key of the case's
// consumer (engine/log/document_store.h, seal); other commands have none.
status seal_attached_documents(session& s, engine& eng, const command& cmd, const std::string& case_id);

// The global options, in groups; each command names the groups it takes, and a global option
// outside them is refused ("sazesh help options" describes them all).
namespace uses {
inline constexpr unsigned folder = 1u << 0;     // --data-dir
inline constexpr unsigned kafka = 1u << 1;      // --kafka, --kafka-prefix, --kafka-config, --kafka-timeout
inline constexpr unsigned projector = 1u << 2;  // --kafka-projector-group (keeps projections current)
inline constexpr unsigned actor = 1u << 3;      // --as
inline constexpr unsigned command_id = 1u << 4; // --command-id
inline constexpr unsigned clock = 1u << 5;      // --now
inline constexpr unsigned rules = 1u << 6;      // --calendar, --rules, --weekend
inline constexpr unsigned digits = 1u << 7;     // --digits
inline constexpr unsigned json = 1u << 8;       // --json
inline constexpr unsigned csv = 1u << 9;        // --csv
// Common sets.
inline constexpr unsigned log = folder | kafka;
inline constexpr unsigned write = log | projector | actor | command_id | clock | rules | json;
inline constexpr unsigned read = log | actor | json;  // every read is someone's
inline constexpr unsigned query = read | projector | digits | csv;
}  // namespace uses

struct command_spec {
  std::string name;
  std::string group;
  std::string summary;
  std::vector<option_spec> options;
  std::function<int(session&, const parsed_args&)> run;
  unsigned globals = 0;  // the groups of global options it takes (uses::…)
  // How `sazesh serve` offers it: GET /v1/NAME (reads), POST /v1/NAME (writes), or not at all
  // (commands that hold the folder or the terminal: tick, project, rebuild, demo …).
  enum class http { none, get, post } over_http = http::none;
};

// Runs one invocation, e.g. {"file", "--business", "shop.ir", …}.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The tables, filled by the files that implement them.
void add_write_commands(std::vector<command_spec>& out);
void add_read_commands(std::vector<command_spec>& out);
void add_integrity_commands(std::vector<command_spec>& out);
void add_query_commands(std::vector<command_spec>& out);
void add_trust_commands(std::vector<command_spec>& out);
void add_kafka_commands(std::vector<command_spec>& out);
void add_account_commands(std::vector<command_spec>& out);
void add_seal_log_command(std::vector<command_spec>& out);
// A case as the projections hold it (brought up to date first), for deciding who may read it.
result<std::optional<case_state>> case_for_reading(session& s, const std::string& case_id);
// The whole table, in the order help lists it (`sazesh serve` adds itself at the end).
const std::vector<command_spec>& commands();
void set_serve_command(command_spec serve);
// How a command given --server is sent (serve/client.cc): the command, its parsed options, the
// server's URL and the bearer token (may be empty); prints what the server answered and returns
// the exit code the command would have had locally.
using remote_runner = std::function<int(session&, const command_spec&, const parsed_args&, const std::string& url,
                                        const std::string& token)>;
void set_remote_runner(remote_runner runner);
// The log's verifier key that checkpoints are checked against: --key (a verifier key) or
// --key-file (a file holding one), else the public half of the folder's signing key; none if
// there is neither (cli/integrity_commands.cc).
result<std::optional<verifier_key>> checking_key(session& s, const parsed_args& a);
// `subscribe` on Kafka: the agency's topic through a consumer group (cli/kafka_commands.cc).
int subscribe_kafka(session& s, const parsed_args& a);
command_spec demo_command();

// One page of an agency's feed on the log (not its Kafka topic): the JSON line of every event
// from `from` (at most `limit` events read) that concerns the agency, with the dossier as it
// stands; `next` is where the following page starts.
struct feed_page {
  std::vector<std::string> lines;
  log_position next;
  std::size_t read = 0;  // events read (a page that read `limit` may have more after it)
};
result<feed_page> agency_feed_page(session& s, const std::string& agency, log_position from, std::size_t limit);

// Prints the events a command wrote (or the first run's, for a repeated command id).
int print_outcome(session& s, const char* command, const command_outcome& o);
// A date in both calendars: "2026-11-28 16:59 (1405/09/07 16:59)".
std::string both_calendars(timestamp_ms t, digits d);

}  // namespace sazesh::cli
