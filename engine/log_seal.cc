#include "engine/log_seal.h"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/log/document_store.h"
#include "engine/record/codec.h"
#include "engine/record/hash.h"
#include "engine/record/sealing.h"

namespace sazesh {
namespace {

// The digests a sealed ConsumerRegistered and CaseFiled carry, made again from their plain values
// under the target's digest key (an engine without a key store made them unkeyed, which a guess
// can test, and which the target's lookups would not find).
void add_digests(fb::EventUnion& event, const std::string& digest_key) {
  const auto set = [&](std::vector<std::uint8_t>& digest, const std::string& value) {
    const std::string d = personal_digest(digest_key, value);
    digest.assign(d.begin(), d.end());
  };
  if (auto* c = event.AsConsumerRegistered()) set(c->national_code_digest, c->national_code);
  if (auto* f = event.AsCaseFiled()) set(f->order_digest, f->order_reference);
}

// The event's place among its command's events, as its id says (event_id_for).
result<std::uint32_t> index_of(const event_record& r, std::uint32_t guess) {
  if (event_id_for(r.command_id, guess) == r.event_id) return guess;
  for (std::uint32_t i = 0; i < 4096; ++i)
    if (event_id_for(r.command_id, i) == r.event_id) return i;
  return error(errc::corrupt, "event_id",
               fmt::format("event {} of {} is not one of command {}'s events", r.sequence.value(), r.stream, r.command_id));
}

class sealer {
 public:
  explicit sealer(key_store& keys) : keys_(keys) {}

  status operator()(append_request& r) {
    std::string& previous = last_hash_[r.stream];
    std::string& source_previous = source_hash_[r.stream];
    bool sealed_here = false;
    for (std::size_t i = 0; i < r.events.size(); ++i) {
      auto rec = decode(r.events[i]);
      if (!rec) return rec.error();
      // The source's own chain first: a copy signed afresh must not launder a broken one.
      if (rec->previous_hash != source_previous)
        return error(errc::corrupt, "previous_hash",
                     fmt::format("{} #{} does not chain to the event before it in the source log", r.stream,
                                 rec->sequence.value()));
      source_previous = rec->hash;
      fb::EventUnion& event = rec->payload;
      if (const auto* f = event.AsCaseFiled()) case_consumer_[r.stream] = f->consumer_id;
      const auto consumer = case_consumer_.find(r.stream);
      const std::string case_consumer = consumer == case_consumer_.end() ? std::string() : consumer->second;
      if (const auto* d = event.AsDocumentAttached(); d && !case_consumer.empty())
        documents_.emplace_back(std::string(d->sha256.begin(), d->sha256.end()), case_consumer);
      if (!rec->sealed) {
        auto digest = keys_.digest_key();
        if (!digest) return digest.error();
        add_digests(event, *digest);
      }
      std::optional<sealed_part> part = rec->sealed;
      if (!part && has_personal_data(event)) {
        const std::string subject = sealing_subject(event, r.stream, case_consumer);
        auto key = keys_.key_for_sealing(subject);
        if (!key) return key.error();
        part = seal(event, subject, *key, rec->event_id);
        sealed_here = true;
        ++sealed_;
      }
      auto index = index_of(*rec, static_cast<std::uint32_t>(i));
      if (!index) return index.error();
      const envelope_fields f{r.stream, rec->sequence, rec->by, rec->time, rec->command_id, *index, previous};
      r.events[i] = encode(f, event, part ? &*part : nullptr);
      previous = sha256(r.events[i]);
    }
    // The keys this command's boxes need are durable before the command is queued for writing.
    if (sealed_here)
      if (auto s = keys_.flush(); !s) return s.error();
    return ok;
  }

  std::uint64_t sealed() const { return sealed_; }
  // Each attached document with its case's consumer, in the order attached.
  const std::vector<std::pair<std::string, std::string>>& documents() const { return documents_; }

 private:
  key_store& keys_;
  std::unordered_map<std::string, std::string> last_hash_;      // each stream's, in the copy
  std::unordered_map<std::string, std::string> source_hash_;    // each stream's, in the source
  std::unordered_map<std::string, std::string> case_consumer_;  // each case's consumer
  std::vector<std::pair<std::string, std::string>> documents_;
  std::uint64_t sealed_ = 0;
};

}  // namespace

result<seal_report> seal_log(event_log& source, event_log& target, key_store& keys,
                             const std::filesystem::path& source_documents,
                             const std::filesystem::path& target_documents, const copy_progress_fn& on_progress) {
  sealer seal_each(keys);
  auto copied = copy_log(source, target, 8, on_progress, std::ref(seal_each));
  if (!copied) return copied.error();
  seal_report report;
  report.copied = *copied;
  report.sealed = seal_each.sealed();
  const document_store from(source_documents);
  document_store to(target_documents);
  for (const auto& [sha, consumer] : seal_each.documents()) {
    // An erased consumer's documents stay erased: their sealed copies open under no key.
    auto gone = keys.forgotten(consumer);
    if (!gone) return gone.error();
    if (*gone) continue;
    auto key = keys.key_for_sealing(consumer);
    if (!key) return key.error();
    if (auto s = to.copy_sealed_from(from, sha, consumer, *key); !s) {
      if (s.error().code() != errc::not_found) return s.error();
      ++report.documents_missing;
      continue;
    }
    ++report.documents;
  }
  if (auto s = keys.flush(); !s) return s.error();
  return report;
}

}  // namespace sazesh
