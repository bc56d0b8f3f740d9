// brokerd client library: the worker runtime.
//
//   brokerd::Worker worker({.server = "127.0.0.1:7411", .queues = {"default"}, .concurrency = 4});
//   worker.register_task("add", [](brokerd::TaskContext& task) {
//     return task.args()[0].get<int>() + task.args()[1].get<int>();
//   });
//   worker.run();  // until stop() is called, e.g. from a signal handler thread
//
// A Worker keeps one connection to the broker, consumes from its queues with a prefetch
// credit, runs handlers on `concurrency` threads, heartbeats its leases, and reports each
// outcome. A handler's return value becomes the SUCCESS result; an exception it throws
// becomes FAILURE (retried by the broker if the task's retry policy allows) with the
// exception's message; TaskContext::retry() asks for a retry after a countdown. A task
// name with no handler fails with error type "NotRegistered".
//
// Leases. Every heartbeat (each lease/3) names the tasks the worker holds on its current
// connection, waiting for a thread or running. A task whose lease the broker no longer
// gives this worker is dropped if it has not started; if it runs, its handler sees
// TaskContext::stop_requested() turn true and its outcome is not reported (the broker
// hands the task to another run). That happens when the broker reports the lease lost
// (e.g. it expired while the worker could not reach the broker), when the connection
// drops (the broker requeues the worker's tasks and the worker reconnects with backoff),
// and when an operator revokes the task (TaskContext::revoked() turns true too).
//
// One run per task: a Worker never runs one task id in two handlers at once. A task
// redelivered after a reconnect while the handler of its lost lease still runs waits
// (heartbeated) until that handler returns, then runs, unless its new lease ends first.
//
// Time limits (WorkerOptions::time_limit and soft_time_limit, or the task's own,
// TaskOptions in brokerd/task.h), counted from when the handler starts: at the soft limit
// stop_requested() and time_limit_exceeded() turn true, and a handler that then returns
// or throws is reported as usual. At the hard limit the worker reports FAILURE with error
// type "TimeLimitExceeded" (final: not retried, as in Celery) and stops heartbeating the
// task; whatever the handler returns later is dropped. C++ threads cannot be killed: the
// handler keeps its thread until it returns, and until then the worker has one handler
// thread fewer: deliveries wait, heartbeated, for a free one, and with every thread held
// by such handlers nothing runs while up to `prefetch` tasks wait here. Handlers that may
// hang should poll stop_requested(), which turns true at both limits.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brokerd/security.h"
#include "brokerd/status.h"

namespace brokerd {

// Thrown by TaskContext::retry(); the runtime turns it into a retry request. Handlers
// that catch everything should rethrow it.
class RetryRequested : public std::runtime_error {
 public:
  RetryRequested(std::chrono::milliseconds countdown, const std::string& reason)
      : std::runtime_error(reason), countdown_(countdown) {}
  std::chrono::milliseconds countdown() const { return countdown_; }

 private:
  std::chrono::milliseconds countdown_;
};

// What a handler sees of the task it runs. Valid only during the handler call.
class TaskContext {
 public:
  virtual ~TaskContext() = default;
  virtual const std::string& id() const = 0;
  virtual const std::string& name() const = 0;
  virtual const std::string& queue() const = 0;
  virtual const nlohmann::json& args() const = 0;    // positional arguments (an array)
  virtual const nlohmann::json& kwargs() const = 0;  // keyword arguments (an object)
  virtual uint32_t attempt() const = 0;              // 1 on the first delivery
  virtual uint32_t retries() const = 0;              // retries already made
  virtual uint32_t max_retries() const = 0;
  // True once the worker is stopping, the task was revoked, its lease was lost, or it
  // passed a time limit; long handlers should check it and finish early.
  virtual bool stop_requested() const = 0;
  // True once an operator revoked the task while it ran. The broker has already marked
  // it REVOKED: whatever the handler returns or throws from now on is not reported.
  virtual bool revoked() const { return false; }
  // True once the run passed its soft time limit (its outcome is still reported) or its
  // hard one (FAILURE "TimeLimitExceeded" is already reported; this outcome is dropped).
  virtual bool time_limit_exceeded() const { return false; }

  // Ends the handler and asks the broker to retry after `countdown` (0: the task's
  // backoff policy). Counts against max_retries; with none left the task is FAILURE.
  [[noreturn]] void retry(std::chrono::milliseconds countdown = std::chrono::milliseconds(0),
                          const std::string& reason = "retry requested") {
    throw RetryRequested(countdown, reason);
  }
};

// Returns the task's result (any JSON value) or throws to fail it.
using TaskHandler = std::function<nlohmann::json(TaskContext&)>;

struct WorkerOptions {
  std::string server = "127.0.0.1:7411";
  std::string name = "brokerd-worker";  // shown to operators and stored on tasks it runs
  std::vector<std::string> queues = {"default"};
  unsigned concurrency = 1;             // handler threads
  unsigned prefetch = 0;                // unfinished deliveries allowed; 0 = concurrency
  std::chrono::milliseconds lease{30000};  // heartbeats are sent every lease/3
  std::chrono::milliseconds reconnect_backoff_max{5000};
  // Defaults for tasks that set no limits of their own (a non-zero
  // TaskOptions::time_limit / soft_time_limit wins); 0 = none. See "Time limits" above.
  std::chrono::milliseconds time_limit{0};
  std::chrono::milliseconds soft_time_limit{0};  // ignored unless below the hard limit in force
  SecurityOptions security{};  // auth token and TLS (brokerd/security.h)
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();  // stops and joins if still running
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Register before start()/run(). A later registration of the same name replaces it.
  void register_task(const std::string& name, TaskHandler handler);

  // Connects and starts consuming in background threads. Fails (kUnavailable) if the
  // first connection cannot be made; start() may then be called again. Later connection
  // losses are retried until stop().
  Status start();
  // start(), then blocks until stop() has finished.
  Status run();
  // Graceful stop: no new deliveries are taken, running handlers finish and their
  // outcomes are reported, deliveries not yet started go back to the broker (it
  // requeues them when the connection closes). Handlers see stop_requested() turn true;
  // stop() waits for every one of them to return, including one past its hard time
  // limit. Safe to call from any thread, and more than once. Blocks until done unless
  // called from a handler.
  void stop();

  // Tasks this worker has completed (any outcome) since start; for tests and status.
  uint64_t completed_count() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace brokerd
