#include "cli/bundle.h"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "cli/json.h"
#include "engine/base/text_file.h"
#include "engine/engine.h"
#include "engine/log/document_store.h"
#include "engine/record/codec.h"
#include "engine/record/hash.h"
#include "engine/record/merkle.h"

namespace sazesh::cli {
namespace {

constexpr std::string_view k_format = "sazesh-bundle/1";
// What tools/verify-bundle.py reads at most (it refuses a larger tar).
constexpr std::uint64_t k_max_bundle_bytes = 1ull << 30;

// One ustar header block for a regular file of `size` bytes named `name` (< 100 bytes).
std::string tar_header(const std::string& name, std::uint64_t size, timestamp_ms mtime) {
  std::string h(512, '\0');
  const auto put = [&](std::size_t at, std::size_t width, const std::string& text) {
    std::copy_n(text.data(), std::min(width, text.size()), h.data() + at);
  };
  const auto octal = [](std::uint64_t v, std::size_t width) { return fmt::format("{:0{}o}", v, width - 1); };
  put(0, 100, name);
  put(100, 8, octal(0644, 8));
  put(108, 8, octal(0, 8));
  put(116, 8, octal(0, 8));
  put(124, 12, octal(size, 12));
  put(136, 12, octal(static_cast<std::uint64_t>(std::max<timestamp_ms>(0, mtime / 1000)), 12));
  put(148, 8, std::string(8, ' '));
  h[156] = '0';
  put(257, 6, std::string("ustar\0", 6));
  put(263, 2, "00");
  put(265, 32, "sazesh");
  put(297, 32, "sazesh");
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  put(148, 8, fmt::format("{:06o}", sum) + std::string("\0 ", 2));
  return h;
}

struct member {
  std::string name;
  std::string bytes;
};

// A document of `consumer`'s case, opened (document_store::read); none once it was erased.
result<std::optional<std::string>> read_document(session& s, const document_store& docs, std::string_view sha,
                                                 const std::string& consumer) {
  auto keys = s.keys();
  if (!keys) return keys.error();
  auto bytes = docs.read(sha, consumer, **keys);
  if (!bytes && bytes.error().code() == errc::not_found)
    return error(errc::not_found, "documents", fmt::format("document {} is not in the document store", to_hex(sha)));
  if (!bytes) return error(bytes.error().code(), "documents", bytes.error().message());
  if (*bytes && sha256(**bytes) != sha)
    return error(errc::corrupt, "documents", fmt::format("the stored document {} does not have that hash", to_hex(sha)));
  return bytes;
}

// The proof that `consumer` was forgotten: their PartyForgotten envelope, its partition's latest
// signed checkpoint and the event's inclusion proof in that tree (which may be another partition's
// than the case's). Errors errc::unavailable while the event is not yet in the log or a checkpoint.
result<std::string> erasure_proof(checkpoint_store& store, event_log& log, const verifier_key& key,
                                  const std::string& consumer, std::vector<member>& members) {
  auto stream = log.read_stream(consumer, stream_version(1));
  if (!stream) return stream.error();
  const stored_event* forgotten = nullptr;
  for (const auto& e : *stream) {
    auto r = decode(e.bytes);
    if (!r) return error(errc::corrupt, "log", fmt::format("{} #{}: {}", consumer, e.sequence.value(), r.error().message()));
    if (r->payload.type == fb::Event_PartyForgotten) forgotten = &e;
  }
  if (forgotten == nullptr)
    return error(errc::corrupt, "documents",
                 fmt::format("the key of {} was destroyed, but no PartyForgotten of theirs is in the log", consumer));
  const std::uint32_t partition = forgotten->partition;
  auto note = store.latest(partition);
  if (!note) return note.error();
  const auto not_yet = [&] {
    return error(errc::unavailable, "checkpoint",
                 fmt::format("the erasure of {} is not yet in a signed checkpoint; retry in a few seconds", consumer));
  };
  if (!*note) return not_yet();
  auto opened = open_log_checkpoint((*note)->note, key, store.partitions(), "checkpoint", partition);
  if (!opened) return opened.error();
  const checkpoint& cp = opened->second;
  auto leaf = store.leaf_at(partition, forgotten->position, log);
  if (!leaf && leaf.error().code() == errc::not_found) return not_yet();
  if (!leaf) return leaf.error();
  if (*leaf >= cp.size) return not_yet();
  auto proof = store.inclusion_proof(partition, *leaf, cp.size, log);
  if (!proof) return proof.error();
  if (!merkle::verify_inclusion(*leaf, cp.size, merkle::leaf_hash(forgotten->bytes), *proof, cp.root))
    return error(errc::corrupt, "log", fmt::format("the erasure of {} is not in the signed checkpoint's tree", consumer));
  json_array hashes;
  for (const auto& h : *proof) hashes.string(base64(h));
  members.push_back({"erasure/forgotten.szev", forgotten->bytes});
  members.push_back({"erasure/checkpoint.txt", (*note)->note});
  return json_object()
      .field("file", "erasure/forgotten.szev")
      .field("checkpoint", "erasure/checkpoint.txt")
      .field("tree_size", cp.size)
      .field("leaf_index", *leaf)
      .field("sha256", to_hex(sha256(forgotten->bytes)))
      .raw("inclusion_proof", hashes.str())
      .str();
}

}  // namespace

result<bundle_summary> write_case_bundle(session& s, event_log& log, const std::string& case_id,
                                         std::string_view summary_json, const std::filesystem::path& path) {
  auto events = log.read_stream(case_id, stream_version(1));
  if (!events) return events.error();
  if (events->empty()) return error(errc::not_found, "case_id", fmt::format("no case {}", case_id));
  // The case lives in one partition: its tree and that tree's latest checkpoint.
  const std::uint32_t partition = events->front().partition;
  auto store = s.open_checkpoints();
  if (!store) return store.error();
  auto note = (*store)->latest(partition);
  if (!note) return note.error();
  if (!*note) return error(errc::unavailable, "checkpoint", "the log has no signed checkpoint yet; retry in a few seconds");
  // The bundle is checked against the key that signs the log: the folder's key if this process
  // may read it, else the verifier key kept with the checkpoints.
  std::optional<verifier_key> key;
  if (auto signer = read_signing_key_file(s.signing_key_file()); signer) key = signer->verifier();
  else if (auto kept = (*store)->signer(); !kept) return kept.error();
  else key = *kept;
  if (!key) return error(errc::not_found, "signing_key", "no key to check the checkpoint with");
  auto opened = open_log_checkpoint((*note)->note, *key, (*store)->partitions(), "checkpoint", partition);
  if (!opened) return opened.error();
  const checkpoint* cp = &opened->second;
  std::vector<std::uint64_t> leaves;
  for (const auto& e : *events) {
    auto leaf = (*store)->leaf_at(partition, e.position, log);
    if (!leaf && leaf.error().code() == errc::not_found) break;  // not in the tree yet
    if (!leaf) return leaf.error();
    leaves.push_back(*leaf);
  }
  if (leaves.size() < events->size() || leaves.back() >= cp->size)
    return error(errc::unavailable, "checkpoint",
                 fmt::format("the case's last event (position {}) is not yet in a signed checkpoint (it covers {} events); "
                             "retry in a few seconds",
                             events->back().position.value(), cp->size));

  // Every link, proof and document checked before anything is written.
  std::vector<member> members;
  json_array manifest_events;
  json_array manifest_documents;
  std::set<std::string> documents;
  const document_store docs(s.data_dir / "documents");
  std::vector<event_record> records;
  for (const auto& e : *events) {
    auto r = decode(e.bytes);
    if (!r) return error(errc::corrupt, "log", fmt::format("{} #{}: {}", case_id, e.sequence.value(), r.error().message()));
    records.push_back(std::move(*r));
  }
  if (records.front().stream != case_id)
    return error(errc::corrupt, "log", fmt::format("the stream {} holds events of {}", case_id, records.front().stream));
  if (auto chain = verify_chain(records); !chain) return error(errc::corrupt, "log", chain.error().message());
  std::uint64_t total = 0;
  std::size_t erased = 0;
  for (std::size_t i = 0; i < events->size(); ++i) {
    const stored_event& e = (*events)[i];
    const event_record* r = &records[i];
    auto proof = (*store)->inclusion_proof(partition, leaves[i], cp->size, log);
    if (!proof) return proof.error();
    if (!merkle::verify_inclusion(leaves[i], cp->size, merkle::leaf_hash(e.bytes), *proof, cp->root))
      return error(errc::corrupt, "log",
                   fmt::format("{} #{} (position {}) is not in the signed checkpoint's tree", case_id, e.sequence.value(),
                               e.position.value()));
    const std::string file = fmt::format("events/{:06}.szev", e.sequence.value());
    json_array hashes;
    for (const auto& h : *proof) hashes.string(base64(h));
    manifest_events.raw(json_object()
                            .field("file", file)
                            .field("sequence", e.sequence.value())
                            .field("leaf_index", leaves[i])
                            .field("sha256", to_hex(r->hash))
                            .raw("inclusion_proof", hashes.str())
                            .str());
    members.push_back({file, e.bytes});
    if (r->payload.type == fb::Event_DocumentAttached) {
      const auto& d = *r->payload.AsDocumentAttached();
      const std::string sha(d.sha256.begin(), d.sha256.end());
      if (!documents.insert(sha).second) continue;
      const auto* filed = records.front().payload.AsCaseFiled();
      auto stored = read_document(s, docs, sha, filed ? filed->consumer_id : std::string());
      if (!stored) return stored.error();
      if (!*stored) {
        // Erased with the consumer's data: the events still prove its hash and size.
        manifest_documents.raw(json_object().field("sha256", to_hex(sha)).field("size", d.size_bytes)
                                   .field("erased", true).str());
        ++erased;
        continue;
      }
      std::optional<std::string>& bytes = *stored;
      if (bytes->size() != d.size_bytes)
        return error(errc::corrupt, "documents",
                     fmt::format("document {} holds {} bytes; the event that attached it says {}", to_hex(sha), bytes->size(),
                                 d.size_bytes));
      total += bytes->size();
      if (total > k_max_bundle_bytes)
        return error(errc::invalid_argument, "--bundle",
                     fmt::format("the case's documents pass {} bytes, more than a bundle holds", k_max_bundle_bytes));
      const std::string name = "documents/" + to_hex(sha);
      manifest_documents.raw(json_object().field("file", name).field("sha256", to_hex(sha))
                                 .field("size", static_cast<std::uint64_t>(bytes->size())).str());
      members.push_back({name, std::move(*bytes)});
    }
  }
  // A document reads erased only once its consumer's key is gone: the bundle proves the erasure
  // by the consumer's PartyForgotten event in the log, so no one can mark a document erased.
  std::string erasure = "null";
  if (erased > 0) {
    const auto* filed = records.front().payload.AsCaseFiled();
    auto proven = erasure_proof(**store, log, *key, filed ? filed->consumer_id : std::string(), members);
    if (!proven) return proven.error();
    erasure = std::move(*proven);
  }
  const timestamp_ms now = system_clock_source().now();
  const std::string manifest = json_object()
                                   .field("format", k_format)
                                   .field("case", case_id)
                                   .field("origin", cp->origin)
                                   .field("checkpoint", "checkpoint.txt")
                                   .field("tree_size", cp->size)
                                   .raw("events", manifest_events.str())
                                   .raw("documents", manifest_documents.str())
                                   .raw("erasure", erasure)
                                   .field("built_at", format_iso_utc(now))
                                   .raw("dossier", summary_json.empty() ? std::string_view("null") : summary_json)
                                   .str();
  members.insert(members.begin(), {{"manifest.json", manifest + "\n"}, {"checkpoint.txt", (*note)->note}});

  // Written to a new file beside its place (never through a name someone else could have made),
  // then renamed: a bundle is whole or absent.
  std::string temp = (path.has_parent_path() ? path.parent_path() / ".bundle-XXXXXX" : std::filesystem::path(".bundle-XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return error(errc::io, "--bundle", fmt::format("cannot write beside {}: {}", path.string(), std::strerror(errno)));
  bool written = true;
  const auto put = [&](std::string_view bytes) {
    while (written && !bytes.empty()) {
      const ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n <= 0) written = false;
      else bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  };
  for (const auto& m : members) {
    put(tar_header(m.name, m.bytes.size(), now));
    put(m.bytes);
    put(std::string((512 - m.bytes.size() % 512) % 512, '\0'));
  }
  put(std::string(1024, '\0'));
  written = written && ::fchmod(fd, 0644) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (written) std::filesystem::rename(temp, path, ec);
  if (!written || ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    return error(errc::io, "--bundle", fmt::format("cannot write {}{}", path.string(), ec ? ": " + ec.message() : std::string()));
  }
  return bundle_summary{events->size(), documents.size(), cp->size, cp->origin};
}

}  // namespace sazesh::cli
