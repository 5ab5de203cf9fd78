// The key-value view the projections are computed on. The projection logic (apply.h) reads
// rows through a kv_reader and writes into a change_set; the RocksDB store commits a change set
// in one WriteBatch together with the log position, and memory_kv holds the same keys in a
// std::map, so the same events folded in memory and in RocksDB can be compared key by key.
//
// Errors are errors: a read that fails (an I/O error, a corrupt block, a table file gone) is
// errc::io or errc::corrupt, never "absent", and a scan that stops early says why.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/base/result.h"

namespace sazesh::projections {

class kv_reader {
 public:
  virtual ~kv_reader() = default;
  // The value of `key`, or nothing if it is absent.
  virtual result<std::optional<std::string>> get(std::string_view key) const = 0;
  // Calls `each` for every key in [from, to) in key order until it returns false.
  virtual status scan(std::string_view from, std::string_view to,
                      const std::function<bool(std::string_view key, std::string_view value)>& each) const = 0;
};

// Writes layered over a reader: reads see the writes first. Not thread-safe.
class change_set final : public kv_reader {
 public:
  explicit change_set(const kv_reader& base) : base_(&base) {}
  // Layered over another change set (reads see both, this one first).
  explicit change_set(const change_set& base) : base_(&base) {}
  change_set(change_set&&) = delete;
  change_set& operator=(const change_set&) = delete;

  result<std::optional<std::string>> get(std::string_view key) const override;
  status scan(std::string_view from, std::string_view to,
              const std::function<bool(std::string_view, std::string_view)>& each) const override;

  void put(std::string key, std::string value) { changes_[std::move(key)] = std::move(value); }
  void erase(std::string key) { changes_[std::move(key)] = std::nullopt; }
  // Reads through `base` from now on: for a set layered over another whose changes `base`
  // now holds (committed), so that the other can go.
  void rebase(const kv_reader& base) { base_ = &base; }

  // Every key written (a value) or erased (nullopt), in key order.
  const std::map<std::string, std::optional<std::string>, std::less<>>& changes() const { return changes_; }
  void clear() { changes_.clear(); }

 private:
  const kv_reader* base_;
  std::map<std::string, std::optional<std::string>, std::less<>> changes_;
};

// An in-memory store: the model the RocksDB projections are checked against.
class memory_kv final : public kv_reader {
 public:
  result<std::optional<std::string>> get(std::string_view key) const override;
  status scan(std::string_view from, std::string_view to,
              const std::function<bool(std::string_view, std::string_view)>& each) const override;
  void commit(const change_set& c);
  const std::map<std::string, std::string, std::less<>>& data() const { return data_; }

 private:
  std::map<std::string, std::string, std::less<>> data_;
};

}  // namespace sazesh::projections
