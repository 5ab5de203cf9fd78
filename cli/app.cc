#include "cli/app.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <ostream>

#include "cli/access.h"
#include "cli/json.h"
#include "engine/domain/decide.h"
#include "engine/feed_relay.h"
#include "engine/kafka/kafka_key_store.h"
#include "engine/record/hash.h"
#include "engine/rule_files.h"
#include "engine/domain/describe.h"
#include "projections/projector.h"
#include "schemas/schema_json.h"

namespace sazesh::cli {
namespace {

struct global_option {
  option_spec spec;
  unsigned group;  // uses::…; 0: every command takes it
};

const std::vector<global_option>& global_options() {
  static const std::vector<global_option> specs{
      {{"data-dir", "DIR", "the data folder (default ./sazesh-data, or $SAZESH_DATA_DIR)"}, uses::folder},
      {{"as", "ROLE:ID", "who is acting, e.g. consumer:U-3F9K2Q7A or operator:ali ($SAZESH_ACTOR)"}, uses::actor},
      {{"command-id", "ID", "an id for this command; repeating it repeats nothing (default: random)"}, uses::command_id},
      {{"now", "TIME", "decide as of this time instead of the clock ($SAZESH_NOW)"}, uses::clock},
      {{"digits", "latin|persian", "digits for Jalali dates (default latin)"}, uses::digits},
      {{"calendar", "DIR", "folder of holidays-YYYY.txt files ($SAZESH_CALENDAR_DIR)"}, uses::rules},
      {{"rules", "FILE", "trust score rules ($SAZESH_RULES; default rules/trust-v1.rules)"}, uses::rules},
      {{"weekend", "friday|thursday-friday", "the weekend for working-day deadlines (default friday)"}, uses::rules},
      {{"kafka", "BOOTSTRAP", "keep the log on Kafka (host:port,…) instead of the data folder ($SAZESH_KAFKA)"}, uses::kafka},
      {{"kafka-prefix", "PREFIX", "prefix of every Kafka topic (default sazesh.; $SAZESH_KAFKA_PREFIX)"}, uses::kafka},
      {{"kafka-config", "KEY=VALUE", "a librdkafka setting, e.g. security.protocol=SASL_SSL ("
                                     "$SAZESH_KAFKA_CONFIG, comma-separated)", false, true}, uses::kafka},
      {{"kafka-timeout", "MS", "how long to wait for the cluster at each step (default 30000; $SAZESH_KAFKA_TIMEOUT_MS)"},
       uses::kafka},
      {{"kafka-replication", "N", "copies of every event the cluster keeps (default 3; 1 only for a single test "
                                  "broker; $SAZESH_KAFKA_REPLICATION)"}, uses::kafka},
      {{"kafka-projector-group", "GROUP", "the consumer group showing the projector's lag (default "
                                          "PREFIXprojector; $SAZESH_KAFKA_PROJECTOR_GROUP)"}, uses::projector},
      {{"json", "", "print JSON instead of text"}, uses::json},
      {{"csv", "", "print query results as CSV"}, uses::csv},
      {{"server", "URL", "send the command to a running sazesh serve, e.g. http://127.0.0.1:8080 ($SAZESH_SERVER)"}, 0},
      {{"token", "TOKEN", "with --server: the credential to sign in with ($SAZESH_TOKEN)"}, 0},
      {{"help", "", "show help"}, 0},
  };
  return specs;
}

std::vector<option_spec> global_specs(unsigned groups, bool all) {
  std::vector<option_spec> out;
  for (const auto& g : global_options())
    if (all || g.group == 0 || (g.group & groups) != 0) out.push_back(g.spec);
  return out;
}

std::optional<command_spec>& serve_spec() {
  static std::optional<command_spec> spec;
  return spec;
}

std::vector<command_spec> build_table() {
  std::vector<command_spec> t;
  add_write_commands(t);
  add_account_commands(t);
  add_read_commands(t);
  add_integrity_commands(t);
  add_query_commands(t);
  add_trust_commands(t);
  add_kafka_commands(t);
  add_seal_log_command(t);
  t.push_back(demo_command());
  if (serve_spec()) t.push_back(*serve_spec());
  // What `sazesh serve` offers: every command that writes (it takes a command id) but the
  // local bootstrap, and these reads. The rest hold the folder or the terminal.
  static const std::set<std::string> reads{"show",  "events", "verify", "case",  "cases",  "scorecard", "top",
                                           "queue", "dossier", "stats", "score", "explain", "rules",
                                           "checkpoint", "proof", "export-open-data", "export-standings"};
  for (auto& c : t) {
    if ((c.globals & uses::command_id) != 0 && c.name != "account-bootstrap") c.over_http = command_spec::http::post;
    else if (reads.count(c.name) != 0) c.over_http = command_spec::http::get;
  }
  return t;
}

const std::vector<command_spec>& table() {
  static const std::vector<command_spec> t = build_table();
  return t;
}

void print_overview(std::ostream& out) {
  fmt::print(out,
             "sazesh: complaint cases against online shops with a trust seal, as an event log.\n\n"
             "usage: sazesh COMMAND [options]    (sazesh COMMAND --help for its options)\n");
  std::string group;
  for (const auto& c : table()) {
    if (c.group != group) {
      group = c.group;
      fmt::print(out, "\n{}:\n", group);
    }
    fmt::print(out, "  {:<22} {}\n", c.name, c.summary);
  }
  fmt::print(out, "\nglobal options such as --data-dir, --as and --json: sazesh help options\n");
}

// Commands also spelt as two words: the first word, and the second's command.
const std::map<std::string, std::string>* two_word(const std::string& first) {
  static const std::map<std::string, std::map<std::string, std::string>> groups{
      {"account", {{"create", "account-create"}, {"revoke", "account-revoke"}, {"bootstrap", "account-bootstrap"}}},
      {"business", {{"explain", "explain"}}},
      {"export", {{"open-data", "export-open-data"}, {"standings", "export-standings"}}},
      {"keys", {{"generate", "keys-generate"}, {"show", "keys-show"}}},
  };
  const auto it = groups.find(first);
  return it == groups.end() ? nullptr : &it->second;
}

// `sazesh account --help`: the commands of a two-word group.
void print_group_help(std::ostream& out, const std::string& first, const std::map<std::string, std::string>& words) {
  fmt::print(out, "usage: sazesh {} COMMAND [options]    (sazesh {} COMMAND --help for its options)\n\n", first, first);
  for (const auto& [word, command] : words) {
    const auto c = std::find_if(table().begin(), table().end(), [&](const command_spec& x) { return x.name == command; });
    fmt::print(out, "  {:<12} {}\n", word, c == table().end() ? "" : c->summary);
  }
}

void print_global_help(std::ostream& out) {
  fmt::print(out,
             "global options: given anywhere on the line; each command takes those its help names.\n\n{}",
             describe_options(global_specs(0, true)));
}

void print_command_help(std::ostream& out, const command_spec& c) {
  std::string globals;
  for (const auto& g : global_specs(c.globals, false)) globals += " --" + g.name;
  fmt::print(out, "usage: sazesh {} [options]\n\n{}\n", c.name, c.summary);
  if (!c.options.empty()) fmt::print(out, "\noptions:\n{}", describe_options(c.options));
  fmt::print(out, "\nglobal options:{} (sazesh help options describes them)\n", globals);
}

result<actor> parse_actor(std::string_view text) {
  const auto colon = text.find(':');
  const std::string_view role_text = text.substr(0, colon);
  auto role = parse_role("as", role_text);
  if (!role) return role.error();
  std::string id = colon == std::string_view::npos ? "" : std::string(text.substr(colon + 1));
  if (id.empty() && *role != fb::Role_consumer)
    return error(errc::invalid_argument, "as", "must be ROLE:ID, e.g. operator:ali");
  return actor{*role, id};
}

// The Kafka log's settings from --kafka* or $SAZESH_KAFKA*; nothing if neither names a cluster.
result<std::optional<kafka_log_options>> kafka_options(const parsed_args& globals) {
  const char* env_bootstrap = std::getenv("SAZESH_KAFKA");
  const std::string bootstrap = globals.has("kafka") ? globals.get("kafka") : env_bootstrap ? env_bootstrap : "";
  if (bootstrap.empty()) {
    if (globals.has("kafka-prefix") || globals.has("kafka-config") || globals.has("kafka-timeout") ||
        globals.has("kafka-replication") || globals.has("kafka-projector-group"))
      return error(errc::invalid_argument, "--kafka", "is needed by every other --kafka-… option");
    return std::optional<kafka_log_options>();
  }
  kafka_log_options o;
  o.bootstrap_servers = bootstrap;
  const char* env_prefix = std::getenv("SAZESH_KAFKA_PREFIX");
  if (globals.has("kafka-prefix")) o.topic_prefix = globals.get("kafka-prefix");
  else if (env_prefix && *env_prefix) o.topic_prefix = env_prefix;
  const char* env_timeout = std::getenv("SAZESH_KAFKA_TIMEOUT_MS");
  if (globals.has("kafka-timeout") || (env_timeout && *env_timeout)) {
    const std::string t = globals.has("kafka-timeout") ? globals.get("kafka-timeout") : env_timeout;
    if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos || std::stol(t) == 0)
      return error(errc::invalid_argument, "--kafka-timeout", "must be a number of milliseconds from 1, not " + t);
    o.timeout = std::chrono::milliseconds(std::stol(t));
  }
  const char* env_replication = std::getenv("SAZESH_KAFKA_REPLICATION");
  if (globals.has("kafka-replication") || (env_replication && *env_replication)) {
    const std::string r = globals.has("kafka-replication") ? globals.get("kafka-replication") : env_replication;
    if (r.empty() || r.size() > 2 || r.find_first_not_of("0123456789") != std::string::npos || std::stoi(r) < 1 ||
        std::stoi(r) > 16)
      return error(errc::invalid_argument, "--kafka-replication", "must be a number of copies from 1 to 16, not " + r);
    o.replication_factor = static_cast<std::int16_t>(std::stoi(r));
  }
  const char* env_group = std::getenv("SAZESH_KAFKA_PROJECTOR_GROUP");
  if (globals.has("kafka-projector-group")) o.progress_group = globals.get("kafka-projector-group");
  else if (env_group && *env_group) o.progress_group = env_group;
  const char* env_config = std::getenv("SAZESH_KAFKA_CONFIG");
  std::vector<std::string> settings = split_kafka_settings(env_config ? env_config : "");
  if (globals.has("kafka-config"))  // after the environment's, so the command line wins
    for (const auto& setting : globals.all("kafka-config")) settings.push_back(setting);
  if (auto s = add_kafka_settings(settings, o.config, "--kafka-config"); !s) return s.error();
  if (auto s = check_kafka_config(o.config); !s) return s.error();
  return std::optional<kafka_log_options>(std::move(o));
}

}  // namespace

const std::vector<command_spec>& commands() { return table(); }

remote_runner& remote() {
  static remote_runner runner;
  return runner;
}
void set_remote_runner(remote_runner runner) { remote() = std::move(runner); }
void set_serve_command(command_spec serve) { serve_spec() = std::move(serve); }

result<engine*> session::open_engine() {
  if (shared_engine) return shared_engine;
  if (engine_) return engine_.get();
  if (fixed_now) clock_ = std::make_unique<fixed_clock>(*fixed_now);
  else clock_ = std::make_unique<system_clock_source>();
  std::optional<kafka_log_options> writer = kafka;
  // On Kafka the writer keeps its index of the topic and the engine's state rows in the data
  // folder, and resumes from them at the next open.
  if (writer) writer->local_dir = data_dir / "kafka-state";
  auto log = writer ? open_kafka_log(*writer) : open_embedded_log(data_dir / "log");
  if (!log && log.error().code() == errc::unavailable && !writer) {
    // A running `sazesh serve` holds the folder: say where it listens.
    std::ifstream f(data_dir / "serve.url");
    std::string url;
    if (f && std::getline(f, url) && !url.empty())
      return error(errc::unavailable, log.error().field(),
                   log.error().rule() + fmt::format("; sazesh serve holds it and listens at {}: send commands there", url));
  }
  if (!log) return log.error();
  log_ = std::move(*log);
  if (auto end = log_->end(); end) end_at_open_ = end->value();
  auto r = rules();
  if (!r) return r.error();
  auto k = keys();
  if (!k) return k.error();
  engine_options options;
  options.keys = *k;
  auto e = engine::open(*log_, *clock_, std::move(*r), options);
  if (!e) return e.error();
  engine_ = std::move(*e);
  return engine_.get();
}

result<key_store*> session::keys() {
  if (shared_keys) return shared_keys;
  if (!keys_) {
    if (kafka) {
      // The log's keys topic, shared by every machine on the log. A principal refused it (an
      // agency's) reads every sealed field as sealed, and can seal or erase nothing.
      auto opened = open_kafka_keys(*kafka);
      if (!opened && opened.error().code() != errc::unauthorized) return opened.error();
      if (opened) {
        // A folder that kept the keys of a log on Kafka before they moved to its topic: using a
        // topic without them would make new keys (and a new digest key) beside the old.
        // (The file first: the topic is read again only for a folder that holds keys.)
        std::error_code ec;
        const auto old_keys = data_dir / "keys" / "subjects.keys";
        if (std::filesystem::exists(old_keys, ec) && std::filesystem::file_size(old_keys, ec) > 0) {
          auto held = (*opened)->entries();
          if (!held) return held.error();
          if (held->empty())
            return error(errc::wrong_state, "keys",
                         fmt::format("{} holds people's keys, and the log's keys topic {} none: copy the log with its "
                                     "keys (copy-log --from-kafka into a copy of this folder, then copy-log --to-kafka "
                                     "into a new prefix), or use a --data-dir of its own for this log",
                                     old_keys.string(), kafka_keys_topic(kafka->topic_prefix)));
        }
      }
      keys_ = opened ? std::move(*opened) : no_keys(opened.error());
    } else {
      auto opened = open_key_folder(data_dir / "keys");
      if (!opened) return opened.error();
      keys_ = std::move(*opened);
    }
  }
  return keys_.get();
}

std::filesystem::path session::signing_key_file() const {
  if (const char* env = std::getenv("SAZESH_SIGNING_KEY"); env != nullptr && *env != '\0') return env;
  return data_dir / "keys" / "signing.key";
}

namespace {

// A writer new to a log with topics (another machine, a new folder) builds its trees from the
// log and takes them on only if they have every root the log's published checkpoints signed;
// it then keeps each partition's latest (signing the same root with the same key gives the same
// note: Ed25519 is deterministic), so its proofs have a checkpoint to go with.
status adopt_published(checkpoint_store& store, event_log& log, const signing_key& key,
                       const std::vector<std::pair<std::uint32_t, std::string>>& published) {
  if (auto size = store.extend(log); !size) return size.error();
  std::map<std::uint32_t, std::uint64_t> latest;
  for (const auto& [partition, note] : published) {
    auto c = open_log_checkpoint(note, key.verifier(), log.partitions(), "checkpoints", partition);
    if (!c) return c.error();
    auto root = store.root_at(partition, c->second.size, log);
    if (!root) return root.error();
    if (*root != c->second.root)
      return error(errc::corrupt, "checkpoints",
                   fmt::format("partition {}'s first {} events do not have the root its published checkpoint signed: "
                               "the topic was changed after it was signed",
                               partition, c->second.size));
    latest[partition] = std::max(latest[partition], c->second.size);
  }
  for (const auto& [partition, size] : latest)
    if (auto kept = store.sign_at(key, partition, size, log); !kept) return kept.error();
  return ok;
}

}  // namespace

result<std::vector<signed_checkpoint>> session::sign_log(event_log& log, bool start_over, const std::filesystem::path& folder,
                                                        event_log* history) {
  if (!checkpoints_writable_) {
    if (checkpoints_ && shared_checkpoints == checkpoints_.get())
      return error(errc::unavailable, "checkpoints", "the store was opened for reading (another process held it)");
    checkpoints_.reset();
    auto opened = checkpoint_store::open(folder.empty() ? checkpoints_dir() : folder, checkpoint_store::access::write);
    if (!opened) return opened.error();
    checkpoints_ = std::move(*opened);
    checkpoints_writable_ = true;
  }
  checkpoint_store& store = *checkpoints_;
  bool has_checkpoints = false;
  std::uint64_t leaves = 0;
  for (std::uint32_t p = 0; p < store.partitions(); ++p) {
    auto latest = store.latest(p);
    if (!latest) return latest.error();
    has_checkpoints = has_checkpoints || latest->has_value();
    leaves += store.size(p);
  }
  // On a log with topics, what was published vouches for the log, until this store has
  // checkpoints of its own.
  std::vector<std::pair<std::uint32_t, std::string>> published;
  if (!has_checkpoints && log.publishes_side_records()) {
    auto p = log.published_checkpoints();
    if (!p) return p.error();
    published = std::move(*p);
  }
  auto key = read_signing_key_file(signing_key_file());
  if (!key) {
    if (key.error().code() != errc::not_found) return key.error();
    if (has_checkpoints || !published.empty())
      return error(errc::not_found, "signing_key",
                   fmt::format("the log has signed checkpoints{} but there is no signing key at {}: put the log's key back "
                               "(a new key would not match its checkpoints)",
                               has_checkpoints ? "" : " (published on its topic)", signing_key_file().string()));
    key = create_signing_key_file(signing_key_file(), "sazesh.local/log-" + random_hex(4));
    if (!key) return key.error();
  } else if (!published.empty() && !start_over) {
    if (auto adopted = adopt_published(store, log, *key, published); !adopted) return adopted.error();
  } else if (!has_checkpoints && leaves == 0 && !start_over) {
    auto end = log.end();
    if (!end) return end.error();
    if (end->value() > 0)
      return error(errc::conflict, "checkpoints",
                   fmt::format("the log holds {} events and has a signing key but no checkpoints: they were removed. "
                               "Check the log (verify --since a checkpoint published earlier), then sign it as it stands "
                               "with sazesh checkpoint --start-over",
                               end->value()));
  }
  if (auto size = store.extend(log); !size) return size.error();
  if (log.publishes_side_records()) {
    // Checkpoints published with the agencies' dossiers of the events they newly cover.
    auto relayed = publish_signed(log, store, *key, history ? *history : log);
    if (!relayed && relayed.error().code() == errc::conflict && relayed.error().field() == "log") {
      // Another writer appended and signed since this one read the log: read it, then again.
      if (auto s = log.settle(); !s) return s.error();
      if (auto size = store.extend(log); !size) return size.error();
      relayed = publish_signed(log, store, *key, history ? *history : log);
    }
    if (!relayed) return relayed.error();
    for (const auto& why : relayed->skipped) fmt::print(err, "warning: no dossier published for {}\n", why);
  } else if (auto made = store.sign(*key); !made) {
    return made.error();
  }
  std::vector<signed_checkpoint> latest;
  for (std::uint32_t p = 0; p < store.partitions(); ++p) {
    auto l = store.latest(p);
    if (!l) return l.error();
    if (*l) latest.push_back(std::move(**l));
  }
  return latest;
}

result<std::vector<signed_checkpoint>> session::write_checkpoint() {
  if (!engine_) return std::vector<signed_checkpoint>();
  return sign_log(*log_);
}

void session::checkpoint_or_warn() {
  if (auto note = write_checkpoint(); !note) fmt::print(err, "warning: no checkpoint signed: {}\n", note.error().message());
}

void session::sign_what_was_written(int exit_code) {
  if (exit_code != exit_ok || !engine_) return;
  auto end = log_->end();
  if (!end || end->value() <= end_at_open_) return;  // nothing written here: nothing to vouch for
  checkpoint_or_warn();
}

result<checkpoint_store*> session::open_checkpoints() {
  if (shared_checkpoints) return shared_checkpoints;
  if (checkpoints_) return checkpoints_.get();
  auto store = checkpoint_store::open(checkpoints_dir(), checkpoint_store::access::read);
  if (!store) return store.error();
  checkpoints_ = std::move(*store);
  return checkpoints_.get();
}

result<case_rules> session::rules() {
  return load_case_rules({calendar_dir, thursday_off, rules_file});
}

result<event_log*> session::open_log_for_reading() {
  if (shared_log) return shared_log;
  if (log_) return log_.get();
  if (!follower_) {
    embedded_log_options options;
    options.follower = true;
    std::optional<kafka_log_options> kafka_follower = kafka;
    if (kafka_follower) kafka_follower->follower = true;
    auto f = kafka_follower ? open_kafka_log(*kafka_follower) : open_embedded_log(data_dir / "log", options);
    if (!f) return f.error();
    follower_ = std::move(*f);
  }
  return follower_.get();
}

result<std::unique_ptr<projections::projection_store>> session::open_projections_writer() {
  projections::recover_interrupted_swap(projections_dir());
  auto store = projections::projection_store::open(projections_dir(), projections::store_mode::read_write);
  if (store || !projections::is_other_row_format(store.error())) return store;
  auto log = open_log_for_reading();
  if (!log) return log.error();
  fmt::print(err, "note: the projections were written in another row format; rebuilding them from the log (once)\n");
  auto rebuilt = projections::rebuild(**log, projections_dir(), {});
  if (!rebuilt) return rebuilt.error();
  return projections::projection_store::open(projections_dir(), projections::store_mode::read_write);
}

result<std::unique_ptr<projections::projection_store>> session::open_projections_writer(event_log& log,
                                                                                        const projections::progress_fn& progress,
                                                                                        std::uint64_t& built) {
  built = 0;
  {
    auto store = open_projections_writer();
    if (!store) return store;
    for (std::uint32_t part = 0; part < log.partitions(); ++part) {
      auto at = projections::stored_position(**store, part);
      if (!at) return at.error();
      if (at->value() != 0) return store;
    }
  }  // closed: the rebuild takes the live projections' lock
  auto report = projections::rebuild(log, projections_dir(), progress, false);
  if (!report) return report.error();
  built = report->events;
  return open_projections_writer();
}

status session::refresh_projections() {
  if (shared_refresh) return shared_refresh();
  auto log = open_log_for_reading();
  if (!log) return log.error();
  auto store = open_projections_writer();
  if (!store) return store.error();
  projections::projector p(**log, **store);
  auto n = p.catch_up();
  if (!n) return n.error();
  return ok;
}

bool is_retryable(const error& e) { return e.code() == errc::unavailable || e.code() == errc::io; }

int session::fail(const error& e) {
  last_error = e;
  const bool retry = is_retryable(e);
  if (json) {
    fmt::print(err, "{}\n",
               json_object()
                   .raw("error", json_object()
                                     .field("code", to_string(e.code()))
                                     .field("field", e.field())
                                     .field("rule", e.rule())
                                     .field("retryable", retry)
                                     .str())
                   .str());
  } else {
    fmt::print(err, "error: {}\n", e.message());
  }
  if (e.code() == errc::invalid_argument && e.field().rfind("--", 0) == 0) return exit_usage;
  return retry ? exit_retry : exit_refused;
}

// --as-of: a date (either calendar) means the end of that day in Tehran; a time, that moment.
result<timestamp_ms> parse_as_of(const std::string& text) {
  if (text.find(' ') == std::string::npos && text.find('T') == std::string::npos) {
    auto day = parse_date("as_of", text);
    if (!day) return day.error();
    return tehran_start_of_day(civil_from_days(days_from_civil(*day) + 1)) - 1;
  }
  return parse_time("as_of", text);
}

std::string both_calendars(timestamp_ms t, digits d) {
  return fmt::format("{} ({})", format_gregorian(t), format_jalali(t, d));
}

int print_outcome(session& s, const char* command, const command_outcome& o) {
  s.last_stream = o.stream;
  s.last_repeated = o.repeated;
  const auto to_json = [](const std::vector<event_record>& list) {
    json_array events;
    for (const auto& e : list) {
      json_object ev;
      ev.field("sequence", e.sequence.value())
          .field("event_id", e.event_id)
          .field("type", fb::EnumNameEvent(e.payload.type))
          .field("time", format_iso_utc(e.time))
          .field("summary", describe(e));
      events.raw(ev.str());
    }
    return events.str();
  };
  if (s.json) {
    fmt::print(s.out, "{}\n",
               json_object()
                   .field("command", command)
                   .field("stream", o.stream)
                   .field("repeated", o.repeated)
                   .raw("deadlines_first", to_json(o.deadlines_first))
                   .raw("events", to_json(o.events))
                   .str());
    return exit_ok;
  }
  if (!o.deadlines_first.empty()) {
    fmt::print(s.out, "{}: deadlines that had passed were applied first\n", o.stream);
    for (const auto& e : o.deadlines_first) fmt::print(s.out, "  #{:<3} {}\n", e.sequence.value(), describe(e));
  }
  if (o.repeated) fmt::print(s.out, "{}: command id seen before; nothing new written. It wrote:\n", o.stream);
  else if (o.events.empty()) fmt::print(s.out, "{}: nothing was due\n", o.stream);
  else fmt::print(s.out, "{}\n", o.stream);
  for (const auto& e : o.events) fmt::print(s.out, "  #{:<3} {}\n", e.sequence.value(), describe(e));
  return exit_ok;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  session s(out, err);
  // Split global options from the subcommand's own; globals may come anywhere.
  std::vector<std::string> rest;
  std::string name;
  parsed_args globals;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const std::string key = a.rfind("--", 0) == 0 ? a.substr(2, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 2) : "";
    auto found = std::find_if(global_options().begin(), global_options().end(),
                              [&](const global_option& o) { return o.spec.name == key; });
    const option_spec* g = found == global_options().end() ? nullptr : &found->spec;
    if (!key.empty() && g != nullptr) {
      if (g->value.empty()) {
        globals.add(key, "true");
      } else if (a.find('=') != std::string::npos) {
        globals.add(key, a.substr(a.find('=') + 1));
      } else if (i + 1 < args.size()) {
        globals.add(key, args[++i]);
      } else {
        return s.fail(error(errc::invalid_argument, "--" + key, "needs a value (" + g->value + ")"));
      }
    } else if (name.empty() && a.rfind("--", 0) != 0) {
      name = a;
    } else if (const auto* words = two_word(name); words != nullptr && a.rfind("--", 0) != 0) {
      // "sazesh account create …" is "sazesh account-create …"; "business explain" is "explain".
      const auto it = words->find(a);
      name = it == words->end() ? name + " " + a : it->second;
    } else {
      rest.push_back(a);
    }
  }
  s.json = globals.has("json");
  s.csv = globals.has("csv");
  const auto find_command = [](const std::string& n) {
    return std::find_if(table().begin(), table().end(), [&](const command_spec& c) { return c.name == n; });
  };
  if (name == "help" && rest.size() == 1 && rest[0] == "options") {
    print_global_help(out);
    return exit_ok;
  }
  if (name == "help" && rest.size() == 1 && find_command(rest[0]) != table().end()) {
    print_command_help(out, *find_command(rest[0]));
    return exit_ok;
  }
  if (const auto* words = two_word(name)) {
    print_group_help(globals.has("help") ? out : err, name, *words);
    return globals.has("help") ? exit_ok : exit_usage;
  }
  if (name.empty() || name == "help") {
    print_overview(out);
    return name.empty() && !globals.has("help") ? exit_usage : exit_ok;
  }
  auto spec = find_command(name);
  if (spec == table().end())
    return s.fail(error(errc::invalid_argument, "--command",
                        fmt::format("{} is not a sazesh command (sazesh help lists them)", name)));
  if (globals.has("help")) {
    print_command_help(out, *spec);
    return exit_ok;
  }
  // A global option the command does not take is refused, not ignored: `demo --kafka …` must
  // not quietly run on the embedded log.
  for (const auto& g : global_options())
    if (g.group != 0 && (g.group & spec->globals) == 0 && globals.has(g.spec.name))
      return s.fail(error(errc::invalid_argument, "--" + g.spec.name,
                          fmt::format("is not an option of {} (sazesh {} --help lists the ones it takes)",
                                      spec->name, spec->name)));

  // --server: the command goes to a running `sazesh serve`, which decides who is asking (from
  // the token) and when (its clock); the options that would say so here are refused.
  const char* env_server = std::getenv("SAZESH_SERVER");
  const std::string server_url = globals.has("server") ? globals.get("server") : env_server ? env_server : "";
  if (globals.has("token") && server_url.empty())
    return s.fail(error(errc::invalid_argument, "--token", "is taken only with --server"));
  if (!server_url.empty()) {
    if (spec->over_http == command_spec::http::none)
      return s.fail(error(errc::invalid_argument, "--server",
                          fmt::format("{} is not offered by sazesh serve: run it on the server's machine", spec->name)));
    for (const char* local : {"as", "now", "data-dir", "kafka", "kafka-prefix", "kafka-config", "kafka-timeout",
                              "kafka-replication", "kafka-projector-group", "calendar", "rules", "weekend"})
      if (globals.has(local))
        return s.fail(error(errc::invalid_argument, std::string("--") + local,
                            "is not taken with --server: the server's token, clock and settings decide"));
    if (globals.has("digits")) {
      const auto& d = globals.get("digits");
      if (d != "latin" && d != "persian")
        return s.fail(error(errc::invalid_argument, "--digits", "must be latin or persian"));
      s.persian_digits_asked = d == "persian";
    }
    const char* env_token = std::getenv("SAZESH_TOKEN");
    const std::string token = globals.has("token") ? globals.get("token") : env_token ? env_token : "";
    s.command_id = globals.has("command-id") ? globals.get("command-id") : random_hex(16);
    if (s.command_id.empty() || s.command_id.size() > 128)
      return s.fail(error(errc::invalid_argument, "--command-id", "must be 1-128 characters"));
    auto parsed = parse_options(spec->options, rest);
    if (!parsed) return s.fail(parsed.error());
    if (!remote()) return s.fail(error(errc::invalid_argument, "--server", "is not supported by this build"));
    return remote()(s, *spec, *parsed, server_url, token);
  }

  const char* env_dir = std::getenv("SAZESH_DATA_DIR");
  s.data_dir = globals.has("data-dir") ? globals.get("data-dir") : (env_dir ? env_dir : "sazesh-data");
  const char* env_actor = std::getenv("SAZESH_ACTOR");
  if (globals.has("as") || env_actor) {
    auto who = parse_actor(globals.has("as") ? globals.get("as") : env_actor);
    if (!who) return s.fail(error(errc::invalid_argument, "--as", who.error().rule()));
    s.who = *who;
  }
  const char* env_now = std::getenv("SAZESH_NOW");
  if (globals.has("now") || env_now) {
    auto t = parse_time("now", globals.has("now") ? globals.get("now") : env_now);
    if (!t) return s.fail(error(errc::invalid_argument, "--now", t.error().rule()));
    s.fixed_now = *t;
  }
  if (globals.has("digits")) {
    const auto& d = globals.get("digits");
    if (d != "latin" && d != "persian")
      return s.fail(error(errc::invalid_argument, "--digits", "must be latin or persian"));
    s.jalali_digits = d == "persian" ? digits::persian : digits::latin;
  }
  const char* env_cal = std::getenv("SAZESH_CALENDAR_DIR");
  s.calendar_dir = globals.has("calendar") ? std::filesystem::path(globals.get("calendar"))
                   : env_cal                ? std::filesystem::path(env_cal)
                                            : std::filesystem::path(SAZESH_DEFAULT_CALENDAR_DIR);
  const char* env_rules = std::getenv("SAZESH_RULES");
  s.rules_file = globals.has("rules") ? std::filesystem::path(globals.get("rules"))
                 : env_rules          ? std::filesystem::path(env_rules)
                                      : std::filesystem::path(SAZESH_DEFAULT_RULES_FILE);
  if (globals.has("weekend")) {
    const auto& w = globals.get("weekend");
    if (w != "friday" && w != "thursday-friday")
      return s.fail(error(errc::invalid_argument, "--weekend", "must be friday or thursday-friday"));
    s.thursday_off = w == "thursday-friday";
  }
  if (auto k = kafka_options(globals); !k) return s.fail(k.error());
  else s.kafka = std::move(*k);
  s.command_id = globals.has("command-id") ? globals.get("command-id") : random_hex(16);
  if (s.command_id.empty() || s.command_id.size() > 128)
    return s.fail(error(errc::invalid_argument, "--command-id", "must be 1-128 characters"));

  auto parsed = parse_options(spec->options, rest);
  if (!parsed) return s.fail(parsed.error());
  if (spec->over_http == command_spec::http::get) {
    // The folder's reads follow the same table as the service's: a read of cases is someone's,
    // and sees only what that someone may (scorecards, scores and standings are anyone's).
    if (!s.who && !is_aggregate_read(spec->name))
      return s.fail(error(errc::invalid_argument, "--as",
                          "is required: say who is reading, e.g. --as auditor:ali (a case's data is only its parties')"));
    if (s.who) {
      auto d = authorize_read([&s](const std::string& id) { return case_for_reading(s, id); }, *s.who, spec->name,
                              *parsed);
      if (d.verdict != denial::none) return s.fail(d.reason);
      for (const auto& [k, v] : d.narrowed) parsed->add(k, v);
    }
  }
  const int rc = spec->run(s, *parsed);
  // The process that wrote signs what it wrote; the command's answer stands either way.
  s.sign_what_was_written(rc);
  return rc;
}

}  // namespace sazesh::cli
