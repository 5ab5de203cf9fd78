#include "engine/record/codec.h"

#include <fmt/format.h>

#include "engine/record/hash.h"

namespace sazesh {

std::string event_id_for(std::string_view command_id, std::uint32_t index) {
  std::string key(command_id);
  key += '\0';
  key += std::to_string(index);
  return to_hex(sha256(key)).substr(0, 32);
}

std::string encode(const envelope_fields& f, const fb::EventUnion& event, const sealed_part* sealed) {
  flatbuffers::FlatBufferBuilder b(512);
  const auto event_id = b.CreateString(event_id_for(f.command_id, f.index));
  const auto stream = b.CreateString(f.stream);
  const auto actor_id = b.CreateString(f.by.id);
  const auto command_id = b.CreateString(f.command_id);
  const auto previous = b.CreateVector(reinterpret_cast<const std::uint8_t*>(f.previous_hash.data()),
                                       f.previous_hash.size());
  const auto payload = event.Pack(b);
  flatbuffers::Offset<fb::Sealed> box;
  if (sealed) {
    const auto bytes = [&](const std::string& s) {
      return b.CreateVector(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    };
    box = fb::CreateSealed(b, b.CreateString(sealed->subject), bytes(sealed->nonce), bytes(sealed->box));
  }
  fb::EnvelopeBuilder env(b);
  env.add_event_id(event_id);
  env.add_stream_id(stream);
  env.add_sequence(f.sequence.value());
  env.add_actor_role(f.by.role);
  env.add_actor_id(actor_id);
  env.add_time_ms(f.time);
  env.add_command_id(command_id);
  env.add_schema_version(current_schema_version);
  env.add_previous_hash(previous);
  env.add_payload_type(event.type);
  env.add_payload(payload);
  if (sealed) env.add_sealed(box);
  fb::FinishEnvelopeBuffer(b, env.Finish());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

result<event_record> decode(std::string_view bytes) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!fb::VerifyEnvelopeBuffer(verifier))
    return error(errc::corrupt, "envelope", "is not a valid Envelope buffer (verification failed)");
  const fb::Envelope* env = fb::GetEnvelope(data);
  if (env->schema_version() == 0 || env->schema_version() > current_schema_version)
    return error(errc::corrupt, "schema_version",
                 fmt::format("{} is not a schema version this engine reads", env->schema_version()));
  if (env->payload_type() == fb::Event_NONE || env->payload_type() > fb::Event_MAX)
    return error(errc::corrupt, "payload", "names no known event");
  // The engine's clock never leaves these years; the calendars are defined within them.
  constexpr std::int64_t earliest = -5'364'662'400'000;  // 1800-01-01T00:00:00Z
  constexpr std::int64_t latest = 253'402'300'799'999;   // 9999-12-31T23:59:59.999Z
  if (env->time_ms() < earliest || env->time_ms() > latest)
    return error(errc::corrupt, "time_ms", fmt::format("{} is not an instant between the years 1800 and 9999", env->time_ms()));
  // The verifier accepts a union whose table is absent; unpacking it would follow a null pointer.
  if (env->payload() == nullptr) return error(errc::corrupt, "payload", "names an event but holds none");
  if (env->stream_id() == nullptr || env->stream_id()->size() == 0 || env->sequence() == 0)
    return error(errc::corrupt, "stream_id", "every event belongs to a stream, from sequence 1");
  event_record r;
  const auto str = [](const flatbuffers::String* s) { return s ? s->str() : std::string(); };
  r.event_id = str(env->event_id());
  r.stream = str(env->stream_id());
  r.sequence = stream_version(env->sequence());
  r.by = actor{env->actor_role(), str(env->actor_id())};
  r.time = env->time_ms();
  r.command_id = str(env->command_id());
  r.schema_version = env->schema_version();
  if (const auto* p = env->previous_hash()) r.previous_hash.assign(p->begin(), p->end());
  r.payload.type = env->payload_type();
  r.payload.value = fb::EventUnion::UnPack(env->payload(), env->payload_type(), nullptr);
  if (const fb::Sealed* s = env->sealed()) {
    // Its shape is checked here; whether it opens, only with the key (sealing.h).
    if (s->subject() == nullptr || s->subject()->size() == 0 || s->nonce() == nullptr || s->nonce()->size() != 24 ||
        s->box() == nullptr || s->box()->size() < 16)
      return error(errc::corrupt, "sealed", "needs a subject, a 24-byte nonce and a box of at least its 16-byte tag");
    r.sealed = sealed_part{s->subject()->str(), std::string(s->nonce()->begin(), s->nonce()->end()),
                           std::string(s->box()->begin(), s->box()->end())};
    r.personal = personal_state::sealed;
  }
  r.hash = sha256(bytes);
  return r;
}

}  // namespace sazesh
