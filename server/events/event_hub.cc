#include "events/event_hub.h"

namespace brokerd::server {

bool is_worker_event(v1::EventKind kind) { return kind == v1::WORKER_ONLINE || kind == v1::WORKER_OFFLINE; }

EventHub::SubscriptionId EventHub::subscribe(std::weak_ptr<EventSubscriber> subscriber,
                                             std::vector<std::string> queues) {
  std::lock_guard lock(mutex_);
  const SubscriptionId id = next_id_++;
  subscriptions_[id] = Subscription{std::move(subscriber), {queues.begin(), queues.end()}};
  subscribers_.store(subscriptions_.size(), std::memory_order_relaxed);
  return id;
}

void EventHub::unsubscribe(SubscriptionId id) {
  std::lock_guard lock(mutex_);
  subscriptions_.erase(id);
  subscribers_.store(subscriptions_.size(), std::memory_order_relaxed);
}

void EventHub::publish(const v1::Event& event) {
  std::lock_guard lock(mutex_);
  const bool for_everyone = is_worker_event(event.kind());
  for (auto it = subscriptions_.begin(); it != subscriptions_.end();) {
    std::shared_ptr<EventSubscriber> subscriber = it->second.subscriber.lock();
    if (!subscriber) {  // its connection is gone without unsubscribing
      it = subscriptions_.erase(it);
      continue;
    }
    if (for_everyone || it->second.queues.empty() || it->second.queues.count(event.queue()) > 0) {
      subscriber->offer(event);
    }
    ++it;
  }
  subscribers_.store(subscriptions_.size(), std::memory_order_relaxed);
}

}  // namespace brokerd::server
