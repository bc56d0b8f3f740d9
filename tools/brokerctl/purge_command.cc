// brokerctl purge: revoke every ready task of a queue. Destructive, so it asks first:
// on a terminal without --yes it asks for confirmation; without a terminal it refuses
// (a script must say --yes). Tasks running, scheduled or retrying are left alone.
//
// The purge is a loop of bounded Purge calls. It stops once the tasks that were ready
// when it started have been removed, so producers enqueueing meanwhile cannot keep it
// going forever.
#include <iostream>

#include "bulk.h"
#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "task_format.h"
#include "terminal.h"

namespace brokerctl {
namespace {

// Ready tasks in `queue` now, for the confirmation question (0 if it cannot tell).
uint64_t ready_in(brokerd::Client& client, const std::string& queue) {
  auto stats = client.queue_stats({queue});
  if (!stats.ok()) return 0;
  for (const auto& info : *stats) {
    if (info.name == queue) return info.ready;
  }
  return 0;
}

}  // namespace

int run_purge(const GlobalOptions& global, const PurgeOptions& options) {
  const bool ask = !options.yes;
  if (ask && !stdin_is_terminal()) {
    report_error("refusing to purge queue " + options.queue +
                 " without --yes (stdin is not a terminal, so there is no one to ask)");
    return kExitError;
  }
  auto client = connect_or_report(global);
  if (!client) return kExitError;
  if (ask) {
    const uint64_t ready = ready_in(*client, options.queue);
    if (!confirm("Revoke all " + std::to_string(ready) + " ready tasks of queue " +
                 options.queue + "?")) {
      report_error("purge cancelled; nothing was removed");
      return kExitError;
    }
  }

  uint64_t removed = 0;
  uint64_t remaining = 0;
  {
    Progress progress("purged");  // its line ends before the summary is printed
    uint64_t target = 0;          // the ready tasks when the purge started
    for (bool first = true;; first = false) {
      auto step = client->purge(options.queue, kBulkBatch);
      if (!step.ok()) {
        progress.end();
        report_error(step.status());
        if (removed > 0) report_error("purged " + std::to_string(removed) + " tasks before the error");
        return exit_code_for(step.status());
      }
      if (first) target = step->removed + step->remaining;
      removed += step->removed;
      remaining = step->remaining;
      progress.update(removed, target);
      if (step->removed == 0 || remaining == 0 || removed >= target) break;
    }
  }
  if (options.json) {
    print_json(std::cout, {{"queue", options.queue}, {"removed", removed}, {"remaining", remaining}});
  } else {
    std::cout << "purged " << removed << " tasks from queue " << options.queue << '\n';
  }
  return kExitOk;
}

}  // namespace brokerctl
