// Engine: consumers, prefetch credit, deliveries and leases.
#include <spdlog/spdlog.h>

#include "engine/engine.h"

namespace brokerd::server {

ConsumerId Engine::register_consumer(std::shared_ptr<DeliverySink> sink, ConsumerIdentity identity) {
  std::lock_guard lock(mutex_);
  const ConsumerId id = next_consumer_id_++;
  Consumer& consumer = consumers_[id];
  consumer.id = id;
  consumer.sink = std::move(sink);
  consumer.identity = std::move(identity);
  consumer.lease_ms = options_.default_lease_ms;
  consumer.connected_ms = consumer.last_seen_ms = clock_.now_ms();
  return id;
}

Result<int64_t> Engine::consume(ConsumerId consumer_id, const std::vector<std::string>& queues,
                                uint32_t prefetch, int64_t lease_ms) {
  std::vector<std::string> names = queues.empty() ? std::vector<std::string>{std::string(kDefaultQueue)} : queues;
  for (const std::string& name : names) {
    if (Status s = validate_queue_name(name); !s.ok()) return s;
  }
  if (lease_ms == 0) lease_ms = options_.default_lease_ms;
  if (lease_ms < options_.min_lease_ms || lease_ms > options_.max_lease_ms) {
    return Status::InvalidArgument("lease_ms must be " + std::to_string(options_.min_lease_ms) + ".." +
                                   std::to_string(options_.max_lease_ms));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  std::lock_guard lock(mutex_);
  if (Status s = check_writable(); !s.ok()) return s;
  auto found = consumers_.find(consumer_id);
  if (found == consumers_.end()) return Status::Internal("unknown consumer");
  Consumer& consumer = found->second;
  detach_consumer_from_queues(consumer);
  consumer.queues = std::move(names);
  consumer.prefetch = prefetch;
  consumer.lease_ms = lease_ms;
  consumer.next_queue = 0;
  for (const std::string& name : consumer.queues) queue_state(name).consumers.push_back(consumer_id);
  if (!consumer.announced) {
    consumer.announced = true;
    emit_worker_event(v1::WORKER_ONLINE, consumer);
  }
  dispatch_consumer(consumer);
  if (Status s = write_pending(); !s.ok()) return s;  // deliveries need no fsync, only a write
  return lease_ms;
}

void Engine::resume_deliveries(ConsumerId consumer_id) {
  std::lock_guard lock(mutex_);
  auto found = consumers_.find(consumer_id);
  if (found == consumers_.end()) return;
  dispatch_consumer(found->second);
  if (Status s = write_pending(); !s.ok()) spdlog::error("delivering to a resumed consumer failed: {}", s.message());
}

void Engine::detach_consumer_from_queues(Consumer& consumer) {
  for (const std::string& name : consumer.queues) {
    auto& list = queue_state(name).consumers;
    std::erase(list, consumer.id);
  }
}

void Engine::unregister_consumer(ConsumerId consumer_id) {
  std::lock_guard lock(mutex_);
  auto found = consumers_.find(consumer_id);
  if (found == consumers_.end()) return;
  Consumer& consumer = found->second;
  detach_consumer_from_queues(consumer);
  if (degraded()) {
    // Nothing can be written now. Recovery rebuilds the queues from disk, where these
    // tasks are still QUEUED with their ready keys: forgetting the leases is enough.
    for (const std::string& task_id : std::vector<std::string>(consumer.leased.begin(), consumer.leased.end())) {
      release_lease(task_id);
    }
    if (consumer.announced) emit_worker_event(v1::WORKER_OFFLINE, consumer);
    consumers_.erase(found);
    return;
  }
  std::set<std::string> touched;
  const std::vector<std::string> held(consumer.leased.begin(), consumer.leased.end());
  for (const std::string& task_id : held) {
    if (auto queue = requeue_leased(task_id)) touched.insert(*queue);
  }
  if (consumer.announced) emit_worker_event(v1::WORKER_OFFLINE, consumer);
  consumers_.erase(found);
  for (const std::string& name : touched) dispatch_queue(queue_state(name));
  if (Status s = write_pending(); !s.ok()) {
    spdlog::error("requeueing tasks of a closed consumer failed: {}", s.message());
  }
}

void Engine::dispatch_queue(QueueState& queue, ConsumerId skip) {
  // A delivery made while degraded could not be completed; recovery delivers instead.
  if (degraded()) return;
  while (queue.counters.ready() > 0 && !queue.consumers.empty()) {
    // Round-robin over the queue's consumers, skipping those without credit.
    Consumer* chosen = nullptr;
    for (size_t tries = 0; tries < queue.consumers.size() && chosen == nullptr; ++tries) {
      const size_t index = queue.next_consumer++ % queue.consumers.size();
      Consumer& candidate = consumers_.at(queue.consumers[index]);
      if (candidate.id != skip && candidate.has_credit()) chosen = &candidate;
    }
    if (chosen == nullptr || !deliver_one(queue, *chosen)) return;
  }
}

void Engine::dispatch_consumer(Consumer& consumer) {
  if (degraded()) return;
  while (consumer.has_credit() && !consumer.queues.empty()) {
    bool delivered = false;
    for (size_t tries = 0; tries < consumer.queues.size() && !delivered; ++tries) {
      const size_t index = consumer.next_queue++ % consumer.queues.size();
      QueueState& queue = queue_state(consumer.queues[index]);
      if (queue.counters.ready() > 0) delivered = deliver_one(queue, consumer);
    }
    if (!delivered) return;
  }
}

std::optional<ReadyWindow::Entry> Engine::pop_ready(QueueState& queue) {
  if (queue.window.needs_refill()) {
    // The refill reads storage, which must first hold everything this operation wrote.
    if (!write_pending().ok()) return std::nullopt;
    std::vector<ReadyWindow::Entry> entries;
    const size_t want = queue.window.capacity();
    Status s = storage_.scan(Family::kReady, queue.window.refill_from(), keys::ready_end(queue.name),
                             [&](std::string_view key, std::string_view value) {
                               entries.push_back({std::string(key), std::string(value)});
                               return entries.size() < want;
                             });
    if (!s.ok()) {
      spdlog::error("reading the ready index of queue {} failed: {}", queue.name, s.message());
      return std::nullopt;
    }
    const bool reached_end = entries.size() < want;
    queue.window.refill(std::move(entries), reached_end);
  }
  return queue.window.pop_front();
}

bool Engine::deliver_one(QueueState& queue, Consumer& consumer) {
  while (true) {
    std::optional<ReadyWindow::Entry> entry = pop_ready(queue);
    if (!entry) {
      if (queue.counters.ready() > 0 && queue.window.complete()) {
        spdlog::warn("queue {} counted {} ready tasks but its index is empty; counter reset", queue.name,
                     queue.counters.ready());
        queue.counters.set_ready(0);
        op_dirty_queues_.insert(queue.name);
      }
      return false;
    }
    // A refill can read back the key of a task out on lease (its key stays on disk until
    // the task completes): it is not ready, so it is skipped, not dropped.
    if (leases_.count(entry->task_id) > 0) continue;
    Result<v1::TaskRecord> loaded = load_task(entry->task_id);
    if (!loaded.ok() || loaded->state() != v1::QUEUED ||
        keys::ready_key(loaded->queue(), loaded->priority(), loaded->index_seq()) != entry->key) {
      // An index entry whose task moved on: drop it and look further.
      spdlog::warn("dropping stale ready entry for task {}", entry->task_id);
      batch_->erase(Family::kReady, entry->key);
      continue;
    }
    const v1::TaskRecord& task = loaded.value();
    const int64_t now = clock_.now_ms();
    // Memory only: the stored counters may go on counting this task as ready, which is
    // what recovery makes of it anyway (see open()).
    count_transition(queue.counters, v1::QUEUED, v1::STARTED);
    Lease& lease = leases_[task.id()];
    lease = Lease{consumer.id, take_seq(), now + consumer.lease_ms, now, std::move(entry->key)};
    lease_deadlines_.insert({lease.deadline_ms, task.id()});
    consumer.leased.insert(task.id());
    ++totals_.delivered_total;
    // Ready since its last transition: enqueued, or come due (a requeue keeps the time).
    const int64_t ready_since = task.history_size() > 0 ? task.history(task.history_size() - 1).at_ms() : now;
    queue_wait_.observe(static_cast<double>(now - ready_since) / 1000.0);
    if (events_.active() || spdlog::should_log(spdlog::level::debug)) {
      v1::TaskRecord started = task;
      apply_lease(started, lease);
      emit_task_event(v1::TASK_STARTED, started, consumer.identity.name);
    }

    v1::Delivery delivery;
    delivery.set_task_id(task.id());
    delivery.set_lease_id(lease.lease_id);
    delivery.set_name(task.name());
    delivery.set_queue(task.queue());
    delivery.set_args_json(task.args_json());
    delivery.set_kwargs_json(task.kwargs_json());
    delivery.set_attempt(task.attempts() + 1);
    delivery.set_retries(task.retries());
    delivery.set_max_retries(max_retries(task));
    delivery.set_lease_deadline_ms(lease.deadline_ms);
    delivery.set_priority(task.priority());
    consumer.sink->deliver(std::move(delivery));
    return true;
  }
}

std::string Engine::release_lease(const std::string& task_id) {
  auto lease = leases_.find(task_id);
  if (lease == leases_.end()) return {};
  lease_deadlines_.erase({lease->second.deadline_ms, task_id});
  if (auto consumer = consumers_.find(lease->second.consumer); consumer != consumers_.end()) {
    consumer->second.leased.erase(task_id);
  }
  std::string ready_key = std::move(lease->second.ready_key);
  leases_.erase(lease);
  return ready_key;
}

std::optional<std::string> Engine::requeue_leased(const std::string& task_id) {
  const std::string ready_key = release_lease(task_id);
  if (ready_key.empty()) return std::nullopt;
  Result<v1::TaskRecord> task = load_task(task_id);  // the stored record: QUEUED, key in place
  if (!task.ok() || task->state() != v1::QUEUED) return std::nullopt;
  // The lost delivery still counts as an attempt; this rare path can afford the write.
  task->set_attempts(task->attempts() + 1);
  save_task(task.value());
  QueueState& queue = queue_state(task->queue());
  queue.window.on_insert(ready_key, task_id);  // back to its old place
  count_transition(queue.counters, v1::STARTED, v1::QUEUED);
  op_dirty_queues_.insert(queue.name);
  ++totals_.requeued_total;
  emit_task_event(v1::TASK_REQUEUED, task.value());
  return task->queue();
}

}  // namespace brokerd::server
