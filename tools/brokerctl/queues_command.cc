// brokerctl queues: depth and counters of every queue the broker knows.
#include <algorithm>
#include <iostream>

#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "queue_format.h"
#include "task_format.h"

namespace brokerctl {

int run_queues(const GlobalOptions& global, const QueuesOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitError;
  auto stats = client->queue_stats();
  if (!stats.ok()) {
    report_error(stats.status());
    return kExitError;
  }
  // The wire promises no order; sort so repeated runs and diffs read the same.
  std::sort(stats->begin(), stats->end(),
            [](const auto& left, const auto& right) { return left.name < right.name; });
  if (options.json) {
    print_json(std::cout, queues_to_json(*stats));
  } else {
    print_queue_table(std::cout, *stats);
  }
  return kExitOk;
}

}  // namespace brokerctl
