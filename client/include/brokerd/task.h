// brokerd client library: what a task is, as producers and operators see it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace brokerd {

// Lifecycle: QUEUED -> STARTED -> SUCCESS | RETRY -> QUEUED ... | FAILURE; SCHEDULED
// (countdown/ETA) -> QUEUED; REVOKED at any non-terminal point. A task id the broker has
// never seen is not a state: calls report ErrorCode::kNotFound.
enum class TaskState { kUnknown = 0, kQueued, kScheduled, kStarted, kRetry, kSuccess, kFailure, kRevoked };

// "QUEUED", "SCHEDULED", ... as on the wire and in brokerctl.
const char* task_state_name(TaskState state);
// SUCCESS, FAILURE and REVOKED: the task will not change again.
bool is_terminal(TaskState state);

// Members without a default value are value-initialized with `{}` so designated
// initializers that name only some fields ({.name = "add"}) compile cleanly under
// -Wextra (-Wmissing-field-initializers).

// How failures are retried. Unset fields take the server's defaults (no retries,
// backoff 1 s doubling up to 600 s, with jitter).
struct RetryPolicy {
  std::optional<uint32_t> max_retries{};
  std::optional<std::chrono::milliseconds> backoff_base{};
  std::optional<std::chrono::milliseconds> backoff_max{};
  std::optional<bool> jitter{};
};

struct TaskOptions {
  std::string id{};                 // empty: the server generates a UUID
  std::string queue{};              // empty: "default"
  uint32_t priority = 0;            // 0..9, 9 is most urgent
  std::chrono::milliseconds countdown{0};                      // deliver no earlier than now + countdown
  std::optional<std::chrono::system_clock::time_point> eta{};  // absolute; wins over countdown
  RetryPolicy retry{};
  std::chrono::milliseconds result_ttl{0};  // 0: the server default (24 h)
  // Run-time limits of one delivery; 0: the worker's own defaults (WorkerOptions in
  // brokerd/worker.h). The worker counts them from when its handler starts: at the soft
  // limit the handler is asked to stop (TaskContext::stop_requested()); at the hard limit
  // the task ends FAILURE "TimeLimitExceeded", not retried. The broker, counting from the
  // delivery, never extends the lease past the hard limit, so a hung worker cannot hold
  // the task longer. At most a week; soft_time_limit must not exceed time_limit when both
  // are set (else the enqueue fails with kInvalidArgument).
  std::chrono::milliseconds time_limit{0};
  std::chrono::milliseconds soft_time_limit{0};
  // Deliveries that may end without an outcome (lease lost: expired, connection closed,
  // released) before the task ends FAILURE "DeliveryLimitExceeded" instead of running
  // again; a retry starts the count afresh. 0: the server's max_deliveries setting.
  uint32_t max_deliveries = 0;
};

// One task to enqueue: the name workers registered, Celery-style args and kwargs.
struct TaskRequest {
  std::string name{};
  nlohmann::json args = nlohmann::json::array();
  nlohmann::json kwargs = nlohmann::json::object();
  TaskOptions options{};
};

struct TaskError {
  std::string type{};       // e.g. "ZeroDivisionError"
  std::string message{};    // e.g. "division by zero"
  std::string traceback{};
};

struct TaskTransition {
  TaskState state = TaskState::kUnknown;
  int64_t at_ms = 0;  // Unix milliseconds
};

// A task's stored record, as returned by Client::get_task and Client::wait.
struct TaskInfo {
  std::string id;
  std::string name;
  std::string queue;
  std::string args_json;
  std::string kwargs_json;
  uint32_t priority = 0;
  TaskState state = TaskState::kUnknown;
  uint32_t attempts = 0;     // deliveries so far
  uint32_t retries = 0;      // retries scheduled so far
  uint32_t max_retries = 0;
  uint32_t lost_leases = 0;     // deliveries in a row that ended without an outcome
  uint32_t max_deliveries = 0;  // where lost_leases ends the task (0: the broker's setting)
  int64_t time_limit_ms = 0;    // from TaskOptions (0: none)
  int64_t soft_time_limit_ms = 0;
  int64_t created_ms = 0;
  int64_t due_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int64_t expires_ms = 0;
  std::string worker;        // client name of the worker that last ran it
  std::string result_json;   // SUCCESS: the handler's return value as JSON text
  std::optional<TaskError> error;
  std::vector<TaskTransition> history;

  // The result parsed as JSON (null when there is none).
  nlohmann::json result() const;
};

// What the broker answered to an enqueue.
struct EnqueueReceipt {
  std::string id;
  TaskState state = TaskState::kUnknown;  // QUEUED or SCHEDULED; the old state if !created
  bool created = true;                    // false: the id existed, nothing was changed
};

// One queue's depths (tasks in each state now), lifetime counters and recent rates.
struct QueueInfo {
  std::string name;
  uint64_t ready = 0;        // QUEUED
  uint64_t scheduled = 0;    // SCHEDULED (countdown/ETA not yet due)
  uint64_t in_flight = 0;    // STARTED
  uint64_t retrying = 0;     // RETRY (waiting for the backoff)
  uint32_t consumers = 0;    // connections consuming the queue now
  uint64_t succeeded = 0;    // lifetime
  uint64_t failed = 0;       // lifetime
  uint64_t dead = 0;         // FAILURE tasks in the dead-letter set now
  uint64_t revoked = 0;      // lifetime
  double enqueued_per_s = 0;   // averages over the last 60 seconds
  double completed_per_s = 0;  // SUCCESS outcomes
  double failed_per_s = 0;     // FAILURE outcomes (retries are not failures)
};

}  // namespace brokerd
