// broker-torture, controller: runs one torture run from start to report.
//
// Phases, all inside --max-seconds:
//   1. chaos   brokerd, producers and workers run; SIGKILLs land at random moments
//              until --kills were delivered (brokerd restarted on its port each time,
//              a killed worker replaced by a new process; with --startup-crash-percent
//              some restarts are themselves SIGKILLed 0..300 ms in, during recovery).
//              Worker processes that poison tasks take down are replaced within ~20 ms
//              and counted; any other exit of a worker is a violation.
//   2. drain   producers are stopped (SIGTERM); workers run (still replaced when a
//              poison task takes one down) until no task is queued, scheduled, retrying
//              or in flight, up to 85% of --max-seconds; poison tasks wait out their
//              lost deliveries' backoff in RETRY until the broker ends them; then the
//              workers are stopped (SIGTERM)
//   3. check   brokerd is SIGKILLed once more and restarted, so the check reads only
//              what survived a crash; checker.h compares the journals with the broker
//   4. stop    brokerd gets SIGTERM and must exit 0
// The chaos phase gets at most 60% of --max-seconds, so that drain and check fit.
#pragma once

#include "options.h"

namespace torture {

int run_controller(const ControllerOptions& options);

}  // namespace torture
