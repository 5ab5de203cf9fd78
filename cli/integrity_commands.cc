// The log's integrity: `verify` (the whole log, its bookkeeping, its Merkle tree and signed
// checkpoints), `checkpoint` (the latest signed checkpoint), `proof` (inclusion and consistency
// proofs against it) and `keys generate|show` (the key that signs checkpoints).
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <map>

#include "cli/app.h"
#include "cli/json.h"
#include "engine/base/text_file.h"
#include "engine/domain/decide.h"
#include "engine/record/codec.h"
#include "engine/record/hash.h"
#include "engine/record/merkle.h"

namespace sazesh::cli {

result<std::optional<verifier_key>> checking_key(session& s, const parsed_args& a) {
  if (a.has("key") && a.has("key-file")) return error(errc::invalid_argument, "--key", "give --key or --key-file, not both");
  if (a.has("key-file")) {
    auto text = read_text_file(a.get("key-file"), "--key-file", 4096);
    if (!text) return text.error();
    auto key = parse_verifier_key(*text, "--key-file");
    if (!key) return key.error();
    return std::optional<verifier_key>(*key);
  }
  if (a.has("key")) {
    auto key = parse_verifier_key(a.get("key"), "--key");
    if (!key) return key.error();
    return std::optional<verifier_key>(*key);
  }
  auto key = read_signing_key_file(s.signing_key_file());
  if (key) return std::optional<verifier_key>(key->verifier());
  if (key.error().code() != errc::not_found) return key.error();
  return std::optional<verifier_key>();
}

namespace {

constexpr std::size_t k_max_note_file = 64 * 1024;

std::string b64_list(const std::vector<std::string>& hashes) {
  json_array out;
  for (const auto& h : hashes) out.string(base64(h));
  return out.str();
}

int verify(session& s, const parsed_args& a) {
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  event_log& log = *s.log();
  // 1. The log's own bookkeeping: the stream index and the command records.
  if (auto c = log.check_storage(); !c) return s.fail(c.error());

  // 2. The signed checkpoints to hold each partition's tree against: the folder's (embedded),
  // or those published on the checkpoints topic (Kafka).
  auto k = checking_key(s, a);
  if (!k) return s.fail(k.error());
  const std::optional<verifier_key> key = *k;
  if (!s.kafka && !key) {
    // No key to hold the log against: fine for an empty log, refused for any other.
    auto end = log.end();
    if (!end) return s.fail(end.error());
    if (end->value() > 0)
      return s.fail(error(errc::corrupt, "checkpoints",
                          fmt::format("no signed checkpoint covers the log's {} events: the folder has no signing key "
                                      "(give the log's verifier key with --key, or, for a log from before checkpoints, "
                                      "write to it once: its writer signs it)",
                                      end->value())));
  }
  if (!key && a.has("since")) return s.fail(error(errc::invalid_argument, "--since", "needs the log's verifier key (--key)"));
  const bool tree_checked = key.has_value();
  const std::uint32_t partitions = log.partitions();
  std::vector<std::map<std::uint64_t, std::string>> expected_roots(partitions);  // per partition: size -> signed root
  std::vector<std::uint64_t> latest_size(partitions, 0);
  std::size_t checked = 0;  // the log's own checkpoints among them
  checkpoint_store* store = nullptr;  // the folder's (for its kept hashes), opened read-only as it is now
  std::optional<std::pair<std::uint32_t, checkpoint>> since;
  if (tree_checked) {
    auto opened = s.open_checkpoints();
    if (!opened && opened.error().code() != errc::not_found) return s.fail(opened.error());
    if (opened) store = *opened;
    std::vector<std::pair<std::uint32_t, std::string>> notes;
    if (s.kafka) {
      auto published = log.published_checkpoints();
      if (!published) return s.fail(published.error());
      notes = std::move(*published);
    } else if (store) {
      auto all = store->all_checkpoints();
      if (!all) return s.fail(all.error());
      for (auto& c : *all) notes.emplace_back(c.partition, std::move(c.note));
    }
    for (const auto& [partition, note] : notes) {
      auto c = open_log_checkpoint(note, *key, partitions, fmt::format("checkpoint {}", checked + 1), partition);
      if (!c) return s.fail(c.error());
      auto [at, fresh] = expected_roots[partition].emplace(c->second.size, c->second.root);
      if (!fresh && at->second != c->second.root)
        return s.fail(error(errc::corrupt, "checkpoints",
                            fmt::format("two checkpoints of size {} sign different roots: the log was rewritten and "
                                        "signed again",
                                        c->second.size)));
      latest_size[partition] = std::max(latest_size[partition], c->second.size);
      ++checked;
    }
    if (a.has("since")) {
      auto text = read_text_file(a.get("since"), "--since", k_max_note_file);
      if (!text) return s.fail(text.error());
      auto given = open_log_checkpoint(*text, *key, partitions, "--since");
      if (!given) return s.fail(given.error());
      since = *given;
      auto& roots = expected_roots[since->first];
      if (auto it = roots.find(since->second.size); it != roots.end() && it->second != since->second.root)
        return s.fail(error(errc::corrupt, "--since",
                            fmt::format("the log's own checkpoint of size {} has another root than the one given: "
                                        "the log was rewritten and signed again after that checkpoint was published",
                                        since->second.size)));
      roots.emplace(since->second.size, since->second.root);
    }
  }

  // 3. Every event: positions without gaps, the record's header agreeing with its envelope,
  // every stream's hash chain, and each partition's Merkle tree against every checkpoint.
  std::map<std::string, std::pair<std::uint64_t, std::string>> heads;
  std::uint64_t count = 0;
  std::uint64_t unsigned_tail = 0;
  std::vector<std::string> roots;
  std::optional<error> tree_failure;
  const bool dense = log.positions_dense();
  for (std::uint32_t part = 0; part < partitions; ++part) {
    merkle::compact_range tree;
    auto next_root = expected_roots[part].begin();
    const std::string in_part = partitions == 1 ? std::string() : fmt::format(" of partition {}", part);
    const auto kept_check = [&](unsigned level, std::uint64_t index, const std::string& h) {
      if (!store || tree_failure || !checkpoint_store::kept_level(level) || ((index + 1) << level) > store->size(part)) return;
      auto kept = store->kept_subtree(part, level, index);
      if (!kept) tree_failure = kept.error();
      else if (*kept && **kept != h)
        tree_failure = error(errc::corrupt, "checkpoints",
                             fmt::format("the Merkle tree's kept hash of events {} to {}{} differs from those events: "
                                         "one of them was changed after the tree took it in",
                                         index << level, ((index + 1) << level) - 1, in_part));
    };
    log_position from(0);
    for (;;) {
      auto batch = log.read_partition(part, from, 4096);
      if (!batch) return s.fail(batch.error());
      for (const auto& e : *batch) {
        const auto where = [&] { return dense ? fmt::format("position {}", e.position.value())
                                              : fmt::format("partition {} offset {}", part, e.position.value()); };
        if (dense && e.position.value() != count)
          return s.fail(error(errc::corrupt, "log",
                              fmt::format("position {} follows {}: events are missing from the log", e.position.value(),
                                          count == 0 ? std::string("the start") : std::to_string(count - 1))));
        auto r = decode(e.bytes);
        if (!r) return s.fail(error(errc::corrupt, "log", fmt::format("{}: {}", where(), r.error().message())));
        if (r->stream != e.stream || r->sequence != e.sequence)
          return s.fail(error(errc::corrupt, "log",
                              fmt::format("{}: the record is filed as {} #{} but its envelope is {} #{}", where(), e.stream,
                                          e.sequence.value(), r->stream, r->sequence.value())));
        auto& [version, hash] = heads[r->stream];
        if (r->sequence.value() != version + 1 || r->previous_hash != hash)
          return s.fail(error(errc::corrupt, "log", fmt::format("{}: stream {} breaks its hash chain", where(), r->stream)));
        version = r->sequence.value();
        hash = r->hash;
        ++count;
        if (tree_checked) {
          tree.push(merkle::leaf_hash(e.bytes), kept_check);
          if (tree_failure) return s.fail(*tree_failure);
          if (next_root != expected_roots[part].end() && next_root->first == tree.size()) {
            if (tree.root() != next_root->second)
              return s.fail(error(errc::corrupt, "log",
                                  fmt::format("the first {} events{} do not have the root the checkpoint of that size "
                                              "signed: an event among them was changed, removed or reordered",
                                              next_root->first, in_part)));
            ++next_root;
          }
        }
      }
      if (batch->size() < 4096) break;
      from = log_position(batch->back().position.value() + 1);
    }
    if (tree_checked && next_root != expected_roots[part].end())
      return s.fail(error(errc::corrupt, "log",
                          fmt::format("the log{} holds {} events but a signed checkpoint covers {}: events were removed "
                                      "from its end",
                                      in_part, tree.size(), expected_roots[part].rbegin()->first)));
    unsigned_tail += tree.size() - std::min(tree.size(), latest_size[part]);
    roots.push_back(tree.root());
  }
  if (tree_checked && count > 0 && checked == 0)
    return s.fail(error(errc::corrupt, "checkpoints",
                        fmt::format("no signed checkpoint covers the log's {} events (the checkpoints are missing{})", count,
                                    s.kafka ? ": none is published" : "")));
  // Damage the log contained (Kafka: a stream two writers forked, a record from outside): the
  // rest is verified above, and each is named here.
  auto damaged = log.damaged_streams();
  if (!damaged) return s.fail(damaged.error());
  if (!damaged->empty()) {
    for (const auto& [stream, what] : *damaged) {
      if (s.json)
        fmt::print(s.out, "{}\n", json_object().field("damaged", stream.empty() ? std::string("(not an event)") : stream)
                                      .field("found", what).str());
      else
        fmt::print(s.out, "damaged: {}: {}\n", stream.empty() ? std::string("(not an event)") : stream, what);
    }
    const auto& [first, what] = damaged->front();
    return s.fail(error(errc::corrupt, "log",
                        fmt::format("{} damaged{}; every other stream verified ({} events in {} streams)",
                                    first.empty() ? std::string("a record that is not an event is") : "stream " + first + " is",
                                    damaged->size() > 1 ? fmt::format(" (and {} more)", damaged->size() - 1) : "",
                                    count, heads.size())));
  }
  // 4. Every chain's head is where the engine's state rows say (and the rows are what a fresh
  // fold of the log makes).
  auto live = (*eng)->state_digest();
  if (!live) return s.fail(live.error());
  auto keys = s.keys();
  if (!keys) return s.fail(keys.error());
  auto fresh = fold_state_digest(log, *keys);
  if (!fresh) return s.fail(fresh.error());
  if (*live != *fresh)
    return s.fail(error(errc::corrupt, "state",
                        fmt::format("the engine's state rows (digest {}) differ from a fold of the log ({}); "
                                    "sazesh rebuild builds them again",
                                    live->substr(0, 16), fresh->substr(0, 16))));
  std::uint64_t covered = 0;
  for (const auto size : latest_size) covered += size;
  if (s.json) {
    json_object o;
    o.field("events", count).field("streams", static_cast<std::uint64_t>(heads.size())).field("intact", true);
    if (tree_checked) {
      o.field("checkpoints", static_cast<std::uint64_t>(checked))
          .field("latest_checkpoint_size", covered)
          .field("unsigned_events", unsigned_tail)
          .field("key", key->name);
      if (partitions == 1) {
        o.field("root", base64(roots.front()));
      } else {
        json_array r;
        for (const auto& root : roots) r.string(base64(root));
        o.field("partitions", static_cast<std::uint64_t>(partitions)).raw("roots", r.str());
      }
      if (since) {
        o.field("consistent_since", since->second.size);
        if (partitions > 1) o.field("consistent_since_partition", static_cast<std::uint64_t>(since->first));
      }
    }
    fmt::print(s.out, "{}\n", o.field("state_digest", *live).str());
  } else {
    fmt::print(s.out, "ok: {} events in {} streams; every buffer verified, every hash chain intact; "
               "the stream index and command records agree with the events\n", count, heads.size());
    if (tree_checked) {
      const std::string tail = unsigned_tail == 0 ? std::string() : fmt::format(" ({} since, not yet signed)", unsigned_tail);
      if (partitions == 1)
        fmt::print(s.out, "    Merkle tree: root {}; {} signed checkpoint(s) by {} hold, the latest covering {} events{}\n",
                   base64(roots.front()), checked, key->name, covered, tail);
      else
        fmt::print(s.out, "    Merkle trees of {} partitions: {} signed checkpoint(s) by {}{} hold, the latest covering {} "
                   "events together{}\n",
                   partitions, checked, key->name, s.kafka ? " (published)" : "", covered, tail);
      if (since)
        fmt::print(s.out, "    the checkpoint given ({}size {}) is a prefix of this log: it only grew since\n",
                   partitions == 1 ? std::string() : fmt::format("partition {}, ", since->first), since->second.size);
    } else {
      fmt::print(s.out, "    the Merkle trees were not checked: no verifier key (give the log's with --key)\n");
    }
    fmt::print(s.out, "    the state rows equal a fold of the log\n");
  }
  return exit_ok;
}

int checkpoint_cmd(session& s, const parsed_args& a) {
  if (a.has("start-over")) {
    // An operator's decision, on the machine that holds the folder: the log as it stands is the
    // one to vouch for (its checkpoints were lost).
    if (s.shared_engine != nullptr)
      return s.fail(error(errc::invalid_argument, "start-over", "is run on the machine that holds the data folder, not over HTTP"));
    auto eng = s.open_engine();
    if (!eng) return s.fail(eng.error());
    if (auto made = s.sign_log(*s.log(), true); !made) return s.fail(made.error());
  }
  // The latest checkpoint of each partition: the folder's, or on Kafka those published.
  std::vector<signed_checkpoint> latest;
  std::uint32_t partitions = 1;
  if (s.kafka) {
    auto log = s.open_log_for_reading();
    if (!log) return s.fail(log.error());
    partitions = (*log)->partitions();
    auto published = (*log)->published_checkpoints();
    if (!published) return s.fail(published.error());
    // Only notes the log's key signed (the folder's, or --key): anyone who may write the topic
    // could put others there.
    auto key = checking_key(s, a);
    if (!key) return s.fail(key.error());
    if (!*key)
      return s.fail(error(errc::invalid_argument, "--key", "give the log's verifier key to pick its checkpoints from the topic"));
    latest.resize(partitions);
    for (auto& [partition, note] : *published) {
      auto c = open_log_checkpoint(note, **key, partitions, "checkpoint", partition);
      if (!c) continue;
      if (c->second.size >= latest[partition].size) latest[partition] = {partition, c->second.size, std::move(note)};
    }
    std::erase_if(latest, [](const signed_checkpoint& c) { return c.note.empty(); });
  } else {
    auto store = s.open_checkpoints();
    if (!store) return s.fail(store.error());
    partitions = std::max<std::uint32_t>(1, (*store)->partitions());
    for (std::uint32_t p = 0; p < (*store)->partitions(); ++p) {
      auto l = (*store)->latest(p);
      if (!l) return s.fail(l.error());
      if (*l) latest.push_back(std::move(**l));
    }
  }
  if (latest.empty()) return s.fail(error(errc::not_found, "checkpoint", "the log has no checkpoint yet (it is empty)"));
  for (std::size_t i = 0; i < latest.size(); ++i) {
    const auto& c = latest[i];
    if (s.json) {
      json_object o;
      if (partitions > 1) o.field("partition", static_cast<std::uint64_t>(c.partition));
      fmt::print(s.out, "{}\n", o.field("tree_size", c.size).field("checkpoint", c.note).str());
    } else {
      fmt::print(s.out, "{}{}", i == 0 ? "" : "\n", c.note);
    }
  }
  return exit_ok;
}

result<std::uint64_t> parse_count(const parsed_args& a, const std::string& name) {
  const std::string& v = a.get(name);
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos)
    return error(errc::invalid_argument, "--" + name, "must be a whole number");
  return std::stoull(v);
}

int proof_cmd(session& s, const parsed_args& a) {
  if (a.has("position") == a.has("from-size"))
    return s.fail(error(errc::invalid_argument, "--position", "give --position (an inclusion proof) or --from-size (a consistency proof)"));
  auto store = s.open_checkpoints();
  if (!store) return s.fail(store.error());
  auto log = s.open_log_for_reading();
  if (!log) return s.fail(log.error());
  std::uint32_t partition = 0;
  if (a.has("partition")) {
    auto p = parse_count(a, "partition");
    if (!p) return s.fail(p.error());
    if (*p >= (*log)->partitions())
      return s.fail(error(errc::invalid_argument, "--partition", fmt::format("must be below {}, the log's partitions", (*log)->partitions())));
    partition = static_cast<std::uint32_t>(*p);
  }
  auto all = (*store)->checkpoints(partition);
  if (!all) return s.fail(all.error());
  if (all->empty()) return s.fail(error(errc::not_found, "checkpoint", "the log has no checkpoint yet"));
  // Against the checkpoint of --tree-size if given (it must be one), else the latest.
  auto chosen = all->end() - 1;
  if (a.has("tree-size")) {
    auto n = parse_count(a, "tree-size");
    if (!n) return s.fail(n.error());
    chosen = std::find_if(all->begin(), all->end(), [&](const auto& c) { return c.size == *n; });
    if (chosen == all->end()) return s.fail(error(errc::not_found, "--tree-size", fmt::format("no checkpoint of size {}", *n)));
  }
  const std::uint64_t size = chosen->size;
  json_object o;
  if ((*log)->partitions() > 1) o.field("partition", static_cast<std::uint64_t>(partition));
  o.field("tree_size", size);
  if (a.has("position")) {
    auto p = parse_count(a, "position");
    if (!p) return s.fail(p.error());
    auto events = (*log)->read_partition(partition, log_position(*p), 1);
    if (!events) return s.fail(events.error());
    if (events->empty() || events->front().position.value() != *p)
      return s.fail(error(errc::not_found, "--position", fmt::format("no event at position {}", *p)));
    auto leaf = (*store)->leaf_at(partition, log_position(*p), **log);
    if (!leaf && leaf.error().code() == errc::not_found)
      return s.fail(error(errc::invalid_argument, "--position", "the event is not yet in a signed checkpoint"));
    if (!leaf) return s.fail(leaf.error());
    if (*leaf >= size)
      return s.fail(error(errc::invalid_argument, "--position",
                          fmt::format("the event is leaf {}, not below {}, the checkpoint's size", *leaf, size)));
    auto proof = (*store)->inclusion_proof(partition, *leaf, size, **log);
    if (!proof) return s.fail(proof.error());
    o.field("position", *p).field("leaf_index", *leaf);  // only hashes: which stream is where is not anyone's to know
    o.field("leaf_hash", base64(merkle::leaf_hash(events->front().bytes))).raw("inclusion_proof", b64_list(*proof));
  } else {
    auto m = parse_count(a, "from-size");
    if (!m) return s.fail(m.error());
    if (*m == 0 || *m > size)
      return s.fail(error(errc::invalid_argument, "--from-size", fmt::format("must be from 1 to {}, the checkpoint's size", size)));
    auto proof = (*store)->consistency_proof(partition, *m, size, **log);
    if (!proof) return s.fail(proof.error());
    auto old_root = (*store)->root_at(partition, *m, **log);
    if (!old_root) return s.fail(old_root.error());
    o.field("from_size", *m).field("from_root", base64(*old_root)).raw("consistency_proof", b64_list(*proof));
  }
  o.field("checkpoint", chosen->note);
  fmt::print(s.out, "{}\n", o.str());
  return exit_ok;
}

int keys_generate(session& s, const parsed_args& a) {
  const std::string origin = a.has("origin") ? a.get("origin") : "sazesh.local/log-" + random_hex(4);
  auto key = create_signing_key_file(s.signing_key_file(), origin);
  if (!key) return s.fail(key.error().field() == "origin" ? error(errc::invalid_argument, "--origin", key.error().rule()) : key.error());
  if (s.json)
    fmt::print(s.out, "{}\n", json_object().field("file", s.signing_key_file().string())
                                  .field("verifier_key", verifier_key_text(key->verifier())).str());
  else
    fmt::print(s.out, "signing key written to {} (keep it secret; it signs the log's checkpoints)\nverifier key:\n{}\n",
               s.signing_key_file().string(), verifier_key_text(key->verifier()));
  return exit_ok;
}

int keys_show(session& s, const parsed_args&) {
  auto key = read_signing_key_file(s.signing_key_file());
  if (!key) return s.fail(key.error());
  if (s.json)
    fmt::print(s.out, "{}\n", json_object().field("file", s.signing_key_file().string())
                                  .field("origin", key->name).field("verifier_key", verifier_key_text(key->verifier())).str());
  else
    fmt::print(s.out, "{}\n", verifier_key_text(key->verifier()));
  return exit_ok;
}

}  // namespace

void add_integrity_commands(std::vector<command_spec>& t) {
  const std::string group = "integrity: the log's hash chains, Merkle tree and signed checkpoints";
  t.push_back({"verify", group,
               "check the whole log: records, bookkeeping, hash chains, Merkle tree, signed checkpoints (auditor)",
               {{"key", "VKEY", "the log's verifier key, NAME+ID+KEY, to check checkpoints with (default: the folder's own key)"},
                {"key-file", "FILE", "the same, from a file"},
                {"since", "FILE", "a checkpoint published earlier: prove the log only grew since"}},
               verify, uses::read});
  t.push_back({"checkpoint", group, "the latest signed checkpoint of the log (C2SP tlog-checkpoint)",
               {{"start-over", "", "sign the log as it now stands, when its checkpoints were lost (an operator's decision)"},
                {"key", "VKEY", "on Kafka: the log's verifier key, to pick its checkpoints from the topic (default: the folder's)"},
                {"key-file", "FILE", "the same, from a file"}},
               checkpoint_cmd, uses::log | uses::rules | uses::json});
  t.push_back({"proof", group, "an inclusion proof of an event, or a consistency proof between two checkpoints",
               {{"position", "N", "the event at this log position (Kafka: offset): its inclusion proof"},
                {"partition", "P", "the partition of the event or tree (Kafka; default 0)"},
                {"from-size", "M", "the tree of the first M events: its consistency proof"},
                {"tree-size", "N", "against the checkpoint of this size (default: the latest)"}},
               proof_cmd, uses::log});
  t.push_back({"keys-generate", group, "make the key that signs the log's checkpoints ($SAZESH_SIGNING_KEY or DATA_DIR/keys)",
               {{"origin", "NAME", "the log's name in its checkpoints, e.g. example.org/complaints (default: random)"}},
               keys_generate, uses::log | uses::json});
  t.push_back({"keys-show", group, "the verifier key of the log's signing key: give it to auditors and agencies", {},
               keys_show, uses::log | uses::json});
}

}  // namespace sazesh::cli
