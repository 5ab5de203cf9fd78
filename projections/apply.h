// apply_event: how one event changes the projections. It reads the rows it needs through the
// change set and writes the new rows, index keys and counters into it. It depends on nothing
// but the events, so folding the same log always gives the same keys and values, whether into
// RocksDB (projector) or into memory (memory_kv, for checking).
#pragma once

#include <optional>
#include <string>
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

// The last event the projections applied (or left out, contained) in a partition: its position
// and the SHA-256 of its bytes. A projector checks at start that the log still holds it there,
// so projections can never stand ahead of their log unnoticed.
struct applied_event {
  log_position position;
  std::string hash;  // 32 bytes
  bool operator==(const applied_event&) const = default;
};

// The next log position to apply in a partition, as stored (0 for empty projections), and
// the last event applied before it (none for empty projections, or ones stored before the
// mark was kept).
result<log_position> stored_position(const kv_reader& kv, std::uint32_t partition = 0);
result<std::optional<applied_event>> last_applied(const kv_reader& kv, std::uint32_t partition = 0);
void store_position(change_set& kv, log_position next, std::uint32_t partition = 0,
                    const std::optional<applied_event>& last = std::nullopt);

}  // namespace sazesh::projections
