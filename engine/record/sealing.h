// sealing: personal data in the log, encrypted under the key of the person it concerns
// (crypto-shredding). The fields schemas/events.fbs marks (personal) leave the event's payload
// and travel in the envelope's `sealed` part instead, as one XChaCha20-Poly1305 box under that
// person's key with the event id as additional data. Destroying the key (sazesh forget) erases
// them from every copy of the log at once, while the envelope's bytes, and so every hash chain,
// checkpoint and proof, stay exactly as they were.
//
//   sealed_part p = seal(event, "U-…", key, event_id);      // the fields are now empty
//   std::string bytes = encode(fields, event, &p);            // codec.h
//   auto r = decode(bytes);  open_sealed(*r, keys);           // fields back, or "erased"
//
// Which fields are personal is said here once (personal_fields); whose they are, where the engine
// seals them (engine::submit_locked). No I/O: keys come from a key_ring (the engine's key_store).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.h"
#include "engine/record/record.h"

namespace sazesh {

// What a reader shows in place of a field whose key was destroyed.
inline constexpr std::string_view erased_text = "erased";
inline constexpr std::size_t seal_key_bytes = 32;

// The personal fields of an event, in the order the schema declares them, each by its schema
// name; none for events without personal data.
struct personal_field {
  const char* name;
  std::string* value;
};
std::vector<personal_field> personal_fields(fb::EventUnion& event);
bool has_personal_data(const fb::EventUnion& event);

// Moves the event's personal fields into a box under `key` (32 bytes), bound to `event_id`,
// with a fresh random nonce. The fields are left empty.
sealed_part seal(fb::EventUnion& event, const std::string& subject, std::string_view key, std::string_view event_id);

// Whose key seals an event's personal data: a party's registration, the party's own; a case's
// events, the case's consumer (`case_consumer`, empty for a stream that is not a case: then the
// stream's own party).
std::string sealing_subject(const fb::EventUnion& event, const std::string& stream, const std::string& case_consumer);

// Where the keys come from: the key of a subject, or nothing when it was destroyed or is not
// known here (forgotten() tells the two apart). Errors are failures to read the store.
class key_ring {
 public:
  virtual ~key_ring() = default;
  virtual result<std::optional<std::string>> key_of(const std::string& subject) = 0;
  virtual result<bool> forgotten(const std::string& subject) = 0;
};

// Puts a sealed record's personal fields back (r.personal becomes opened), or, when the key was
// destroyed, writes erased_text into each (r.personal becomes erased). A record without a sealed
// part, or whose subject's key is not known here (a copy of the log without its keys), is left
// as it is (fields empty, r.personal sealed). A box that does not open under the subject's key is errc::corrupt, naming
// "sealed": the log was altered, or the key is not this log's.
status open_sealed(event_record& r, key_ring& keys);

// A document's bytes sealed the same way, its SHA-256 (raw) as additional data: "SZD1", the
// 24-byte nonce, then the box. open_document refuses (errc::corrupt, naming "document") bytes
// that are not such a box, or do not open under the key.
std::string seal_document(std::string_view plain, std::string_view key, std::string_view sha256);
result<std::string> open_document(std::string_view sealed, std::string_view key, std::string_view sha256);

// Keyed BLAKE2b-256 (raw 32 bytes) of a personal value under the log's digest key: lets the
// engine match a national code or an order reference it keeps no copy of. An empty key gives
// the unkeyed hash (worlds built without a key store, in tests).
std::string personal_digest(std::string_view digest_key, std::string_view value);

}  // namespace sazesh
