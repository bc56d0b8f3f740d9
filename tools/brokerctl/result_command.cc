// brokerctl result: a task's outcome, now or (with --wait) as soon as the broker pushes it.
//
// Human output is just the outcome: the result JSON on SUCCESS (so `$(brokerctl result ID)`
// is the value), "FAILURE: Type: message" plus any traceback, or "REVOKED". --json prints
// the whole record, also when the task has not finished, so scripts can see its state.
#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "task_format.h"

namespace brokerctl {
namespace {

int print_outcome(const brokerd::TaskInfo& task, bool json) {
  using brokerd::TaskState;
  if (json) print_json(std::cout, task_to_json(task));
  switch (task.state) {
    case TaskState::kSuccess:
      if (!json) {
        std::cout << task.result().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                  << '\n';
      }
      return kExitResultSuccess;
    case TaskState::kFailure:
      if (!json) {
        std::cout << "FAILURE: " << (task.error ? error_summary(*task.error) : "") << '\n';
        if (task.error && !task.error->traceback.empty()) std::cout << task.error->traceback << '\n';
      }
      return kExitResultFailed;
    case TaskState::kRevoked:
      if (!json) std::cout << "REVOKED\n";
      return kExitResultFailed;
    default:
      return kExitResultNone;
  }
}

std::string seconds_text(double seconds) {
  std::ostringstream text;
  text << seconds << 's';
  return text.str();
}

}  // namespace

int run_result(const GlobalOptions& global, const ResultOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitResultNone;

  if (options.wait_seconds <= 0) {
    auto task = client->get_task(options.id);
    if (!task.ok()) {
      report_task_error(task.status(), options.id);
      return kExitResultNone;
    }
    if (!brokerd::is_terminal(task->state)) {
      if (options.json) print_json(std::cout, task_to_json(*task));
      report_error("task " + options.id + " has not finished (state " +
                   brokerd::task_state_name(task->state) + "); use --wait SECONDS to wait for it");
      return kExitResultNone;
    }
    return print_outcome(*task, options.json);
  }

  auto timeout = std::chrono::milliseconds(std::llround(options.wait_seconds * 1000.0));
  auto task = client->wait(options.id, timeout);
  if (task.ok()) return print_outcome(*task, options.json);
  if (task.status().code() != brokerd::ErrorCode::kTimeout) {
    report_task_error(task.status(), options.id);
    return kExitResultNone;
  }
  // Timed out: one more read tells the operator where the task is stuck.
  auto current = client->get_task(options.id);
  std::string state = current.ok() ? brokerd::task_state_name(current->state) : "unknown";
  if (options.json && current.ok()) print_json(std::cout, task_to_json(*current));
  report_error("TIMEOUT: task " + options.id + " did not finish within " +
               seconds_text(options.wait_seconds) + " (state " + state + ")");
  return kExitResultNone;
}

}  // namespace brokerctl
