// Any bytes as an envelope (schemas/envelope.fbs), read the way every reader of the log reads
// one: verified, then decoded; what decodes is then described, rendered as JSON and folded into
// a world, as `show`, `events --json` and a replay do (what cannot be rendered is JSON's null). Nothing may crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/domain/describe.h"
#include "engine/domain/evolve.h"
#include "engine/domain/state.h"
#include "engine/record/codec.h"
#include "schemas/schema_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto record = sazesh::decode(bytes);
  const std::string json = sazesh::envelope_to_json(bytes);
  // JSON or null, never nothing: it is printed inside a line of JSON.
  if (json != "null" && (json.empty() || json.front() != '{' || json.back() != '}')) __builtin_trap();
  if (!record) return 0;
  // Whatever decodes is something the reader must be able to show and fold.
  (void)sazesh::describe(*record);
  sazesh::world w;
  sazesh::evolve(w, *record);
  return 0;
}
