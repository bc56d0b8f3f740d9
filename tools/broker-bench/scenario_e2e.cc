// Scenario `e2e`: producers and workers together, the way a deployment runs; the rate is
// of tasks completed, the clock stops at the last CompleteOk.
#include <cmath>

#include "consumer.h"
#include "producer.h"
#include "progress.h"
#include "scenarios.h"

namespace broker_bench {

Report run_e2e_scenario(BenchContext& ctx) {
  const BenchOptions& options = ctx.options;
  Report report;
  report.scenario = "e2e";
  report.tasks_requested = options.tasks;
  report.latency_measure =
      "per task: enqueue request sent -> CompleteOk received (includes time queued behind other tasks)";

  CompletionGoal goal;
  goal.target = options.tasks;
  ConsumerPlan consumer_plan;
  consumer_plan.queue = options.queue;
  consumer_plan.prefetch = options.prefetch;
  consumer_plan.latency = ConsumerLatency::kFromEnqueue;
  ConsumerGroup workers(ctx, consumer_plan, options.workers, goal);
  if (!workers.wait_subscribed(kSetupTimeoutMs)) {
    goal.stop = true;
    ConsumerTotals failed = workers.join();
    report.completed = false;
    report.errors = 1;
    report.first_error = "workers did not subscribe: " + failed.first_error;
    return report;
  }

  ProducerPlan plan;
  plan.pipeline = options.pipeline;
  plan.batch = options.batch;
  plan.payload_bytes = options.payload;
  plan.queue = options.queue;

  ctx.progress.phase("e2e", Progress::Track::kCompleted, options.tasks);
  const int64_t start = now_ns();
  ProducerTotals produced = run_producers(ctx, plan, options.tasks, options.producers);
  // Tasks that were never confirmed will not be completed either.
  goal.target = produced.confirmed;
  ConsumerTotals consumed = workers.join();
  const bool completed = produced.finished && consumed.completed >= produced.confirmed;
  const int64_t end = completed && consumed.last_complete_ns > 0 ? consumed.last_complete_ns : now_ns();

  report.completed = completed;
  report.tasks = consumed.completed;
  report.seconds = seconds_between(start, end);
  report.latency = std::move(consumed.latency);
  report.errors = produced.failed + produced.lost_connections + consumed.failed + consumed.lost_connections;
  report.first_error = !produced.first_error.empty() ? produced.first_error : consumed.first_error;

  const double enqueue_seconds =
      seconds_between(start, produced.last_confirm_ns > 0 ? produced.last_confirm_ns : now_ns());
  report.details["enqueue"] = {
      {"tasks", produced.confirmed},
      {"seconds", round_to(enqueue_seconds, 4)},
      {"tasks_per_s", std::round(per_second(produced.confirmed, enqueue_seconds))},
      {"latency_us", latency_json(produced.latency)},
      {"latency_measure", options.batch > 1 ? "EnqueueBatch sent -> EnqueueBatchOk" : "Enqueue sent -> EnqueueOk"},
  };
  report.details["deliveries"] = consumed.deliveries;
  report.details["queue"] = options.queue;
  report.human_lines.push_back("enqueue side: " + with_commas(produced.confirmed) + " confirmed, " +
                               with_commas(static_cast<uint64_t>(per_second(produced.confirmed, enqueue_seconds))) +
                               " tasks/s while workers ran; " + latency_text(produced.latency));
  report.human_lines.push_back("deliveries: " + with_commas(consumed.deliveries) + " (redeliveries show as more than tasks)");
  return report;
}

}  // namespace broker_bench
