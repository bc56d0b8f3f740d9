// Worker::Impl: the worker runtime behind brokerd/worker.h.
//
// Threads:
//   - the Connection's I/O thread: receives deliveries (on_delivery) into the local
//     DeliveryQueue, revocations (on_push) and heartbeat replies, and learns of
//     connection loss (on_connection_lost). Never blocks.
//   - `concurrency` handler threads: pop a delivery, run its handler (task_runner.h),
//     send the Complete.
//   - one supervisor thread: heartbeats every lease/3, enforces time limits, reconnects
//     with backoff after a loss, and performs the graceful drain when stop is requested.
//
// Generations: every connection attempt and every loss bumps `generation_`. A delivery
// carries the generation of the connection that leased it; its outcome is reported only
// while that generation is current. After a loss the broker has already requeued the
// task, so a late report could only be STALE_LEASE (or, worse, race the redelivery).
// The loss flags the runs of that connection (their handlers see stop_requested()).
//
// Leases (delivery_queue.h keeps the rules): a Heartbeat names every task the current
// connection leases to this worker, waiting or running; a task the reply lists as lost,
// or that a RevokeNotice names, is dropped if it waits and flagged if it runs, and a
// flagged run's outcome is not reported. A task id has at most one run here at a time:
// a redelivery of an id whose old run still goes on waits for it, heartbeated.
//
// Time limits: the supervisor wakes at the earliest soft or hard limit of a run. At the
// soft limit the handler's stop_requested() turns true; at the hard limit the supervisor
// reports FAILURE "TimeLimitExceeded" (final) itself, stops heartbeating the task, and
// the handler's own outcome is dropped when it returns. Its thread stays busy until then.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker.pb.h"
#include "brokerd/worker.h"
#include "connection.h"
#include "delivery_queue.h"

namespace brokerd {

class Worker::Impl {
 public:
  explicit Impl(WorkerOptions options);
  ~Impl();

  void register_task(const std::string& name, TaskHandler handler);
  Status start();
  Status run();
  void stop();
  uint64_t completed_count() const { return completed_.load(); }

 private:
  using Clock = std::chrono::steady_clock;

  // Any thread but an I/O thread: opens a connection and subscribes. On success the
  // connection is current; on failure nothing changes but the generation.
  Status connect_and_consume();
  v1::Envelope consume_request(uint32_t prefetch) const;

  // I/O thread of the connection of `generation`.
  void on_delivery(uint64_t generation, v1::Delivery delivery);
  void on_push(uint64_t generation, const v1::Envelope& push);
  void on_connection_lost(uint64_t generation, const Status& status);
  // `time_limit`: the outcome was this worker's TimeLimitExceeded report.
  void on_complete_reply(const std::string& task_id, bool time_limit, Result<v1::Envelope> reply);
  void on_heartbeat_reply(uint64_t generation, const std::vector<internal::HeldLease>& named,
                          Result<v1::Envelope> reply);

  // Supervisor thread.
  void supervise();
  void reconnect();
  void send_heartbeat();
  // Flags runs past their soft limit; reports FAILURE "TimeLimitExceeded" for runs past
  // their hard limit.
  void enforce_time_limits();
  // The earlier of `next_heartbeat` and the next time limit of a run.
  Clock::time_point next_wake(Clock::time_point next_heartbeat) const;
  void drain();
  std::chrono::milliseconds heartbeat_interval();

  // Handler threads.
  void run_handlers();
  void report(uint64_t generation, v1::Complete complete);

  const WorkerOptions options_;
  const unsigned concurrency_;  // options_.concurrency, at least 1
  const uint32_t prefetch_;     // options_.prefetch, or concurrency_ when 0
  internal::ConnectionOptions connection_options_;

  mutable std::shared_mutex handlers_mu_;
  std::unordered_map<std::string, TaskHandler> handlers_;  // GUARDED_BY(handlers_mu_)

  internal::DeliveryQueue deliveries_;  // also the runs in progress and their time limits
  std::atomic<bool> stop_requested_{false};  // written under mu_ so cv_ waiters see it
  std::atomic<uint64_t> completed_{0};

  std::mutex mu_;
  // Stop requested, connection lost, a Complete answered, a run with a time limit started.
  std::condition_variable cv_;
  // The current connection; kept after a loss until the supervisor replaces it, because
  // it must not be destroyed on its own I/O thread.
  std::shared_ptr<internal::Connection> connection_;  // GUARDED_BY(mu_)
  uint64_t generation_ = 0;                            // GUARDED_BY(mu_)
  bool connection_lost_ = false;                       // GUARDED_BY(mu_)
  std::chrono::milliseconds lease_;                    // GUARDED_BY(mu_): lease in force
  unsigned outstanding_completes_ = 0;                 // GUARDED_BY(mu_)
  bool started_ = false;                               // GUARDED_BY(mu_)

  std::mutex join_mu_;  // one stop() at a time joins the threads
  std::thread supervisor_;
  std::vector<std::thread> handler_threads_;
};

}  // namespace brokerd
