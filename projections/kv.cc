#include "projections/kv.h"

#include <vector>

namespace sazesh::projections {

result<std::optional<std::string>> change_set::get(std::string_view key) const {
  if (auto it = changes_.find(key); it != changes_.end()) return it->second;
  return base_->get(key);
}

status change_set::scan(std::string_view from, std::string_view to,
                        const std::function<bool(std::string_view, std::string_view)>& each) const {
  // Merge the base's keys with the pending changes: collect the base range first (scans in the
  // projection logic are short), then overlay.
  std::map<std::string, std::string, std::less<>> merged;
  auto scanned = base_->scan(from, to, [&](std::string_view k, std::string_view v) {
    merged.emplace(std::string(k), std::string(v));
    return true;
  });
  if (!scanned) return scanned;
  for (auto it = changes_.lower_bound(from); it != changes_.end() && it->first < to; ++it) {
    if (it->second) merged[it->first] = *it->second;
    else merged.erase(it->first);
  }
  for (const auto& [k, v] : merged)
    if (!each(k, v)) break;
  return ok;
}

result<std::optional<std::string>> memory_kv::get(std::string_view key) const {
  if (auto it = data_.find(key); it != data_.end()) return std::optional<std::string>(it->second);
  return std::optional<std::string>();
}

status memory_kv::scan(std::string_view from, std::string_view to,
                       const std::function<bool(std::string_view, std::string_view)>& each) const {
  for (auto it = data_.lower_bound(from); it != data_.end() && it->first < to; ++it)
    if (!each(it->first, it->second)) break;
  return ok;
}

void memory_kv::commit(const change_set& c) {
  for (const auto& [k, v] : c.changes()) {
    if (v) data_[k] = *v;
    else data_.erase(k);
  }
}

}  // namespace sazesh::projections
