// brokerctl stats: the broker process and its totals over every queue.
#include <iostream>

#include "admin_format.h"
#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "task_format.h"

namespace brokerctl {

int run_stats(const GlobalOptions& global, const StatsOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitError;
  auto stats = client->server_stats();
  if (!stats.ok()) {
    report_error(stats.status());
    return kExitError;
  }
  if (options.json) {
    print_json(std::cout, server_stats_to_json(*stats));
  } else {
    print_server_stats(std::cout, *stats);
  }
  return kExitOk;
}

}  // namespace brokerctl
