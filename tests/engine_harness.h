// engine_harness: what the engine suites (engine_test.cc, engine_pipeline_test.cc) share: the log
// under test in a temp folder (tests/test_log.h: embedded, or Kafka when SAZESH_TEST_LOG=kafka),
// seen through a wrapper that can hold, fail or interleave appends, a fixed clock, and an engine
// on the wrapper.
//
//   engine_harness<> h;                        // the log as it is
//   engine_harness<gated_log> g;               // the engine writes through a gated_log
//   h.act(op, register_business{…});           // REQUIREs success, returns the outcome
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/time/calendar.h"
#include "engine/time/clock.h"
#include "tests/temp_dir.h"
#include "tests/test_log.h"

namespace sazesh::testing {

inline timestamp_ms start_time() { return parse_time("start", "2026-11-28T09:00:00Z").value(); }

// A purchase date, as the engine takes it: days since 1970-01-01.
inline std::int32_t day(const char* text) {
  return static_cast<std::int32_t>(days_from_civil(parse_date("purchase_date", text).value()));
}

// Passes everything to the log under it; wrappers derived from it change only what they must.
class forwarding_log : public event_log {
 public:
  explicit forwarding_log(event_log& inner) : inner_(inner) {}

  result<append_outcome> append(append_request request) override { return inner_.append(std::move(request)); }
  result<std::vector<result<append_outcome>>> append_group(std::vector<append_request> requests) override {
    return inner_.append_group(std::move(requests));
  }
  result<std::optional<append_outcome>> find_command(std::string_view id) override { return inner_.find_command(id); }
  result<stream_version> version(std::string_view s) override { return inner_.version(s); }
  result<std::vector<stored_event>> read_stream(std::string_view s, stream_version from) override {
    return inner_.read_stream(s, from);
  }
  result<std::vector<stored_event>> read_all(log_position from, std::size_t max) override {
    return inner_.read_all(from, max);
  }
  result<log_position> end() override { return inner_.end(); }
  std::uint32_t partitions() const override { return inner_.partitions(); }
  result<std::vector<stored_event>> read_partition(std::uint32_t partition, log_position from,
                                                   std::size_t max) override {
    return inner_.read_partition(partition, from, max);
  }
  result<log_position> partition_end(std::uint32_t partition) override { return inner_.partition_end(partition); }
  status refresh() override { return inner_.refresh(); }
  void report_progress(std::uint32_t partition, log_position next) override { inner_.report_progress(partition, next); }
  status settle() override { return inner_.settle(); }
  status check_storage() override { return inner_.check_storage(); }
  result<std::vector<std::pair<std::string, std::string>>> damaged_streams() override { return inner_.damaged_streams(); }
  bool publishes_side_records() const override { return inner_.publishes_side_records(); }
  bool positions_dense() const override { return inner_.positions_dense(); }
  status publish_checkpoint(std::uint32_t partition, std::uint64_t after, std::uint64_t size, std::string_view note,
                            const std::vector<side_record>& records) override {
    return inner_.publish_checkpoint(partition, after, size, note, records);
  }
  result<std::string> published_checkpoint(std::uint32_t partition) override { return inner_.published_checkpoint(partition); }
  result<std::vector<std::pair<std::uint32_t, std::string>>> published_checkpoints() override {
    return inner_.published_checkpoints();
  }
  state_rows* state() override { return inner_.state(); }

 protected:
  event_log& inner_;
};

// The same log with its state rows hidden: an engine on it folds the whole log into rows of its
// own, in memory: the fresh fold the stored rows are checked against.
class stateless_log final : public forwarding_log {
 public:
  using forwarding_log::forwarding_log;
  state_rows* state() override { return nullptr; }
};

// The log under test in <dir>/log (where the CLI looks for it; on Kafka, a topic prefix derived
// from that folder), `Wrapper` around it, a fixed clock, and an engine writing through the
// wrapper.
template <class Wrapper = forwarding_log>
struct engine_harness {
  temp_dir dir;
  fixed_clock clock{start_time()};
  std::unique_ptr<event_log> log;
  std::unique_ptr<Wrapper> wrapper;
  std::unique_ptr<engine> eng;
  int next_id = 0;

  explicit engine_harness(embedded_log_options options = {}) : options_(options) { open(); }
  ~engine_harness() { close(); }

  std::filesystem::path log_dir() const { return dir.path() / "log"; }
  void open() {
    auto l = open_test_log(log_dir(), options_);
    REQUIRE_MESSAGE(l.has_value(), "opening the log: " << l.error().message());
    log = std::move(l).value();
    wrapper = std::make_unique<Wrapper>(*log);
    auto e = engine::open(*wrapper, clock);
    REQUIRE_MESSAGE(e.has_value(), "engine::open: " << e.error().message());
    eng = std::move(e).value();
  }
  // The engine first: it must not outlive its log.
  void close() {
    eng.reset();
    wrapper.reset();
    log.reset();
  }
  void reopen() {
    close();
    open();
  }
  std::string fresh_id() { return "t-" + std::to_string(++next_id); }

  result<command_outcome> attempt(const actor& who, const command& cmd) { return eng->execute(who, fresh_id(), cmd); }
  // REQUIREs that the command is accepted and new.
  command_outcome act(const actor& who, const std::string& id, const command& cmd) {
    auto r = eng->execute(who, id, cmd);
    REQUIRE_MESSAGE(r.has_value(), command_name(cmd) << " (" << id << ") by " << who.id
                                                     << " refused: " << r.error().message());
    REQUIRE_FALSE(r->repeated);
    return std::move(r).value();
  }
  command_outcome act(const actor& who, const command& cmd) { return act(who, fresh_id(), cmd); }

  case_state case_of(const std::string& id) {
    auto c = eng->find_case(id);
    REQUIRE_MESSAGE(c.has_value(), c.error().message());
    REQUIRE_MESSAGE(c->has_value(), "no case " << id);
    return std::move(**c);
  }
  stream_version version_of(const std::string& stream) {
    return eng->inspect([&](const world& w) { return w.head_of(stream).version; });
  }
  // What a fresh engine folds from the whole log, compared with what this one holds: the
  // state rows key for key (by digest), and the worlds they make.
  void check_same_as_fresh_fold() {
    stateless_log hidden(*log);
    auto fresh = engine::open(hidden, clock);
    REQUIRE_MESSAGE(fresh.has_value(), fresh.error().message());
    CHECK((*fresh)->state_digest().value() == eng->state_digest().value());
    CHECK((*fresh)->snapshot().value() == eng->snapshot().value());
  }

 private:
  embedded_log_options options_;
};

}  // namespace sazesh::testing
