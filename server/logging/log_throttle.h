// Keeps a log line that a remote peer can trigger at will (a failed handshake, a refused
// connection) from becoming a way to flood the log: the 1st, 2nd, 4th, 8th, ... and then
// every 1000th occurrence are logged, each with the running count.
#pragma once

#include <atomic>
#include <cstdint>

namespace brokerd::server {

class LogThrottle {
 public:
  // Counts one occurrence; true when this one should be logged. Thread-safe.
  bool should_log() {
    const uint64_t n = ++count_;
    return (n & (n - 1)) == 0 || n % 1000 == 0;
  }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> count_{0};
};

}  // namespace brokerd::server
