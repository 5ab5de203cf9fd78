#include "engine/record/hash.h"

#include <sodium.h>

#include <stdexcept>

namespace sazesh {
namespace {

// sodium_init() is idempotent and thread-safe; calling it here keeps callers free of set-up.
void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    return true;
  }();
  (void)ready;
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  ensure_sodium();
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return to_hex(raw);
}

struct sha256_stream::state {
  crypto_hash_sha256_state h;
};
sha256_stream::sha256_stream() : s_(std::make_unique<state>()) {
  ensure_sodium();
  crypto_hash_sha256_init(&s_->h);
}
sha256_stream::~sha256_stream() = default;
void sha256_stream::update(std::string_view piece) {
  crypto_hash_sha256_update(&s_->h, reinterpret_cast<const unsigned char*>(piece.data()), piece.size());
}
std::string sha256_stream::finish() {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256_final(&s_->h, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string sha256(std::string_view data) {
  ensure_sodium();
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

std::string to_hex(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) {
    const auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 0xF];
  }
  return out;
}

std::string from_hex(std::string_view hex) {
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return {};
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string derive_id(std::string_view prefix, std::string_view command_id, std::size_t length) {
  static constexpr char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const std::string h = sha256(command_id);
  std::string out(prefix);
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t i = 0;
  while (out.size() < prefix.size() + length) {
    if (bits < 5) {
      buffer = (buffer << 8) | static_cast<unsigned char>(h[i++]);
      bits += 8;
    }
    out += alphabet[(buffer >> (bits - 5)) & 31];
    bits -= 5;
  }
  return out;
}

}  // namespace sazesh
