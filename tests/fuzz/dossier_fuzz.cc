// Any bytes as a record of an agency's topic (schemas/dossier.fbs), read as `sazesh subscribe`
// reads one: verified, its event decoded, printed as a JSON line, or refused with an error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/feed_line.h"
#include "schemas/schema_json.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sazesh::feed_record r;
  r.partition = 0;
  r.offset = 42;
  r.value.assign(reinterpret_cast<const char*>(data), size);
  static const sazesh::verifier_key key = *sazesh::parse_verifier_key(sazesh::fuzzing::k_seed_verifier_key);
  auto line = sazesh::cli::feed_line("fuzz.agency.consumer-protection", r, key);
  if (line && line->empty()) __builtin_trap();
  const std::string json = sazesh::dossier_to_json(r.value);
  if (json != "null" && (json.empty() || json.front() != '{' || json.back() != '}')) __builtin_trap();
  return 0;
}
