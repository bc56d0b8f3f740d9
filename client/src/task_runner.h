// Runs one delivered task through its handler and turns the outcome into a Complete.
// No I/O and no threads of its own: the worker calls it on a handler thread, and tests
// call it directly (tests/client/task_runner_test.cc).
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <string>

#include "broker.pb.h"
#include "brokerd/worker.h"

namespace brokerd::internal {

// What the rest of the worker tells one run of a handler while it runs. Set by the I/O
// thread (revocation, a lost lease) and the supervisor thread (time limits); read by the
// handler through its TaskContext. Each flag only ever goes from false to true.
struct RunFlags {
  std::atomic<bool> revoked{false};        // an operator revoked the task
  std::atomic<bool> lease_lost{false};     // the broker no longer leases it to this worker
  std::atomic<bool> soft_limit_passed{false};
  std::atomic<bool> hard_limit_passed{false};  // the supervisor reported TimeLimitExceeded
};

// Calls `handler` (nullptr: no handler registered for the task's name) with a
// TaskContext over `delivery`, and maps what happens:
//   returns a value        -> success{result_json = value as JSON}
//   throws RetryRequested  -> retry{countdown_ms, reason{type "Retry", message}}
//   throws std::exception  -> failure{error{demangled type name, what()}}
//   throws anything else   -> failure{error{type "unknown"}}
//   no handler             -> failure{error{type "NotRegistered"}}
//   unparsable arguments   -> failure{error{type "BadArguments"}}
// `stop_requested` (the worker is stopping) backs TaskContext::stop_requested(), and so
// does every flag of `flags` (null: none ever set); `flags` also backs revoked() and
// time_limit_exceeded().
v1::Complete run_task(const v1::Delivery& delivery, const TaskHandler* handler,
                      const std::atomic<bool>& stop_requested, const RunFlags* flags = nullptr);

// The Complete reported when a run passes its hard time limit `limit`: a final failure
// (not retried, as in Celery) of type "TimeLimitExceeded".
v1::Complete time_limit_exceeded(const v1::Delivery& delivery, std::chrono::milliseconds limit);

// "std::runtime_error" for a std::runtime_error: the demangled dynamic type.
std::string exception_type_name(const std::exception& e);

}  // namespace brokerd::internal
