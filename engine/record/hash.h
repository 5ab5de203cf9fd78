// SHA-256 and the ids derived from it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sazesh {

// The 32 raw bytes of SHA-256(data).
std::string sha256(std::string_view data);
// SHA-256 of data that arrives in pieces (a file read in chunks, an upload).
class sha256_stream {
 public:
  sha256_stream();
  ~sha256_stream();
  sha256_stream(const sha256_stream&) = delete;
  sha256_stream& operator=(const sha256_stream&) = delete;
  void update(std::string_view piece);
  // The 32 raw bytes; call once.
  std::string finish();

 private:
  struct state;
  std::unique_ptr<state> s_;
};
// `bytes` bytes from the system's random source, as lower-case hex (ids, tokens).
std::string random_hex(std::size_t bytes);
// Lower-case hex of raw bytes.
std::string to_hex(std::string_view raw);
// Raw bytes from hex; empty when `hex` is not an even-length hex string.
std::string from_hex(std::string_view hex);
// Bytes as standard base64 (RFC 4648 §4, padded): envelope bytes in JSON, hashes in checkpoints.
std::string base64(std::string_view raw);
// The bytes of canonical standard base64 (padded, no stray bits, nothing else); none otherwise.
std::optional<std::string> from_base64(std::string_view text);
// A short id derived from a command id, e.g. derive_id("C-", "cmd-42") -> "C-7K2Q9XD3MA".
// Crockford base32 of the hash's first bytes: readable, no I, L, O or U.
std::string derive_id(std::string_view prefix, std::string_view command_id, std::size_t length = 10);

}  // namespace sazesh
