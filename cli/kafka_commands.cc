// The log on Kafka from the command line: agencies' feeds read from their own topics, and copying
// the log between the embedded folder and a Kafka cluster.
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <atomic>
#include <csignal>
#include <ostream>

#include "cli/app.h"
#include "cli/feed_line.h"
#include "cli/json.h"
#include "engine/kafka/kafka_key_store.h"
#include "engine/log_copy.h"
#include "engine/record/checkpoint.h"
#include "engine/record/codec.h"
#include "engine/record/merkle.h"
#include "engine/domain/describe.h"
#include "engine/kafka/kafka_feed.h"
#include "engine/kafka/kafka_log.h"
#include "engine/agency_feed.h"
#include "engine/engine.h"
#include "engine/log_copy.h"
#include "schemas/dossier_generated.h"
#include "schemas/schema_json.h"

namespace sazesh::cli {

result<std::string> feed_line(const std::string& topic, const feed_record& r, const verifier_key& key) {
  const auto where = [&] { return fmt::format("{} partition {} offset {}", topic, r.partition, r.offset); };
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(r.value.data()), r.value.size());
  if (!fb::VerifyDossierBuffer(verifier))
    return error(errc::corrupt, "feed", fmt::format("{}: not a Dossier (schemas/dossier.fbs)", where()));
  const fb::Dossier* d = fb::GetDossier(r.value.data());
  if (d->event() == nullptr || d->agency_id() == nullptr || d->case_id() == nullptr)
    return error(errc::corrupt, "feed", fmt::format("{}: a Dossier without its event, agency or case", where()));
  const std::string event(reinterpret_cast<const char*>(d->event()->data()), d->event()->size());
  auto rec = decode(event);
  if (!rec) return error(errc::corrupt, "feed", fmt::format("{}: {}", where(), rec.error().message()));
  const std::string agency = d->agency_id()->str();
  const std::string case_id = d->case_id()->str();
  const auto broken = [&](const std::string& what) { return error(errc::corrupt, "feed", fmt::format("{}: {}", where(), what)); };
  // The record is the agency's, about its case, and its history is one piece of the case's hash
  // chain, ending (in its last part) with the event itself.
  if (!topic.ends_with(kafka_agency_topic("", agency)))
    return broken(fmt::format("a Dossier for agency {} on another agency's topic", agency));
  if (rec->stream != case_id) return broken(fmt::format("the event is of {}, not of the case {} it names", rec->stream, case_id));
  if (!may_be_told(*rec, agency))
    return broken(fmt::format("the event ({}) does not concern agency {}", fb::EnumNameEvent(rec->payload.type), agency));
  if (d->part() < 1 || d->part() > d->parts())
    return broken(fmt::format("a Dossier that says it is part {} of {}", d->part(), d->parts()));
  const std::uint64_t first = d->history_from() == 0 ? 1 : d->history_from();
  std::vector<event_record> history;
  std::string last;
  if (d->history() != nullptr) {
    for (const auto* h : *d->history()) {
      if (h->bytes() == nullptr) return broken("a history entry without its envelope");
      std::string bytes(reinterpret_cast<const char*>(h->bytes()->data()), h->bytes()->size());
      auto h_rec = decode(bytes);
      if (!h_rec) return broken(fmt::format("history sequence {}: {}", first + history.size(), h_rec.error().message()));
      history.push_back(std::move(*h_rec));
      last = std::move(bytes);
    }
  }
  if (!history.empty() && history.front().stream != case_id)
    return broken(fmt::format("the history is of {}, not of the case {} it names", history.front().stream, case_id));
  if (auto chain = verify_chain(history, first); !chain) return broken("the history: " + chain.error().message());
  if (d->part() == d->parts() && last != event)
    return broken("the history does not end with the event it is for");
  // The proof: the history's last envelope (the event, in the last part) is leaf `leaf_index` of
  // the tree that a checkpoint signed by the log's key holds (the tree of the case's partition:
  // origin NAME, or NAME/partition-P); the rest of the history chains back from it.
  if (last.empty()) return broken("a Dossier with no history");
  if (d->checkpoint() == nullptr) return broken("no checkpoint: nothing proves the record is in the log");
  auto opened = open_log_checkpoint(d->checkpoint()->string_view(), key, 0, "feed");  // the log's partitions unknown here
  if (!opened) return broken("the checkpoint: " + opened.error().rule());
  const checkpoint* signed_tree = &opened->second;
  const std::string& origin = signed_tree->origin;
  const auto* path = d->inclusion_proof();
  const std::size_t path_bytes = path == nullptr ? 0 : path->size();
  if (path_bytes % 32 != 0 || path_bytes > 64 * 32) return broken("the inclusion proof is not a list of SHA-256 hashes");
  std::vector<std::string> hashes;
  for (std::size_t i = 0; i < path_bytes; i += 32) hashes.emplace_back(reinterpret_cast<const char*>(path->data()) + i, 32);
  if (!merkle::verify_inclusion(d->leaf_index(), signed_tree->size, merkle::leaf_hash(last), hashes, signed_tree->root))
    return broken(fmt::format("the {} is not leaf {} of the tree its checkpoint ({} events of {}) signed: its "
                              "inclusion proof does not hold",
                              d->part() == d->parts() ? "event" : "history's last envelope", d->leaf_index(),
                              signed_tree->size, origin));
  // The parties: each the first event of its own stream, a registration; with the case's filing
  // in the history, the consumer's and then the business's it names.
  json_array parties;
  if (d->parties() != nullptr) {
    if (d->part() != d->parts()) return broken("parties in a part other than the last");
    const std::vector<std::string> named = first == 1 && !history.empty() ? parties_named(history.front())
                                                                          : std::vector<std::string>{};
    if (!named.empty() && d->parties()->size() != named.size())
      return broken(fmt::format("{} parties for a case that names {}", d->parties()->size(), named.size()));
    std::size_t place = 0;
    for (const auto* p : *d->parties()) {
      if (p->bytes() == nullptr) return broken("a party entry without its envelope");
      const std::string bytes(reinterpret_cast<const char*>(p->bytes()->data()), p->bytes()->size());
      auto who = decode(bytes);
      if (!who) return broken("a party: " + who.error().message());
      if (auto opens = verify_chain({*who}); !opens) return broken("a party: " + opens.error().message());
      if (who->payload.type != fb::Event_ConsumerRegistered && who->payload.type != fb::Event_BusinessRegistered)
        return broken(fmt::format("a party's event is {}, not a registration", fb::EnumNameEvent(who->payload.type)));
      if (!named.empty() && who->stream != named[place])
        return broken(fmt::format("party {} is {}, but the case names {}", place + 1, who->stream, named[place]));
      ++place;
      parties.raw(envelope_to_json(bytes));
    }
  }
  const std::string event_json = envelope_to_json(event);
  return json_object()
      .field("topic", topic)
      .field("partition", static_cast<std::uint64_t>(r.partition))
      .field("offset", r.offset)
      .field("agency", d->agency_id()->str())
      .field("case", d->case_id()->str())
      .field("type", fb::EnumNameEvent(rec->payload.type))
      .field("summary", describe(*rec))
      .raw("event", event_json)
      .field("history_events", static_cast<std::uint64_t>(d->history() ? d->history()->size() : 0))
      .field("documents", static_cast<std::uint64_t>(d->documents() ? d->documents()->size() : 0))
      .raw("parties", parties.str())
      .raw("proof", json_object()
                        .field("checkpoint_origin", origin)
                        .field("tree_size", signed_tree->size)
                        .field("leaf_index", d->leaf_index())
                        .str())
      .str();
}

namespace {

std::atomic<bool> stopping{false};
void on_stop_signal(int) { stopping = true; }

int copy_log_cmd(session& s, const parsed_args& a) {
  const bool to_kafka = a.has("to-kafka");
  if (to_kafka == a.has("from-kafka"))
    return s.fail(error(errc::invalid_argument, "--to-kafka", "give exactly one of --to-kafka and --from-kafka"));
  if (!s.kafka) return s.fail(error(errc::invalid_argument, "--kafka", "copy-log needs the cluster (--kafka BOOTSTRAP)"));
  const auto folder = s.data_dir / "log";
  std::unique_ptr<event_log> source, target;
  if (to_kafka) {
    auto embedded = open_embedded_log(folder, embedded_log_options{.follower = true});
    if (!embedded) return s.fail(embedded.error());
    auto kafka = open_kafka_log(*s.kafka);
    if (!kafka) return s.fail(kafka.error());
    source = std::move(*embedded);
    target = std::move(*kafka);
  } else {
    auto follower = *s.kafka;
    follower.follower = true;
    auto kafka = open_kafka_log(follower);
    if (!kafka) return s.fail(kafka.error());
    auto embedded = open_embedded_log(folder);
    if (!embedded) return s.fail(embedded.error());
    source = std::move(*kafka);
    target = std::move(*embedded);
  }
  const std::string from = to_kafka ? folder.string() : kafka_events_topic(s.kafka->topic_prefix);
  const std::string to = to_kafka ? kafka_events_topic(s.kafka->topic_prefix) : folder.string();
  // The keys go first, so no copied event is ever without its key: the folder's into the log's
  // keys topic, or the topic's into the folder (read as a follower: a topic without keys brings
  // none). Only into an empty log: a refused copy writes no key either.
  if (auto empty = check_empty_target(*target); !empty) return s.fail(empty.error());
  auto folder_keys = open_key_folder(s.data_dir / "keys");
  if (!folder_keys) return s.fail(folder_keys.error());
  auto topic_options = *s.kafka;
  topic_options.follower = !to_kafka;
  auto topic_keys = open_kafka_keys(topic_options);
  if (!topic_keys) return s.fail(topic_keys.error());
  auto keys_copied = to_kafka ? copy_keys(**folder_keys, **topic_keys) : copy_keys(**topic_keys, **folder_keys);
  if (!keys_copied) return s.fail(keys_copied.error());
  auto report = copy_log(*source, *target);
  if (!report) return s.fail(report.error());
  // The log this has just written whole: signed as it stands (on Kafka, published with the
  // agencies' dossiers, their histories read from the copy's source).
  if (auto made = s.sign_log(*target, true, to_kafka ? s.checkpoints_dir() : s.data_dir / "checkpoints", source.get());
      !made)
    return s.fail(made.error());
  if (s.json) {
    fmt::print(s.out, "{}\n",
               json_object().field("from", from).field("to", to).field("events", report->events)
                   .field("commands", report->commands).field("streams", report->streams)
                   .field("keys", *keys_copied).str());
  } else {
    fmt::print(s.out, "copied {} events ({} commands, {} streams) from {} to {}, with {} people's keys\n", report->events,
               report->commands, report->streams, from, to, *keys_copied);
  }
  return exit_ok;
}

}  // namespace

int subscribe_kafka(session& s, const parsed_args& a) {
  const std::string agency = a.get("agency");
  if (a.has("from"))
    return s.fail(error(errc::invalid_argument, "--from",
                        "on Kafka a feed resumes where its consumer group committed; name the group with --group"));
  auto key = checking_key(s, a);
  if (!key) return s.fail(key.error());
  if (!*key)
    return s.fail(error(errc::invalid_argument, "--key",
                        "a feed is checked against the log's verifier key (sazesh keys-show prints it): give it with "
                        "--key or --key-file"));
  kafka_feed_options o;
  o.bootstrap_servers = s.kafka->bootstrap_servers;
  o.topic = kafka_agency_topic(s.kafka->topic_prefix, agency);
  o.group_id = a.has("group") ? a.get("group") : o.topic + ".feed";
  o.config = s.kafka->config;
  o.timeout = s.kafka->timeout;
  auto feed = open_kafka_feed(o);
  if (!feed) return s.fail(feed.error());
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  // A reader that goes away (`subscribe … | head`) closes the pipe: the write fails rather than
  // kill the process, so the feed still leaves its group on the way out (else the group waits
  // for the member's session to time out before the next run gets the partition).
  std::signal(SIGPIPE, SIG_IGN);
  const bool follow = a.has("follow");
  while (!stopping) {
    auto batch = (*feed)->poll(std::chrono::milliseconds(200), 256);
    if (!batch) return s.fail(batch.error());
    for (const auto& r : *batch) {
      auto line = feed_line(o.topic, r, **key);
      if (!line) {
        // What was printed before it is delivered; the group stays at the refused record.
        s.out.flush();
        if (s.out)
          if (auto c = (*feed)->commit_before(r); !c) fmt::print(s.err, "warning: {}\n", c.error().message());
        return s.fail(line.error());
      }
      fmt::print(s.out, "{}\n", *line);
    }
    if (!batch->empty()) {
      s.out.flush();
      // Nothing committed of what could not be written: the next run prints it again.
      if (!s.out) return exit_refused;
      // Printed, so delivered: the next run starts after these.
      if (auto c = (*feed)->commit(); !c) return s.fail(c.error());
    }
    if (!follow && (*feed)->at_end()) break;
  }
  return exit_ok;
}

void add_kafka_commands(std::vector<command_spec>& t) {
  t.push_back({"copy-log", "the log on Kafka",
               "copy every event, byte for byte with its command id, between the data folder's log and Kafka "
               "(the target must be empty), and the keys that seal personal data between DATA_DIR/keys and the "
               "log's keys topic",
               {{"to-kafka", "", "from --data-dir's log to the --kafka cluster"},
                {"from-kafka", "", "from the --kafka cluster to --data-dir's log"}},
               copy_log_cmd, uses::log | uses::json});
}

}  // namespace sazesh::cli
