// beanstalk-load: what one connection does in each mode, with up to `pipeline` commands
// outstanding at a time.
//   put    sends `jobs` puts of `payload` bytes and counts INSERTED replies.
//   drain  sends reserve-with-timeout 0 and, for each RESERVED, a delete; it counts
//          DELETED replies and stops once a reserve finds the ready queue empty
//          (TIMED_OUT) and every command it sent has been answered. Meant to run after
//          the puts, so "empty" means drained: together with the other connections'
//          loops it is beanstalkd's equivalent of consume + complete.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "connection.h"

namespace beanstalk_load {

using Clock = std::chrono::steady_clock;

struct LoopConfig {
  uint64_t jobs = 0;     // put: jobs this connection sends
  int pipeline = 64;     // commands outstanding per connection
  size_t payload = 200;  // put: body bytes
  uint32_t priority = 1024;
  uint32_t ttr = 60;  // seconds a reserved job may stay undeleted; far beyond any run here
  Clock::time_point deadline;
  const std::atomic<bool>* stop = nullptr;  // set by a signal or a failed connection
};

struct LoopResult {
  uint64_t done = 0;  // INSERTED (put) or DELETED (drain) replies
  bool completed = false;
  std::string error;                 // the first error, empty if none
  Clock::time_point last_reply{};    // when the last counted reply arrived
};

LoopResult run_put(Connection& connection, const LoopConfig& config);
LoopResult run_drain(Connection& connection, const LoopConfig& config);

}  // namespace beanstalk_load
