// brokerctl revoke: cancel one task. A task that has already finished is left as it is:
// that is reported, but it is not an error (the operator's intent, "this must not run",
// holds either way).
#include <iostream>

#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "task_format.h"

namespace brokerctl {

int run_revoke(const GlobalOptions& global, const RevokeOptions& options) {
  auto client = connect_or_report(global);
  if (!client) return kExitError;
  auto outcome = client->revoke(options.id);
  if (!outcome.ok()) {
    report_task_error(outcome.status(), options.id);
    return exit_code_for(outcome.status());
  }
  const char* state = brokerd::task_state_name(outcome->state);
  if (options.json) {
    print_json(std::cout, {{"id", options.id}, {"state", state}, {"was_started", outcome->was_started}});
  } else if (outcome->state != brokerd::TaskState::kRevoked) {
    std::cout << "task " << options.id << " had already finished (" << state << "); unchanged\n";
  } else if (outcome->was_started) {
    std::cout << "revoked " << options.id << " (it was running; its worker has been told)\n";
  } else {
    std::cout << "revoked " << options.id << '\n';
  }
  return kExitOk;
}

}  // namespace brokerctl
