// kafka_feed: reading one topic of the log's cluster as a member of a consumer group, for
// agencies' referral feeds (topic PREFIX "agency." AGENCY, see kafka_log.h and
// schemas/dossier.fbs). The group's committed offsets say where a feed resumes, so an agency's
// client reads each record once across runs, however often it stops.
//
//   auto feed = open_kafka_feed({.bootstrap_servers = bs, .topic = kafka_agency_topic("sazesh.", "tazirat"),
//                                .group_id = "sazesh.agency.tazirat.feed"});
//   while (!(*feed)->at_end()) { auto batch = (*feed)->poll(200ms, 256); …; (*feed)->commit(); }
//
// Reads are isolation.level=read_committed: a record is seen only once the writer's
// transaction that wrote it (with the checkpoint that covers its event) committed.
//
// Thread safety: one thread per feed.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/result.h"

namespace sazesh {

struct kafka_feed_options {
  std::string bootstrap_servers;
  std::string topic;
  std::string group_id;
  std::map<std::string, std::string> config;  // librdkafka settings passed through verbatim
  std::chrono::milliseconds timeout{30'000};  // to reach the cluster and join the group
};

struct feed_record {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  std::string key;
  std::string value;
};

class kafka_feed {
 public:
  virtual ~kafka_feed() = default;
  // Up to `max` records, waiting up to `wait` for the first. Errors: errc::unavailable when the
  // cluster stays away past the timeout, errc::unauthorized when an ACL refuses the topic or group.
  virtual result<std::vector<feed_record>> poll(std::chrono::milliseconds wait, std::size_t max) = 0;
  // Whether the group has its partitions and every one was read to its end (as of the last poll).
  virtual bool at_end() const = 0;
  // Commits the group's offsets past every record poll() returned.
  virtual status commit() = 0;
  // Commits the group's offset in `next`'s partition at `next`: the records before it were taken,
  // `next` is read again by the group's next run (a reader that stops at a record it refuses).
  virtual status commit_before(const feed_record& next) = 0;
};

// Opens a feed; errc::not_found if the topic does not exist (no record was ever published to it).
result<std::unique_ptr<kafka_feed>> open_kafka_feed(const kafka_feed_options& options);

}  // namespace sazesh
