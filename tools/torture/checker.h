// broker-torture, controller: the final check. Reads every journal, then asks the
// (restarted) broker for every task any process recorded, and compares.
//
// Violations (each one fails the run):
//   lost enqueue        a producer journaled EnqueueOk, the broker says NOT_FOUND
//   not terminal        a task is still QUEUED/SCHEDULED/STARTED/RETRY after the drain
//   wrong end state     a task ended FAILURE or REVOKED (every task here must succeed), or
//                       a poison task ended other than FAILURE "DeliveryLimitExceeded"
//   lost completion     a result seen durable is not the result stored now
//   two durable results two different results of one task were each seen durable
//   foreign result      the stored result is none that a worker run returned
//   redelivered         a handler started on a task after its success was seen durable
//   overlapping runs    one worker process ran one task in two handlers at once
//                       (run_overlaps.h)
// Figures: duplicates (deliveries beyond one per planned run), resends answered
// "already exists", how many completions were seen durable, poison tasks and their
// deliveries, and reruns of a task inside one process (what the overlap check compared).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace torture {

struct CheckFigures {
  uint64_t confirmed_enqueues = 0;   // distinct task ids with a journaled EnqueueOk
  uint64_t resent_existing = 0;      // EnqueueOk{created=false}: a resend after a lost reply
  uint64_t tasks_checked = 0;        // confirmed or delivered ids asked of the broker
  uint64_t succeeded = 0;
  uint64_t unconfirmed_missing = 0;  // delivered, never confirmed, NOT_FOUND: allowed
  uint64_t handler_runs = 0;         // D lines
  uint64_t planned_failures = 0;     // first runs of flaky tasks
  uint64_t results_returned = 0;     // R lines
  uint64_t completions_confirmed = 0;  // distinct ids with a C line
  uint64_t duplicate_deliveries = 0;   // runs beyond the first per (task, retry number)
  uint64_t tasks_with_duplicates = 0;
  uint64_t poison_tasks = 0;           // checked ids that the plan makes poison
  uint64_t poison_dead_lettered = 0;   // of those, ended FAILURE DeliveryLimitExceeded
  uint64_t poison_deliveries = 0;      // D lines of poison tasks (each one took a worker down)
  uint64_t same_process_reruns = 0;    // runs of a task in a process after its first there
  uint64_t torn_journal_lines = 0;
  uint64_t journals = 0;
  std::vector<std::string> violations;  // human-readable, one per problem
};

// `journal_dir` holds producer-*.log and worker-*.log; `server` is the broker to ask;
// `poison_fraction` is the run's --poison-fraction (which task ids are poison).
// Returns false (with `error`) if the broker could not be asked at all.
bool check_run(const std::string& journal_dir, const std::string& server, double poison_fraction,
               CheckFigures& figures, std::string& error);

}  // namespace torture
