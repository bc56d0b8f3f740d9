// Events per second over the last minute, in one-second buckets: what `brokerctl queues`
// shows as enqueued/s, completed/s and failed/s. Not thread-safe (used under the engine
// lock); constant memory.
#pragma once

#include <array>
#include <cstdint>

namespace brokerd::server {

class RateWindow {
 public:
  static constexpr int kSeconds = 60;

  void add(int64_t now_ms, uint64_t count = 1);
  // The average rate over the last kSeconds seconds up to now (over the time since the
  // first event when that is shorter, but at least one second).
  double per_second(int64_t now_ms) const;

 private:
  void advance(int64_t second);
  std::array<uint64_t, kSeconds + 1> buckets_{};  // one extra: the second in progress
  int64_t current_second_ = -1;
  int64_t first_second_ = -1;
};

}  // namespace brokerd::server
