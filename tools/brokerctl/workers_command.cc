// brokerctl workers: the connections consuming tasks now.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <tuple>

#include "admin_format.h"
#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "task_format.h"

namespace brokerctl {

int run_workers(const GlobalOptions& global, const WorkersOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitError;
  auto workers = client->workers();
  if (!workers.ok()) {
    report_error(workers.status());
    return kExitError;
  }
  // The wire promises no order; sort so repeated runs read the same.
  std::sort(workers->begin(), workers->end(), [](const auto& left, const auto& right) {
    return std::tie(left.name, left.connected_ms, left.session_id) <
           std::tie(right.name, right.connected_ms, right.session_id);
  });
  if (options.json) {
    print_json(std::cout, workers_to_json(*workers));
  } else {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    print_workers_table(std::cout, *workers, now_ms);
  }
  return kExitOk;
}

}  // namespace brokerctl
