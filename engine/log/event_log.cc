#include "engine/log/event_log.h"

#include <fmt/format.h>

namespace sazesh {

error not_written_after(const error& earlier) {
  return error(errc::conflict, "command",
               fmt::format("not written: a command before it in the same group was not ({}: {})", earlier.field(),
                           earlier.rule()));
}

std::optional<std::vector<result<append_outcome>>> refuse_invalid_unit(
    const std::vector<append_request>& requests, status (*check)(const append_request&)) {
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto checked = check(requests[i]);
    if (checked) continue;
    const error refused = error(errc::conflict, "command",
                                fmt::format("not written: request {} of its group is invalid ({}: {})", i + 1,
                                            checked.error().field(), checked.error().rule()));
    std::vector<result<append_outcome>> outcomes;
    for (std::size_t j = 0; j < requests.size(); ++j) outcomes.emplace_back(j == i ? checked.error() : refused);
    return outcomes;
  }
  return std::nullopt;
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
