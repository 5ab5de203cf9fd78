#include "engine/record/sealing.h"

#include <sodium.h>

#include <cstring>

namespace sazesh {
namespace {

constexpr std::size_t nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_bytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(seal_key_bytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes_of(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// The box's plaintext: each field as a u32 little-endian length and its bytes.
std::string pack(const std::vector<std::string*>& fields) {
  std::string out;
  for (const std::string* f : fields) {
    const auto n = static_cast<std::uint32_t>(f->size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    out += *f;
  }
  return out;
}

bool unpack(std::string_view in, const std::vector<std::string*>& fields) {
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
  for (std::size_t i = 0; i < fields.size(); ++i) *fields[i] = std::move(values[i]);
  return true;
}

}  // namespace

std::vector<std::string*> personal_fields(fb::EventUnion& e) {
  switch (e.type) {
    case fb::Event_ConsumerRegistered: { auto* x = e.AsConsumerRegistered(); return {&x->national_code, &x->mobile, &x->name}; }
    case fb::Event_MediatorRegistered: { auto* x = e.AsMediatorRegistered(); return {&x->name, &x->mobile}; }
    case fb::Event_CaseFiled: { auto* x = e.AsCaseFiled(); return {&x->order_reference, &x->description}; }
    case fb::Event_DocumentAttached: return {&e.AsDocumentAttached()->file_name};
    case fb::Event_DocumentsRequested: return {&e.AsDocumentsRequested()->note};
    case fb::Event_CaseAccepted: return {&e.AsCaseAccepted()->note};
    case fb::Event_CaseRejected: return {&e.AsCaseRejected()->note};
    case fb::Event_BusinessResponded: return {&e.AsBusinessResponded()->text};
    case fb::Event_MessagePosted: return {&e.AsMessagePosted()->text};
    case fb::Event_OfferMade: return {&e.AsOfferMade()->text};
    case fb::Event_OfferRejected: return {&e.AsOfferRejected()->text};
    case fb::Event_RemedyFulfilled: return {&e.AsRemedyFulfilled()->note};
    case fb::Event_RemedyNotFulfilled: return {&e.AsRemedyNotFulfilled()->note};
    case fb::Event_MediationRequested: return {&e.AsMediationRequested()->text};
    case fb::Event_SettlementProposed: return {&e.AsSettlementProposed()->text};
    case fb::Event_MediationConcluded: return {&e.AsMediationConcluded()->text};
    case fb::Event_ReferredToAgency: return {&e.AsReferredToAgency()->text};
    case fb::Event_ReferralTransferred: return {&e.AsReferralTransferred()->reason};
    case fb::Event_AgencyDecided: return {&e.AsAgencyDecided()->text};
    case fb::Event_CaseResolved: return {&e.AsCaseResolved()->text};
    case fb::Event_CaseWithdrawn: return {&e.AsCaseWithdrawn()->reason};
    case fb::Event_CaseRated: return {&e.AsCaseRated()->comment};
    case fb::Event_CaseReopened: return {&e.AsCaseReopened()->reason};
    default: return {};
  }
}

std::vector<const char*> personal_field_names(fb::Event type) {
  switch (type) {
    case fb::Event_ConsumerRegistered: return {"national_code", "mobile", "name"};
    case fb::Event_MediatorRegistered: return {"name", "mobile"};
    case fb::Event_CaseFiled: return {"order_reference", "description"};
    case fb::Event_DocumentAttached: return {"file_name"};
    case fb::Event_DocumentsRequested:
    case fb::Event_CaseAccepted:
    case fb::Event_CaseRejected:
    case fb::Event_RemedyFulfilled:
    case fb::Event_RemedyNotFulfilled: return {"note"};
    case fb::Event_ReferralTransferred:
    case fb::Event_CaseWithdrawn:
    case fb::Event_CaseReopened: return {"reason"};
    case fb::Event_CaseRated: return {"comment"};
    case fb::Event_BusinessResponded:
    case fb::Event_MessagePosted:
    case fb::Event_OfferMade:
    case fb::Event_OfferRejected:
    case fb::Event_MediationRequested:
    case fb::Event_SettlementProposed:
    case fb::Event_MediationConcluded:
    case fb::Event_ReferredToAgency:
    case fb::Event_AgencyDecided:
    case fb::Event_CaseResolved: return {"text"};
    default: return {};
  }
}

bool has_personal_data(const fb::EventUnion& e) {
  return !personal_fields(const_cast<fb::EventUnion&>(e)).empty();
}

sealed_part seal(fb::EventUnion& event, const std::string& subject, std::string_view key, std::string_view event_id) {
  if (sodium_init() < 0) std::abort();  // no random source: nothing can be sealed safely
  const auto fields = personal_fields(event);
  const std::string plain = pack(fields);
  sealed_part p;
  p.subject = subject;
  p.nonce.assign(nonce_bytes, '\0');
  randombytes_buf(p.nonce.data(), p.nonce.size());
  p.box.assign(plain.size() + tag_bytes, '\0');
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(bytes_of(p.box), &written, bytes_of(plain), plain.size(),
                                             bytes_of(event_id), event_id.size(), nullptr, bytes_of(p.nonce), bytes_of(key));
  p.box.resize(written);
  for (std::string* f : fields) f->clear();
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
    for (std::string* f : fields) *f = erased_text;
    r.personal = personal_state::erased;
    return ok;
  }
  const sealed_part& p = *r.sealed;
  if (p.nonce.size() != nonce_bytes || p.box.size() < tag_bytes || (*key)->size() != seal_key_bytes)
    return error(errc::corrupt, "sealed", "the box of event " + r.event_id + " is malformed");
  std::string plain(p.box.size() - tag_bytes, '\0');
  unsigned long long n = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(bytes_of(plain), &n, nullptr, bytes_of(p.box), p.box.size(),
                                                 bytes_of(r.event_id), r.event_id.size(), bytes_of(p.nonce),
                                                 bytes_of(**key)) != 0)
    return error(errc::corrupt, "sealed", "the box of event " + r.event_id + " does not open under " + p.subject + "'s key");
  plain.resize(n);
  if (!unpack(plain, fields))
    return error(errc::corrupt, "sealed", "the box of event " + r.event_id + " does not hold its event's personal fields");
  r.personal = personal_state::opened;
  return ok;
}

std::string seal_document(std::string_view plain, std::string_view key, std::string_view sha256) {
  if (sodium_init() < 0) std::abort();  // no random source: nothing can be sealed safely
  std::string out = "SZD1";
  std::string nonce(nonce_bytes, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  out += nonce;
  const std::size_t at = out.size();
  out.resize(at + plain.size() + tag_bytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data() + at), &written, bytes_of(plain),
                                             plain.size(), bytes_of(sha256), sha256.size(), nullptr, bytes_of(nonce),
                                             bytes_of(key));
  out.resize(at + written);
  return out;
}

result<std::string> open_document(std::string_view sealed, std::string_view key, std::string_view sha256) {
  if (sealed.size() < 4 + nonce_bytes + tag_bytes || sealed.substr(0, 4) != "SZD1" || key.size() != seal_key_bytes)
    return error(errc::corrupt, "document", "is not a sealed document");
  const std::string_view nonce = sealed.substr(4, nonce_bytes);
  const std::string_view box = sealed.substr(4 + nonce_bytes);
  std::string plain(box.size() - tag_bytes, '\0');
  unsigned long long n = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(bytes_of(plain), &n, nullptr, bytes_of(box), box.size(), bytes_of(sha256),
                                                 sha256.size(), bytes_of(nonce), bytes_of(key)) != 0)
    return error(errc::corrupt, "document", "does not open under its consumer's key");
  plain.resize(n);
  return plain;
}

std::string personal_digest(std::string_view digest_key, std::string_view value) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(bytes_of(out), out.size(), bytes_of(value), value.size(),
                     digest_key.empty() ? nullptr : bytes_of(digest_key), digest_key.size());
  return out;
}

}  // namespace sazesh
