#include "engine/record/sealing.h"

#include <sodium.h>

#include <cstring>
#include <optional>

namespace sazesh {
namespace {

constexpr std::size_t nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_bytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(seal_key_bytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes_of(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// The box's plaintext: each field as a u32 little-endian length and its bytes.
std::string pack(const std::vector<personal_field>& fields) {
  std::string out;
  for (const auto& f : fields) {
    const auto n = static_cast<std::uint32_t>(f.value->size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    out += *f.value;
  }
  return out;
}

bool unpack(std::string_view in, const std::vector<personal_field>& fields) {
  std::vector<std::string> values;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (in.size() < 4) return false;
    std::uint32_t n = 0;
    for (int b = 0; b < 4; ++b) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[b])) << (8 * b);
    in.remove_prefix(4);
    if (in.size() < n) return false;
    values.emplace_back(in.substr(0, n));
    in.remove_prefix(n);
  }
  if (!in.empty()) return false;
  for (std::size_t i = 0; i < fields.size(); ++i) *fields[i].value = std::move(values[i]);
  return true;
}

// XChaCha20-Poly1305 (IETF) with `aad` as additional data: the one cipher of events and documents.
std::string fresh_nonce() {
  if (sodium_init() < 0) std::abort();  // no random source: nothing can be sealed safely
  std::string nonce(nonce_bytes, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  return nonce;
}

std::string encrypt(std::string_view plain, std::string_view aad, std::string_view nonce, std::string_view key) {
  std::string box(plain.size() + tag_bytes, '\0');
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(bytes_of(box), &written, bytes_of(plain), plain.size(), bytes_of(aad), aad.size(),
                                             nullptr, bytes_of(nonce), bytes_of(key));
  box.resize(written);
  return box;
}

// The plaintext, or nothing if the box does not open under the key (or is malformed).
std::optional<std::string> decrypt(std::string_view box, std::string_view aad, std::string_view nonce, std::string_view key) {
  if (nonce.size() != nonce_bytes || box.size() < tag_bytes || key.size() != seal_key_bytes) return std::nullopt;
  std::string plain(box.size() - tag_bytes, '\0');
  unsigned long long n = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(bytes_of(plain), &n, nullptr, bytes_of(box), box.size(), bytes_of(aad),
                                                 aad.size(), bytes_of(nonce), bytes_of(key)) != 0)
    return std::nullopt;
  plain.resize(n);
  return plain;
}

}  // namespace

std::vector<personal_field> personal_fields(fb::EventUnion& e) {
  switch (e.type) {
    case fb::Event_ConsumerRegistered: {
      auto* x = e.AsConsumerRegistered();
      return {{"national_code", &x->national_code}, {"mobile", &x->mobile}, {"name", &x->name}};
    }
    case fb::Event_MediatorRegistered: {
      auto* x = e.AsMediatorRegistered();
      return {{"name", &x->name}, {"mobile", &x->mobile}};
    }
    case fb::Event_CaseFiled: {
      auto* x = e.AsCaseFiled();
      return {{"order_reference", &x->order_reference}, {"description", &x->description}};
    }
    case fb::Event_DocumentAttached: return {{"file_name", &e.AsDocumentAttached()->file_name}};
    case fb::Event_DocumentsRequested: return {{"note", &e.AsDocumentsRequested()->note}};
    case fb::Event_CaseAccepted: return {{"note", &e.AsCaseAccepted()->note}};
    case fb::Event_CaseRejected: return {{"note", &e.AsCaseRejected()->note}};
    case fb::Event_BusinessResponded: return {{"text", &e.AsBusinessResponded()->text}};
    case fb::Event_MessagePosted: return {{"text", &e.AsMessagePosted()->text}};
    case fb::Event_OfferMade: return {{"text", &e.AsOfferMade()->text}};
    case fb::Event_OfferRejected: return {{"text", &e.AsOfferRejected()->text}};
    case fb::Event_RemedyFulfilled: return {{"note", &e.AsRemedyFulfilled()->note}};
    case fb::Event_RemedyNotFulfilled: return {{"note", &e.AsRemedyNotFulfilled()->note}};
    case fb::Event_MediationRequested: return {{"text", &e.AsMediationRequested()->text}};
    case fb::Event_SettlementProposed: return {{"text", &e.AsSettlementProposed()->text}};
    case fb::Event_MediationConcluded: return {{"text", &e.AsMediationConcluded()->text}};
    case fb::Event_ReferredToAgency: return {{"text", &e.AsReferredToAgency()->text}};
    case fb::Event_ReferralTransferred: return {{"reason", &e.AsReferralTransferred()->reason}};
    case fb::Event_AgencyDecided: return {{"text", &e.AsAgencyDecided()->text}};
    case fb::Event_CaseResolved: return {{"text", &e.AsCaseResolved()->text}};
    case fb::Event_CaseWithdrawn: return {{"reason", &e.AsCaseWithdrawn()->reason}};
    case fb::Event_CaseRated: return {{"comment", &e.AsCaseRated()->comment}};
    case fb::Event_CaseReopened: return {{"reason", &e.AsCaseReopened()->reason}};
    default: return {};
  }
}

bool has_personal_data(const fb::EventUnion& e) {
  return !personal_fields(const_cast<fb::EventUnion&>(e)).empty();
}

std::string sealing_subject(const fb::EventUnion& event, const std::string& stream, const std::string& case_consumer) {
  const bool own_stream = event.type == fb::Event_ConsumerRegistered || event.type == fb::Event_MediatorRegistered;
  return own_stream || case_consumer.empty() ? stream : case_consumer;
}

sealed_part seal(fb::EventUnion& event, const std::string& subject, std::string_view key, std::string_view event_id) {
  const auto fields = personal_fields(event);
  sealed_part p;
  p.subject = subject;
  p.nonce = fresh_nonce();
  p.box = encrypt(pack(fields), event_id, p.nonce, key);
  for (const auto& f : fields) f.value->clear();
  return p;
}

status open_sealed(event_record& r, key_ring& keys) {
  if (!r.sealed) return ok;
  if (r.personal == personal_state::opened || r.personal == personal_state::erased) return ok;
  auto key = keys.key_of(r.sealed->subject);
  if (!key) return key.error();
  const auto fields = personal_fields(r.payload);
  if (!*key) {
    auto gone = keys.forgotten(r.sealed->subject);
    if (!gone) return gone.error();
    if (!*gone) return ok;  // not known here: stays sealed
    for (const auto& f : fields) *f.value = erased_text;
    r.personal = personal_state::erased;
    return ok;
  }
  const sealed_part& p = *r.sealed;
  const auto plain = decrypt(p.box, r.event_id, p.nonce, **key);
  if (!plain)
    return error(errc::corrupt, "sealed", "the box of event " + r.event_id + " does not open under " + p.subject + "'s key");
  if (!unpack(*plain, fields))
    return error(errc::corrupt, "sealed", "the box of event " + r.event_id + " does not hold its event's personal fields");
  r.personal = personal_state::opened;
  return ok;
}

std::string seal_document(std::string_view plain, std::string_view key, std::string_view sha256) {
  const std::string nonce = fresh_nonce();
  return "SZD1" + nonce + encrypt(plain, sha256, nonce, key);
}

result<std::string> open_document(std::string_view sealed, std::string_view key, std::string_view sha256) {
  if (sealed.size() < 4 + nonce_bytes || sealed.substr(0, 4) != "SZD1")
    return error(errc::corrupt, "document", "is not a sealed document");
  auto plain = decrypt(sealed.substr(4 + nonce_bytes), sha256, sealed.substr(4, nonce_bytes), key);
  if (!plain) return error(errc::corrupt, "document", "does not open under its consumer's key");
  return std::move(*plain);
}

std::string personal_digest(std::string_view digest_key, std::string_view value) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(bytes_of(out), out.size(), bytes_of(value), value.size(),
                     digest_key.empty() ? nullptr : bytes_of(digest_key), digest_key.size());
  return out;
}

}  // namespace sazesh
