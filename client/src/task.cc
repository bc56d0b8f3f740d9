// Task state names and TaskInfo helpers.

#include "brokerd/task.h"

namespace brokerd {

const char* task_state_name(TaskState state) {
  switch (state) {
    case TaskState::kUnknown: return "UNKNOWN";
    case TaskState::kQueued: return "QUEUED";
    case TaskState::kScheduled: return "SCHEDULED";
    case TaskState::kStarted: return "STARTED";
    case TaskState::kRetry: return "RETRY";
    case TaskState::kSuccess: return "SUCCESS";
    case TaskState::kFailure: return "FAILURE";
    case TaskState::kRevoked: return "REVOKED";
  }
  return "UNKNOWN";
}

bool is_terminal(TaskState state) {
  return state == TaskState::kSuccess || state == TaskState::kFailure ||
         state == TaskState::kRevoked;
}

nlohmann::json TaskInfo::result() const {
  if (result_json.empty()) return nullptr;
  // The server checks results are valid JSON, so a parse failure means a record written
  // by something else; handing back the raw text beats throwing from an accessor.
  nlohmann::json parsed = nlohmann::json::parse(result_json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return nlohmann::json(result_json);
  return parsed;
}

}  // namespace brokerd
