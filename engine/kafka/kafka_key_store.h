// kafka_key_store: the keys that seal personal data (engine/log/key_store.h) for a log on Kafka,
// on a topic of the log's prefix, so every machine that writes or reads the log holds the same
// keys and a forget on one erases on all.
//
//   auto keys = open_kafka_keys(options);   // the log's kafka_log_options
//   engine_options eo; eo.keys = keys->get();
//
// The topic PREFIX "keys": one partition, cleanup.policy=compact, created by the first store
// that opens it (min.insync.replicas as the events topic; segment.ms and min.compaction.lag.ms
// 1 hour, max.compaction.lag.ms 1 day); an existing one must be compacted and have one
// partition. No agency is given an ACL on it: an agency's principal is refused it (an opener
// refused reads every sealed field as sealed, see cli/app.cc). Records (never tombstones):
//   key "subject/" ID   value 'K' + 32 bytes    the subject's key
//   key "subject/" ID   value 'F'               the subject was forgotten
//   key "digest"        value 'D' + 32 bytes    the log's digest key
// Readers take the first key of a subject (and the first digest key); a subject's 'F' makes it
// forgotten for good, whatever follows. Compaction keeps only a key's last record, so a store
// that writes keeps the last record of each key telling the same as the first: when two
// writers made a key for one subject at once, the one whose record came second is refused
// (errc::unavailable, "try again": the unit it sealed is not written, and the retry seals under
// the first key) and the first key is written again after it; a key written after an 'F' is
// followed by another 'F'. Compaction waits min.compaction.lag.ms, time enough for that, with
// one gap left: a second writer stopped between writing its key and reading the topic back
// leaves its key last; the first writer's next flush that makes a key writes the first one
// again, but if none comes within the lag and the cleaner then compacts the older segment
// before that repair's segment rolls, a reader opening meanwhile takes the second key for the
// first. It needs two writers making one person's key at once (run one writer, as kafka_log.h
// says); writing key records in the log's own transactions would close it.
//
// Erasure: destroy() writes the subject's 'F' and forgets the key in this process at once;
// every other process reads the 'F' within a second (keys are read again at most once a second,
// and at once for a subject not known). The key's own record leaves the cluster when the
// cleaner compacts its segment (within max.compaction.lag.ms of the 'F', once the active
// segment has rolled; kafka-configs can set them lower on the topic).
//
// Writing: flush() produces the keys made since the last one with an idempotent producer
// (acks=all) and waits for every acknowledgement, then reads the topic up to them to check that
// each is its subject's first; only then does the engine write the events they seal. A new
// subject's key is made without asking the topic first (it is read again at most once a
// second): a key another writer made meanwhile is found by that check.
//
// Thread safety: all members may be called from several threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/base/result.h"
#include "engine/kafka/kafka_log.h"
#include "engine/log/key_store.h"

namespace sazesh {

// The store of the log `options` names (bootstrap, prefix, replication, pass-through settings,
// timeout); `options.follower` opens it without creating the topic (a store without a topic
// holds no key and makes none). errc::unauthorized if an ACL refuses the topic.
result<std::unique_ptr<key_store>> open_kafka_keys(const kafka_log_options& options);

std::string kafka_keys_topic(std::string_view prefix);

}  // namespace sazesh
