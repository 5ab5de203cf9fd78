#include "engine/domain/trust.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace sazesh {
namespace {

constexpr std::int64_t ms_per_day = 86'400'000;

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::optional<score_kind> kind_named(std::string_view name) {
  for (int i = 0; i < score_kind_count; ++i)
    if (name == to_string(static_cast<score_kind>(i))) return static_cast<score_kind>(i);
  return std::nullopt;
}

int unanswered_within(const std::vector<score_event>& events, timestamp_ms now, int window_days) {
  const timestamp_ms from = now - static_cast<timestamp_ms>(window_days) * ms_per_day;
  return static_cast<int>(std::count_if(events.begin(), events.end(), [&](const score_event& e) {
    return e.kind == score_kind::unanswered && e.time > from && e.time <= now;
  }));
}

}  // namespace

const char* to_string(score_kind k) {
  switch (k) {
    case score_kind::complaint: return "complaint";
    case score_kind::timely_response: return "timely_response";
    case score_kind::late_response: return "late_response";
    case score_kind::delay: return "delay";
    case score_kind::unanswered: return "unanswered";
    case score_kind::settled_negotiation: return "settled_negotiation";
    case score_kind::settled_mediation: return "settled_mediation";
    case score_kind::mediation_failed: return "mediation_failed";
    case score_kind::referred: return "referred";
    case score_kind::upheld: return "upheld";
    case score_kind::partially_upheld: return "partially_upheld";
    case score_kind::dismissed: return "dismissed";
    case score_kind::remedy_not_fulfilled: return "remedy_not_fulfilled";
    case score_kind::reopened: return "reopened";
    case score_kind::rating: return "rating";
  }
  return "unknown";
}

result<trust_rules> parse_trust_rules(std::string_view text, std::string_view origin) {
  trust_rules r;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  bool seen_version = false;
  const auto bad = [&](std::string rule) {
    return error(errc::invalid_argument, fmt::format("{} line {}", origin, number), std::move(rule));
  };
  while (std::getline(in, line)) {
    ++number;
    const auto hash = line.find('#');
    const std::string content = trim(hash == std::string::npos ? line : line.substr(0, hash));
    if (content.empty()) continue;
    const auto eq = content.find('=');
    if (eq == std::string::npos) return bad("must be KEY = VALUE");
    const std::string key = trim(content.substr(0, eq)), value = trim(content.substr(eq + 1));
    if (key == "name") {
      r.name = value;
      continue;
    }
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || end == nullptr || *end != '\0' || !std::isfinite(v))
      return bad(fmt::format("{}: the value must be a number", key));
    if (key == "version") {
      if (v < 1 || v > 1e6 || v != std::floor(v)) return bad("version must be a whole number from 1 to 1000000");
      r.version = static_cast<int>(v);
      seen_version = true;
    } else if (key == "base") r.base = v;
    else if (key == "scale") r.scale = v;
    else if (key == "smoothing") {
      if (v <= 0) return bad("smoothing must be above 0");
      r.smoothing = v;
    } else if (key == "half_life_days") {
      if (v <= 0) return bad("half_life_days must be above 0");
      r.half_life_days = v;
    } else if (key == "rating_points_per_star") r.rating_points_per_star = v;
    else if (key.rfind("weight.", 0) == 0) {
      auto k = kind_named(key.substr(7));
      if (!k || *k == score_kind::rating) return bad(fmt::format("{} names no event kind with a weight", key));
      r.weights[*k] = v;
    } else if (key.rfind("standing.", 0) == 0) {
      r.standings.emplace_back(key.substr(9), v);
    } else if (key == "policy.unanswered_limit") {
      if (v < 0 || v > 1e6 || v != std::floor(v)) return bad("policy.unanswered_limit must be a whole number from 0 to 1000000");
      r.unanswered_limit = static_cast<int>(v);
    } else if (key == "policy.unanswered_window_days") {
      if (v < 1 || v > 36500 || v != std::floor(v)) return bad("policy.unanswered_window_days must be a whole number from 1 to 36500");
      r.unanswered_window_days = static_cast<int>(v);
    }
    else if (key == "policy.restrict_below") r.restrict_below = v;
    else if (key == "policy.reinstate_at") r.reinstate_at = v;
    else return bad(fmt::format("{} is not a setting of the trust rules", key));
  }
  if (!seen_version) return error(errc::invalid_argument, std::string(origin), "must set version");
  if (r.standings.empty()) return error(errc::invalid_argument, std::string(origin), "must define at least one standing");
  std::stable_sort(r.standings.begin(), r.standings.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (r.restrict_below > 0 && r.reinstate_at < r.restrict_below)
    return error(errc::invalid_argument, std::string(origin), "policy.reinstate_at must be at least policy.restrict_below");
  return r;
}

trust_score compute_trust_score(const trust_rules& rules, const std::vector<score_event>& events,
                                timestamp_ms as_of) {
  trust_score out;
  out.base = rules.base;
  const auto decay_of = [&](const score_event& e) {
    const double age_days = static_cast<double>(as_of - e.time) / static_cast<double>(ms_per_day);
    return std::pow(0.5, std::max(0.0, age_days) / rules.half_life_days);
  };
  for (const auto& e : events)
    if (e.time <= as_of && e.kind == score_kind::complaint) out.complaints += decay_of(e);
  const double denominator = rules.smoothing + out.complaints;
  double sum = rules.base;
  for (const auto& e : events) {
    if (e.time > as_of) continue;
    double weight = 0;
    if (e.kind == score_kind::rating) {
      weight = (e.value - 3) * rules.rating_points_per_star;
    } else if (auto it = rules.weights.find(e.kind); it != rules.weights.end()) {
      weight = it->second;
    }
    const double d = decay_of(e);
    const double points = rules.scale * weight * d / denominator;
    out.contributions.push_back({e, weight, d, points});
    sum += points;
  }
  const double bounded = std::clamp(sum, 0.0, 100.0);
  out.bound_adjustment = bounded - sum;
  out.score = bounded;
  out.standing = rules.standings.empty() ? "unrated" : rules.standings.back().first;
  for (const auto& [name, floor] : rules.standings) {
    if (out.score >= floor) {
      out.standing = name;
      break;
    }
  }
  return out;
}

std::optional<policy_action> evaluate_seal_policy(const trust_rules& rules,
                                                  const std::vector<score_event>& events,
                                                  bool restricted, const std::string& by_rule,
                                                  timestamp_ms now) {
  const int unanswered = rules.unanswered_limit > 0 ? unanswered_within(events, now, rules.unanswered_window_days) : 0;
  return evaluate_seal_policy(rules, compute_trust_score(rules, events, now).score, unanswered, restricted, by_rule);
}

std::optional<policy_action> evaluate_seal_policy(const trust_rules& rules, double score, int unanswered,
                                                  bool restricted, const std::string& by_rule) {
  const bool too_many_unanswered = rules.unanswered_limit > 0 && unanswered >= rules.unanswered_limit;
  const bool below_floor = rules.restrict_below > 0 && score < rules.restrict_below;
  if (!restricted) {
    if (too_many_unanswered)
      return policy_action{true, "unanswered-limit",
                           fmt::format("{} complaints left unanswered in the last {} days (limit {})", unanswered,
                                       rules.unanswered_window_days, rules.unanswered_limit)};
    if (below_floor)
      return policy_action{true, "score-floor",
                           fmt::format("trust score {:.1f} fell below {:.0f}", score, rules.restrict_below)};
    return std::nullopt;
  }
  if (by_rule.empty()) return std::nullopt;  // restricted by hand: only a person lifts it
  // Reinstate only when nothing in the policy would restrict again (the score with hysteresis).
  const bool score_ok = rules.restrict_below <= 0 || score >= rules.reinstate_at;
  if (!too_many_unanswered && score_ok)
    return policy_action{false, by_rule,
                         fmt::format("the policy no longer applies: {} unanswered in {} days, trust score {:.1f}",
                                     unanswered, rules.unanswered_window_days, score)};
  return std::nullopt;
}

}  // namespace sazesh
