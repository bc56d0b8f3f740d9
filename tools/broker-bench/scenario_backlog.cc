// Scenario `backlog`: a deep queue. Fill it, look at disk and memory, drain it while
// timing each tenth of the backlog (a drain that slows as deleted entries pile up shows
// as falling window rates), and with --spawn restart the server on the same data and
// time until it answers a Ping.
#include <array>
#include <cmath>
#include <cstdio>
#include <thread>

#include "consumer.h"
#include "probes.h"
#include "producer.h"
#include "progress.h"
#include "scenarios.h"
#include "server_restart.h"
#include "spawned_server.h"

namespace broker_bench {

namespace {

constexpr int kWindows = 10;
// The restart is bounded on its own (it may run after --max-seconds has passed).
constexpr double kStopTimeoutSeconds = 60;
constexpr double kRestartTimeoutSeconds = 120;

// Disk and memory at one point of the run; fields unknown without --spawn are omitted.
nlohmann::json snapshot(const BenchContext& ctx, const std::string& queue, std::vector<std::string>& lines,
                        const char* label) {
  nlohmann::json out = nlohmann::json::object();
  std::string line = std::string(label) + ":";
  std::string error;
  if (auto stats = queue_stats(ctx.endpoint, queue, error)) {
    out["queue_ready"] = stats->ready();
    out["queue_in_flight"] = stats->in_flight();
    out["queue_succeeded"] = stats->succeeded();
    line += " queue ready " + with_commas(stats->ready()) + ", succeeded " + with_commas(stats->succeeded()) + ";";
  }
  if (ctx.server && ctx.server->running()) {
    const uint64_t disk = disk_usage_bytes(ctx.server->data_dir());
    const ProcReading reading = read_proc(ctx.server->pid());
    out["disk_bytes"] = disk;
    out["server_rss_bytes"] = reading.rss_bytes;
    out["server_peak_rss_bytes"] = reading.peak_rss_bytes;
    out["server_cpu_seconds"] = round_to(reading.cpu_seconds(), 2);
    line += " data dir " + format_bytes(disk) + " on disk, server RSS " + format_bytes(reading.rss_bytes) +
            " (peak " + format_bytes(reading.peak_rss_bytes) + ")";
  }
  lines.push_back(line);
  return out;
}

// Stops the spawned server with SIGTERM, starts it again on the same data dir and waits
// for a Ping to succeed.
nlohmann::json restart(BenchContext& ctx, Report& report) {
  RestartTiming timing = restart_spawned_server(ctx, report, kStopTimeoutSeconds, kRestartTimeoutSeconds);
  if (!ctx.server->running()) return timing.details;
  const ProcReading reading = read_proc(ctx.server->pid());
  timing.details["server_rss_bytes"] = reading.rss_bytes;
  timing.details["server_cpu_seconds"] = round_to(reading.cpu_seconds(), 2);
  char text[200];
  std::snprintf(text, sizeof(text), "restart: SIGTERM -> exit %.3f s%s; start -> first Ping answered %.3f s%s; RSS %s",
                timing.stop_seconds, timing.clean ? "" : " (not clean)", timing.ready_seconds,
                timing.serving ? "" : " (NEVER SERVED)", format_bytes(reading.rss_bytes).c_str());
  report.human_lines.push_back(text);
  return timing.details;
}

}  // namespace

Report run_backlog_scenario(BenchContext& ctx) {
  const BenchOptions& options = ctx.options;
  Report report;
  report.scenario = "backlog";
  report.tasks_requested = options.tasks;
  report.latency_measure = "drain, per completion: Complete sent -> CompleteOk received";

  // ---- fill ---------------------------------------------------------------------------
  ProducerPlan plan;
  plan.pipeline = options.pipeline;
  plan.batch = options.batch;
  plan.payload_bytes = options.payload;
  plan.queue = options.queue;
  ctx.progress.phase("backlog fill", Progress::Track::kEnqueued, options.tasks);
  const int64_t fill_start = now_ns();
  ProducerTotals filled = run_producers(ctx, plan, options.tasks, options.producers);
  const double fill_seconds = seconds_between(fill_start, filled.last_confirm_ns > 0 ? filled.last_confirm_ns : now_ns());
  report.errors += filled.failed + filled.lost_connections;
  report.first_error = filled.first_error;
  report.details["fill"] = {
      {"tasks", filled.confirmed},
      {"seconds", round_to(fill_seconds, 4)},
      {"tasks_per_s", std::round(per_second(filled.confirmed, fill_seconds))},
      {"completed", filled.finished},
      {"latency_us", latency_json(filled.latency)},
      {"latency_measure", options.batch > 1 ? "EnqueueBatch sent -> EnqueueBatchOk" : "Enqueue sent -> EnqueueOk"},
  };
  char seconds_text[32];
  std::snprintf(seconds_text, sizeof(seconds_text), "%.3f", fill_seconds);
  report.human_lines.push_back("fill: " + with_commas(filled.confirmed) + " tasks in " + seconds_text + " s = " +
                               with_commas(static_cast<uint64_t>(per_second(filled.confirmed, fill_seconds))) +
                               " tasks/s; " + latency_text(filled.latency));
  report.details["after_fill"] = snapshot(ctx, options.queue, report.human_lines, "after fill");

  // ---- drain ----------------------------------------------------------------------------
  const uint64_t backlog = filled.confirmed;
  std::array<uint64_t, kWindows> window_end{};  // completions at the end of each tenth
  for (int k = 0; k < kWindows; ++k) {
    window_end[k] = (backlog * static_cast<uint64_t>(k + 1) + kWindows - 1) / kWindows;
  }
  std::array<std::atomic<int64_t>, kWindows> window_end_ns{};
  CompletionGoal goal;
  goal.target = backlog;
  goal.on_completed = [&](uint64_t total, int64_t at_ns) {
    for (int k = 0; k < kWindows; ++k) {
      if (window_end[k] == total) window_end_ns[k].store(at_ns, std::memory_order_relaxed);
    }
  };
  ConsumerPlan consumer_plan;
  consumer_plan.queue = options.queue;
  consumer_plan.prefetch = options.prefetch;
  consumer_plan.latency = ConsumerLatency::kCompleteRoundTrip;

  ConsumerTotals drained;
  int64_t drain_start = now_ns();
  if (backlog > 0 && !ctx.should_stop()) {
    ctx.progress.phase("backlog drain", Progress::Track::kCompleted, backlog);
    drain_start = now_ns();
    ConsumerGroup workers(ctx, consumer_plan, options.workers, goal);
    drained = workers.join();
  }
  const bool drain_complete = drained.completed >= backlog;
  const int64_t drain_end = drain_complete && drained.last_complete_ns > 0 ? drained.last_complete_ns : now_ns();
  report.completed = filled.finished && drain_complete;
  report.tasks = drained.completed;
  report.seconds = seconds_between(drain_start, drain_end);
  report.latency = std::move(drained.latency);
  report.errors += drained.failed + drained.lost_connections;
  if (report.first_error.empty()) report.first_error = drained.first_error;

  nlohmann::json windows = nlohmann::json::array();
  std::string window_line = "drain rate per tenth of the backlog (tasks/s):";
  int64_t previous_ns = drain_start;
  uint64_t previous_count = 0;
  double fastest = 0;
  double slowest = 0;
  for (int k = 0; k < kWindows; ++k) {
    const int64_t end_ns = window_end_ns[k].load();
    if (end_ns == 0 || window_end[k] == previous_count) break;
    const uint64_t tasks = window_end[k] - previous_count;
    const double seconds = seconds_between(previous_ns, end_ns);
    const double rate = per_second(tasks, seconds);
    windows.push_back({{"window", k + 1}, {"tasks", tasks}, {"seconds", round_to(seconds, 4)}, {"tasks_per_s", std::round(rate)}});
    window_line += " " + with_commas(static_cast<uint64_t>(rate));
    fastest = k == 0 ? rate : std::max(fastest, rate);
    slowest = k == 0 ? rate : std::min(slowest, rate);
    previous_ns = end_ns;
    previous_count = window_end[k];
  }
  report.details["drain"] = {
      {"tasks", drained.completed},
      {"seconds", round_to(report.seconds, 4)},
      {"tasks_per_s", std::round(per_second(drained.completed, report.seconds))},
      {"completed", drain_complete},
      {"windows", windows},
      {"slowest_over_fastest_window", fastest > 0 ? std::round(slowest / fastest * 1000) / 1000 : 0.0},
  };
  report.human_lines.push_back(window_line);
  report.details["after_drain"] = snapshot(ctx, options.queue, report.human_lines, "after drain");

  // ---- restart (spawned server only) --------------------------------------------------------
  if (ctx.server && ctx.server->running()) {
    if (ctx.should_stop()) {
      report.details["restart"] = {{"skipped", "the run was cut short"}};
    } else {
      ctx.progress.phase("restart", Progress::Track::kCompleted, 0);
      report.details["restart"] = restart(ctx, report);
    }
  }
  report.details["queue"] = options.queue;
  return report;
}

}  // namespace broker_bench
