// apply_event: how one event changes the projections. It reads the rows it needs through the
// change set and writes the new rows, index keys and counters into it. It depends on nothing
// but the events, so folding the same log always gives the same keys and values, whether into
// RocksDB (projector) or into memory (memory_kv, for checking).
#pragma once

#include <string_view>

#include "engine/base/ids.h"
#include "engine/base/result.h"
#include "engine/domain/state.h"
#include "projections/kv.h"

namespace sazesh::projections {

// Applies one decoded event; `bytes` is its envelope as stored in the log (kept in the case
// history for dossiers). errc::corrupt if the event does not fit the projections (a case event
// for a case never filed).
status apply_event(change_set& kv, const event_record& e, std::string_view bytes);

// The next log position to apply in a partition, as stored (0 for empty projections).
result<log_position> stored_position(const kv_reader& kv, std::uint32_t partition = 0);
void store_position(change_set& kv, log_position next, std::uint32_t partition = 0);

}  // namespace sazesh::projections
