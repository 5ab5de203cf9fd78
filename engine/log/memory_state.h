// memory_state: state rows (event_log.h, state_rows) held in memory, for a log that keeps none
// of its own: the engine folds such a log into them at open, as it did before it had rows.
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <map>
#include <mutex>

#include "engine/log/event_log.h"

namespace sazesh {

class memory_state final : public state_rows {
 public:
  explicit memory_state(std::uint32_t partitions) : positions_(partitions, log_position(0)) {}

  result<std::optional<std::string>> get(std::string_view key) override {
    std::lock_guard lock(mutex_);
    auto it = rows_.find(key);
    if (it == rows_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  status scan(std::string_view from, std::string_view to,
              const std::function<bool(std::string_view, std::string_view)>& each) override {
    std::lock_guard lock(mutex_);
    for (auto it = rows_.lower_bound(from); it != rows_.end() && it->first < to; ++it)
      if (!each(it->first, it->second)) break;
    return ok;
  }
  result<std::vector<log_position>> positions() override {
    std::lock_guard lock(mutex_);
    return positions_;
  }
  status write(const std::vector<state_write>& writes, const std::vector<log_position>& positions) override {
    std::lock_guard lock(mutex_);
    if (positions.size() != positions_.size())
      return error(errc::invalid_argument, "partition", "positions name another number of partitions");
    for (const auto& w : writes) {
      if (w.value) rows_.insert_or_assign(w.key, *w.value);
      else if (auto it = rows_.find(w.key); it != rows_.end()) rows_.erase(it);
    }
    positions_ = positions;
    return ok;
  }
  status clear() override {
    std::lock_guard lock(mutex_);
    rows_.clear();
    for (auto& p : positions_) p = log_position(0);
    return ok;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> rows_;
  std::vector<log_position> positions_;
};

}  // namespace sazesh
