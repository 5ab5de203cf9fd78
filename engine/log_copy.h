// log_copy: copies every event of one event_log into another (embedded <-> Kafka), byte for
// byte, each command's events in one append with the command's own id, so the copy answers
// find_command, versions and hash chains exactly as the source does. (With a transform, the
// bytes are the transform's: log_seal.h.)
//
//   auto report = copy_log(*embedded, *kafka);   // refuses a target that has any event
//
// Order: each stream's events keep their order (they are appended at expected versions
// 0, 1, 2, … of the target). Across streams the copy follows the source's order loosely: the
// source's partitions are merged by event time, and `workers` threads append streams in
// parallel (a stream always by the same thread), since an event log promises no order across
// streams beyond a partition's. Commands are recognised by their envelope's command id: the
// consecutive events of one stream with one command id in a partition form one command.
//
// The agencies' feed records of the copied events (engine/agency_feed.h) are published by the
// target's first signing (engine/feed_relay.h), as for events the engine wrote.
//
// Errors: errc::already_exists if the target has events; errc::corrupt if a source record does
// not decode, or if the target says a command was already appended (it never should, the
// target being empty at the start); the first append error otherwise. A copy that fails midway
// leaves what it copied: start again into an empty target.
//
// Thread safety: the logs must not be written by anyone else during the copy.
#pragma once

#include <cstdint>
#include <functional>

#include "engine/log/event_log.h"
#include "engine/base/result.h"

namespace sazesh {

struct copy_report {
  std::uint64_t events = 0;
  std::uint64_t commands = 0;
  std::uint64_t streams = 0;
};

using copy_progress_fn = std::function<void(const copy_report&)>;
// Rewrites one command's events before they are queued for the target (log_seal.h seals them).
// Called on one thread, each stream's commands in their order; an error stops the copy.
using copy_transform_fn = std::function<status(append_request&)>;

// errc::already_exists (naming "target") if `target` holds any event: a copy goes only into an
// empty log (copy_log checks it first; a caller that writes beside the log, keys say, before
// copying checks it before that).
status check_empty_target(event_log& target);

result<copy_report> copy_log(event_log& source, event_log& target, unsigned workers = 8,
                             const copy_progress_fn& on_progress = {}, const copy_transform_fn& transform = {});

}  // namespace sazesh
