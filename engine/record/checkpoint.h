// checkpoint: the log's signed statement of its size and Merkle root, in the C2SP formats that
// transparency-log tools read: a `tlog-checkpoint` body inside a `signed-note` signed with
// Ed25519 (libsodium).
//
//   sazesh.local/log-5f2a…          <- origin: names the log (the key's name too)
//   1234                            <- tree size: how many events it covers
//   2bq4…=                          <- the root hash, standard base64
//
//   — sazesh.local/log-5f2a… Ab3…   <- key id (4 bytes) and signature, base64
//
// Keys are text too: a signer key `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`
// (kept secret, outside the log) and its verifier key `<name>+<key id hex>+<base64(0x01 ||
// public key)>`, the line an auditor or agency is given. Key id = the first 4 bytes of
// SHA-256(name || 0x0A || 0x01 || public key). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.h"

namespace sazesh {

struct verifier_key {
  std::string name;
  std::uint32_t id = 0;
  std::string public_key;  // 32 bytes
};

struct signing_key {
  std::string name;
  std::uint32_t id = 0;
  std::string seed;        // 32 bytes: the Ed25519 private seed
  std::string public_key;  // 32 bytes
  verifier_key verifier() const { return {name, id, public_key}; }
};

// A new key named `name` (a log origin: no spaces, no '+'). Errors name field "origin".
result<signing_key> generate_signing_key(std::string_view name);
std::string signer_key_text(const signing_key& key);
std::string verifier_key_text(const verifier_key& key);
// Parse the texts above (surrounding white space ignored). Errors name `field`.
result<signing_key> parse_signer_key(std::string_view text, const std::string& field = "key");
result<verifier_key> parse_verifier_key(std::string_view text, const std::string& field = "key");

struct checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  std::string root;  // 32 raw bytes
  bool operator==(const checkpoint&) const = default;
};

// The note text of a checkpoint (three lines, each ending in a newline).
std::string checkpoint_text(const checkpoint& c);
// A signed note: `text` followed by a blank line and the key's signature line.
std::string sign_note(std::string_view text, const signing_key& key);
// Checks a signed note against a verifier key and returns its text (up to the blank line): the
// note must be at most `max_bytes`, hold no control character but newlines, and carry a
// signature by that key (name and key id) that verifies; other signers' lines are skipped.
// Errors (errc::corrupt) name `field` and call the note `what` ("checkpoint", "standings").
result<std::string> open_note(std::string_view note, const verifier_key& key, const std::string& field, std::size_t max_bytes,
                              std::string_view what);
// The lines of a note's text, without their newlines (a last line may lack one).
std::vector<std::string_view> note_lines(std::string_view text);
// Checks a signed checkpoint against a verifier key and reads it: the note must be well formed,
// carry a signature by that key (name and key id) that verifies, and its text must be a
// checkpoint whose origin is `origin` (empty: the key's name). Errors (errc::corrupt) name `field`.
result<checkpoint> open_checkpoint(std::string_view note, const verifier_key& key, const std::string& field = "checkpoint",
                                   std::string_view origin = {});
// Reads a checkpoint's text (or a signed note's text, its signatures left unread) without
// checking any signature: for what only needs to know which tree a note names (its size, say),
// never for what it vouches for.
result<checkpoint> read_checkpoint_text(std::string_view text, const std::string& field = "checkpoint");

}  // namespace sazesh
