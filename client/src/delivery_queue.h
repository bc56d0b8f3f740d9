// The worker's local queue of deliveries waiting for a handler thread, and the count of
// deliveries being run. Its size needs no limit of its own: the broker never has more
// than `prefetch` unfinished deliveries out to one connection, so it is bounded by credit.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "broker.pb.h"

namespace brokerd::internal {

struct QueuedDelivery {
  v1::Delivery delivery;
  uint64_t generation = 0;  // which connection leased it (see Worker::Impl)
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
    ++running_;
    return item;
  }

  // The delivery popped by this thread is done (run and reported, or dropped).
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
    }
    cv_.notify_all();
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
    return cv_.wait_for(lock, timeout, [&] { return running_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedDelivery> items_;  // GUARDED_BY(mu_)
  unsigned running_ = 0;              // GUARDED_BY(mu_)
  bool closed_ = false;               // GUARDED_BY(mu_)
};

}  // namespace brokerd::internal
