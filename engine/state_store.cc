#include "engine/state_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/base/row_codec.h"
#include "engine/domain/evolve.h"
#include "engine/domain/rules.h"
#include "engine/domain/state_codec.h"
#include "engine/record/hash.h"

namespace sazesh {
namespace {

std::string u64_key(std::uint64_t v) {
  std::string out;
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

std::uint64_t u64_of(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

// Times before 1970 sort before later ones in an unsigned key.
std::uint64_t time_key(timestamp_ms t) { return static_cast<std::uint64_t>(t) ^ (std::uint64_t{1} << 63); }
timestamp_ms time_of_key(std::uint64_t k) { return static_cast<timestamp_ms>(k ^ (std::uint64_t{1} << 63)); }

std::string case_key(std::string_view id) { return "c/" + std::string(id); }
std::string party_key(std::string_view id) { return "p/" + std::string(id); }
std::string code_key(std::string_view code) { return "n/" + std::string(code); }
std::string domain_key(std::string_view domain) { return "w/" + std::string(domain); }

std::string order_prefix(const order_key& k) {
  std::string out = "o/";
  out += std::get<0>(k);
  out += '\0';
  out += std::get<1>(k);
  out += '\0';
  out += std::get<2>(k);
  out += '\0';
  return out;
}

std::string due_key(timestamp_ms due, std::string_view id) { return "d/" + u64_key(time_key(due)) + std::string(id); }

std::string score_prefix(std::string_view business) { return "s/" + std::string(business) + '\0'; }

std::string score_key(std::string_view business, const score_event& e) {
  return score_prefix(business) + u64_key(time_key(e.time)) + e.case_id + '\0' + u64_key(e.sequence);
}

std::string prefix_end(std::string prefix) {
  // Prefixes here end in '/' or '\0'; one more is past every key that starts with them.
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

std::optional<timestamp_ms> earliest_deadline(const case_state& c) {
  if (!is_open(c.status)) return std::nullopt;
  std::optional<timestamp_ms> out;
  for (const auto& d : c.deadlines)
    if (!out || d.due < *out) out = d.due;
  return out;
}

const std::string& party_id(const party_state& p) {
  return std::visit([](const auto& x) -> const std::string& { return x.id; }, p);
}

}  // namespace

// ---- reads ---------------------------------------------------------------------------------

void state_store::remember(const error& e) {
  if (!error_) error_ = e;
}

status state_store::take_error() {
  if (!error_) return ok;
  error e = *error_;
  error_.reset();
  return e;
}

std::optional<std::string> state_store::get(const std::string& key) {
  auto v = rows_.get(key);
  if (!v) {
    remember(v.error());
    return std::nullopt;
  }
  return std::move(*v);
}

std::optional<case_state> state_store::load_case(const std::string& id) {
  auto raw = get(case_key(id));
  if (!raw) return std::nullopt;
  auto c = decode_case_state(*raw);
  if (!c) {
    remember(error(errc::corrupt, "state", fmt::format("the stored row of case {} does not decode", id)));
    return std::nullopt;
  }
  return std::move(*c);
}

std::optional<party_state> state_store::load_party(const std::string& id) {
  auto raw = get(party_key(id));
  if (!raw) return std::nullopt;
  auto p = decode_party_state(*raw);
  if (!p) {
    remember(error(errc::corrupt, "state", fmt::format("the stored row of party {} does not decode", id)));
    return std::nullopt;
  }
  return std::move(*p);
}

std::optional<std::string> state_store::consumer_with_national_code(const std::string& code) {
  return get(code_key(code));
}

std::optional<std::string> state_store::business_with_domain(const std::string& domain) {
  return get(domain_key(domain));
}

std::vector<std::string> state_store::open_cases_of(const std::string& party) {
  std::vector<std::string> out;
  if (party.rfind("U-", 0) == 0) {
    const std::string prefix = "o/" + party + '\0';
    auto s = rows_.scan(prefix, prefix_end(prefix), [&](std::string_view k, std::string_view) {
      const auto last = k.rfind('\0');
      out.emplace_back(k.substr(last + 1));
      return true;
    });
    if (!s) remember(s.error());
    return out;
  }
  auto s = rows_.scan("c/", "c0", [&](std::string_view k, std::string_view v) {
    auto c = decode_case_state(v);
    if (c && c->mediator_id == party && is_open(c->status)) out.emplace_back(k.substr(2));
    return true;
  });
  if (!s) remember(s.error());
  return out;
}

std::vector<std::string> state_store::open_cases_for(const order_key& key) {
  std::vector<std::string> out;
  const std::string prefix = order_prefix(key);
  auto s = rows_.scan(prefix, prefix_end(prefix), [&](std::string_view k, std::string_view) {
    out.emplace_back(k.substr(prefix.size()));
    return out.size() < 64;
  });
  if (!s) remember(s.error());
  return out;
}

result<std::vector<std::pair<timestamp_ms, std::string>>> state_store::due_cases(timestamp_ms from, timestamp_ms until,
                                                                                std::size_t max) {
  std::vector<std::pair<timestamp_ms, std::string>> out;
  if (until < from) return out;
  const std::string lower = "d/" + u64_key(time_key(from)), upper = "d/" + u64_key(time_key(until) + 1);
  auto s = rows_.scan(lower, upper, [&](std::string_view k, std::string_view) {
    out.emplace_back(time_of_key(u64_of(k.substr(2, 8))), std::string(k.substr(2 + 8)));
    return out.size() < max;
  });
  if (!s) return s.error();
  return out;
}

result<std::vector<score_event>> state_store::score_events_of(const std::string& business) {
  std::vector<score_event> out;
  const std::string prefix = score_prefix(business);
  std::optional<error> bad;
  auto s = rows_.scan(prefix, prefix_end(prefix), [&](std::string_view k, std::string_view v) {
    const std::string_view rest = k.substr(prefix.size());
    const auto zero = rest.find('\0', 8);
    if (rest.size() < 8 + 1 + 8 || zero == std::string_view::npos || v.size() != 5) {
      bad = error(errc::corrupt, "state", fmt::format("a score row of business {} does not decode", business));
      return false;
    }
    score_event e;
    e.time = time_of_key(u64_of(rest.substr(0, 8)));
    e.case_id = std::string(rest.substr(8, zero - 8));
    e.sequence = u64_of(rest.substr(zero + 1));
    e.kind = static_cast<score_kind>(static_cast<unsigned char>(v[0]));
    std::uint32_t raw = 0;
    for (std::size_t i = 1; i < 5; ++i) raw = (raw << 8) | static_cast<unsigned char>(v[i]);
    e.value = static_cast<std::int32_t>(raw);
    out.push_back(std::move(e));
    return true;
  });
  if (!s) return s.error();
  if (bad) return *bad;
  return out;
}

result<std::vector<std::string>> state_store::businesses_to_evaluate(std::size_t max) {
  std::vector<std::string> out;
  auto s = rows_.scan("q/", "q0", [&](std::string_view k, std::string_view) {
    out.emplace_back(k.substr(2));
    return out.size() < max;
  });
  if (!s) return s.error();
  return out;
}

result<std::vector<std::string>> state_store::businesses_after(const std::string& after, std::size_t max) {
  std::vector<std::string> out;
  const std::string from = after.empty() ? std::string("b/") : "b/" + after + '\0';
  auto s = rows_.scan(from, "b0", [&](std::string_view k, std::string_view) {
    out.emplace_back(k.substr(2));
    return out.size() < max;
  });
  if (!s) return s.error();
  return out;
}

// ---- trust summaries -------------------------------------------------------------------------

namespace {

double weight_of(const trust_rules& r, const score_event& e) {
  if (e.kind == score_kind::rating) return (e.value - 3) * r.rating_points_per_star;
  if (auto it = r.weights.find(e.kind); it != r.weights.end()) return it->second;
  return 0;
}

// 0.5^(ms / half-life).
double decay(const trust_rules& r, double ms) {
  return std::pow(0.5, ms / (r.half_life_days * static_cast<double>(day_ms)));
}

}  // namespace

std::uint64_t fingerprint(const trust_rules& r) {
  std::string all = fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", r.version, r.name, r.base, r.scale, r.smoothing,
                                r.half_life_days, r.rating_points_per_star, r.unanswered_limit,
                                r.unanswered_window_days, r.restrict_below, r.reinstate_at);
  for (const auto& [k, w] : r.weights) all += fmt::format("|{}={}", static_cast<int>(k), w);
  const std::string h = sha256(all);
  std::uint64_t out = 0;
  for (int i = 0; i < 8; ++i) out = (out << 8) | static_cast<unsigned char>(h[static_cast<std::size_t>(i)]);
  return out;
}

void trust_summary::add(const trust_rules& r, const score_event& e) {
  ++events;
  const double w = weight_of(r, e);
  const double c = e.kind == score_kind::complaint ? 1.0 : 0.0;
  if (events == 1 || e.time >= anchor) {
    // The sums move to the new anchor, then the event counts in full.
    const double shift = events == 1 ? 1.0 : decay(r, static_cast<double>(e.time - anchor));
    weights = weights * shift + w;
    complaints = complaints * shift + c;
    anchor = e.time;
  } else {
    const double d = decay(r, static_cast<double>(anchor - e.time));
    weights += w * d;
    complaints += c * d;
  }
  if (e.kind == score_kind::unanswered && r.unanswered_limit > 0) {
    unanswered.insert(std::upper_bound(unanswered.begin(), unanswered.end(), e.time), e.time);
    while (unanswered.size() > static_cast<std::size_t>(r.unanswered_limit)) unanswered.erase(unanswered.begin());
  }
}

double trust_summary::score(const trust_rules& r, timestamp_ms now) const {
  const double x = events == 0 ? 1.0 : decay(r, static_cast<double>(now - anchor));
  const double sum = r.base + r.scale * weights * x / (r.smoothing + complaints * x);
  return std::clamp(sum, 0.0, 100.0);
}

int trust_summary::unanswered_within(timestamp_ms now, int window_days) const {
  const timestamp_ms from = now - static_cast<timestamp_ms>(window_days) * day_ms;
  return static_cast<int>(std::count_if(unanswered.begin(), unanswered.end(),
                                        [&](timestamp_ms t) { return t > from && t <= now; }));
}

state_write state_store::summary_row(const std::string& business, const trust_summary& s) {
  row_writer w;
  w.u64(s.rules);
  w.u64(s.events);
  w.i64(s.anchor);
  std::uint64_t bits = 0;
  std::memcpy(&bits, &s.weights, sizeof bits);
  w.u64(bits);
  std::memcpy(&bits, &s.complaints, sizeof bits);
  w.u64(bits);
  w.u32(static_cast<std::uint32_t>(s.unanswered.size()));
  for (auto t : s.unanswered) w.i64(t);
  return {"t/" + business, w.take()};
}

result<trust_summary> state_store::summary_of(const std::string& business, const trust_rules& rules, bool& rebuilt) {
  rebuilt = false;
  const std::uint64_t wanted = fingerprint(rules);
  auto raw = rows_.get("t/" + business);
  if (!raw) return raw.error();
  if (*raw) {
    row_reader r(**raw);
    trust_summary s;
    s.rules = r.u64();
    s.events = r.u64();
    s.anchor = r.i64();
    std::uint64_t bits = r.u64();
    std::memcpy(&s.weights, &bits, sizeof bits);
    bits = r.u64();
    std::memcpy(&s.complaints, &bits, sizeof bits);
    for (std::uint32_t n = r.u32(); r.ok() && n > 0; --n) s.unanswered.push_back(r.i64());
    if (!r.done()) return error(errc::corrupt, "state", fmt::format("the trust summary of {} does not decode", business));
    if (s.rules == wanted) return s;
  }
  // Made under other rules, or never: built from the business's score events.
  auto events = score_events_of(business);
  if (!events) return events.error();
  trust_summary s;
  s.rules = wanted;
  for (const auto& e : *events) s.add(rules, e);
  rebuilt = true;
  return s;
}

result<std::uint32_t> state_store::format_version() {
  auto v = rows_.get("v");
  if (!v) return v.error();
  if (!*v) return std::uint32_t{0};
  row_reader r(**v);
  const std::uint32_t n = r.u32();
  if (!r.done()) return error(errc::corrupt, "state", "the state format row does not decode");
  return n;
}

result<world> state_store::load_all() {
  world w;
  std::optional<error> bad;
  const auto fail = [&](std::string what) {
    bad = error(errc::corrupt, "state", std::move(what));
    return false;
  };
  auto s = rows_.scan("c/", "c0", [&](std::string_view k, std::string_view v) {
    auto c = decode_case_state(v);
    if (!c) return fail(fmt::format("the stored row of case {} does not decode", k.substr(2)));
    const std::string id(k.substr(2));
    if (is_open(c->status)) w.open_case_by_order.try_emplace({c->consumer_id, c->business_id, c->order_digest}, id);
    if (auto due = earliest_deadline(*c)) w.deadline_index.insert({*due, id});
    w.cases.emplace(id, std::move(*c));
    return true;
  });
  if (!s) return s.error();
  if (bad) return *bad;
  s = rows_.scan("p/", "p0", [&](std::string_view k, std::string_view v) {
    auto p = decode_party_state(v);
    if (!p) return fail(fmt::format("the stored row of party {} does not decode", k.substr(2)));
    const std::string id(k.substr(2));
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, consumer_state>) {
            if (!x.forgotten) w.consumer_by_national_code[x.national_code_digest] = id;
            w.consumers.emplace(id, std::move(x));
          } else if constexpr (std::is_same_v<T, business_state>) {
            w.business_by_domain[x.domain] = id;
            w.businesses.emplace(id, std::move(x));
          } else if constexpr (std::is_same_v<T, agency_state>) {
            w.agencies.emplace(id, std::move(x));
          } else if constexpr (std::is_same_v<T, mediator_state>) {
            w.mediators.emplace(id, std::move(x));
          } else {
            w.credentials.emplace(id, std::move(x));
          }
        },
        *p);
    return true;
  });
  if (!s) return s.error();
  if (bad) return *bad;
  for (const auto& [id, b] : w.businesses) {
    auto events = score_events_of(id);
    if (!events) return events.error();
    if (!events->empty()) w.score_events[id] = std::move(*events);
  }
  return w;
}

result<std::string> state_store::digest() {
  std::string all;
  auto s = rows_.scan("", std::string(1, '\x7f'), [&](std::string_view k, std::string_view v) {
    // Bookkeeping, not the log's alone: policy marks, trust summaries, the due floor.
    if (k.substr(0, 2) == "q/" || k.substr(0, 2) == "t/" || k.substr(0, 2) == "f/") return true;
    all += u64_key(k.size());
    all += k;
    all += u64_key(v.size());
    all += v;
    return true;
  });
  if (!s) return s.error();
  return to_hex(sha256(all));
}

// ---- rows ----------------------------------------------------------------------------------

void state_store::rows_for_case(const std::optional<case_state>& before, const case_state& after,
                                std::vector<state_write>& out) {
  out.push_back({case_key(after.id), encode_case_state(after)});
  // The order index: a row while the case is open.
  const bool was_open = before && is_open(before->status);
  const bool now_open = is_open(after.status);
  const order_key key{after.consumer_id, after.business_id, after.order_digest};
  if (was_open && !now_open) out.push_back({order_prefix(key) + after.id, std::nullopt});
  if (now_open && !was_open) out.push_back({order_prefix(key) + after.id, std::string()});
  // The due index: the case's earliest deadline.
  std::optional<timestamp_ms> due_before;
  if (before) due_before = earliest_deadline(*before);
  const auto due_after = earliest_deadline(after);
  if (due_before != due_after) {
    if (due_before) out.push_back({due_key(*due_before, after.id), std::nullopt});
    if (due_after) out.push_back({due_key(*due_after, after.id), std::string()});
  }
}

void state_store::rows_for_party(const std::optional<party_state>& before, const party_state& after,
                                 std::vector<state_write>& out) {
  out.push_back({party_key(party_id(after)), encode_party_state(after)});
  // The indexes are set at registration; a consumer's digest goes when their data is erased
  // (whether or not the rows before were at hand: a fold may not have them).
  if (const auto* c = std::get_if<consumer_state>(&after); c && c->forgotten) {
    out.push_back({code_key(c->national_code_digest), std::nullopt});
    return;
  }
  if (before) return;
  if (const auto* c = std::get_if<consumer_state>(&after)) out.push_back({code_key(c->national_code_digest), c->id});
  if (const auto* b = std::get_if<business_state>(&after)) {
    out.push_back({domain_key(b->domain), b->id});
    out.push_back({"b/" + b->id, std::string()});
  }
}

void state_store::rows_for_score(const std::string& business, const score_event& e, std::vector<state_write>& out) {
  std::string value(1, static_cast<char>(e.kind));
  const auto v = static_cast<std::uint32_t>(static_cast<std::int32_t>(e.value));
  for (int i = 3; i >= 0; --i) value += static_cast<char>((v >> (8 * i)) & 0xFF);
  out.push_back({score_key(business, e), std::move(value)});
  out.push_back({"q/" + business, std::string()});
}

state_write state_store::policy_evaluated(const std::string& business) { return {"q/" + business, std::nullopt}; }

state_write state_store::due_floor_row(timestamp_ms floor) {
  row_writer w;
  w.u64(static_cast<std::uint64_t>(floor));
  return {"f/due", w.take()};
}

result<std::optional<timestamp_ms>> state_store::due_floor() {
  auto v = rows_.get("f/due");
  if (!v) return v.error();
  if (!*v) return std::optional<timestamp_ms>();
  row_reader r(**v);
  const auto floor = static_cast<timestamp_ms>(r.u64());
  if (!r.done()) return error(errc::corrupt, "state", "the due floor row does not decode");
  return std::optional<timestamp_ms>(floor);
}

state_write state_store::format_row() {
  row_writer w;
  w.u32(state_format_version);
  return {"v", w.take()};
}

}  // namespace sazesh
