// broker-bench: what every scenario gets: the options, where the broker is, the spawned
// server (if any), the progress line, and when to stop.
//
// Thread safety: scenarios read the context from many threads; only `endpoint` changes
// (after a server restart), and only while no other thread uses it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "endpoint.h"
#include "options.h"

namespace broker_bench {

class Progress;
class SpawnedServer;

// Monotonic nanoseconds; comparable across the bench's threads.
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline double seconds_between(int64_t start_ns, int64_t end_ns) {
  return static_cast<double>(end_ns - start_ns) / 1e9;
}

struct BenchContext {
  const BenchOptions& options;
  Endpoint endpoint;
  SpawnedServer* server = nullptr;  // null with --server
  Progress& progress;
  int64_t deadline_ns = 0;  // --max-seconds after the run began
  // Set from the SIGINT/SIGTERM handler.
  const std::atomic<bool>& interrupted;

  bool deadline_passed() const { return now_ns() >= deadline_ns; }
  // True once the run must end early: --max-seconds passed, or the user interrupted it.
  bool should_stop() const { return interrupted.load(std::memory_order_relaxed) || deadline_passed(); }
};

// Timeouts for set-up calls (connect + handshake, Ping, GetQueueStats).
inline constexpr int kSetupTimeoutMs = 10'000;
// How long a connection waits for the socket before it looks at the stop conditions.
inline constexpr int kPollSliceMs = 50;

}  // namespace broker_bench
