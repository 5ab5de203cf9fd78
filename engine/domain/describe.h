// Events in words, for timelines and the main job's report: "offer 1 accepted; remedy due
// 2026-12-05 10:00". Dates in the text are Tehran time, Gregorian; callers add Jalali.
#pragma once

#include <string>

#include "engine/domain/state.h"

namespace sazesh {

// A short title for the event kind, e.g. "offer accepted".
std::string event_title(const fb::EventUnion& e);
// The title and the event's particulars on one line (free text quoted, shortened).
std::string describe(const event_record& e);

}  // namespace sazesh
