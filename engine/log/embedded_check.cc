// The embedded log's audit of its own bookkeeping (event_log::check_storage): the stream index
// ('s') and the command records ('c') against the events ('e'); see embedded_format.h.
#include <fmt/format.h>
#include <rocksdb/iterator.h>

#include <functional>

#include "engine/log/embedded_format.h"
#include "engine/log/embedded_log_detail.h"
#include "engine/record/codec.h"

namespace sazesh::embedded_log_detail {

using namespace embedded_format;

status embedded_log::check_storage() {
  std::optional<snapshot_guard> snapshot;
  if (!follower_) snapshot.emplace(*db_);
  rocksdb::ReadOptions options;
  if (snapshot) options.snapshot = snapshot->get();
  // The log's end as of the same snapshot (appends may land meanwhile).
  auto end = recover_next_position(*db_, options.snapshot);
  if (!end) return end.error();
  const std::uint64_t events = *end;

  std::string value;
  const auto event_at = [&](std::uint64_t position, const std::string& field) -> result<stored_event> {
    const std::string key = event_key(position);
    const auto s = db_->Get(options, key, &value);
    if (s.IsNotFound()) return error(errc::corrupt, field, fmt::format("names position {}, where there is no event", position));
    if (!s.ok()) return from_status(s, field);
    auto e = decode_event(key, value);
    if (!e) return error(errc::corrupt, field, fmt::format("names position {}: {}", position, e.error().rule()));
    return e;
  };
  const auto scan = [&](char kind, const std::function<status(std::string_view, std::string_view)>& each) -> status {
    const std::string lower(1, kind);
    const std::string upper(1, static_cast<char>(kind + 1));
    const rocksdb::Slice lo(lower), hi(upper);
    rocksdb::ReadOptions ro = options;
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &hi;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (auto s = each(view(it->key()), view(it->value())); !s) return s;
    if (!it->status().ok()) return from_status(it->status(), kind == k_stream_kind ? "stream_index" : "command");
    return ok;
  };

  // The stream index: one key per event, (stream, sequence) -> the position holding exactly that.
  // Keys are unique, so as many keys as events, each matching, is a one-to-one map.
  std::uint64_t indexed = 0;
  auto index = scan(k_stream_kind, [&](std::string_view key, std::string_view v) -> status {
    const auto zero = key.find('\0', 1);
    if (zero == std::string_view::npos || key.size() != zero + 9 || v.size() != 8)
      return error(errc::corrupt, "stream_index", "malformed stream index entry");
    const std::string_view stream = key.substr(1, zero - 1);
    const std::uint64_t sequence = get_uint<std::uint64_t>(key, zero + 1);
    const std::uint64_t position = get_uint<std::uint64_t>(v, 0);
    auto e = event_at(position, "stream_index");
    if (!e) return e.error();
    if (e->stream != stream || e->sequence.value() != sequence)
      return error(errc::corrupt, "stream_index",
                   fmt::format("says {} #{} is at position {}, which holds {} #{}", stream, sequence, position, e->stream,
                               e->sequence.value()));
    ++indexed;
    return ok;
  });
  if (!index) return index;
  if (indexed != events)
    return error(errc::corrupt, "stream_index", fmt::format("names {} events; the log holds {}", indexed, events));

  // The command records: each command's events are the `count` positions from its first, of its
  // stream, in sequence, and carry its id; together they name every event once.
  std::uint64_t claimed = 0;
  auto commands = scan(k_command_kind, [&](std::string_view key, std::string_view v) -> status {
    const std::string_view command_id = key.substr(1);
    auto c = decode_command(v);
    if (!c) return c.error();
    if (c->count > events || c->first_position.value() > events - c->count)
      return error(errc::corrupt, "command", fmt::format("command {} names events past the log's end", command_id));
    for (std::uint64_t i = 0; i < c->count; ++i) {
      auto e = event_at(c->first_position.value() + i, "command");
      if (!e) return e.error();
      auto record = decode(e->bytes);
      if (e->stream != c->stream || e->sequence.value() != c->first_sequence.value() + i || !record ||
          record->command_id != command_id)
        return error(errc::corrupt, "command",
                     fmt::format("command {} says position {} holds its event {} #{}; it does not", command_id,
                                 c->first_position.value() + i, c->stream, c->first_sequence.value() + i));
    }
    claimed += c->count;
    return ok;
  });
  if (!commands) return commands;
  if (claimed != events)
    return error(errc::corrupt, "command", fmt::format("the command records name {} events; the log holds {}", claimed, events));
  return ok;
}

}  // namespace sazesh::embedded_log_detail
