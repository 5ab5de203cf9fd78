#include "engine/record/credential.h"

#include <sodium.h>

#include <cstdlib>

#include "engine/record/hash.h"

namespace sazesh {
namespace {

bool is_lower_hex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

}  // namespace

std::string hash_secret(std::string_view secret) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), nullptr, 0);
  return out;
}

bool secret_matches(std::string_view stored_hash, std::string_view secret) {
  const std::string h = hash_secret(secret);
  return stored_hash.size() == h.size() && sodium_memcmp(stored_hash.data(), h.data(), h.size()) == 0;
}

new_credential make_credential() {
  if (sodium_init() < 0) std::abort();  // no random source: nothing safe can be issued
  new_credential c;
  c.key_id = random_hex(credential_key_id_length / 2);
  const std::string secret = random_bytes(32);
  c.token = "sz_" + c.key_id + "_" + to_hex(secret);
  c.secret_hash = hash_secret(secret);
  return c;
}

result<token_parts> parse_token(std::string_view token) {
  const auto bad = [] {
    return error(errc::invalid_argument, "token", "must be sz_ followed by a key id, '_' and a secret, as issued");
  };
  constexpr std::size_t secret_hex = 64;
  if (token.size() != 3 + credential_key_id_length + 1 + secret_hex || token.substr(0, 3) != "sz_" ||
      token[3 + credential_key_id_length] != '_')
    return bad();
  const auto key = token.substr(3, credential_key_id_length);
  const auto secret = token.substr(4 + credential_key_id_length);
  if (!is_lower_hex(key) || !is_lower_hex(secret)) return bad();
  return token_parts{std::string(key), from_hex(secret)};
}

}  // namespace sazesh
