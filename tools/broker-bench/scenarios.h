// broker-bench: the scenarios. Each runs its load against ctx.endpoint, bounded by
// ctx.should_stop(), and returns what it measured; main.cc adds the configuration and
// the server's readings and prints the report.
#pragma once

#include "bench_context.h"
#include "report.h"

namespace broker_bench {

// P producers enqueue N tasks; rate = confirmed enqueues; latency = request -> reply.
Report run_enqueue_scenario(BenchContext& ctx);
// Producers and W raw workers together; the clock stops at the last CompleteOk.
Report run_e2e_scenario(BenchContext& ctx);
// One task at a time: Enqueue + WaitResult -> worker -> result pushed to the waiter.
Report run_latency_scenario(BenchContext& ctx);
// Fill, measure, drain by tenths, and (spawned) restart and time until a Ping succeeds.
Report run_backlog_scenario(BenchContext& ctx);
// Many queue names used once each: RSS and queues known by tenths, then (spawned) a
// restart timed to the port file, with the queues loaded.
Report run_churn_scenario(BenchContext& ctx);

}  // namespace broker_bench
