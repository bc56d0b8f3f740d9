// The demo tasks, the ones every Celery tutorial starts with. Handlers are plain
// functions of a TaskContext so they could be unit-tested without a broker.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include <brokerd/worker.h>

// At global namespace on purpose: the worker reports the exception's demangled type name
// as the task's error type, and a Celery user expects to read exactly "ZeroDivisionError".
class ZeroDivisionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A call with missing or non-numeric arguments, named like Python's for the same reason.
class TypeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace brokerd_demo {

// add(x, y) -> x + y; an integer when both are integers, else a float.
nlohmann::json add(brokerd::TaskContext& task);
// divide(x, y) -> x / y as a float (true division); y == 0 throws ZeroDivisionError.
nlohmann::json divide(brokerd::TaskContext& task);
// sleep(seconds) -> seconds, after sleeping that long. Interrupted by a worker stop, it
// asks the broker to retry rather than report a sleep that did not happen.
nlohmann::json sleep(brokerd::TaskContext& task);
// generate_report(user_id) -> {"user_id", "generated_at", "rows": [...]} after a short
// simulated delay. The rows are a pure function of user_id.
nlohmann::json generate_report(brokerd::TaskContext& task);

// Registers all of the above under their names ("add", "divide", ...).
void register_demo_tasks(brokerd::Worker& worker);

}  // namespace brokerd_demo
