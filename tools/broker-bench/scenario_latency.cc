// Scenario `latency`: one task at a time, the round trip a caller of
// `enqueue(...); wait(id)` sees: Enqueue and WaitResult are sent together (the task id
// is chosen by the bench, so the wait needs no EnqueueOk first), a raw worker completes
// the task, and the broker pushes the result to the waiter.
#include <unistd.h>

#include "consumer.h"
#include "progress.h"
#include "raw_connection.h"
#include "scenarios.h"
#include "task_payload.h"

namespace broker_bench {

namespace {

// A single round trip taking longer than this is reported as an error and ends the run.
constexpr int64_t kRoundTripTimeoutMs = 30'000;

}  // namespace

Report run_latency_scenario(BenchContext& ctx) {
  const BenchOptions& options = ctx.options;
  Report report;
  report.scenario = "latency";
  report.tasks_requested = options.tasks;
  report.latency_measure =
      "per task, one at a time: Enqueue+WaitResult sent -> result pushed to the waiter (TaskInfo received)";

  CompletionGoal goal;
  ConsumerPlan consumer_plan;
  consumer_plan.queue = options.queue;
  consumer_plan.prefetch = options.prefetch;
  consumer_plan.latency = ConsumerLatency::kCompleteRoundTrip;
  ConsumerGroup workers(ctx, consumer_plan, options.workers, goal);
  if (!workers.wait_subscribed(kSetupTimeoutMs)) {
    goal.stop = true;
    report.completed = false;
    report.errors = 1;
    report.first_error = "workers did not subscribe: " + workers.join().first_error;
    return report;
  }

  std::string error;
  auto connection = RawConnection::open(ctx.endpoint, "broker-bench-caller", kSetupTimeoutMs, error);
  if (!connection) {
    report.completed = false;
    report.errors = 1;
    report.first_error = error;
    return report;
  }

  v1::Envelope enqueue;
  v1::TaskSpec* spec = enqueue.mutable_enqueue()->mutable_task();
  spec->set_name(kBenchTaskName);
  spec->set_queue(options.queue);
  v1::Envelope wait;
  wait.mutable_wait_result()->set_timeout_ms(kRoundTripTimeoutMs);
  std::string args;
  // Unique across runs against the same server.
  const std::string id_prefix = "lat-" + std::to_string(getpid()) + "-" + std::to_string(now_ns()) + "-";
  LatencyHistogram enqueue_latency;

  ctx.progress.phase("latency", Progress::Track::kCompleted, options.tasks);
  const int64_t start = now_ns();
  uint64_t done = 0;
  bool aborted = false;
  for (uint64_t i = 0; i < options.tasks && !aborted && !ctx.should_stop(); ++i) {
    const std::string task_id = id_prefix + std::to_string(i);
    const int64_t sent = now_ns();
    make_args_json(sent, options.payload, args);
    spec->set_id(task_id);
    spec->set_args_json(args);
    const uint64_t enqueue_id = connection->next_id();
    enqueue.set_id(enqueue_id);
    wait.mutable_wait_result()->set_id(task_id);
    const uint64_t wait_id = connection->next_id();
    wait.set_id(wait_id);
    connection->queue(enqueue);
    connection->queue(wait);

    bool enqueued = false;
    bool finished = false;
    auto on_frame = [&](v1::Envelope& frame) {
      if (frame.id() == enqueue_id) {
        if (frame.has_enqueue_ok()) {
          enqueue_latency.record(now_ns() - sent);
          ctx.progress.enqueued.fetch_add(1, std::memory_order_relaxed);
        } else {
          ++report.errors;
          if (report.first_error.empty()) report.first_error = "enqueue: " + frame.error().message();
          aborted = true;
        }
        enqueued = true;
      } else if (frame.id() == wait_id) {
        finished = true;
        if (frame.has_task_info() && frame.task_info().task().state() == v1::SUCCESS) {
          report.latency.record(now_ns() - sent);
          ++done;
          ctx.progress.completed.fetch_add(1, std::memory_order_relaxed);
        } else {
          ++report.errors;
          if (report.first_error.empty()) {
            report.first_error = "wait: " + (frame.has_error() ? v1::ErrorCode_Name(frame.error().code()) + ": " +
                                                                     frame.error().message()
                                                               : std::string("task did not succeed"));
          }
          aborted = true;
        }
      }
    };
    while (!(enqueued && finished) && !aborted) {
      if (ctx.should_stop()) {
        aborted = true;
        break;
      }
      if (!connection->pump(kPollSliceMs, on_frame)) {
        ++report.errors;
        if (report.first_error.empty()) report.first_error = connection->error();
        aborted = true;
      }
    }
  }
  const int64_t end = now_ns();
  goal.stop = true;
  ConsumerTotals consumed = workers.join();

  report.completed = done == options.tasks;
  report.tasks = done;
  report.seconds = seconds_between(start, end);
  report.errors += consumed.failed + consumed.lost_connections;
  if (report.first_error.empty()) report.first_error = consumed.first_error;
  report.details["enqueue_latency_us"] = latency_json(enqueue_latency);
  report.details["complete_latency_us"] = latency_json(consumed.latency);
  report.details["queue"] = options.queue;
  report.human_lines.push_back("Enqueue -> EnqueueOk: " + latency_text(enqueue_latency));
  report.human_lines.push_back("worker Complete -> CompleteOk: " + latency_text(consumed.latency));
  return report;
}

}  // namespace broker_bench
