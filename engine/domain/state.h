// The state the engine decides on: every party and every case, as folded from the log by
// evolve(). Nothing here is stored; it is always rebuilt from events, so it can change shape
// freely between versions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/domain/commands.h"
#include "engine/base/ids.h"
#include "engine/domain/trust.h"
#include "engine/record/record.h"

namespace sazesh {

enum class case_status {
  awaiting_documents,   // filed, some required documents are missing
  awaiting_triage,      // filed, complete, waiting for an operator
  with_business,        // forwarded; the response ladder runs
  negotiation,          // the business answered; messages and offers
  remedy_due,           // an offer was accepted; the business must deliver
  remedy_confirmation,  // the business says it delivered; the consumer may object
  awaiting_mediator,    // mediation asked for (or escalated), no mediator yet
  in_mediation,
  mediation_failed,     // waiting for referral
  referred,             // held by one agency
  closed,
  rejected,
  withdrawn,
};
const char* to_string(case_status s);
bool is_open(case_status s);

enum class deadline_kind {
  documents,
  response,
  remedy,
  remedy_confirmation,
  mediation,
  referral_acknowledgement,
  referral_decision,
};
const char* to_string(deadline_kind k);
// Who must act before the deadline passes: "consumer", "business", "mediator" or "agency".
const char* who_acts(deadline_kind k);

struct deadline {
  deadline_kind kind;
  timestamp_ms due = 0;
  bool operator==(const deadline&) const = default;
};

struct document_ref {
  fb::DocumentKind kind = fb::DocumentKind_other;
  std::string sha256;  // raw bytes
  std::string file_name;
  std::uint64_t size_bytes = 0;
  bool operator==(const document_ref&) const = default;
};

enum class offer_status { open, accepted, rejected, superseded };

struct offer {
  std::uint32_t number = 0;
  fb::Role by = fb::Role_business;
  fb::RemedyKind remedy = fb::RemedyKind_refund;
  std::uint64_t amount_rials = 0;
  std::uint32_t remedy_days = 0;
  offer_status status = offer_status::open;
  bool operator==(const offer&) const = default;
};

struct case_state {
  std::string id;
  stream_head head;
  case_status status = case_status::awaiting_triage;
  std::string consumer_id, business_id;
  std::string order_digest;  // hex of CaseFiled's order_digest: the order, without its reference
  std::int32_t purchase_date_days = 0;
  std::uint64_t amount_rials = 0;
  fb::Category category = fb::Category_other;
  fb::RemedyKind requested_remedy = fb::RemedyKind_refund;
  std::vector<document_ref> documents;
  std::vector<fb::DocumentKind> missing_documents;  // while awaiting_documents
  int response_level = 0;        // rungs of the ladder passed: 0, 1, 2
  bool responded = false;
  bool timely_response = false;
  bool unanswered = false;
  std::vector<offer> offers;
  std::string mediator_id;
  std::string agency_id;         // the agency holding the case now
  std::vector<std::string> agencies;  // every agency that held it, in order
  bool referral_acknowledged = false;
  bool referral_extended = false;
  std::vector<deadline> deadlines;
  std::optional<fb::Resolution> resolution;
  std::optional<fb::CloseReason> close_reason;
  timestamp_ms filed_at = 0, closed_at = 0, reopen_until = 0, last_change = 0;
  int rating = 0;                // 0 until rated
  int reopened = 0;

  bool operator==(const case_state&) const = default;
  std::optional<deadline> deadline_of(deadline_kind k) const;
};

// Parties as decisions need them: no personal data (it is sealed in the log, engine/record/sealing.h),
// only the digest that finds a second registration, and whether the person's data was erased.
struct consumer_state {
  std::string id, national_code_digest;  // hex of ConsumerRegistered's national_code_digest
  bool sealed = false;                   // registered with its personal data sealed
  bool forgotten = false;
  stream_head head;
  bool operator==(const consumer_state&) const = default;
};
struct business_state {
  std::string id, domain, name;  // id is the seal id
  int stars = 0;
  bool restricted = false;
  std::string restriction_rule;  // the policy rule that restricted it; empty if by hand
  stream_head head;
  bool operator==(const business_state&) const = default;
};
struct agency_state {
  std::string id, name;
  std::vector<fb::Category> categories;
  stream_head head;
  bool operator==(const agency_state&) const = default;
  bool competent_for(fb::Category c) const;
};
struct mediator_state {
  std::string id;
  bool sealed = false;
  bool forgotten = false;
  stream_head head;
  bool operator==(const mediator_state&) const = default;
};

// A credential: its holder acts as role:actor_id until it is revoked. `id` is its stream,
// "K-" followed by the key id a bearer token names.
struct credential_state {
  std::string id;
  fb::Role role = fb::Role_consumer;
  std::string actor_id;
  std::string secret_hash;  // BLAKE2b-256 of the secret, 32 raw bytes
  std::string label;
  bool revoked = false;
  stream_head head;
  bool operator==(const credential_state&) const = default;
};

// (consumer id, business id, order digest): at most one open case each.
using order_key = std::tuple<std::string, std::string, std::string>;

// A party of any kind (credentials are kept and loaded as parties are).
using party_state = std::variant<consumer_state, business_state, agency_state, mediator_state, credential_state>;

// Where a world that holds only part of the state finds the rest (the engine's state store,
// engine/state_store.h). Each load returns what is stored, or nothing if there is none. A load
// that fails to read is remembered by the source and reported by whoever decided on it: a
// decision made while a read failed is never used.
class state_source {
 public:
  virtual ~state_source() = default;
  virtual std::optional<case_state> load_case(const std::string& id) = 0;
  virtual std::optional<party_state> load_party(const std::string& id) = 0;
  virtual std::optional<std::string> consumer_with_national_code(const std::string& code) = 0;
  virtual std::optional<std::string> business_with_domain(const std::string& domain) = 0;
  // The cases stored as open for the order (the world checks each against what it holds).
  virtual std::vector<std::string> open_cases_for(const order_key& key) = 0;
  // The cases stored as open that a consumer filed or a mediator is assigned to (the same).
  virtual std::vector<std::string> open_cases_of(const std::string& party) = 0;
};

// The state decide() and evolve() work on: parties, cases and the indexes the rules need.
//
// A world is complete (tests, replays: every entity is in the maps) or partial: the engine's
// working set, whose `source` loads an entity the first time a lookup asks for it. Code that
// decides reads through the accessors below, never the maps directly, so it works on both; the
// maps are mutable because a lookup on a partial world fills them.
struct world {
  mutable std::map<std::string, consumer_state> consumers;
  mutable std::map<std::string, business_state> businesses;
  mutable std::map<std::string, agency_state> agencies;
  mutable std::map<std::string, mediator_state> mediators;
  mutable std::map<std::string, credential_state> credentials;
  mutable std::map<std::string, case_state> cases;
  mutable std::map<std::string, std::string> consumer_by_national_code;  // by digest (hex)
  mutable std::map<std::string, std::string> business_by_domain;
  mutable std::map<order_key, std::string> open_case_by_order;
  // Cases with at least one deadline, by earliest due time: what tick() has to look at. Kept in
  // complete worlds; the engine keeps it as rows of its state store.
  std::set<std::pair<timestamp_ms, std::string>> deadline_index;
  // What each business's cases did that the trust score weighs, in log order. A partial world
  // holds only the events folded since the engine last stored them.
  std::map<std::string, std::vector<score_event>> score_events;

  // Null: the world is complete.
  state_source* source = nullptr;
  // The log's digest key (engine/record/sealing.h, personal_digest); empty in worlds built
  // without a key store. Not part of the state.
  std::string digest_key;

  // hex(personal_digest(digest_key, value)): how national codes and order references are found.
  std::string digest_of(std::string_view value) const;
  // Ids a partial world asked its source for and found absent.
  mutable std::set<std::string> absent_cases, absent_parties;

  bool operator==(const world& o) const {
    return consumers == o.consumers && businesses == o.businesses && agencies == o.agencies &&
           mediators == o.mediators && credentials == o.credentials && cases == o.cases && consumer_by_national_code == o.consumer_by_national_code &&
           business_by_domain == o.business_by_domain && open_case_by_order == o.open_case_by_order &&
           deadline_index == o.deadline_index && score_events == o.score_events;
  }

  const case_state* find_case(const std::string& id) const;
  const consumer_state* find_consumer(const std::string& id) const;
  const business_state* find_business(const std::string& id) const;
  const agency_state* find_agency(const std::string& id) const;
  const mediator_state* find_mediator(const std::string& id) const;
  // A credential by its stream id ("K-" + key id).
  const credential_state* find_credential(const std::string& id) const;
  // Whether any party (of any kind) has this id; the head of its stream if so.
  const stream_head* find_party(const std::string& id) const;
  std::optional<std::string> consumer_with_national_code(const std::string& code) const;
  std::optional<std::string> business_with_domain(const std::string& domain) const;
  // The open case for the order, if there is one.
  std::optional<std::string> open_case_for(const order_key& key) const;
  // The open cases a consumer filed or a mediator is assigned to, sorted.
  std::vector<std::string> open_cases_of(const std::string& party) const;
  // The head of any stream (case or party); version 0 if unknown.
  stream_head head_of(const std::string& stream) const;

 private:
  // Asks the source for a party not in the maps (partial worlds only).
  void load_party(const std::string& id) const;
};

}  // namespace sazesh
