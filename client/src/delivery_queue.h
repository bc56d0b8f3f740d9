// The worker's record of the deliveries it holds: those waiting for a handler thread and
// the runs in progress. Its size needs no limit of its own: the broker never has more
// than `prefetch` unfinished deliveries out to one connection, so it is bounded by credit
// (plus, after a reconnect, the runs of the old connection still in progress).
//
// The rules it keeps, each in one critical section, so that no event falls between two:
//   - One run per task id: pop() never hands out a delivery whose task id still has a
//     run in progress (even one whose lease is gone or whose hard limit has passed). Such
//     a delivery (a redelivery after a reconnect) waits, still heartbeated, and later
//     ones overtake it; it runs once the old run's handler returns.
//   - Heartbeats: held() names what the current connection leases, waiting or running,
//     except runs whose outcome is already decided or whose lease is gone.
//   - A lease that ends early (revoke(), lose(), lose_generation(), or a newer lease of
//     the same task pushed) drops its delivery if it is waiting and flags its run if one
//     is in progress (RunFlags, which the handler sees through stop_requested()).
//   - Time limits: pop() starts the run's clock; enforce_time_limits() flags runs past
//     their soft limit and settles runs past their hard limit; settle() decides a run's
//     end when its handler returns. Whichever of the two comes first decides.
//
// Thread safety: every method may be called from any thread. The worker calls it while
// holding its own mutex, never the other way round.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker.pb.h"
#include "task_runner.h"

namespace brokerd::internal {

using WorkerClock = std::chrono::steady_clock;

// The worker's defaults, used for a delivery whose own limit is 0 (or less). 0 = none.
struct TimeLimits {
  std::chrono::milliseconds soft{0};
  std::chrono::milliseconds hard{0};
};

struct QueuedDelivery {
  v1::Delivery delivery;
  uint64_t generation = 0;  // which connection leased it (see Worker::Impl)
  // Created by pop(); backs the handler's TaskContext and identifies the run.
  std::shared_ptr<RunFlags> flags{};
};

enum class LeaseMatch {
  kNone,     // no such delivery here (finished or decided already, or never received)
  kDropped,  // it was waiting and has been removed
  kRunning,  // a handler runs it; its flag is now set
};

// A lease to name in a heartbeat.
struct HeldLease {
  std::string task_id;
  uint64_t lease_id = 0;
};

// A run that has just passed one of its time limits (enforce_time_limits()).
struct LimitPassed {
  std::string task_id;
  std::string name;
  uint64_t lease_id = 0;
  uint64_t generation = 0;
  bool hard = false;  // false: the soft limit
  std::chrono::milliseconds limit{0};
};

// How a run ends, decided once: by settle() when its handler returns, or by
// enforce_time_limits() at its hard limit.
enum class RunEnd {
  kReport,     // report the handler's outcome
  kRevoked,    // revoked while it ran: the broker has made it REVOKED
  kLeaseLost,  // the broker no longer leases it to this worker: it runs again elsewhere
  kTimedOut,   // it passed its hard limit, whose failure has been reported instead
};

class DeliveryQueue {
 public:
  explicit DeliveryQueue(TimeLimits defaults = {}) : defaults_(defaults) {}

  // Adds a delivery; returns false (and drops it) once the queue is closed. An older
  // lease of the same task still here is over: dropped if it waits, flagged
  // (RunFlags::lease_lost) if its run is in progress and undecided.
  bool push(QueuedDelivery item);

  // Blocks for the oldest waiting delivery whose task id has no run in progress, and
  // starts its run (and its time limits) until finish(). nullopt once the queue is
  // closed: the handler thread should exit.
  std::optional<QueuedDelivery> pop();

  // The handler of the run `item` returned: decides how the run ends (see RunEnd). From
  // here on its lease is not heartbeated; a revocation or lost lease no longer matches.
  RunEnd settle(const QueuedDelivery& item);

  // The run `item` popped by this thread is done (its outcome reported or dropped).
  void finish(const QueuedDelivery& item);

  // An operator revoked the task leased as `lease_id`: drop it if it is waiting, flag it
  // (RunFlags::revoked) if its run is in progress and undecided.
  LeaseMatch revoke(const std::string& task_id, uint64_t lease_id);
  // The broker reported the lease lost (HeartbeatOk.lost_task_ids): the same, with
  // RunFlags::lease_lost.
  LeaseMatch lose(const std::string& task_id, uint64_t lease_id);
  // The connection of `generation` is gone and with it every lease it held.
  void lose_generation(uint64_t generation);

  // The leases of `generation` to heartbeat: waiting deliveries, and runs in progress
  // whose end is undecided and whose lease is neither revoked nor lost.
  std::vector<HeldLease> held(uint64_t generation) const;

  // The earliest time limit still to pass among undecided runs, if any.
  std::optional<WorkerClock::time_point> next_time_limit() const;
  // Flags every undecided run whose soft limit has passed by `now`, and settles (as
  // kTimedOut) every one whose hard limit has. Runs whose lease is revoked or lost are
  // left alone: nothing of theirs is reported any more. Returns what passed.
  std::vector<LimitPassed> enforce_time_limits(WorkerClock::time_point now);

  // Drops deliveries not yet started and wakes every pop() to return nullopt.
  void close();

  // Waits until `deadline` for no run to be in progress; true if none is. After close()
  // nothing new can start, so once true it stays true.
  bool wait_idle_until(WorkerClock::time_point deadline);

 private:
  struct Run {
    std::string task_id;
    std::string name;
    uint64_t lease_id = 0;
    uint64_t generation = 0;
    std::shared_ptr<RunFlags> flags;  // also identifies the run
    std::chrono::milliseconds soft_limit{0};  // 0: none
    std::chrono::milliseconds hard_limit{0};
    WorkerClock::time_point soft_deadline{};
    WorkerClock::time_point hard_deadline{};
    bool settled = false;  // its end is decided (settle() or the hard limit)

    // Undecided, and its lease still this worker's: time limits and heartbeats apply.
    bool active() const { return !settled && !flags->revoked.load() && !flags->lease_lost.load(); }
  };

  bool running(const std::string& task_id) const;  // REQUIRES(mu_)
  // Removes the waiting deliveries that match, keeping waiting_ids_ in step.
  template <typename Predicate>
  void remove_waiting_if(Predicate predicate);  // REQUIRES(mu_)
  void forget_waiting(const std::string& task_id);  // REQUIRES(mu_): one waiting delivery left
  std::deque<QueuedDelivery>::iterator next_runnable();  // REQUIRES(mu_)
  Run* find_run(const QueuedDelivery& item);  // REQUIRES(mu_)
  LeaseMatch end_lease(const std::string& task_id, uint64_t lease_id, std::atomic<bool> RunFlags::*flag);

  const TimeLimits defaults_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // a delivery pushed, a run finished, closed
  std::deque<QueuedDelivery> items_;  // GUARDED_BY(mu_): waiting, in delivery order
  // GUARDED_BY(mu_): how many of items_ have each task id, so that push() finds an older
  // lease of the same task without a scan.
  std::unordered_map<std::string, uint32_t> waiting_ids_;
  std::vector<Run> runs_;             // GUARDED_BY(mu_): at most `concurrency` entries
  bool closed_ = false;               // GUARDED_BY(mu_)
};

}  // namespace brokerd::internal
