// agency_feed: the records of agencies' referral feeds (schemas/dossier.fbs), built by the
// engine for the events a command writes and published by the log with those events (side
// records: on Kafka, topic PREFIX "agency." AGENCY, in the events' transaction).
//
//   auto sides = agency_side_records(log, records, request.events);
//   request.side_records = std::move(*sides);
//
// One record per (event, concerned agency): ReferredToAgency, ReferralAcknowledged,
// ReferralExtended, ReferralOverdue and AgencyDecided concern their agency; ReferralTransferred
// concerns both the agency it leaves and the one it goes to. The record's key is the case id; its
// value a Dossier: the event, the case's events the agency has not had yet (since the last event
// of the case that concerned it; its first record has the whole history), and the documents. A
// window larger than max_dossier_history_bytes goes in several records (parts), so a record stays
// well under a Kafka record's limit however long the case.
#pragma once

#include <string>
#include <vector>

#include "engine/log/event_log.h"
#include "engine/base/result.h"
#include "engine/domain/state.h"

namespace sazesh {

// The agencies an event concerns (none for most events).
std::vector<std::string> agencies_concerned(const event_record& e);

inline constexpr std::size_t max_dossier_history_bytes = 256 * 1024;

// The side records for a command's events: `records` (decoded) and `bytes` (as appended) are
// its events in order, all of one stream. The stream's earlier events are its durable ones, read
// from `history` (the log the command is appended to or, for a copy, the log copied from), then
// `pending`: envelopes of the stream decided before these and not durable yet (queued in the
// same unit, or in the unit being written), in order. The documents are those their
// DocumentAttached events name.
result<std::vector<side_record>> agency_side_records(event_log& history, const std::vector<std::string>& pending,
                                                     const std::vector<event_record>& records,
                                                     const std::vector<std::string>& bytes);

}  // namespace sazesh
