// The log's tamper evidence: the Merkle tree's hashing and proofs against RFC 6962's own
// recursive definitions, signed checkpoints, and a tamper suite over copies of a real data folder
// (the main job's): every byte of an event, every kind of bookkeeping record, deleted events,
// cases and tails, swaps, rewrites re-hashed without the key, and a rewrite re-signed with it
// after a checkpoint was published. `sazesh verify` must refuse every one; bundles are checked by
// the standalone verifier (tools/verify-bundle.py).
#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "cli/app.h"
#include "cli/feed_line.h"
#include "engine/agency_feed.h"
#include "engine/log/checkpoint_store.h"
#include "engine/record/checkpoint.h"
#include "engine/record/codec.h"
#include "engine/record/hash.h"
#include "engine/record/merkle.h"
#include "schemas/dossier_generated.h"
#include "tests/integrity_probe.h"
#include "tests/temp_dir.h"

namespace sazesh {
namespace {

// ---- RFC 6962's definitions, written as the RFC states them (recursive, over the leaves) ----

std::string mth(const std::vector<std::string>& leaves, std::size_t begin, std::size_t n) {
  if (n == 0) return sha256("");
  if (n == 1) return merkle::leaf_hash(leaves[begin]);
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return merkle::node_hash(mth(leaves, begin, k), mth(leaves, begin + k, n - k));
}

std::vector<std::string> rfc_path(const std::vector<std::string>& leaves, std::size_t m, std::size_t begin, std::size_t n) {
  if (n == 1) return {};
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  std::vector<std::string> p;
  if (m < k) {
    p = rfc_path(leaves, m, begin, k);
    p.push_back(mth(leaves, begin + k, n - k));
  } else {
    p = rfc_path(leaves, m - k, begin + k, n - k);
    p.push_back(mth(leaves, begin, k));
  }
  return p;
}

std::vector<std::string> rfc_subproof(const std::vector<std::string>& leaves, std::size_t m, std::size_t begin, std::size_t n,
                                      bool b) {
  if (m == n) return b ? std::vector<std::string>{} : std::vector<std::string>{mth(leaves, begin, n)};
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  std::vector<std::string> p;
  if (m <= k) {
    p = rfc_subproof(leaves, m, begin, k, b);
    p.push_back(mth(leaves, begin + k, n - k));
  } else {
    p = rfc_subproof(leaves, m - k, begin + k, n - k, false);
    p.push_back(mth(leaves, begin, k));
  }
  return p;
}

std::vector<std::string> some_leaves(std::size_t n) {
  std::vector<std::string> leaves;
  for (std::size_t i = 0; i < n; ++i) leaves.push_back("leaf " + std::to_string(i * 7919 % 1009));
  return leaves;
}

merkle::subtree_fn subtrees_of(const std::vector<std::string>& leaves) {
  return [&leaves](unsigned level, std::uint64_t index) -> result<std::string> {
    return mth(leaves, static_cast<std::size_t>(index << level), std::size_t{1} << level);
  };
}

TEST_CASE("merkle: roots, inclusion and consistency proofs are RFC 6962's, and only true ones verify") {
  const auto leaves = some_leaves(70);
  const auto subtree = subtrees_of(leaves);
  CHECK(*merkle::root(0, subtree) == sha256(""));
  for (std::size_t n = 1; n <= leaves.size(); ++n) {
    const std::string root = mth(leaves, 0, n);
    REQUIRE(*merkle::root(n, subtree) == root);
    merkle::compact_range range;
    for (std::size_t i = 0; i < n; ++i) range.push(merkle::leaf_hash(leaves[i]));
    CHECK(range.root() == root);
    for (std::size_t m = 0; m < n; ++m) {
      auto proof = merkle::inclusion_proof(m, n, subtree);
      REQUIRE(proof.has_value());
      CHECK(*proof == rfc_path(leaves, m, 0, n));
      CHECK(merkle::verify_inclusion(m, n, merkle::leaf_hash(leaves[m]), *proof, root));
      CHECK_FALSE(merkle::verify_inclusion(m, n, merkle::leaf_hash("another leaf"), *proof, root));
      if (n > 1) CHECK_FALSE(merkle::verify_inclusion((m + 1) % n, n, merkle::leaf_hash(leaves[m]), *proof, root));
      if (!proof->empty()) {
        auto bent = *proof;
        bent.back()[0] = static_cast<char>(bent.back()[0] ^ 1);
        CHECK_FALSE(merkle::verify_inclusion(m, n, merkle::leaf_hash(leaves[m]), bent, root));
      }
    }
    for (std::size_t m = 1; m <= n; ++m) {
      auto proof = merkle::consistency_proof(m, n, subtree);
      REQUIRE(proof.has_value());
      CHECK(*proof == rfc_subproof(leaves, m, 0, n, true));
      const std::string old_root = mth(leaves, 0, m);
      CHECK(merkle::verify_consistency(m, n, old_root, root, *proof));
      CHECK_FALSE(merkle::verify_consistency(m, n, merkle::leaf_hash("x"), root, *proof));
      if (m < n) {
        CHECK_FALSE(merkle::verify_consistency(m, n, old_root, merkle::leaf_hash("x"), *proof));
        // A tree whose first m leaves differ is not consistent with the old one.
        auto forked = leaves;
        forked[m - 1] += "!";
        CHECK_FALSE(merkle::verify_consistency(m, n, old_root, mth(forked, 0, n), *proof));
      }
    }
  }
  // A range resumed from its right edge goes on as the one it was taken from.
  merkle::compact_range a;
  for (std::size_t i = 0; i < 37; ++i) a.push(merkle::leaf_hash(leaves[i]));
  auto b = merkle::compact_range::resume(a.size(), a.edge());
  REQUIRE(b.has_value());
  for (std::size_t i = 37; i < 70; ++i) b->push(merkle::leaf_hash(leaves[i]));
  CHECK(b->root() == mth(leaves, 0, 70));
  CHECK_FALSE(merkle::compact_range::resume(39, a.edge()).has_value());
}

TEST_CASE("base64: what base64() writes reads back, and only canonical text reads at all") {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    CHECK(from_base64(base64(bytes)) == bytes);
    bytes += static_cast<char>(n * 37 + 11);
  }
  CHECK(base64("\xff\xfe") == "//4=");
  CHECK(from_base64("QQ==") == std::string("A"));
  for (const char* bad : {"QQ=", "QR==", "Q===", "QQ==QQ==", "Q Q=", "QQ-=", "===="}) CHECK_MESSAGE(!from_base64(bad), bad);
}

TEST_CASE("checkpoints: a signed note verifies under its key only, and any change to it is refused") {
  auto key = generate_signing_key("example.org/complaints");
  REQUIRE(key.has_value());
  auto again = parse_signer_key(signer_key_text(*key));
  REQUIRE(again.has_value());
  CHECK(again->public_key == key->public_key);
  auto vkey = parse_verifier_key(verifier_key_text(key->verifier()));
  REQUIRE(vkey.has_value());
  CHECK(vkey->id == key->id);

  const checkpoint c{"example.org/complaints", 1234, sha256("root")};
  const std::string note = sign_note(checkpoint_text(c), *key);
  auto opened = open_checkpoint(note, *vkey);
  REQUIRE(opened.has_value());
  CHECK(*opened == c);
  // Every byte of the note matters: a change is a refusal (or, in the signature's key name or
  // id, a note no longer signed by this key).
  for (std::size_t i = 0; i < note.size(); ++i) {
    std::string bent = note;
    bent[i] = static_cast<char>(bent[i] ^ 0x01);
    auto r = open_checkpoint(bent, *vkey);
    CHECK_MESSAGE(!r.has_value(), "byte ", i, " of the note changed and it still verified");
  }
  // Another key's signature line is ignored; another key alone is refused.
  auto witness = generate_signing_key("witness.example/w1");
  const std::string cosigned = note + sign_note(checkpoint_text(c), *witness).substr(checkpoint_text(c).size() + 1);
  CHECK(open_checkpoint(cosigned, *vkey).has_value());
  CHECK_FALSE(open_checkpoint(sign_note(checkpoint_text(c), *witness), *vkey).has_value());
  // Keys with '+' in their base64 parse; malformed ones are refused with the field named.
  CHECK_FALSE(parse_verifier_key("example.org+zzzzzzzz+AAAA").has_value());
  CHECK(parse_verifier_key("no-plus-signs", "--key").error().field() == "--key");
  CHECK_FALSE(generate_signing_key("has space").has_value());
  CHECK_FALSE(generate_signing_key("has+plus").has_value());
}

// ---- the tamper suite ----------------------------------------------------------------------

struct run_result {
  int code;
  std::string out, err;
};

run_result sazesh_cli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = cli::run(args, out, err);
  return {code, out.str(), err.str()};
}

// The main job's folder, made once: 90 events, documents, a referral, a signed checkpoint.
const std::filesystem::path& demo_folder() {
  static temp_dir dir;
  static const std::filesystem::path data = [] {
    const auto d = dir.path() / "data";
    const auto r = sazesh_cli({"demo", "--data-dir-fresh", d.string()});
    if (r.code != 0) throw std::runtime_error("demo failed: " + r.err);
    return d;
  }();
  return data;
}

// A copy of the demo's folder to damage.
struct folder_copy {
  temp_dir dir;
  std::filesystem::path data = dir.path() / "data";
  folder_copy() { std::filesystem::copy(demo_folder(), data, std::filesystem::copy_options::recursive); }
};

run_result verify(const std::filesystem::path& data, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--data-dir", data.string(), "--as", "auditor:audit", "verify"};
  args.insert(args.end(), extra.begin(), extra.end());
  return sazesh_cli(args);
}

// The log's database opened directly, as someone with write access to the folder would.
class raw_log {
 public:
  explicit raw_log(const std::filesystem::path& data) {
    rocksdb::Options options;
    rocksdb::DB* raw = nullptr;
    const auto s = rocksdb::DB::Open(options, (data / "log").string(), &raw);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    db_.reset(raw);
  }
  std::map<std::string, std::string> kind(char k) {
    std::map<std::string, std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(std::string(1, k)); it->Valid() && it->key()[0] == k; it->Next()) out[it->key().ToString()] = it->value().ToString();
    return out;
  }
  void put(const std::string& k, const std::string& v) { REQUIRE(db_->Put(rocksdb::WriteOptions(), k, v).ok()); }
  void del(const std::string& k) { REQUIRE(db_->Delete(rocksdb::WriteOptions(), k).ok()); }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

std::string event_key(std::uint64_t position) {
  std::string k(1, 'e');
  for (int i = 7; i >= 0; --i) k += static_cast<char>((position >> (8 * i)) & 0xff);
  return k;
}
std::uint64_t position_of(const std::string& event_key_or_value, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(event_key_or_value[at + i]);
  return v;
}
// An event value: u64 sequence, u32 stream length, stream, envelope.
std::size_t envelope_offset(const std::string& value) {
  std::uint32_t n = 0;
  for (std::size_t i = 8; i < 12; ++i) n = (n << 8) | static_cast<unsigned char>(value[i]);
  return 12 + n;
}
std::string stream_of(const std::string& value) { return value.substr(12, envelope_offset(value) - 12); }

// The case the demo referred to an agency, and the positions of each stream's events.
std::map<std::string, std::vector<std::uint64_t>> streams(raw_log& log) {
  std::map<std::string, std::vector<std::uint64_t>> out;
  for (const auto& [k, v] : log.kind('e')) out[stream_of(v)].push_back(position_of(k, 1));
  return out;
}

void expect_refused(const std::filesystem::path& data, const std::string& what, const std::vector<std::string>& extra = {}) {
  const auto r = verify(data, extra);
  INFO(what << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.code != 0);
  CHECK(r.err.find("error: ") != std::string::npos);
}

TEST_CASE("tamper: the untouched folder verifies, and so does every copy after its damage is undone") {
  folder_copy f;
  const auto r = verify(f.data);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("1 signed checkpoint(s)") != std::string::npos);
}

TEST_CASE("tamper: a flipped bit anywhere in an event (header or envelope) is found, the last event of a case included") {
  folder_copy f;
  std::string key, original;
  {
    raw_log log(f.data);
    auto all = streams(log);
    // The last event of the case with the most events: nothing in its stream follows it.
    auto longest = std::max_element(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
    key = event_key(longest->second.back());
    original = log.kind('e').at(key);
  }
  std::size_t refused = 0;
  for (std::size_t i = 0; i < original.size(); ++i) {
    {
      raw_log log(f.data);
      std::string bent = original;
      bent[i] = static_cast<char>(bent[i] ^ (1u << (i % 8)));
      log.put(key, bent);
    }
    const auto r = verify(f.data);
    CHECK_MESSAGE(r.code != 0, "byte ", i, " of ", original.size(), " flipped and verify said: ", r.out);
    refused += r.code != 0;
    raw_log(f.data).put(key, original);
  }
  MESSAGE(refused, " of ", original.size(), " flipped bytes refused");
  CHECK(verify(f.data).code == 0);
}

TEST_CASE("tamper: flips in sampled bytes of every event are found") {
  folder_copy f;
  std::map<std::string, std::string> events;
  {
    raw_log log(f.data);
    events = log.kind('e');
  }
  std::mt19937_64 rng(7);
  for (const auto& [k, v] : events) {
    const std::size_t at = envelope_offset(v) + rng() % (v.size() - envelope_offset(v));
    {
      raw_log log(f.data);
      std::string bent = v;
      bent[at] = static_cast<char>(bent[at] ^ 0x20);
      log.put(k, bent);
    }
    expect_refused(f.data, "envelope byte flipped at position " + std::to_string(position_of(k, 1)));
    raw_log(f.data).put(k, v);
  }
  CHECK(verify(f.data).code == 0);
}

TEST_CASE("tamper: the stream index and the command records must agree with the events") {
  folder_copy f;
  std::map<std::string, std::string> index, commands;
  {
    raw_log log(f.data);
    index = log.kind('s');
    commands = log.kind('c');
  }
  REQUIRE(index.size() == 90);
  std::mt19937_64 rng(11);
  for (int round = 0; round < 12; ++round) {
    auto it = std::next(index.begin(), static_cast<long>(rng() % index.size()));
    {  // an index entry pointing elsewhere
      raw_log log(f.data);
      std::string v = it->second;
      v[7] = static_cast<char>(v[7] ^ 0x01);
      log.put(it->first, v);
    }
    expect_refused(f.data, "an index entry pointing at another event");
    raw_log(f.data).put(it->first, it->second);
    {  // an index entry removed
      raw_log(f.data).del(it->first);
    }
    expect_refused(f.data, "an index entry removed");
    raw_log(f.data).put(it->first, it->second);

    auto c = std::next(commands.begin(), static_cast<long>(rng() % commands.size()));
    for (std::size_t at : {std::size_t{7}, std::size_t{15}, std::size_t{23}}) {  // first sequence, count, first position
      {
        raw_log log(f.data);
        std::string v = c->second;
        v[at] = static_cast<char>(v[at] ^ 0x01);
        log.put(c->first, v);
      }
      if (position_of(c->second, 8) > 0 || at != 15)  // a command with no events names none either way
        expect_refused(f.data, "a command record's field changed at byte " + std::to_string(at));
      raw_log(f.data).put(c->first, c->second);
    }
  }
  CHECK(verify(f.data).code == 0);
}

TEST_CASE("tamper: deleted events, cases and tails, and swapped events are found") {
  {
    folder_copy f;  // a whole case: its events, index keys and command records
    {
      raw_log log(f.data);
      auto all = streams(log);
      const auto victim = std::find_if(all.begin(), all.end(), [](const auto& s) { return s.first.rfind("C-", 0) == 0; });
      REQUIRE(victim != all.end());
      for (auto p : victim->second) log.del(event_key(p));
      for (const auto& [k, v] : log.kind('s'))
        if (k.substr(1, victim->first.size()) == victim->first && k[1 + victim->first.size()] == '\0') log.del(k);
      for (const auto& [k, v] : log.kind('c'))
        if (v.substr(24) == victim->first) log.del(k);
    }
    expect_refused(f.data, "a whole case deleted");
  }
  {
    folder_copy f;  // the log's last event, its index key and its command record
    {
      raw_log log(f.data);
      const auto events = log.kind('e');
      const auto& [k, v] = *events.rbegin();
      const auto stream = stream_of(v);
      log.del(k);
      for (const auto& [ik, iv] : log.kind('s'))
        if (iv == k.substr(1)) log.del(ik);
      for (const auto& [ck, cv] : log.kind('c'))
        if (position_of(cv, 16) == position_of(k, 1)) log.del(ck);
    }
    expect_refused(f.data, "the last event cut");
  }
  {
    folder_copy f;  // a case's last event in the middle of the log
    {
      raw_log log(f.data);
      auto all = streams(log);
      const auto events = log.kind('e');
      const std::uint64_t end = events.size();
      for (const auto& [stream, positions] : all) {
        if (stream.rfind("C-", 0) != 0 || positions.back() + 10 > end) continue;
        log.del(event_key(positions.back()));
        break;
      }
    }
    expect_refused(f.data, "a case's last event cut from the middle of the log");
  }
  {
    folder_copy f;  // two events swapped
    {
      raw_log log(f.data);
      const auto events = log.kind('e');
      const auto a = std::next(events.begin(), 20);
      const auto b = std::next(events.begin(), 21);
      log.put(a->first, b->second);
      log.put(b->first, a->second);
    }
    expect_refused(f.data, "two events swapped");
  }
}

// Changes one ASCII letter of a case's event and re-hashes the rest of its chain, as someone who
// knows the format but not the key would: every link holds again. Returns the stream.
std::string rewrite_and_rehash(const std::filesystem::path& data) {
  raw_log log(data);
  auto all = streams(log);
  auto events = log.kind('e');
  for (const auto& [stream, positions] : all) {
    if (stream.rfind("C-", 0) != 0 || positions.size() < 4) continue;
    // The actor id of its second event: ASCII, inside the envelope.
    const std::string key = event_key(positions[1]);
    std::string value = events.at(key);
    const std::size_t env = envelope_offset(value);
    auto rec = decode(value.substr(env));
    REQUIRE(rec.has_value());
    const auto at = value.find(rec->by.id, env);
    REQUIRE(at != std::string::npos);
    std::string old_hash = sha256(value.substr(env));
    value[at + rec->by.id.size() - 1] = static_cast<char>(value[at + rec->by.id.size() - 1] ^ 0x01);
    REQUIRE(decode(value.substr(env)).has_value());
    log.put(key, value);
    std::string new_hash = sha256(value.substr(env));
    for (std::size_t i = 2; i < positions.size(); ++i) {
      const std::string k = event_key(positions[i]);
      std::string v = events.at(k);
      const auto link = v.find(old_hash, envelope_offset(v));
      REQUIRE(link != std::string::npos);
      old_hash = sha256(v.substr(envelope_offset(v)));
      v.replace(link, 32, new_hash);
      REQUIRE(decode(v.substr(envelope_offset(v))).has_value());
      log.put(k, v);
      new_hash = sha256(v.substr(envelope_offset(v)));
    }
    return stream;
  }
  FAIL("no case long enough to rewrite");
  return {};
}

TEST_CASE("tamper: a rewrite re-hashed without the key breaks the signed Merkle root") {
  folder_copy f;
  const std::string stream = rewrite_and_rehash(f.data);
  // Every chain holds, and the bookkeeping agrees: only the signed root can tell.
  CHECK(sazesh_cli({"--data-dir", f.data.string(), "--as", "auditor:audit", "show", "--case", stream}).code == 0);
  const auto r = verify(f.data);
  INFO(r.err);
  CHECK(r.code != 0);
  CHECK(r.err.find("was changed") != std::string::npos);
  // And its bundle is refused before it is written: the envelopes are not in the signed tree.
  const auto bundle = f.dir.path() / "b.tar";
  const auto b = sazesh_cli({"--data-dir", f.data.string(), "--as", "auditor:audit", "dossier", "--agency", "consumer-protection",
                             "--case", stream, "--bundle", bundle.string()});
  CHECK(b.code != 0);
  CHECK_FALSE(std::filesystem::exists(bundle));
}

TEST_CASE("tamper: a rewrite signed again with the key is caught by a checkpoint published before it") {
  folder_copy f;
  const auto published = f.dir.path() / "published.txt";
  {
    const auto cp = sazesh_cli({"--data-dir", f.data.string(), "checkpoint"});
    REQUIRE(cp.code == 0);
    std::ofstream(published) << cp.out;
  }
  // The log grows; then an insider rewrites an old event, rebuilds the state rows, throws the
  // checkpoints away and signs the rewritten log with the log's own key.
  REQUIRE(sazesh_cli({"--data-dir", f.data.string(), "--as", "operator:ops", "register-business", "--seal-id", "1900", "--domain",
                      "late.ir", "--name", "late"}).code == 0);
  rewrite_and_rehash(f.data);
  std::filesystem::remove_all(f.data / "checkpoints");
  // (rebuild says the live rows differed from the log's fold, and replaces them with it)
  sazesh_cli({"--data-dir", f.data.string(), "rebuild"});
  // Nothing signs a log whose checkpoints are gone by itself: a write is not signed ...
  const auto write = sazesh_cli({"--data-dir", f.data.string(), "--as", "operator:ops", "register-business", "--seal-id", "1901",
                                 "--domain", "later.ir", "--name", "later"});
  CHECK(write.code == 0);
  CHECK(write.err.find("checkpoint --start-over") != std::string::npos);
  expect_refused(f.data, "checkpoints removed, then a write");
  // ... until someone holding the key says so.
  const auto forged = sazesh_cli({"--data-dir", f.data.string(), "checkpoint", "--start-over"});
  INFO(forged.err);
  REQUIRE(forged.code == 0);
  const auto plain = verify(f.data);
  INFO(plain.out << plain.err);
  CHECK(plain.code == 0);  // the forgery holds on its own terms
  const auto since = verify(f.data, {"--since", published.string()});
  INFO(since.err);
  CHECK(since.code != 0);
  CHECK(since.err.find("root the checkpoint of that size signed") != std::string::npos);
  // An honest log passes the same check.
  folder_copy honest;
  REQUIRE(sazesh_cli({"--data-dir", honest.data.string(), "--as", "operator:ops", "register-business", "--seal-id", "1900", "--domain",
                      "late.ir", "--name", "late"}).code == 0);
  const auto grown = verify(honest.data, {"--since", published.string()});
  INFO(grown.err);
  CHECK(grown.code == 0);
  CHECK(grown.out.find("only grew since") != std::string::npos);
}

TEST_CASE("tamper: checkpoints removed, or the key and the checkpoints, or signed by another key, are refused") {
  {
    folder_copy f;
    std::filesystem::remove_all(f.data / "checkpoints");
    expect_refused(f.data, "checkpoints removed");
    expect_refused(f.data, "checkpoints removed, verified a second time");  // verify signs nothing
  }
  {
    folder_copy f;
    const auto vkey = sazesh_cli({"--data-dir", f.data.string(), "keys", "show"}).out;
    std::filesystem::remove_all(f.data / "checkpoints");
    std::filesystem::remove_all(f.data / "keys");
    expect_refused(f.data, "key and checkpoints removed");
    // A write then signs with a new key: the log's own key, held elsewhere, refuses that.
    REQUIRE(sazesh_cli({"--data-dir", f.data.string(), "--as", "operator:ops", "register-business", "--seal-id", "1902",
                        "--domain", "new.ir", "--name", "new"}).code == 0);
    expect_refused(f.data, "signed by a new key", {"--key", vkey.substr(0, vkey.find('\n'))});
  }
  {
    folder_copy f;
    auto other = generate_signing_key("someone.else/log");
    REQUIRE(other.has_value());
    expect_refused(f.data, "checked against another key", {"--key", verifier_key_text(other->verifier())});
  }
}

std::string be(std::uint64_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

TEST_CASE("checkpoints kept in format 1 are rewritten as format 2 when first opened, and hold as they did") {
  folder_copy f;
  auto key = read_signing_key_file(f.data / "keys" / "signing.key");
  REQUIRE(key.has_value());
  // A format 1 store of the log as it stands, written here from the log's events.
  std::string old_note;
  std::uint64_t size = 0;
  {
    raw_log log(f.data);
    merkle::compact_range tree;
    std::map<std::string, std::string> rows;
    for (const auto& [k, v] : log.kind('e'))
      tree.push(merkle::leaf_hash(v.substr(envelope_offset(v))), [&](unsigned level, std::uint64_t index, const std::string& h) {
        if (level >= 4 && level % 4 == 0) rows["n" + be(level, 1) + be(index, 8)] = h;
      });
    size = tree.size();
    std::string edge = be(size, 8);
    for (const auto& h : tree.edge()) edge += h;
    rows["r"] = edge;
    old_note = sign_note(checkpoint_text({key->name, size, tree.root()}), *key);
    rows["k" + be(size, 8)] = old_note;
    rows["mformat_version"] = be(1, 4);
    rows["mverifier_key"] = verifier_key_text(key->verifier());
    std::filesystem::remove_all(f.data / "checkpoints");
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, (f.data / "checkpoints").string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (const auto& [k, v] : rows) REQUIRE(db->Put(rocksdb::WriteOptions(), k, v).ok());
  }
  // A reader's first open upgrades it: the old checkpoint is the latest, proofs work against it.
  const auto r = verify(f.data);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(sazesh_cli({"--data-dir", f.data.string(), "checkpoint"}).out == old_note);
  auto c = open_checkpoint(old_note, key->verifier());
  REQUIRE(c.has_value());
  const auto p = sazesh_cli({"--data-dir", f.data.string(), "proof", "--position", "17"});
  REQUIRE(p.code == 0);
  CHECK(p.out.find("\"leaf_index\":17") != std::string::npos);
  // The log grows and is signed on: the upgraded tree goes on from where format 1 left it.
  REQUIRE(sazesh_cli({"--data-dir", f.data.string(), "--as", "operator:ops", "register-business", "--seal-id", "1903",
                      "--domain", "grown.ir", "--name", "grown"}).code == 0);
  temp_dir keep;
  const auto since = keep.path() / "old.txt";
  std::ofstream(since) << old_note;
  const auto after = verify(f.data, {"--since", since.string()});
  INFO(after.out << after.err);
  CHECK(after.code == 0);
  CHECK(sazesh_cli({"--data-dir", f.data.string(), "checkpoint"}).out != old_note);
}

TEST_CASE("proofs and bundles: the CLI's proofs verify, and the standalone verifier accepts a real bundle") {
  const auto& data = demo_folder();
  const auto vkey = sazesh_cli({"--data-dir", data.string(), "keys", "show"});
  REQUIRE(vkey.code == 0);
  auto key = parse_verifier_key(vkey.out);
  REQUIRE(key.has_value());
  const auto cp = sazesh_cli({"--data-dir", data.string(), "checkpoint"});
  auto c = open_checkpoint(cp.out, *key);
  REQUIRE(c.has_value());
  const auto member = json_member;
  const auto list = base64_hashes;
  for (std::uint64_t p : {std::uint64_t{0}, std::uint64_t{17}, c->size - 1}) {
    const auto r = sazesh_cli({"--data-dir", data.string(), "proof", "--position", std::to_string(p)});
    REQUIRE(r.code == 0);
    const auto leaf = list("[" + member(r.out, "leaf_hash") + "]").front();
    CHECK(merkle::verify_inclusion(p, c->size, leaf, list(member(r.out, "inclusion_proof")), c->root));
  }
  const auto r = sazesh_cli({"--data-dir", data.string(), "proof", "--from-size", "33"});
  REQUIRE(r.code == 0);
  const auto old_root = list("[" + member(r.out, "from_root") + "]").front();
  CHECK(merkle::verify_consistency(33, c->size, old_root, c->root, list(member(r.out, "consistency_proof"))));
  CHECK(sazesh_cli({"--data-dir", data.string(), "proof", "--position", std::to_string(c->size)}).code != 0);

  // The referred case's bundle, checked by tools/verify-bundle.py with nothing of Sazesh.
  const auto queue = sazesh_cli({"--data-dir", data.string(), "--as", "auditor:audit", "--json", "queue", "--agency",
                                 "consumer-protection", "--all"});
  REQUIRE(queue.code == 0);
  const std::string case_id = member(queue.out, "case");
  temp_dir out;
  const auto bundle = out.path() / "case.tar";
  const auto b = sazesh_cli({"--data-dir", data.string(), "--as", "auditor:audit", "dossier", "--agency", "consumer-protection",
                             "--case", case_id.substr(1, case_id.size() - 2), "--bundle", bundle.string()});
  INFO(b.err);
  REQUIRE(b.code == 0);
  const auto [verified, output] = run_bundle_verifier(bundle, verifier_key_text(*key));
  INFO(output);
  CHECK(verified == 0);
  CHECK(output.rfind("ok: case C-", 0) == 0);
}

}  // namespace
}  // namespace sazesh

namespace sazesh {
namespace {

TEST_CASE("show --as-of: the case as it stood at each of its events' moments") {
  const auto& data = demo_folder();
  const auto queue = sazesh_cli({"--data-dir", data.string(), "--as", "auditor:audit", "--json", "queue", "--agency",
                                 "consumer-protection", "--all"});
  REQUIRE(queue.code == 0);
  std::smatch m;
  REQUIRE(std::regex_search(queue.out, m, std::regex("\"case\":\"(C-[A-Z0-9]+)\"")));
  const std::string case_id = m[1].str();
  const auto show = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--data-dir", data.string(), "--as", "auditor:audit", "--json", "show", "--case", case_id};
    args.insert(args.end(), extra.begin(), extra.end());
    return sazesh_cli(args);
  };
  const auto now = show({});
  REQUIRE(now.code == 0);
  std::vector<std::string> times;
  const std::regex time_re("\"time\":\"([^\"]+)\"");
  for (auto it = std::sregex_iterator(now.out.begin(), now.out.end(), time_re); it != std::sregex_iterator(); ++it)
    times.push_back((*it)[1].str());
  REQUIRE(times.size() > 5);
  const auto status_of = [](const std::string& json) {
    std::smatch s;
    REQUIRE(std::regex_search(json, s, std::regex("\"status\":\"([a-z_]+)\"")));
    return s[1].str();
  };
  std::set<std::string> statuses;
  for (const auto& t : times) {
    const auto then = show({"--as-of", t});
    INFO(t << " " << then.err);
    REQUIRE(then.code == 0);
    const auto expected = static_cast<std::ptrdiff_t>(std::count_if(times.begin(), times.end(), [&](const auto& x) { return x <= t; }));
    CHECK(std::distance(std::sregex_iterator(then.out.begin(), then.out.end(), time_re), std::sregex_iterator()) == expected);
    statuses.insert(status_of(then.out));
  }
  CHECK(statuses.size() >= 3);  // it went through several states
  CHECK(status_of(show({"--as-of", times.back()}).out) == status_of(now.out));
  CHECK(show({"--as-of", "1390/01/01"}).code == 1);
  CHECK(show({"--as-of", "yesterday"}).code != 0);
}

}  // namespace
}  // namespace sazesh

namespace sazesh {
namespace {

// Every event of the log in log order, decoded.
template <class Each>
void for_each_event(event_log& log, Each each) {
  for (log_position from(0);;) {
    auto batch = log.read_all(from, 1024);
    REQUIRE(batch.has_value());
    for (const auto& e : *batch) {
      auto r = decode(e.bytes);
      REQUIRE(r.has_value());
      each(e, *r);
    }
    if (batch->size() < 1024) break;
    from = log_position(batch->back().position.value() + 1);
  }
}

TEST_CASE("checkpoints: many inclusion proofs in one go are each the proof asked alone, at every size") {
  const auto& data = demo_folder();
  auto log = open_embedded_log(data / "log", embedded_log_options{.follower = true});
  REQUIRE(log.has_value());
  auto store = checkpoint_store::open(data / "checkpoints", checkpoint_store::access::read);
  REQUIRE(store.has_value());
  const std::uint64_t held = (*store)->size(0);
  REQUIRE(held > 40);  // a tree with several kept levels' worth of subtrees
  for (const std::uint64_t size : {held, held - 1, held / 2 + 3, std::uint64_t{17}, std::uint64_t{1}}) {
    // Every leaf, backwards and with repeats, so shared subtrees are asked for in every order.
    std::vector<std::uint64_t> leaves;
    for (std::uint64_t i = size; i-- > 0;) leaves.push_back(i);
    leaves.push_back(0);
    leaves.push_back(size - 1);
    auto together = (*store)->inclusion_proofs(0, leaves, size, **log);
    REQUIRE_MESSAGE(together.has_value(), together.error().message());
    REQUIRE(together->size() == leaves.size());
    auto root = (*store)->root_at(0, size, **log);
    REQUIRE(root.has_value());
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      auto alone = (*store)->inclusion_proof(0, leaves[i], size, **log);
      REQUIRE(alone.has_value());
      CHECK((*together)[i] == *alone);
      auto leaf = (*store)->leaves(0, leaves[i], 1, **log);
      REQUIRE((leaf.has_value() && leaf->size() == 1));
      CHECK(merkle::verify_inclusion(leaves[i], size, merkle::leaf_hash(leaf->front().bytes), (*together)[i], *root));
    }
  }
  auto past = (*store)->inclusion_proofs(0, {held}, held, **log);
  REQUIRE_FALSE(past.has_value());
  CHECK(past.error().field() == "position");
}

TEST_CASE("an agency's feed: dossiers built from remembered histories are those built from the log, however little is kept") {
  const auto& data = demo_folder();
  auto log = open_embedded_log(data / "log", embedded_log_options{.follower = true});
  REQUIRE(log.has_value());
  stream_history roomy(**log);
  stream_history cramped(**log, 2000);  // starts again empty every few streams
  // Told each event as the relay walks the log, as the relay does.
  stream_history fed(**log);
  stream_history fed_cramped(**log, 2000);
  // Told each event with its decoding, as the relay tells it.
  stream_history fed_decoded(**log);
  stream_history fed_decoded_cramped(**log, 2000);
  std::size_t dossiers = 0;
  for_each_event(**log, [&](const stored_event& e, const event_record& r) {
    auto fresh = agency_side_records(**log, {r}, {e.bytes});
    std::vector<result<std::vector<side_record>>> built;
    for (stream_history* h : {&roomy, &cramped, &fed, &fed_cramped, &fed_decoded, &fed_decoded_cramped})
      built.push_back(agency_side_records(*h, {r}, {e.bytes}));
    fed.remember(r.stream, r.sequence.value(), e.bytes);
    fed_cramped.remember(r.stream, r.sequence.value(), e.bytes);
    fed_decoded.remember(r.stream, r.sequence.value(), e.bytes, r);
    fed_decoded_cramped.remember(r.stream, r.sequence.value(), e.bytes, r);
    REQUIRE(fresh.has_value());
    for (const auto& b : built) {
      REQUIRE(b.has_value());
      REQUIRE(b->size() == fresh->size());
      for (std::size_t i = 0; i < fresh->size(); ++i) {
        CHECK((*b)[i].value == (*fresh)[i].value);
        CHECK((*b)[i].topic_suffix == (*fresh)[i].topic_suffix);
      }
    }
    dossiers += fresh->size();
  });
  CHECK(dossiers > 3);
}

TEST_CASE("an agency's feed: a history told its events keeps them from the first, in order, and reads the rest") {
  const auto& data = demo_folder();
  auto log = open_embedded_log(data / "log", embedded_log_options{.follower = true});
  REQUIRE(log.has_value());
  // A case with several events, from the log.
  std::string case_id;
  for_each_event(**log, [&](const stored_event&, const event_record& r) {
    if (case_id.empty() && r.sequence.value() == 4 && r.stream.rfind("C-", 0) == 0) case_id = r.stream;
  });
  REQUIRE_FALSE(case_id.empty());
  const auto stored = *(*log)->read_stream(case_id, stream_version(1));
  REQUIRE(stored.size() >= 4);

  // What it was told is what it gives, without the log: told bytes that are not the log's show it.
  stream_history told(**log);
  told.remember(case_id, 1, "first");
  told.remember(case_id, 3, "third, out of turn");  // not what follows: not kept
  told.remember(case_id, 2, "second");
  told.remember(case_id, 2, "second again");  // kept already
  auto two = told.events(case_id, 2);
  REQUIRE(two.has_value());
  CHECK(**two == std::vector<std::string>{"first", "second"});
  // Asked for more than it holds, it reads what follows from the log.
  auto four = told.events(case_id, 4);
  REQUIRE(four.has_value());
  REQUIRE((*four)->size() == stored.size());
  CHECK((**four)[1] == "second");
  CHECK((**four)[2] == stored[2].bytes);

  // A stream whose beginning it was not told is not kept from the middle: read whole from the log.
  stream_history middle(**log);
  middle.remember(case_id, 2, "second");
  auto whole = middle.events(case_id, 2);
  REQUIRE(whole.has_value());
  REQUIRE((*whole)->size() == stored.size());
  for (std::size_t i = 0; i < stored.size(); ++i) CHECK((**whole)[i] == stored[i].bytes);
}

TEST_CASE("an agency's feed: a Dossier must be a piece of its case's chain ending with its event, for that agency") {
  const auto& data = demo_folder();
  auto log = open_embedded_log(data / "log", embedded_log_options{.follower = true});
  REQUIRE(log.has_value());
  // The demo's referral: the case and the event that referred it.
  std::string case_id;
  std::vector<stored_event> stored;
  std::size_t referral = 0;
  for_each_event(**log, [&](const stored_event&, const event_record& r) {
    if (case_id.empty() && r.payload.type == fb::Event_ReferredToAgency) case_id = r.stream;
  });
  REQUIRE_FALSE(case_id.empty());
  stored = *(*log)->read_stream(case_id, stream_version(1));
  std::vector<event_record> records;
  for (const auto& e : stored) records.push_back(*decode(e.bytes));
  while (records[referral].payload.type != fb::Event_ReferredToAgency) ++referral;
  const std::string agency = records[referral].payload.AsReferredToAgency()->agency_id;
  auto sides = agency_side_records(**log, {records[referral]}, {stored[referral].bytes});
  REQUIRE(sides.has_value());
  REQUIRE(sides->size() == 1);
  // Its proof, as the relay makes it: the log's latest checkpoint and the event's inclusion path.
  auto store = checkpoint_store::open(data / "checkpoints", checkpoint_store::access::read);
  REQUIRE(store.has_value());
  auto latest = (*store)->latest(0);
  REQUIRE((latest.has_value() && latest->has_value()));
  const signed_checkpoint tree = **latest;
  auto leaf = (*store)->leaf_at(0, stored[referral].position, **log);
  REQUIRE(leaf.has_value());
  auto path = (*store)->inclusion_proof(0, *leaf, tree.size, **log);
  REQUIRE(path.has_value());
  REQUIRE(path->size() >= 2);  // the demo's log is large enough for a proof to cut short
  auto proven = with_proof(sides->front().value, tree.note, *leaf, *path);
  REQUIRE(proven.has_value());
  const verifier_key key = read_signing_key_file(data / "keys" / "signing.key")->verifier();
  const std::string topic = "sazesh.agency." + agency;
  const auto line = [&](const std::string& t, const std::string& value) {
    return cli::feed_line(t, feed_record{0, 7, case_id, value}, key);
  };
  REQUIRE_MESSAGE(line(topic, *proven).has_value(), line(topic, *proven).error().message());
  CHECK_FALSE(line(topic, sides->front().value).has_value());  // without its proof

  fb::DossierT original;
  fb::GetDossier(proven->data())->UnPackTo(&original);
  REQUIRE(original.history.size() == referral + 1);
  const auto packed = [](const fb::DossierT& d) {
    flatbuffers::FlatBufferBuilder b;
    b.Finish(fb::Dossier::Pack(b, &d), fb::DossierIdentifier());
    return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  };
  CHECK(line(topic, packed(original)).has_value());  // unpacked and packed again, the same record
  const auto refused = [&](const std::string& what, const std::string& t, const fb::DossierT& d) {
    auto r = line(t, packed(d));
    INFO(what);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().field() == "feed");
    CHECK(r.error().rule().find("offset 7") != std::string::npos);
  };
  {
    auto d = original;
    d.history.erase(d.history.begin() + 1);
    refused("an event taken out of the history", topic, d);
  }
  {
    auto d = original;
    std::swap(d.history[1], d.history[2]);
    refused("two events of the history swapped", topic, d);
  }
  {
    auto d = original;
    d.history.pop_back();
    refused("a history that does not end with its event", topic, d);
  }
  {
    auto d = original;
    auto& bytes = d.history[1]->bytes;
    bytes[bytes.size() / 2] ^= 0x01;
    refused("a byte of an earlier event changed", topic, d);
  }
  refused("a Dossier on another agency's topic", "sazesh.agency.someone-else", original);
  {
    auto d = original;
    d.agency_id = "someone-else";
    refused("a Dossier for an agency its event does not concern", "sazesh.agency.someone-else", d);
  }
  {
    auto d = original;
    d.case_id = "C-0000000000";
    refused("a Dossier naming another case", topic, d);
  }
  // The parties: the registrations of the case's consumer and business, nothing else.
  REQUIRE(original.parties.size() == 2);
  CHECK(decode(std::string(original.parties[0]->bytes.begin(), original.parties[0]->bytes.end()))->payload.type ==
        fb::Event_ConsumerRegistered);
  {
    auto d = original;
    d.parties[1]->bytes = d.history[0]->bytes;  // a case's event is not a party
    refused("a party that is not a registration", topic, d);
  }
  {
    auto d = original;
    std::swap(d.parties[0], d.parties[1]);
    refused("the parties in each other's place", topic, d);
  }
  // The proof: a forger without the key cannot make the event provable.
  {
    // The event rewritten and the chain "re-hashed": the event is the case's last in this
    // record, so its chain still holds, but it is not the leaf the checkpoint signed.
    auto d = original;
    auto forged = d.event;
    const std::string who = records[referral].command_id;
    const std::string bytes(forged.begin(), forged.end());
    const auto at = bytes.find(who);
    REQUIRE(at != std::string::npos);
    forged[at] ^= 0x01;
    d.event = forged;
    d.history.back()->bytes = forged;
    refused("the event rewritten, its chain re-hashed", topic, d);
  }
  {
    // Called an earlier part of a longer window, whose history need not end with the event: its
    // proof is of its history's last envelope, so a rewritten one is still caught.
    auto d = original;
    d.part = 1;
    d.parts = 2;
    d.parties.clear();
    auto& bytes = d.history.back()->bytes;
    const std::string text(bytes.begin(), bytes.end());
    const auto at = text.find(records[referral].command_id);
    REQUIRE(at != std::string::npos);
    bytes[at] ^= 0x01;
    refused("an earlier part's history rewritten, its chain re-hashed", topic, d);
  }
  {
    auto d = original;
    d.inclusion_proof[5] ^= 0x01;
    refused("a hash of the inclusion proof changed", topic, d);
  }
  {
    auto d = original;
    d.inclusion_proof.resize(d.inclusion_proof.size() - 32);
    refused("the inclusion proof cut short", topic, d);
  }
  {
    auto d = original;
    d.leaf_index += 1;
    refused("another leaf named", topic, d);
  }
  {
    auto d = original;
    d.checkpoint.clear();
    refused("no checkpoint", topic, d);
  }
  {
    auto d = original;
    auto other = generate_signing_key(key.name);  // the log's name, another key
    REQUIRE(other.has_value());
    const auto forged = open_checkpoint(tree.note, key);
    REQUIRE(forged.has_value());
    d.checkpoint = sign_note(checkpoint_text(*forged), *other);
    refused("a checkpoint signed by another key", topic, d);
  }
}

TEST_CASE("an agency's feed is told of its referrals, of documents attached while it holds the case, and of its closing") {
  const auto event = [](auto payload) {
    event_record r;
    r.payload.Set(std::move(payload));
    return r;
  };
  const auto referred = [&](const char* agency) {
    fb::ReferredToAgencyT p;
    p.agency_id = agency;
    return event(p);
  };
  const auto transferred = [&](const char* from, const char* to) {
    fb::ReferralTransferredT p;
    p.from_agency_id = from;
    p.to_agency_id = to;
    return event(p);
  };
  const auto decided = [&](const char* agency) {
    fb::AgencyDecidedT p;
    p.agency_id = agency;
    return event(p);
  };
  const auto document = event(fb::DocumentAttachedT{});
  using told = std::vector<std::string>;
  case_feed feed;
  CHECK(feed.next(event(fb::CaseFiledT{})) == told{});
  CHECK(feed.next(document) == told{});  // nobody holds the case yet
  CHECK(feed.next(referred("a")) == told{"a"});
  CHECK(feed.next(document) == told{"a"});
  CHECK(feed.next(transferred("a", "b")) == told{"a", "b"});
  CHECK(feed.next(document) == told{"b"});
  CHECK(feed.next(event(fb::MessagePostedT{})) == told{});
  CHECK(feed.next(decided("b")) == told{"b"});
  CHECK(feed.next(document) == told{});  // decided: b holds it no more
  CHECK(feed.next(event(fb::CaseClosedT{})) == told{"b"});  // the last holder; a passed it on
  CHECK(feed.next(document) == told{});
  // A withdrawal while held: the holder only.
  case_feed withdrawn;
  withdrawn.next(referred("a"));
  withdrawn.next(transferred("a", "c"));
  CHECK(withdrawn.next(event(fb::CaseWithdrawnT{})) == told{"c"});
  // A case never referred: its closing concerns no agency.
  case_feed never;
  CHECK(never.next(event(fb::CaseClosedT{})) == told{});
  // What a reader checks of one record without the case: a kind that can be told to anyone.
  CHECK(may_be_told(document, "anyone"));
  CHECK(may_be_told(referred("a"), "a"));
  CHECK_FALSE(may_be_told(referred("a"), "b"));
  CHECK_FALSE(may_be_told(event(fb::MessagePostedT{}), "a"));
}

}  // namespace
}  // namespace sazesh
