// brokerctl tasks: the tasks of one queue, newest first, optionally in one state.
#include <iostream>

#include "admin_format.h"
#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "task_format.h"

namespace brokerctl {

int run_tasks(const GlobalOptions& global, const TasksOptions& options) {
  std::optional<brokerd::TaskState> state;
  if (!options.state.empty()) {
    state = parse_task_state(options.state);
    if (!state) {
      report_error("invalid --state " + options.state +
                   ": expected QUEUED, SCHEDULED, STARTED, RETRY, SUCCESS, FAILURE or REVOKED");
      return kExitError;
    }
  }
  auto client = connect_or_report(global);
  if (!client) return kExitError;
  auto listing = client->list_tasks(options.queue, state, options.limit);
  if (!listing.ok()) {
    report_error(listing.status());
    return exit_code_for(listing.status());
  }
  if (options.json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& task : listing->tasks) list.push_back(task_to_json(task));
    print_json(std::cout, {{"queue", options.queue.empty() ? "default" : options.queue},
                           {"tasks", list},
                           {"truncated", listing->truncated}});
  } else {
    print_task_table(std::cout, listing->tasks);
  }
  if (listing->truncated) {
    report_error("note: the broker stopped scanning before finding " + std::to_string(options.limit) +
                 " matches; older tasks in this state may not be listed");
  }
  return kExitOk;
}

}  // namespace brokerctl
