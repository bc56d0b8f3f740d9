// broker-bench: one producer connection. Enqueues its share of the tasks with up to
// `pipeline` requests in flight, each request one Enqueue or (batch > 1) one EnqueueBatch,
// and times every request from send to its confirmation.
//
// Thread safety: run_producer() runs on its own thread with its own ProducerResult;
// it only adds to the shared progress counters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench_context.h"
#include "latency_histogram.h"

namespace broker_bench {

struct ProducerPlan {
  uint64_t tasks = 0;
  unsigned pipeline = 1;
  unsigned batch = 1;
  size_t payload_bytes = 200;
  std::string queue;
  std::string client_name;
};

struct ProducerResult {
  uint64_t confirmed = 0;  // tasks confirmed by EnqueueOk / EnqueueBatchOk
  uint64_t failed = 0;     // tasks whose request was answered with an Error
  uint64_t requests = 0;   // requests confirmed
  LatencyHistogram latency;  // request sent -> its reply, per confirmed request
  int64_t first_send_ns = 0;
  int64_t last_confirm_ns = 0;
  bool finished = false;  // every task was answered (not cut short)
  std::string error;      // the first error: a lost connection or an Error reply
};

// Runs until every task is answered, the connection fails, or ctx.should_stop().
void run_producer(const BenchContext& ctx, const ProducerPlan& plan, ProducerResult& result);

// Several producers together, as the scenarios report them.
struct ProducerTotals {
  uint64_t confirmed = 0;
  uint64_t failed = 0;
  uint64_t requests = 0;
  uint64_t lost_connections = 0;  // producers that ended on a connection error
  LatencyHistogram latency;
  int64_t first_send_ns = 0;
  int64_t last_confirm_ns = 0;
  bool finished = true;  // every producer answered all its tasks
  std::string first_error;
};

// Splits `tasks` over `producers` connections (one thread each; `plan.tasks` and
// `plan.client_name` are set per producer) and blocks until all have returned.
ProducerTotals run_producers(const BenchContext& ctx, ProducerPlan plan, uint64_t tasks, unsigned producers);

}  // namespace broker_bench
