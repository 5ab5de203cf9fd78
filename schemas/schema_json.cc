#include "schemas/schema_json.h"

#include <flatbuffers/idl.h>
#include <flatbuffers/verifier.h>

#include <memory>
#include <mutex>

#include "schemas/dossier_generated.h"
#include "schemas/envelope_generated.h"

namespace sazesh {
namespace {

flatbuffers::IDLOptions json_options() {
  flatbuffers::IDLOptions opts;
  opts.strict_json = true;
  opts.indent_step = -1;  // one line
  opts.output_default_scalars_in_json = true;
  opts.natural_utf8 = true;  // Persian text as itself, not \u escapes
  return opts;
}

// Parsing the schema takes a moment; do it once, on first use.
const flatbuffers::Parser* parser() {
  static std::unique_ptr<flatbuffers::Parser> p;
  static std::once_flag once;
  std::call_once(once, [] {
    auto made = std::make_unique<flatbuffers::Parser>(json_options());
    if (made->Parse(schema_text)) p = std::move(made);
  });
  return p.get();
}

// The same schema with dossier.fbs after it, so its root type is Dossier.
const flatbuffers::Parser* dossier_parser() {
  static std::unique_ptr<flatbuffers::Parser> p;
  static std::once_flag once;
  std::call_once(once, [] {
    auto made = std::make_unique<flatbuffers::Parser>(json_options());
    const std::string text = std::string(schema_text) + dossier_schema_text;
    if (made->Parse(text.c_str())) p = std::move(made);
  });
  return p.get();
}

std::string render(const flatbuffers::Parser* ps, std::string_view bytes) {
  if (ps == nullptr) return "null";
  std::string json;
  // It refuses, among others, a string that is not UTF-8 (which the verifier lets through).
  if (!flatbuffers::GenerateText(*ps, bytes.data(), &json)) return "null";
  while (!json.empty() && (json.back() == '\n' || json.back() == ' ')) json.pop_back();
  return json;
}

// What flatc's printer needs beyond a verified buffer: a payload always has its type. (The
// verifier lets a payload without a type through, as unknown to this reader; the printer then
// dereferences the missing type.)
bool printable(const schema::Envelope* e) {
  return e != nullptr && (e->payload() == nullptr || e->payload_type() != schema::Event_NONE);
}

bool printable_nested(const flatbuffers::Vector<std::uint8_t>* bytes) {
  return bytes == nullptr || printable(flatbuffers::GetRoot<schema::Envelope>(bytes->data()));
}

}  // namespace

// flatc's printer trusts its buffer: unverified bytes would send it out of bounds.
std::string envelope_to_json(std::string_view bytes) {
  flatbuffers::Verifier v(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (!schema::VerifyEnvelopeBuffer(v) || !printable(schema::GetEnvelope(bytes.data()))) return "null";
  return render(parser(), bytes);
}

std::string dossier_to_json(std::string_view bytes) {
  flatbuffers::Verifier v(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (!schema::VerifyDossierBuffer(v)) return "null";
  const schema::Dossier* d = schema::GetDossier(bytes.data());
  if (!printable_nested(d->event())) return "null";
  // Every nested envelope the printer will reach: the history's and the parties'.
  for (const auto* list : {d->history(), d->parties()}) {
    if (list == nullptr) continue;
    for (const schema::EnvelopeBytes* h : *list)
      if (h == nullptr || !printable_nested(h->bytes())) return "null";
  }
  return render(dossier_parser(), bytes);
}

}  // namespace sazesh
