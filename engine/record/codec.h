// The codec: events to and from the bytes of the log (schemas/envelope.fbs).
//
// encode() is deterministic: the same fields and event always give the same bytes, so a replay
// recomputes the same hashes. decode() verifies the buffer before touching it and refuses
// anything that is not a well-formed Envelope of a known schema version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/base/result.h"
#include "engine/record/record.h"

namespace sazesh {

inline constexpr std::uint16_t current_schema_version = 1;

struct envelope_fields {
  std::string stream;
  stream_version sequence;
  actor by;
  timestamp_ms time = 0;
  std::string command_id;
  std::uint32_t index = 0;       // the event's place among its command's events
  std::string previous_hash;     // 32 raw bytes, empty for sequence 1
};

// With `sealed`, the event's personal fields must already be empty (sealing.h, seal).
std::string encode(const envelope_fields& fields, const fb::EventUnion& event, const sealed_part* sealed = nullptr);

// Verifies and decodes one record. errc::corrupt names what failed.
result<event_record> decode(std::string_view bytes);

// The event id of the index-th event of a command: hex of a hash, 32 characters.
std::string event_id_for(std::string_view command_id, std::uint32_t index);

}  // namespace sazesh
