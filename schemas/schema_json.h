// Records as JSON, through the schema the binary was built with (flatc's text format), for
// people and for clients that do not read FlatBuffers.
#pragma once

#include <string>
#include <string_view>

namespace sazesh {

// The schema text (events.fbs and envelope.fbs as one file).
extern const char* const schema_text;
// dossier.fbs without its include line: parsed after schema_text.
extern const char* const dossier_schema_text;

// The Envelope in `bytes` as one line of JSON. The buffer is verified first; what is not an
// Envelope, or cannot be rendered (a string that is not UTF-8, a payload without its type), is
// the JSON literal null, so a caller's line stays JSON.
std::string envelope_to_json(std::string_view bytes);

// A Dossier (schemas/dossier.fbs) as one line of JSON, its nested envelopes as objects; verified
// first like an Envelope (null if it is not one, or cannot be rendered).
std::string dossier_to_json(std::string_view bytes);

}  // namespace sazesh
