// row_codec: the compact binary encoding of stored rows (the engine's state rows, the
// projections' rows): big-endian integers, length-prefixed strings, one-byte flags.
//
//   row_writer w; w.str(id); w.u64(version); std::string bytes = w.take();
//   row_reader r(bytes); auto id = r.str(); auto v = r.u64();
//   if (!r.done()) …  // a row that does not decode, never guessed at
//
// Value types; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/base/result.h"

namespace sazesh {

class row_writer {
 public:
  void u8(std::uint8_t v) { out_ += static_cast<char>(v); }
  void u32(std::uint32_t v) { for (int i = 3; i >= 0; --i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF); }
  void u64(std::uint64_t v) { for (int i = 7; i >= 0; --i) out_ += static_cast<char>((v >> (8 * i)) & 0xFF); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void flag(bool v) { u8(v ? 1 : 0); }
  void str(std::string_view s) { u32(static_cast<std::uint32_t>(s.size())); out_.append(s); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what row_writer wrote; any overrun makes ok() false and every later read return 0/"".
class row_reader {
 public:
  explicit row_reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  // Everything read, nothing left over.
  bool done() const { return ok_ && pos_ == in_.size(); }
  std::uint8_t u8() { return need(1) ? static_cast<std::uint8_t>(in_[pos_++]) : 0; }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in_[pos_++]);
    return v;
  }
  std::uint64_t u64() {
    if (!need(8)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in_[pos_++]);
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  bool flag() { return u8() != 0; }
  std::string str() {
    const std::uint32_t n = u32();
    if (!need(n)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }

 private:
  bool need(std::size_t n) {
    if (ok_ && in_.size() - pos_ >= n) return true;
    ok_ = false;
    return false;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// The value read, if the reader read exactly the row; errc::corrupt naming `what` otherwise.
template <class T>
result<T> finish_row(const row_reader& r, T value, const char* what) {
  if (!r.done()) return error(errc::corrupt, what, "the stored row does not decode");
  return value;
}

}  // namespace sazesh
