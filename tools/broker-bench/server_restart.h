// broker-bench: restarting the --spawn server on its own data dir, timed, for the
// scenarios that measure start-up (backlog, churn).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "bench_context.h"
#include "report.h"

namespace broker_bench {

struct RestartTiming {
  bool clean = false;    // SIGTERM ended it within the stop timeout
  bool serving = false;  // a Ping was answered within the start timeout
  double stop_seconds = 0;
  double listening_seconds = 0;  // start -> port file
  double ready_seconds = 0;      // start -> first Ping answered
  std::string error;
  // stop_seconds, clean_exit, listening_seconds, serving, ready_seconds (and stop_error,
  // error), for the report's details.
  nlohmann::json details;
};

// SIGTERM, then start on the same data dir and wait for a Ping; ctx.endpoint is updated
// to the new port. A failed start counts as an error in `report`.
RestartTiming restart_spawned_server(BenchContext& ctx, Report& report, double stop_timeout_seconds,
                                     double start_timeout_seconds);

}  // namespace broker_bench
