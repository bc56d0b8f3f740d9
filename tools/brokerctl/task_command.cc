// brokerctl task: show one task's stored record.
#include <iostream>

#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "task_format.h"

namespace brokerctl {

int run_task(const GlobalOptions& global, const TaskOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitError;
  auto task = client->get_task(options.id);
  if (!task.ok()) {
    report_task_error(task.status(), options.id);
    return task.status().code() == brokerd::ErrorCode::kNotFound ? kExitNotFound : kExitError;
  }
  if (options.json) {
    print_json(std::cout, task_to_json(*task));
  } else {
    print_task_human(std::cout, *task);
  }
  return kExitOk;
}

}  // namespace brokerctl
