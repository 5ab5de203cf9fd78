// agency_feed: the records of agencies' referral feeds (schemas/dossier.fbs), built for the
// events of a log that has topics (Kafka: topic PREFIX "agency." AGENCY) once they are committed,
// and published with the signed checkpoint that first covers them (engine/feed_relay.h), each
// carrying that checkpoint and its event's inclusion proof (with_proof).
//
//   auto sides = agency_side_records(log, {record}, {bytes});
//
// One record per (event, agency told of it, case_feed): ReferredToAgency, ReferralAcknowledged,
// ReferralExtended, ReferralOverdue and AgencyDecided concern their agency; ReferralTransferred
// concerns both the agency it leaves and the one it goes to; DocumentAttached the agency holding
// the case; CaseClosed and CaseWithdrawn the agency that held it last. The record's last part
// also carries the parties' registrations (the first event of the consumer's and the business's
// streams). The record's key is the case id; its
// value a Dossier: the event, the case's events the agency has not had yet (since the last event
// of the case that concerned it; its first record has the whole history), and the documents. A
// window larger than max_dossier_history_bytes goes in several records (parts), so a record stays
// well under a Kafka record's limit however long the case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/log/event_log.h"
#include "engine/base/result.h"
#include "engine/domain/state.h"

namespace sazesh {

// The agencies an event names as concerned (none for most events).
std::vector<std::string> agencies_concerned(const event_record& e);

// What agencies' feeds are told, event by event, along one case's events in order: each event's
// own agencies (agencies_concerned); a document attached while an agency holds the case (from
// the referral or transfer to it until its decision, a transfer away, or the case's end), told to
// that agency; the case's closing or withdrawal, told to the agency that held the case last (an
// agency that passed it on is told nothing after its transfer: not what others did with it).
class case_feed {
 public:
  // The agencies told of `e` (the case's next event), in order, without repeats; then takes it in.
  std::vector<std::string> next(const event_record& e);

 private:
  std::string holder_;       // holds the case now
  std::string last_holder_;  // held it last (decided, or holds it now)
};

// Whether an event of its kind can be told to `agency` at all: what a reader of one record can
// check without the case's history.
bool may_be_told(const event_record& e, const std::string& agency);

// The agencies told of `e`, an event of a case in `log` (case_feed): for a document, a closing or
// a withdrawal, the case's events up to it are read and replayed.
result<std::vector<std::string>> agencies_told_of(event_log& log, const event_record& e);

// The parties' streams a case's filing names: the consumer's, then the business's (none for
// another event).
std::vector<std::string> parties_named(const event_record& filed);

inline constexpr std::size_t max_dossier_history_bytes = 256 * 1024;

// The streams agency_side_records reads (a case's history, its parties' first events), kept
// once read from the log or told (remember), with each event decoded once: the relay builds the
// dossiers of one case's events one after another. Keeps about `max_bytes` of events and their
// decodings (a decoding counted as about twice its event's bytes); once past that, its next
// events() or remember() starts again empty.
class stream_history {
 public:
  explicit stream_history(event_log& log, std::size_t max_bytes = std::size_t{64} << 20)
      : log_(log), max_bytes_(max_bytes) {}
  // The stream's events from sequence 1, as bytes: at least `count` of them (those told, then
  // the log's), or all the log holds if it holds fewer. The pointer holds until the next call.
  result<const std::vector<std::string>*> events(const std::string& stream, std::uint64_t count);
  // The stream's kept events decoded, at least its first `count` of them if it keeps that many
  // (each decoded once while kept; call events() first). The pointer holds until the next call.
  result<const std::vector<event_record>*> decoded(const std::string& stream, std::uint64_t count);
  // An event the caller already holds, read from this log or one holding the same events (the
  // relay walks each partition in order, and a stream's events are all in one): kept if it is
  // its stream's first or follows what is kept of it, so its history need not be read back;
  // with `record`, its decoding (of these very bytes). Invalidates a pointer returned before.
  void remember(const std::string& stream, std::uint64_t sequence, const std::string& bytes,
                std::optional<event_record> record = std::nullopt);

 private:
  struct kept {
    std::vector<std::string> bytes;
    std::vector<event_record> records;  // the first of `bytes`, decoded
  };
  void bound();

  event_log& log_;
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, kept> streams_;
};

// The side records for events of one stream, in order: `records` (decoded) and `bytes` (as in
// the log). The stream's earlier events are read from `history` (the log, or a copy of it). The
// documents are those their DocumentAttached events name. The records carry no proof yet.
result<std::vector<side_record>> agency_side_records(stream_history& history, const std::vector<event_record>& records,
                                                     const std::vector<std::string>& bytes);
result<std::vector<side_record>> agency_side_records(event_log& history, const std::vector<event_record>& records,
                                                     const std::vector<std::string>& bytes);

// A Dossier record with its event's proof: `checkpoint` (a signed note of the event's
// partition's tree), the event's leaf index in it and the inclusion proof's hashes (32 bytes
// each, from the leaf up).
result<std::string> with_proof(std::string_view dossier, std::string_view checkpoint, std::uint64_t leaf_index,
                               const std::vector<std::string>& inclusion_proof);

}  // namespace sazesh
