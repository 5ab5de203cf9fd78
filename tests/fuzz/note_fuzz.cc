// The signed checkpoints and keys anyone may hand to `verify --since`, `verify --key` or read
// from a key file: the first byte picks the reader, the rest is the text. A note is opened
// against a fixed key (its signature line, parse and refusal paths); keys are parsed; and a note
// this target signs itself over the text must open to exactly what was signed, or be refused
// for its text, never for its signature.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/record/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

using sazesh::fuzzing::check_refusal;

namespace {

const sazesh::signing_key& fixed_key() {
  // The fuzz seeds' checkpoint.txt is signed by this key (a key made for fuzzing only).
  static const sazesh::signing_key key = *sazesh::parse_signer_key(
      "PRIVATE+KEY+fuzz.example/log+db9cbee4+AR2HDA9huZJeM9guSBcOazA16XHhGgeVoTc9SDLOTwlh");
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace sazesh;
  switch (data[0] % 4) {
    case 0: {
      auto c = open_checkpoint(text, fixed_key().verifier(), "since");
      if (!c) check_refusal(c.error(), "since");
      else if (c->origin != fixed_key().name || c->root.size() != 32) __builtin_trap();
      break;
    }
    case 1: {
      auto k = parse_verifier_key(text, "--key");
      if (!k) check_refusal(k.error(), "--key");
      else if (parse_verifier_key(verifier_key_text(*k))->public_key != k->public_key) __builtin_trap();
      break;
    }
    case 2: {
      auto k = parse_signer_key(text, "signing_key");
      if (!k) check_refusal(k.error(), "signing_key");
      else if (parse_signer_key(signer_key_text(*k))->seed != k->seed) __builtin_trap();
      break;
    }
    default: {
      // Whatever text is signed opens with its signature accepted: a refusal is the text's.
      const std::string note = sign_note(text, fixed_key());
      auto c = open_checkpoint(note, fixed_key().verifier(), "note");
      if (c) {
        if (checkpoint_text(*c) != std::string(text).substr(0, checkpoint_text(*c).size())) __builtin_trap();
      } else if (c.error().rule().rfind("signature by", 0) == 0 &&
                 text.find("\n\n") == std::string_view::npos) {
        __builtin_trap();
      }
      break;
    }
  }
  return 0;
}
