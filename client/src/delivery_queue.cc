#include "delivery_queue.h"

#include <algorithm>
#include <utility>

namespace brokerd::internal {
namespace {

// The delivery's own limit when it has one, else the worker's default; 0 = none.
std::chrono::milliseconds limit_of(int64_t delivery_ms, std::chrono::milliseconds fallback) {
  if (delivery_ms > 0) return std::chrono::milliseconds(delivery_ms);
  return std::max(std::chrono::milliseconds(0), fallback);
}

}  // namespace

template <typename Predicate>
void DeliveryQueue::remove_waiting_if(Predicate predicate) {
  std::erase_if(items_, [&](const QueuedDelivery& item) {
    if (!predicate(item)) return false;
    forget_waiting(item.delivery.task_id());
    return true;
  });
}

void DeliveryQueue::forget_waiting(const std::string& task_id) {
  auto it = waiting_ids_.find(task_id);
  if (it != waiting_ids_.end() && --it->second == 0) waiting_ids_.erase(it);
}

bool DeliveryQueue::push(QueuedDelivery item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    // The broker leases a task to one holder at a time: a new lease of it means that any
    // older one here is over (it expired unnoticed, or went with a lost connection).
    const std::string& task_id = item.delivery.task_id();
    if (waiting_ids_.count(task_id)) {  // rare: look through the queue only then
      remove_waiting_if([&](const QueuedDelivery& waiting) { return waiting.delivery.task_id() == task_id; });
    }
    for (Run& run : runs_) {
      if (run.task_id == task_id && !run.settled) run.flags->lease_lost.store(true);
    }
    ++waiting_ids_[task_id];
    items_.push_back(std::move(item));
  }
  // One waiter is enough: if the new delivery is blocked by a run of its task id, no
  // thread can take it, and finish() wakes them all when that run ends.
  cv_.notify_one();
  return true;
}

bool DeliveryQueue::running(const std::string& task_id) const {
  return std::any_of(runs_.begin(), runs_.end(), [&](const Run& run) { return run.task_id == task_id; });
}

std::deque<QueuedDelivery>::iterator DeliveryQueue::next_runnable() {
  return std::find_if(items_.begin(), items_.end(),
                      [&](const QueuedDelivery& item) { return !running(item.delivery.task_id()); });
}

std::optional<QueuedDelivery> DeliveryQueue::pop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto next = items_.end();
  cv_.wait(lock, [&] {
    if (closed_) return true;
    next = next_runnable();
    return next != items_.end();
  });
  if (closed_) return std::nullopt;
  QueuedDelivery item = std::move(*next);
  items_.erase(next);
  forget_waiting(item.delivery.task_id());
  item.flags = std::make_shared<RunFlags>();

  const v1::Delivery& delivery = item.delivery;
  Run run;
  run.task_id = delivery.task_id();
  run.name = delivery.name();
  run.lease_id = delivery.lease_id();
  run.generation = item.generation;
  run.flags = item.flags;
  run.soft_limit = limit_of(delivery.soft_time_limit_ms(), defaults_.soft);
  run.hard_limit = limit_of(delivery.time_limit_ms(), defaults_.hard);
  // A soft limit at or past the hard one would never be seen before the hard one.
  if (run.hard_limit.count() > 0 && run.soft_limit >= run.hard_limit) run.soft_limit = std::chrono::milliseconds(0);
  const WorkerClock::time_point started = WorkerClock::now();
  run.soft_deadline = started + run.soft_limit;
  run.hard_deadline = started + run.hard_limit;
  runs_.push_back(std::move(run));
  return item;
}

DeliveryQueue::Run* DeliveryQueue::find_run(const QueuedDelivery& item) {
  auto it = std::find_if(runs_.begin(), runs_.end(), [&](const Run& run) { return run.flags == item.flags; });
  return it == runs_.end() ? nullptr : &*it;
}

RunEnd DeliveryQueue::settle(const QueuedDelivery& item) {
  std::lock_guard<std::mutex> lock(mu_);
  Run* run = find_run(item);
  if (run == nullptr || run->settled) return RunEnd::kTimedOut;  // only the hard limit settles first
  run->settled = true;
  if (run->flags->revoked.load()) return RunEnd::kRevoked;
  if (run->flags->lease_lost.load()) return RunEnd::kLeaseLost;
  return RunEnd::kReport;
}

void DeliveryQueue::finish(const QueuedDelivery& item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(runs_.begin(), runs_.end(), [&](const Run& run) { return run.flags == item.flags; });
    if (it != runs_.end()) runs_.erase(it);
  }
  cv_.notify_all();  // wakes pop() (a delivery of this task id may wait) and the idle wait
}

LeaseMatch DeliveryQueue::end_lease(const std::string& task_id, uint64_t lease_id,
                                    std::atomic<bool> RunFlags::*flag) {
  std::lock_guard<std::mutex> lock(mu_);
  auto waiting = std::find_if(items_.begin(), items_.end(), [&](const QueuedDelivery& item) {
    return item.delivery.task_id() == task_id && item.delivery.lease_id() == lease_id;
  });
  if (waiting != items_.end()) {
    forget_waiting(task_id);
    items_.erase(waiting);
    return LeaseMatch::kDropped;
  }
  for (Run& run : runs_) {
    if (run.task_id == task_id && run.lease_id == lease_id && !run.settled) {
      ((*run.flags).*flag).store(true);
      return LeaseMatch::kRunning;
    }
  }
  return LeaseMatch::kNone;
}

LeaseMatch DeliveryQueue::revoke(const std::string& task_id, uint64_t lease_id) {
  return end_lease(task_id, lease_id, &RunFlags::revoked);
}

LeaseMatch DeliveryQueue::lose(const std::string& task_id, uint64_t lease_id) {
  return end_lease(task_id, lease_id, &RunFlags::lease_lost);
}

void DeliveryQueue::lose_generation(uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  remove_waiting_if([&](const QueuedDelivery& item) { return item.generation == generation; });
  for (Run& run : runs_) {
    if (run.generation == generation && !run.settled) run.flags->lease_lost.store(true);
  }
}

std::vector<HeldLease> DeliveryQueue::held(uint64_t generation) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<HeldLease> leases;
  for (const QueuedDelivery& item : items_) {
    if (item.generation == generation) leases.push_back({item.delivery.task_id(), item.delivery.lease_id()});
  }
  for (const Run& run : runs_) {
    if (run.generation == generation && run.active()) leases.push_back({run.task_id, run.lease_id});
  }
  return leases;
}

std::optional<WorkerClock::time_point> DeliveryQueue::next_time_limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<WorkerClock::time_point> next;
  auto consider = [&](WorkerClock::time_point at) {
    if (!next || at < *next) next = at;
  };
  for (const Run& run : runs_) {
    if (!run.active()) continue;
    if (run.soft_limit.count() > 0 && !run.flags->soft_limit_passed.load()) consider(run.soft_deadline);
    if (run.hard_limit.count() > 0) consider(run.hard_deadline);
  }
  return next;
}

std::vector<LimitPassed> DeliveryQueue::enforce_time_limits(WorkerClock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LimitPassed> passed;
  for (Run& run : runs_) {
    if (!run.active()) continue;
    if (run.soft_limit.count() > 0 && !run.flags->soft_limit_passed.load() && now >= run.soft_deadline) {
      run.flags->soft_limit_passed.store(true);
      passed.push_back({run.task_id, run.name, run.lease_id, run.generation, false, run.soft_limit});
    }
    if (run.hard_limit.count() > 0 && now >= run.hard_deadline) {
      run.settled = true;  // before the handler returns: its outcome is dropped
      run.flags->hard_limit_passed.store(true);
      passed.push_back({run.task_id, run.name, run.lease_id, run.generation, true, run.hard_limit});
    }
  }
  return passed;
}

void DeliveryQueue::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    items_.clear();
    waiting_ids_.clear();
  }
  cv_.notify_all();
}

bool DeliveryQueue::wait_idle_until(WorkerClock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return runs_.empty(); });
}

}  // namespace brokerd::internal
