// broker-torture, controller: what a run did, for the report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "checker.h"
#include "options.h"

namespace torture {

struct RunStats {
  std::string work_dir;
  uint64_t seed = 0;
  unsigned broker_kills = 0;
  unsigned worker_kills = 0;
  unsigned startup_crashes = 0;  // extra kills during a restart (not counted in --kills)
  std::vector<int64_t> broker_start_ms;  // exec to port file, every start
  double chaos_seconds = 0;
  double drain_seconds = 0;
  double check_seconds = 0;
  double total_seconds = 0;
  bool drained = false;
  int broker_exit_code = 0;     // at the final SIGTERM
  unsigned producer_failures = 0;  // producers that exited non-zero
  unsigned poison_exits = 0;       // worker processes a poison task took down
  bool checked = false;
  std::string error;            // set-up or infrastructure failure, if any
  CheckFigures figures;
};

// Prints the one-screen report to stdout.
void print_report(const ControllerOptions& options, const RunStats& stats, int exit_code);

}  // namespace torture
