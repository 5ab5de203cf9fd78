// Internal to engine/: the helpers that engine.cc (catch-up, tick, seal policy, reads) and
// engine_execute.cc (execute and the write queue) share. Not a public header: the contract is
// engine/engine.h.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "engine/domain/state.h"

namespace sazesh::engine_detail {

inline constexpr std::string_view deadline_prefix = "deadline:";

inline std::string deadline_command_id(const case_state& c) {
  return fmt::format("{}{}:{}", deadline_prefix, c.id, c.head.version.value());
}

inline bool due_now(const case_state& c, timestamp_ms now) {
  return std::any_of(c.deadlines.begin(), c.deadlines.end(), [&](const deadline& d) { return d.due <= now; });
}

// A stream's state as the world holds it: a case, a party, or nothing yet.
inline std::optional<case_state> case_copy(const world& w, const std::string& stream) {
  if (const case_state* c = w.find_case(stream)) return *c;
  return std::nullopt;
}

inline std::optional<party_state> party_copy(const world& w, const std::string& stream) {
  if (const auto* c = w.find_consumer(stream)) return party_state(*c);
  if (const auto* b = w.find_business(stream)) return party_state(*b);
  if (const auto* a = w.find_agency(stream)) return party_state(*a);
  if (const auto* m = w.find_mediator(stream)) return party_state(*m);
  if (const auto* k = w.find_credential(stream)) return party_state(*k);
  return std::nullopt;
}

}  // namespace sazesh::engine_detail
