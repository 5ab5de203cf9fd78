#include "engine/record/hash.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <memory>
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

// SHA-256 is OpenSSL's: it uses the CPU's SHA extensions where there are some (several times
// libsodium's portable code, which hashing every envelope a projector reads makes count).
// Fetched once: OpenSSL 3 otherwise looks the implementation up, under a lock, on every digest.
namespace {
const EVP_MD* sha256_implementation() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!fetched) throw std::runtime_error("SHA-256 is not available");
    return fetched;  // kept for the life of the process
  }();
  return md;
}
}  // namespace

struct sha256_stream::state {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~state() { EVP_MD_CTX_free(ctx); }
};
sha256_stream::sha256_stream() : s_(std::make_unique<state>()) {
  if (!s_->ctx || EVP_DigestInit_ex(s_->ctx, sha256_implementation(), nullptr) != 1)
    throw std::runtime_error("SHA-256 is not available");
}
sha256_stream::~sha256_stream() = default;
void sha256_stream::update(std::string_view piece) {
  if (EVP_DigestUpdate(s_->ctx, piece.data(), piece.size()) != 1) throw std::runtime_error("SHA-256 failed");
}
std::string sha256_stream::finish() {
  std::string out(32, '\0');
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(s_->ctx, reinterpret_cast<unsigned char*>(out.data()), &length) != 1 || length != out.size())
    throw std::runtime_error("SHA-256 failed");
  return out;
}

std::string sha256(std::string_view data) {
  // One context per thread, set up again for each digest (no allocation once made).
  thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string out(32, '\0');
  unsigned int length = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256_implementation(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length) != 1 || length != out.size())
    throw std::runtime_error("SHA-256 failed");
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

namespace {
constexpr char k_base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string base64(std::string_view bytes) {
  const char* alphabet = k_base64_alphabet;
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63], alphabet[v & 63]};
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 | (two ? static_cast<unsigned char>(bytes[i + 1]) << 8 : 0u);
    out += {alphabet[v >> 18], alphabet[(v >> 12) & 63], two ? alphabet[(v >> 6) & 63] : '=', '='};
  }
  return out;
}

std::optional<std::string> from_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  unsigned acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i + padding < text.size(); ++i) {
    const char* at = std::char_traits<char>::find(k_base64_alphabet, 64, text[i]);
    if (at == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(at - k_base64_alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // stray bits: not what base64() writes
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
