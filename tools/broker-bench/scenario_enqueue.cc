// Scenario `enqueue`: how fast the broker confirms new tasks.
#include <cmath>

#include "producer.h"
#include "progress.h"
#include "scenarios.h"

namespace broker_bench {

Report run_enqueue_scenario(BenchContext& ctx) {
  const BenchOptions& options = ctx.options;
  Report report;
  report.scenario = "enqueue";
  report.tasks_requested = options.tasks;
  report.latency_measure = options.batch > 1 ? "per EnqueueBatch request: sent -> EnqueueBatchOk received"
                                             : "per Enqueue request: sent -> EnqueueOk received";

  ProducerPlan plan;
  plan.pipeline = options.pipeline;
  plan.batch = options.batch;
  plan.payload_bytes = options.payload;
  plan.queue = options.queue;

  ctx.progress.phase("enqueue", Progress::Track::kEnqueued, options.tasks);
  const int64_t start = now_ns();
  ProducerTotals totals = run_producers(ctx, plan, options.tasks, options.producers);
  const int64_t end = totals.finished && totals.last_confirm_ns > 0 ? totals.last_confirm_ns : now_ns();

  report.completed = totals.finished;
  report.tasks = totals.confirmed;
  report.seconds = seconds_between(start, end);
  report.latency = std::move(totals.latency);
  report.errors = totals.failed + totals.lost_connections;
  report.first_error = totals.first_error;
  report.details["requests"] = totals.requests;
  report.details["requests_per_s"] = std::round(per_second(totals.requests, report.seconds));
  report.details["queue"] = options.queue;
  report.human_lines.push_back(with_commas(totals.requests) + " requests (" + std::to_string(options.batch) +
                               " task(s) each), up to " + std::to_string(options.pipeline) + " in flight on each of " +
                               std::to_string(options.producers) + " connection(s)");
  return report;
}

}  // namespace broker_bench
