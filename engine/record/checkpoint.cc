#include "engine/record/checkpoint.h"

#include <fmt/format.h>
#include <sodium.h>

#include <charconv>

#include "engine/base/row_codec.h"
#include "engine/record/hash.h"

namespace sazesh {
namespace {

constexpr unsigned char k_ed25519 = 0x01;
constexpr std::string_view k_dash = "\xE2\x80\x94 ";  // U+2014 and a space
constexpr std::size_t k_max_note = 64 * 1024;

void ready() {
  static const bool ok_ = sodium_init() >= 0;
  if (!ok_) std::abort();  // no random source: no key can be made safely
}

std::uint32_t key_id(std::string_view name, std::string_view public_key) {
  std::string input(name);
  input += '\n';
  input += static_cast<char>(k_ed25519);
  input += public_key;
  return row_reader(sha256(input)).u32();
}

std::string id_bytes(std::uint32_t id) {
  row_writer w;
  w.u32(id);
  return w.take();
}

status check_name(std::string_view name, const std::string& field) {
  if (name.empty() || name.size() > 200) return error(errc::invalid_argument, field, "must be 1 to 200 characters");
  for (unsigned char c : name)
    if (c <= 0x20 || c == '+' || c == 0x7f)
      return error(errc::invalid_argument, field, "must not contain spaces, '+' or control characters (e.g. example.org/log)");
  return ok;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// name+hexid+base64(0x01 || key) -> its parts; the caller checks the key's length.
struct key_parts {
  std::string name;
  std::uint32_t id = 0;
  std::string key;
};
result<key_parts> split_key(std::string_view text, const std::string& field) {
  // The name has no '+' and the id none: the first two '+' end them (base64 may hold more).
  const auto first = text.find('+');
  const auto second = first == std::string_view::npos ? first : text.find('+', first + 1);
  if (first == std::string_view::npos || second == std::string_view::npos || first == 0)
    return error(errc::invalid_argument, field, "is not a key: expected NAME+ID+KEY");
  key_parts p;
  p.name = std::string(text.substr(0, first));
  if (auto s = check_name(p.name, field); !s) return s.error();
  const std::string_view hex = text.substr(first + 1, second - first - 1);
  const std::string id = from_hex(hex);
  if (hex.size() != 8 || id.size() != 4) return error(errc::invalid_argument, field, "key id must be 8 hex digits");
  p.id = row_reader(id).u32();
  const auto raw = from_base64(text.substr(second + 1));
  if (!raw || raw->size() != 33 || static_cast<unsigned char>((*raw)[0]) != k_ed25519)
    return error(errc::invalid_argument, field, "key must be base64 of an Ed25519 key (type 0x01 and 32 bytes)");
  p.key = raw->substr(1);
  return p;
}

// The key of `name` whose Ed25519 private seed is `seed` (32 bytes).
signing_key key_from_seed(std::string name, std::string seed) {
  signing_key k;
  k.name = std::move(name);
  k.seed = std::move(seed);
  k.public_key.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  std::string secret(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(k.public_key.data()), reinterpret_cast<unsigned char*>(secret.data()),
                           reinterpret_cast<const unsigned char*>(k.seed.data()));
  sodium_memzero(secret.data(), secret.size());
  k.id = key_id(k.name, k.public_key);
  return k;
}

}  // namespace

result<signing_key> generate_signing_key(std::string_view name) {
  ready();
  if (auto s = check_name(name, "origin"); !s) return s.error();
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  randombytes_buf(seed.data(), seed.size());
  return key_from_seed(std::string(name), std::move(seed));
}

std::string signer_key_text(const signing_key& key) {
  return fmt::format("PRIVATE+KEY+{}+{:08x}+{}", key.name, key.id, base64(std::string(1, static_cast<char>(k_ed25519)) + key.seed));
}

std::string verifier_key_text(const verifier_key& key) {
  return fmt::format("{}+{:08x}+{}", key.name, key.id, base64(std::string(1, static_cast<char>(k_ed25519)) + key.public_key));
}

result<signing_key> parse_signer_key(std::string_view text, const std::string& field) {
  ready();
  text = trim(text);
  constexpr std::string_view prefix = "PRIVATE+KEY+";
  if (text.substr(0, prefix.size()) != prefix)
    return error(errc::invalid_argument, field, "is not a signer key: expected PRIVATE+KEY+NAME+ID+KEY");
  auto parts = split_key(text.substr(prefix.size()), field);
  if (!parts) return parts.error();
  if (parts->key.size() != crypto_sign_SEEDBYTES) return error(errc::invalid_argument, field, "key must hold a 32-byte seed");
  signing_key k = key_from_seed(parts->name, parts->key);
  if (k.id != parts->id) return error(errc::invalid_argument, field, "key id does not match the key");
  return k;
}

result<verifier_key> parse_verifier_key(std::string_view text, const std::string& field) {
  auto parts = split_key(trim(text), field);
  if (!parts) return parts.error();
  if (parts->key.size() != crypto_sign_PUBLICKEYBYTES) return error(errc::invalid_argument, field, "key must be 32 bytes");
  if (key_id(parts->name, parts->key) != parts->id) return error(errc::invalid_argument, field, "key id does not match the key");
  return verifier_key{parts->name, parts->id, parts->key};
}

std::string checkpoint_text(const checkpoint& c) {
  return fmt::format("{}\n{}\n{}\n", c.origin, c.size, base64(c.root));
}

std::string sign_note(std::string_view text, const signing_key& key) {
  ready();
  std::string secret(crypto_sign_SECRETKEYBYTES, '\0');
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()), reinterpret_cast<unsigned char*>(secret.data()),
                           reinterpret_cast<const unsigned char*>(key.seed.data()));
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr, reinterpret_cast<const unsigned char*>(text.data()),
                       text.size(), reinterpret_cast<const unsigned char*>(secret.data()));
  sodium_memzero(secret.data(), secret.size());
  return fmt::format("{}\n{}{} {}\n", text, k_dash, key.name, base64(id_bytes(key.id) + sig));
}

result<std::string> open_note(std::string_view note, const verifier_key& key, const std::string& field, std::size_t max_bytes,
                              std::string_view what) {
  ready();
  const auto bad = [&](std::string text) { return error(errc::corrupt, field, std::move(text)); };
  if (note.size() > max_bytes) return bad(fmt::format("is larger than {} bytes, more than a {} can be", max_bytes, what));
  for (unsigned char c : note)
    if (c < 0x20 && c != '\n') return bad("holds a control character");
  const auto split = note.rfind("\n\n");
  if (split == std::string_view::npos) return bad("is not a signed note: no blank line before its signatures");
  const std::string_view text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty() || sigs.back() != '\n') return bad("is not a signed note: its signature lines must end in a newline");
  bool verified = false;
  while (!sigs.empty()) {
    const auto eol = sigs.find('\n');
    std::string_view line = sigs.substr(0, eol);
    sigs.remove_prefix(eol + 1);
    if (line.substr(0, k_dash.size()) != k_dash) return bad("has a signature line that does not start with an em dash");
    line.remove_prefix(k_dash.size());
    const auto space = line.find(' ');
    if (space == std::string_view::npos) return bad("has a signature line without a signature");
    const std::string_view name = line.substr(0, space);
    const auto raw = from_base64(line.substr(space + 1));
    if (!raw || raw->size() < 5) return bad("has a signature that is not base64");
    if (name != key.name || row_reader(*raw).u32() != key.id) continue;  // another signer's: not ours to judge
    if (raw->size() != 4 + crypto_sign_BYTES ||
        crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(raw->data() + 4),
                                    reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                                    reinterpret_cast<const unsigned char*>(key.public_key.data())) != 0)
      return bad(fmt::format("signature by {} does not verify: the {} was altered or signed by another key", key.name, what));
    verified = true;
  }
  if (!verified) return bad(fmt::format("is not signed by the key {}+{:08x}", key.name, key.id));
  return std::string(text);
}

result<checkpoint> open_checkpoint(std::string_view note, const verifier_key& key, const std::string& field,
                                   std::string_view origin) {
  auto text = open_note(note, key, field, k_max_note, "checkpoint");
  if (!text) return text.error();
  auto c = read_checkpoint_text(*text, field);
  if (!c) return c;
  const std::string_view expected = origin.empty() ? std::string_view(key.name) : origin;
  if (c->origin != expected) return error(errc::corrupt, field, fmt::format("names the log {}, not {}", c->origin, expected));
  return c;
}

std::vector<std::string_view> note_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    const auto eol = rest.find('\n');
    lines.push_back(rest.substr(0, eol));
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
  }
  return lines;
}

result<checkpoint> read_checkpoint_text(std::string_view text, const std::string& field) {
  const auto bad = [&](std::string what) { return error(errc::corrupt, field, std::move(what)); };
  // The text: origin, size, root, then extension lines (kept, not interpreted); a signed
  // note's blank line and signatures after it are not read.
  if (const auto split = text.find("\n\n"); split != std::string_view::npos) text = text.substr(0, split + 1);
  const std::vector<std::string_view> lines = note_lines(text);
  if (lines.size() < 3) return bad("is not a checkpoint: it needs an origin, a size and a root hash");
  checkpoint c;
  c.origin = std::string(lines[0]);
  const auto [end, ec] = std::from_chars(lines[1].data(), lines[1].data() + lines[1].size(), c.size);
  if (ec != std::errc() || end != lines[1].data() + lines[1].size() || lines[1].empty() ||
      (lines[1].size() > 1 && lines[1][0] == '0'))
    return bad("tree size is not a decimal number");
  const auto root = from_base64(lines[2]);
  if (!root || root->size() != 32) return bad("root hash is not 32 bytes of standard base64");
  c.root = *root;
  return c;
}

}  // namespace sazesh
