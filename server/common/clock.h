// Time as the engine sees it: injectable so tests drive leases, delays and expiry
// without sleeping.
//
// Two clocks, because they answer different questions. The wall clock (now_ms) says
// what time it is: ETA, countdowns, result TTLs and every time shown to clients are
// Unix ms. The steady clock (steady_ms) only measures elapsed time: lease deadlines and
// time limits run on it, so a wall clock step (NTP, `date -s`) neither expires healthy
// leases nor keeps dead ones.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace brokerd::server {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix time in milliseconds. Thread-safe.
  virtual int64_t now_ms() const = 0;
  // Milliseconds on a monotonic clock with an arbitrary origin. Thread-safe.
  virtual int64_t steady_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t steady_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to. For tests: advance_ms() is time passing (both
// clocks move), set_ms() and step_wall_ms() are a wall clock step (the steady clock
// stays).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(); }
  int64_t steady_ms() const override { return steady_.load(); }
  void advance_ms(int64_t delta) {
    now_ += delta;
    steady_ += delta;
  }
  void set_ms(int64_t value) { now_ = value; }
  void step_wall_ms(int64_t delta) { now_ += delta; }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> steady_{1'000'000};
};

}  // namespace brokerd::server
