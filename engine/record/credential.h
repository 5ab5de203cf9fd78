// Bearer credentials: a random secret the holder keeps, a key id that names it, and the hash
// that is all the log ever holds of it.
//
//   auto c = make_credential();          // c.token goes to its holder, once
//   issue_credential{c.key_id, role, id, c.secret_hash, label}   // what the log records
//   auto t = parse_token(header_value);  // later, on each request
//   if (t && secret_matches(stored_hash, t->secret)) ...
//
// A token reads "sz_" + key id (12 lower-case hex digits) + "_" + secret (64 hex digits, 256
// random bits). The hash is BLAKE2b-256 of the secret's bytes: the secret is random, so a slow
// password hash would add nothing.
#pragma once

#include <string>
#include <string_view>

#include "engine/base/result.h"

namespace sazesh {

inline constexpr std::size_t credential_key_id_length = 12;

struct new_credential {
  std::string key_id;       // names the credential: its stream is "K-" + key_id
  std::string token;        // what its holder sends: "sz_<key id>_<secret>"
  std::string secret_hash;  // 32 raw bytes
};

// A fresh credential from the system's random source.
new_credential make_credential();

struct token_parts {
  std::string key_id;
  std::string secret;  // 32 raw bytes
};
// Splits a token; errc::invalid_argument (field "token") if it is not one.
result<token_parts> parse_token(std::string_view token);

// The stream of a credential.
inline std::string credential_stream(std::string_view key_id) { return "K-" + std::string(key_id); }

// BLAKE2b-256 of a secret's raw bytes.
std::string hash_secret(std::string_view secret);
// Whether `secret` hashes to `stored_hash`, compared in constant time.
bool secret_matches(std::string_view stored_hash, std::string_view secret);

}  // namespace sazesh
