// What the projector suites (projector_test.cc, projector_kill_test.cc) share: opening a store,
// dumping every key of one, and telling two dumps apart in words.
#pragma once

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "projections/kv.h"
#include "projections/store.h"

namespace sazesh::testing {

using kv_dump = std::map<std::string, std::string, std::less<>>;

inline std::unique_ptr<projections::projection_store> open_store(const std::filesystem::path& folder,
                                                                 projections::store_mode mode) {
  auto s = projections::projection_store::open(folder, mode);
  REQUIRE_MESSAGE(s.has_value(), "opening projections: " << s.error().message());
  return std::move(*s);
}

// Every key and value of a store (or any reader), or nothing if the scan failed (no doctest
// macros: it also runs in forked children).
inline std::optional<kv_dump> try_dump(const projections::kv_reader& kv) {
  kv_dump out;
  auto scanned = kv.scan(std::string(), std::string(1, '\xFF'), [&](std::string_view k, std::string_view v) {
    out.emplace(std::string(k), std::string(v));
    return true;
  });
  if (!scanned) return std::nullopt;
  return out;
}

inline kv_dump dump(const projections::kv_reader& kv) {
  auto d = try_dump(kv);
  REQUIRE_MESSAGE(d.has_value(), "reading every key of the projections failed");
  return std::move(*d);
}

// A key for people: printable ASCII as is, every other byte as \xNN.
inline std::string printable(std::string_view key) {
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7F && c != '\\') out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

// Empty if equal; else the first key (in key order) where they differ, and how.
inline std::string first_difference(const kv_dump& a, const kv_dump& b, const char* a_name, const char* b_name) {
  auto i = a.begin();
  auto j = b.begin();
  while (i != a.end() || j != b.end()) {
    if (j == b.end() || (i != a.end() && i->first < j->first))
      return fmt::format("key {} is only in {} ({} vs {} keys)", printable(i->first), a_name, a.size(), b.size());
    if (i == a.end() || j->first < i->first)
      return fmt::format("key {} is only in {} ({} vs {} keys)", printable(j->first), b_name, a.size(), b.size());
    if (i->second != j->second)
      return fmt::format("key {} differs: {} has {} bytes, {} has {} bytes", printable(i->first), a_name,
                         i->second.size(), b_name, j->second.size());
    ++i;
    ++j;
  }
  return "";
}

}  // namespace sazesh::testing
