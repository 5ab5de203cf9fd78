// How events change the projections. A row_batch reads the rows it needs through a change set
// once, keeps them decoded while it applies a run of events, and writes each changed row, the
// index keys and counters that follow from it, once, when flushed. It depends on nothing but
// the events, so folding the same log always gives the same keys and values, whatever the
// batches, whether into RocksDB (projector) or into memory (memory_kv, for checking).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/base/ids.h"
#include "engine/base/result.h"
#include "engine/domain/state.h"
#include "projections/kv.h"
#include "projections/rows.h"

namespace sazesh::projections {

class row_batch {
 public:
  // `rank`: keep the rankings of businesses (keys::top) as scorecards change; without it they
  // are left to put_rankings() (a rebuild writes them once, at its end).
  explicit row_batch(change_set& kv, bool rank = true);
  ~row_batch();
  row_batch(const row_batch&) = delete;
  row_batch& operator=(const row_batch&) = delete;

  // Applies one decoded event. errc::corrupt if the event does not fit the projections (a case
  // event for a case never filed); after an error the batch must be dropped, not flushed: the
  // event may have been applied in part.
  status apply(const event_record& e);

  // The case as this batch has it (nullptr if it was never filed).
  result<const case_row*> find_case(const std::string& case_id);

  // Writes every row changed since the last flush into the change set, with the index keys,
  // rankings and statistics that follow from them, and forgets the rows held.
  status flush();

 private:
  struct held;
  std::unique_ptr<held> held_;
};

// The ranking keys (keys::top) of a scorecard, as row_batch keeps them.
void put_rankings(change_set& kv, const scorecard& sc);

// One event on its own: a batch of one, flushed.
status apply_event(change_set& kv, const event_record& e);

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
