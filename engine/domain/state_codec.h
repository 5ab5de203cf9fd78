// state_codec: the engine's state (state.h) as stored rows (engine/base/row_codec.h), for the
// engine's state store and the projections, which share the case encoding.
//
//   row_writer w; write_case_state(w, c); std::string row = w.take();
//   auto back = decode_case_state(row);   // errc::corrupt if it does not decode
//
// Pure; no I/O.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "engine/base/result.h"
#include "engine/base/row_codec.h"
#include "engine/domain/state.h"

namespace sazesh {

// A case's state, written field by field (a prefix the projections' case rows share).
void write_case_state(row_writer& w, const case_state& s);
// Reads what write_case_state wrote; the reader's ok() says whether it did.
void read_case_state(row_reader& rd, case_state& s);

std::string encode_case_state(const case_state& s);
result<case_state> decode_case_state(std::string_view bytes);

// A party of any kind, tagged with its kind.
using party_state = std::variant<consumer_state, business_state, agency_state, mediator_state, credential_state>;
std::string encode_party_state(const party_state& p);
result<party_state> decode_party_state(std::string_view bytes);

}  // namespace sazesh
