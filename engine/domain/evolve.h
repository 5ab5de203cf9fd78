// evolve: folds one event into the state. Pure and total: every event of the schema is handled
// (a switch with no default, so a new event kind is a compile error until it is), and applying
// the same events in the same order always gives the same state.
#pragma once

#include <optional>

#include "engine/domain/state.h"

namespace sazesh {

// Applies a decoded log record to the whole world: parties, cases and their indexes, and the
// stream head (version and hash) of the record's stream.
void evolve(world& w, const event_record& e);

// Whether an event is a case's (on a C-… stream), rather than a party's or a credential's. The
// one place that says so: a new kind of event does not compile until it is sorted here.
bool is_case_event(fb::Event type);

// What a case event means for its business's trust score, if anything.
std::optional<score_kind> score_kind_of(const fb::EventUnion& e);

// Applies one case event to a case, as of `time`, made by an actor of role `by`. Used by
// evolve(), by the projector, and by decide() when a command's later events depend on its
// earlier ones (the deadline ladder).
void evolve_case(case_state& c, const fb::EventUnion& e, timestamp_ms time,
                 fb::Role by = fb::Role_system);

}  // namespace sazesh
