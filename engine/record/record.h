// record: one event as the log holds it, decoded: the envelope's fields (schemas/envelope.fbs),
// who acted, and the event itself. This is the unit every layer above passes around: the domain
// folds records into state, the logs store their bytes, the projector and the feeds read them.
//
//   result<event_record> r = decode(bytes);   // engine/record/codec.h
//   if (r && r->payload.type == fb::Event_CaseFiled) …
//
// Value types only; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/base/ids.h"
#include "engine/time/calendar.h"
#include "schemas/envelope_generated.h"

namespace sazesh {

namespace fb = sazesh::schema;

// Who is acting. The id is the party id (consumer "U-…", business seal id, mediator "M-…",
// agency slug) or, for operators, auditors, analysts and the system, a staff or process name.
struct actor {
  fb::Role role = fb::Role_consumer;
  std::string id;
};

// An envelope's sealed personal data (schemas/envelope.fbs, Sealed; engine/record/sealing.h).
struct sealed_part {
  std::string subject;
  std::string nonce;  // 24 raw bytes
  std::string box;    // ciphertext and tag
  bool operator==(const sealed_part&) const = default;
};

// Whether a record's personal fields can be read: clear (the event has none sealed: no personal
// data, or written before sealing), sealed (still empty: not opened, or the reader may not see
// them), opened (put back from the box), erased (the key was destroyed).
enum class personal_state { clear, sealed, opened, erased };

// One decoded log record: the envelope's fields, the event, and the hash of the envelope's
// bytes (the next event of the stream carries it as previous_hash).
struct event_record {
  std::string event_id;
  std::string stream;
  stream_version sequence;
  actor by;
  timestamp_ms time = 0;
  std::string command_id;
  std::uint16_t schema_version = 0;
  std::string previous_hash;  // 32 raw bytes, empty for sequence 1
  fb::EventUnion payload;
  std::string hash;           // SHA-256 of this envelope's bytes
  std::optional<sealed_part> sealed;
  personal_state personal = personal_state::clear;
};

// The position of a stream: its version and the hash its next event must carry.
struct stream_head {
  stream_version version;
  std::string last_hash;
  bool operator==(const stream_head&) const = default;
};

}  // namespace sazesh
