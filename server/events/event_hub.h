// Fan-out of task and worker events to the connections that subscribed to them.
//
// The engine publishes with its lock held, so publishing must never wait on a
// subscriber: each subscriber only queues the event or drops it (a slow subscriber loses
// events past its own bounded buffer and is told how many). When nobody subscribes,
// active() is false and the engine builds no event at all.
//
// Lock order: engine lock, then the hub's, then a subscriber's own.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker.pb.h"

namespace brokerd::server {

class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // Called with the publisher's locks held: queue the event or drop it, nothing more.
  virtual void offer(const v1::Event& event) = 0;
};

class EventHub {
 public:
  using SubscriptionId = uint64_t;

  bool active() const { return subscribers_.load(std::memory_order_relaxed) > 0; }

  // `queues` empty = task events of every queue. Worker events reach every subscriber.
  SubscriptionId subscribe(std::weak_ptr<EventSubscriber> subscriber, std::vector<std::string> queues);
  void unsubscribe(SubscriptionId id);
  void publish(const v1::Event& event);

 private:
  struct Subscription {
    std::weak_ptr<EventSubscriber> subscriber;
    std::set<std::string, std::less<>> queues;
  };
  std::mutex mutex_;
  std::unordered_map<SubscriptionId, Subscription> subscriptions_;  // GUARDED_BY(mutex_)
  SubscriptionId next_id_ = 1;                                      // GUARDED_BY(mutex_)
  std::atomic<size_t> subscribers_{0};
};

bool is_worker_event(v1::EventKind kind);

}  // namespace brokerd::server
