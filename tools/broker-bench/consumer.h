// broker-bench: one worker connection on the raw protocol. It subscribes with Consume
// (prefetch K) and answers every Delivery at once with a pipelined Complete carrying a
// small success result; a completion counts when its CompleteOk arrives. This measures
// the broker, not a handler runtime (brokerd::Worker would add its threads and queues).
//
// Thread safety: run_consumer() runs on its own thread with its own ConsumerResult; the
// CompletionGoal is shared by all consumers of a scenario.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "bench_context.h"
#include "latency_histogram.h"

namespace broker_bench {

// When the consumers of a scenario are done, shared by all of them.
struct CompletionGoal {
  std::atomic<uint64_t> completed{0};  // CompleteOk received, all consumers
  std::atomic<uint64_t> target{std::numeric_limits<uint64_t>::max()};
  std::atomic<bool> stop{false};       // set by the scenario to end the consumers
  std::atomic<unsigned> subscribed{0}; // consumers whose ConsumeOk has arrived
  std::atomic<unsigned> exited{0};     // consumers whose run_consumer() has returned
  // Optional; called on the consumer's thread with the new total after every confirmed
  // completion. Set before the consumers start.
  std::function<void(uint64_t total, int64_t at_ns)> on_completed;

  bool reached() const {
    return stop.load(std::memory_order_relaxed) ||
           completed.load(std::memory_order_relaxed) >= target.load(std::memory_order_relaxed);
  }
};

enum class ConsumerLatency {
  kFromEnqueue,        // enqueue request sent (timestamp in the args) -> CompleteOk
  kCompleteRoundTrip,  // Complete sent -> CompleteOk
};

struct ConsumerPlan {
  std::string queue;
  unsigned prefetch = 1;
  ConsumerLatency latency = ConsumerLatency::kFromEnqueue;
  std::string client_name;
};

struct ConsumerResult {
  uint64_t deliveries = 0;
  uint64_t completed = 0;  // CompleteOk received
  uint64_t failed = 0;     // Complete answered with an Error
  LatencyHistogram latency;
  int64_t last_complete_ns = 0;
  std::string error;  // the first error: a lost connection or an Error reply
};

// Runs until goal.reached(), the connection fails, or ctx.should_stop().
void run_consumer(const BenchContext& ctx, const ConsumerPlan& plan, CompletionGoal& goal, ConsumerResult& result);

// Several consumers together, as the scenarios report them.
struct ConsumerTotals {
  uint64_t deliveries = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t lost_connections = 0;  // consumers that ended on a connection error
  LatencyHistogram latency;
  int64_t last_complete_ns = 0;
  std::string first_error;
};

// `count` consumers on threads of their own, started at once; the goal outlives them.
class ConsumerGroup {
 public:
  ConsumerGroup(const BenchContext& ctx, const ConsumerPlan& plan, unsigned count, CompletionGoal& goal);
  ~ConsumerGroup();  // sets goal.stop and joins, if join() was not called
  ConsumerGroup(const ConsumerGroup&) = delete;
  ConsumerGroup& operator=(const ConsumerGroup&) = delete;

  // Waits until every consumer is subscribed (true), or one gave up or the timeout or
  // the run's deadline passed (false).
  bool wait_subscribed(int timeout_ms);
  // Waits for the consumers to end (goal reached, goal.stop, deadline) and sums them up.
  ConsumerTotals join();

 private:
  const BenchContext& ctx_;
  CompletionGoal& goal_;
  std::vector<ConsumerResult> results_;
  std::vector<std::thread> threads_;
};

}  // namespace broker_bench
