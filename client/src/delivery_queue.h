// The worker's local queue of deliveries waiting for a handler thread, and the set of
// deliveries being run. Its size needs no limit of its own: the broker never has more
// than `prefetch` unfinished deliveries out to one connection, so it is bounded by credit.
//
// Revocation: revoke() finds a delivery by task id and lease id in one critical section
// with pop(), so a RevokeNotice either drops a delivery still waiting or flags the one a
// handler thread has taken; there is no window in which it is neither.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker.pb.h"

namespace brokerd::internal {

struct QueuedDelivery {
  v1::Delivery delivery;
  uint64_t generation = 0;  // which connection leased it (see Worker::Impl)
  // Set by revoke() while the delivery runs; backs TaskContext::revoked(). Created by pop().
  std::shared_ptr<std::atomic<bool>> revoked{};
};

enum class RevokeMatch {
  kNone,     // no such delivery here (finished already, or never received)
  kDropped,  // it was waiting and has been removed
  kRunning,  // a handler runs it; its `revoked` flag is now set
};

class DeliveryQueue {
 public:
  // Adds a delivery; returns false (and drops it) once the queue is closed.
  bool push(QueuedDelivery item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return false;
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
    return true;
  }

  // Blocks for the next delivery and counts it as running until finish(). nullopt once
  // the queue is closed: the handler thread should exit.
  std::optional<QueuedDelivery> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    QueuedDelivery item = std::move(items_.front());
    items_.pop_front();
    item.revoked = std::make_shared<std::atomic<bool>>(false);
    running_.push_back(Running{item.delivery.task_id(), item.delivery.lease_id(), item.revoked});
    return item;
  }

  // The delivery `item` popped by this thread is done (run and reported, or dropped).
  void finish(const QueuedDelivery& item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = std::find_if(running_.begin(), running_.end(),
                             [&](const Running& r) { return r.revoked == item.revoked; });
      if (it != running_.end()) running_.erase(it);
    }
    cv_.notify_all();
  }

  // An operator revoked the task leased as `lease_id`: drop it if it is waiting, flag it
  // if it is running.
  RevokeMatch revoke(const std::string& task_id, uint64_t lease_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto waiting = std::find_if(items_.begin(), items_.end(), [&](const QueuedDelivery& item) {
      return item.delivery.task_id() == task_id && item.delivery.lease_id() == lease_id;
    });
    if (waiting != items_.end()) {
      items_.erase(waiting);
      return RevokeMatch::kDropped;
    }
    for (Running& running : running_) {
      if (running.task_id == task_id && running.lease_id == lease_id) {
        running.revoked->store(true);
        return RevokeMatch::kRunning;
      }
    }
    return RevokeMatch::kNone;
  }

  // Drops deliveries not yet started (their leases went with the connection).
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    items_.clear();
  }

  // Drops deliveries not yet started and wakes every pop() to return nullopt.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      items_.clear();
    }
    cv_.notify_all();
  }

  // Waits up to `timeout` for no delivery to be running; true if none is. After close()
  // nothing new can start, so once true it stays true.
  bool wait_idle_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return running_.empty(); });
  }

 private:
  struct Running {
    std::string task_id;
    uint64_t lease_id = 0;
    std::shared_ptr<std::atomic<bool>> revoked;  // also identifies the entry
  };

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedDelivery> items_;  // GUARDED_BY(mu_)
  std::vector<Running> running_;      // GUARDED_BY(mu_): at most `concurrency` entries
  bool closed_ = false;               // GUARDED_BY(mu_)
};

}  // namespace brokerd::internal
