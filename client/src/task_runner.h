// Runs one delivered task through its handler and turns the outcome into a Complete.
// No I/O and no threads of its own: the worker calls it on a handler thread, and tests
// call it directly (tests/client/task_runner_test.cc).
#pragma once

#include <atomic>
#include <exception>
#include <string>

#include "broker.pb.h"
#include "brokerd/worker.h"

namespace brokerd::internal {

// Calls `handler` (nullptr: no handler registered for the task's name) with a
// TaskContext over `delivery`, and maps what happens:
//   returns a value        -> success{result_json = value as JSON}
//   throws RetryRequested  -> retry{countdown_ms, reason{type "Retry", message}}
//   throws std::exception  -> failure{error{demangled type name, what()}}
//   throws anything else   -> failure{error{type "unknown"}}
//   no handler             -> failure{error{type "NotRegistered"}}
//   unparsable arguments   -> failure{error{type "BadArguments"}}
// `stop_requested` backs TaskContext::stop_requested(); `revoked` (null: never)
// backs TaskContext::revoked() and also turns stop_requested() true.
v1::Complete run_task(const v1::Delivery& delivery, const TaskHandler* handler,
                      const std::atomic<bool>& stop_requested,
                      const std::atomic<bool>* revoked = nullptr);

// "std::runtime_error" for a std::runtime_error: the demangled dynamic type.
std::string exception_type_name(const std::exception& e);

}  // namespace brokerd::internal
