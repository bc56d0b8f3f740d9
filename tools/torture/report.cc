// broker-torture: the one-screen report.

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "run_stats.h"

namespace torture {

namespace {

double percent(uint64_t part, uint64_t whole) { return whole == 0 ? 0.0 : 100.0 * part / whole; }

const char* verdict(int exit_code) {
  switch (exit_code) {
    case 0: return "PASS";
    case 1: return "FAIL (violations)";
    case 3: return "INCOMPLETE (kill target or drain not reached in --max-seconds)";
    default: return "ERROR (set-up or infrastructure)";
  }
}

}  // namespace

void print_report(const ControllerOptions& options, const RunStats& stats, int exit_code) {
  const CheckFigures& f = stats.figures;
  std::printf("broker-torture: --kill %s, %u of %u kills (brokerd %u, workers %u); crashes during start-up %u\n",
              kill_mode_name(options.kill_mode), stats.broker_kills + stats.worker_kills, options.kills,
              stats.broker_kills, stats.worker_kills, stats.startup_crashes);
  std::printf("  seed %llu; %u producers at %u/s total; %u workers x %u threads; work 0..%u ms; pauses %u..%u ms\n",
              static_cast<unsigned long long>(stats.seed), options.producers, options.rate, options.workers,
              options.worker_concurrency, options.work_ms, options.kill_min_ms, options.kill_max_ms);
  if (!stats.broker_start_ms.empty()) {
    const auto [lo, hi] = std::minmax_element(stats.broker_start_ms.begin(), stats.broker_start_ms.end());
    const double mean = std::accumulate(stats.broker_start_ms.begin(), stats.broker_start_ms.end(), 0.0) /
                        static_cast<double>(stats.broker_start_ms.size());
    std::printf("  brokerd starts %zu, exec to listening %lld / %.0f / %lld ms (min / mean / max)\n",
                stats.broker_start_ms.size(), static_cast<long long>(*lo), mean, static_cast<long long>(*hi));
  }
  std::printf("  work dir %s\n", stats.work_dir.c_str());
  std::printf("tasks\n");
  std::printf("  confirmed enqueues         %8llu   (resends answered \"already exists\": %llu)\n",
              static_cast<unsigned long long>(f.confirmed_enqueues), static_cast<unsigned long long>(f.resent_existing));
  std::printf("  task ids checked           %8llu   succeeded %llu; delivered but never confirmed and gone: %llu\n",
              static_cast<unsigned long long>(f.tasks_checked), static_cast<unsigned long long>(f.succeeded),
              static_cast<unsigned long long>(f.unconfirmed_missing));
  std::printf("  handler runs               %8llu   (planned first-run failures %llu, results returned %llu)\n",
              static_cast<unsigned long long>(f.handler_runs), static_cast<unsigned long long>(f.planned_failures),
              static_cast<unsigned long long>(f.results_returned));
  std::printf("  completions seen durable   %8llu   (%.1f%% of the tasks that must succeed)\n",
              static_cast<unsigned long long>(f.completions_confirmed),
              percent(f.completions_confirmed, f.tasks_checked - f.poison_tasks));
  std::printf("  poison tasks               %8llu   (--poison-fraction %g): %llu ended DeliveryLimitExceeded; "
              "%llu deliveries seen, %u worker processes taken down\n",
              static_cast<unsigned long long>(f.poison_tasks), options.poison_fraction,
              static_cast<unsigned long long>(f.poison_dead_lettered),
              static_cast<unsigned long long>(f.poison_deliveries),
              stats.poison_exits);
  std::printf("  reruns in one process      %8llu   (compared by the overlap check)\n",
              static_cast<unsigned long long>(f.same_process_reruns));
  std::printf("duplicates (at-least-once allows them)\n");
  std::printf("  duplicate deliveries       %8llu   (%.2f%% of handler runs)\n",
              static_cast<unsigned long long>(f.duplicate_deliveries), percent(f.duplicate_deliveries, f.handler_runs));
  std::printf("  tasks delivered twice+     %8llu   (%.2f%% of tasks)\n",
              static_cast<unsigned long long>(f.tasks_with_duplicates), percent(f.tasks_with_duplicates, f.tasks_checked));
  std::printf("  journals %llu, torn last lines %llu\n", static_cast<unsigned long long>(f.journals),
              static_cast<unsigned long long>(f.torn_journal_lines));
  std::printf("violations                   %8zu\n", f.violations.size());
  const size_t shown = std::min<size_t>(f.violations.size(), 15);
  for (size_t i = 0; i < shown; ++i) std::printf("  %s\n", f.violations[i].c_str());
  if (shown < f.violations.size()) std::printf("  ... and %zu more\n", f.violations.size() - shown);
  std::printf("time  chaos %.1f s, drain %.1f s%s, check %.1f s, total %.1f s (bound %.0f s)\n", stats.chaos_seconds,
              stats.drain_seconds, stats.drained ? "" : " (NOT drained)", stats.check_seconds, stats.total_seconds,
              options.max_seconds);
  if (!stats.error.empty()) std::printf("error: %s\n", stats.error.c_str());
  std::printf("result: %s\n", verdict(exit_code));
  std::fflush(stdout);
}

}  // namespace torture
