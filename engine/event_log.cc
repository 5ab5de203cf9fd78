#include "engine/event_log.h"

#include <fmt/format.h>

namespace sazesh {

error not_written_after(const error& earlier) {
  return error(errc::conflict, "command",
               fmt::format("not written: a command before it in the same group was not ({}: {})", earlier.field(),
                           earlier.rule()));
}

result<std::vector<result<append_outcome>>> event_log::append_group(std::vector<append_request> requests) {
  std::vector<result<append_outcome>> outcomes;
  outcomes.reserve(requests.size());
  std::optional<error> stopped;
  for (auto& r : requests) {
    if (stopped) {
      outcomes.emplace_back(not_written_after(*stopped));
      continue;
    }
    auto out = append(std::move(r));
    if (!out) stopped = out.error();
    else if (out->repeated) stopped = error(errc::conflict, "command_id", "was appended before");
    outcomes.push_back(std::move(out));
  }
  return outcomes;
}

}  // namespace sazesh
