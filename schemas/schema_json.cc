#include "schemas/schema_json.h"

#include <flatbuffers/idl.h>

#include <memory>
#include <mutex>

namespace sazesh {
namespace {

// Parsing the schema takes a moment; do it once, on first use.
const flatbuffers::Parser* parser() {
  static std::unique_ptr<flatbuffers::Parser> p;
  static std::once_flag once;
  std::call_once(once, [] {
    flatbuffers::IDLOptions opts;
    opts.strict_json = true;
    opts.indent_step = -1;  // one line
    opts.output_default_scalars_in_json = true;
    opts.natural_utf8 = true;  // Persian text as itself, not \u escapes
    auto made = std::make_unique<flatbuffers::Parser>(opts);
    if (made->Parse(schema_text)) p = std::move(made);
  });
  return p.get();
}

}  // namespace

std::string envelope_to_json(std::string_view bytes) {
  const flatbuffers::Parser* ps = parser();
  if (ps == nullptr) return {};
  std::string json;
  if (!flatbuffers::GenerateText(*ps, bytes.data(), &json)) return {};
  while (!json.empty() && (json.back() == '\n' || json.back() == ' ')) json.pop_back();
  return json;
}

}  // namespace sazesh
