// The trust score: how a business treats the complaints against it, as a number from 0 to 100
// and a public standing, computed only from its cases' events under a versioned rule set
// (rules/trust-v*.rules; format and reasons for every weight in rules/README.md).
//
// The score is additive, so it can be explained exactly:
//
//   score = clamp(base + Σ contribution(e), 0, 100)
//   contribution(e) = scale × weight(e) × decay(age of e) / (smoothing + N)
//
// where N is the decayed number of complaints the business received. Dividing by
// (smoothing + N) turns counts into smoothed rates, so a small shop's single complaint and a
// marketplace's thousandth are weighed fairly; decay halves an event's weight every
// `half_life_days`, so recent events count more than old ones.
//
// The rule set also carries the seal policy: when a business is restricted automatically, and
// when it is reinstated.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/base/result.h"

namespace sazesh {

// What a case event means for its business's score.
enum class score_kind {
  complaint, timely_response, late_response, delay, unanswered, settled_negotiation,
  settled_mediation, mediation_failed, referred, upheld, partially_upheld, dismissed,
  remedy_not_fulfilled, reopened, rating,
};
inline constexpr int score_kind_count = static_cast<int>(score_kind::rating) + 1;
const char* to_string(score_kind k);

struct score_event {
  timestamp_ms time = 0;
  std::string case_id;
  std::uint64_t sequence = 0;  // the event's sequence in its case
  score_kind kind = score_kind::complaint;
  int value = 0;               // stars, for ratings
  bool operator==(const score_event&) const = default;
};

struct trust_rules {
  int version = 0;
  std::string name;
  double base = 80, scale = 1, smoothing = 4, half_life_days = 365;
  std::map<score_kind, double> weights;  // points per event at a rate of one per complaint
  double rating_points_per_star = 4;     // a rating's weight: (stars - 3) × this
  std::vector<std::pair<std::string, double>> standings;  // (name, lowest score), highest first
  // Seal policy. A rule with a zero threshold is off.
  int unanswered_limit = 0;              // restrict at this many unanswered complaints …
  int unanswered_window_days = 90;       // … within this many days
  double restrict_below = 0;             // restrict when the score falls below this …
  double reinstate_at = 0;               // … and reinstate once it is back at or above this
  bool operator==(const trust_rules&) const = default;
};

// Parses a rule file's text; errors name the line and the rule broken.
result<trust_rules> parse_trust_rules(std::string_view text, std::string_view origin = "rules");

struct contribution {
  score_event event;
  double weight = 0;  // before decay and smoothing
  double decay = 1;
  double points = 0;  // what it adds to the score
};

struct trust_score {
  double score = 0;
  std::string standing;
  double base = 0;
  double bound_adjustment = 0;  // what keeping the score within 0..100 added (<= 0 or >= 0)
  double complaints = 0;        // N: the decayed number of complaints
  std::vector<contribution> contributions;  // in the order of the events
};

// The score as of `as_of`: events after it are ignored, ages are counted back from it.
trust_score compute_trust_score(const trust_rules& rules, const std::vector<score_event>& events,
                                timestamp_ms as_of);

struct policy_action {
  bool restrict = true;   // false: reinstate
  std::string rule;       // "unanswered-limit" or "score-floor"
  std::string reason;
};

// What the policy asks for a business at `now`, given whether its seal is restricted and by
// which rule (empty when restricted by hand: the policy never lifts a manual restriction).
std::optional<policy_action> evaluate_seal_policy(const trust_rules& rules,
                                                  const std::vector<score_event>& events,
                                                  bool restricted, const std::string& restricted_by_rule,
                                                  timestamp_ms now);
// The same, from the business's score and its unanswered complaints within the policy's window
// (counted by the caller, e.g. from a running summary).
std::optional<policy_action> evaluate_seal_policy(const trust_rules& rules, double score, int unanswered,
                                                  bool restricted, const std::string& restricted_by_rule);

}  // namespace sazesh
