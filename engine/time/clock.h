// clock: where the domain core gets the current time.
//
// The core never reads the wall clock itself; it is handed a clock. Production wires in
// system_clock_source, tests a fixed_clock they move by hand, so that deadlines and timestamps
// in events are reproducible.
//
//   fixed_clock clock(parse_time("now", "2026-11-28T13:29:18Z").value());
//   clock.advance(10 * 24 * 60 * 60 * 1000);  // ten days later
//
// Thread safety: now() may be called from several threads at once on either clock, and
// fixed_clock may be set or advanced while others read it.
#pragma once

#include <atomic>
#include <chrono>

#include "engine/time/calendar.h"

namespace sazesh {

struct clock {
  virtual ~clock() = default;
  virtual timestamp_ms now() const = 0;
};

// The wall clock (std::chrono::system_clock), in milliseconds since the Unix epoch.
class system_clock_source final : public clock {
 public:
  timestamp_ms now() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that shows whatever it was last set to; it never moves on its own.
class fixed_clock final : public clock {
 public:
  explicit fixed_clock(timestamp_ms start = 0) : now_(start) {}

  timestamp_ms now() const override { return now_.load(std::memory_order_acquire); }
  void set(timestamp_ms t) { now_.store(t, std::memory_order_release); }
  // Moves the clock by `ms` (negative moves it back, which real clocks also do).
  void advance(timestamp_ms ms) { now_.fetch_add(ms, std::memory_order_acq_rel); }

 private:
  std::atomic<timestamp_ms> now_;
};

}  // namespace sazesh
