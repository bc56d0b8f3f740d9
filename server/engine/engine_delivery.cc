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
  if (prefetch > options_.max_prefetch) {
    return Status::InvalidArgument("prefetch must be 0.." + std::to_string(options_.max_prefetch) + " (max_prefetch)");
  }
  if (queues.size() > options_.max_consume_queues) {
    return Status::InvalidArgument("a consume may name at most " + std::to_string(options_.max_consume_queues) +
                                   " queues (max_consume_queues)");
  }
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
  idle_candidates_.insert(consumer.queues.begin(), consumer.queues.end());  // queues it leaves may be idle now
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
  forget_idle_queues();
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

void Engine::begin_shutdown() {
  std::lock_guard lock(mutex_);
  shutting_down_ = true;
}

void Engine::unregister_consumer(ConsumerId consumer_id) {
  std::lock_guard lock(mutex_);
  auto found = consumers_.find(consumer_id);
  if (found == consumers_.end()) return;
  Consumer& consumer = found->second;
  detach_consumer_from_queues(consumer);
  if (degraded() || shutting_down_) {
    // Nothing can (or need) be written now. Recovery rebuilds the queues from disk, where
    // these tasks are still QUEUED with their ready keys: forgetting the leases is enough.
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
    if (auto queue = lose_lease(task_id, LeaseLoss::kDisconnected)) touched.insert(*queue);
  }
  if (consumer.announced) emit_worker_event(v1::WORKER_OFFLINE, consumer);
  idle_candidates_.insert(consumer.queues.begin(), consumer.queues.end());
  consumers_.erase(found);
  for (const std::string& name : touched) dispatch_queue(queue_state(name));
  if (Status s = write_pending(); !s.ok()) {
    spdlog::error("requeueing tasks of a closed consumer failed: {}", s.message());
  }
  forget_idle_queues();
}

void Engine::dispatch_queue(QueueState& queue, ConsumerId skip) {
  // A delivery made while degraded could not be completed; recovery delivers instead.
  // One made while stopping would only be lost with its connection.
  if (degraded() || shutting_down_) return;
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
  if (degraded() || shutting_down_) return;
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
      note_read_error("the ready index of queue " + queue.name, s);
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
      if (queue.counters.ready() > 0 && queue.window.complete() && last_read_error_.ok()) {
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
    if (!loaded.ok() && !loaded.status().is_not_found()) {
      // An I/O or corruption error says nothing about the task: keep its entry (it is
      // tried again on the next dispatch) and stop delivering from this queue for now.
      note_read_error("task " + entry->task_id, loaded.status());
      queue.window.on_insert(entry->key, entry->task_id);
      return false;
    }
    if (!loaded.ok() || loaded->state() != v1::QUEUED ||
        keys::ready_key(loaded->queue(), loaded->priority(), loaded->index_seq()) != entry->key) {
      // An index entry whose task moved on: drop it and look further.
      spdlog::warn("dropping stale ready entry for task {}", entry->task_id);
      batch_->erase(Family::kReady, entry->key);
      continue;
    }
    const v1::TaskRecord& task = loaded.value();
    const uint64_t lease_id = take_lease_id();
    if (lease_id == 0) {
      queue.window.on_insert(entry->key, entry->task_id);
      return false;
    }
    const int64_t now = clock_.now_ms();
    const int64_t steady = clock_.steady_ms();
    // Memory only: the stored counters may go on counting this task as ready, which is
    // what recovery makes of it anyway (see open()).
    count_transition(queue.counters, v1::QUEUED, v1::STARTED);
    Lease& lease = leases_[task.id()];
    lease = Lease{consumer.id, lease_id, steady + consumer.lease_ms, now, INT64_MAX, std::move(entry->key)};
    if (task.time_limit_ms() > 0) {
      lease.hard_deadline = saturating_add(steady, task.time_limit_ms());
      lease.deadline = std::min(lease.deadline, lease.hard_deadline);
    }
    lease_deadlines_.insert({lease.deadline, task.id()});
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
    delivery.set_lease_deadline_ms(wall_of(lease.deadline));
    delivery.set_priority(task.priority());
    delivery.set_time_limit_ms(task.time_limit_ms());
    delivery.set_soft_time_limit_ms(task.soft_time_limit_ms());
    consumer.sink->deliver(std::move(delivery));
    return true;
  }
}

std::string Engine::release_lease(const std::string& task_id) {
  auto lease = leases_.find(task_id);
  if (lease == leases_.end()) return {};
  lease_deadlines_.erase({lease->second.deadline, task_id});
  if (auto consumer = consumers_.find(lease->second.consumer); consumer != consumers_.end()) {
    consumer->second.leased.erase(task_id);
  }
  std::string ready_key = std::move(lease->second.ready_key);
  leases_.erase(lease);
  return ready_key;
}

uint64_t Engine::take_lease_id() {
  if (next_seq_ >= durable_seq_limit_) {
    take_seq_block();
    // Everything pending goes with the bound; callers dispatch only after their own
    // changes are complete, so this writes whole operations.
    Status s = write_pending();
    if (s.ok()) s = storage_.sync();
    if (!s.ok()) {
      if (!degraded()) enter_degraded(s);
      return 0;
    }
    durable_seq_limit_ = seq_limit_;
  }
  return take_seq();
}

std::optional<std::string> Engine::lose_lease(const std::string& task_id, LeaseLoss loss) {
  auto found = leases_.find(task_id);
  if (found == leases_.end()) return std::nullopt;
  const bool hit_time_limit = loss == LeaseLoss::kExpired && found->second.deadline >= found->second.hard_deadline;
  // The task as it ran: the lease laid over the stored (QUEUED) record.
  Result<v1::TaskRecord> loaded = load_task(task_id);
  const std::string ready_key = release_lease(task_id);
  ++totals_.requeued_total;
  if (!loaded.ok()) {
    // Unreadable now: the stored record is still QUEUED with its ready key, so putting
    // the key back in the window makes it ready again, as recovery would.
    note_read_error("task " + task_id, loaded.status());
    const std::string queue_name = keys::ready_key_queue(ready_key);
    QueueState& queue = queue_state(queue_name);
    queue.window.on_insert(ready_key, task_id);
    count_transition(queue.counters, v1::STARTED, v1::QUEUED);
    return queue_name;
  }
  if (loaded->state() != v1::STARTED) return std::nullopt;  // not while a lease lies over it
  v1::TaskRecord& task = loaded.value();
  QueueState& queue = queue_state(task.queue());
  const int64_t now = clock_.now_ms();
  const std::string worker = task.worker();
  task.set_lost_leases(task.lost_leases() + 1);
  const uint32_t limit = task.max_deliveries() > 0 ? task.max_deliveries() : options_.max_deliveries;
  const char* how = loss == LeaseLoss::kExpired        ? "expired without a heartbeat"
                    : loss == LeaseLoss::kDisconnected ? "was lost with its connection"
                                                       : "was released";
  if (hit_time_limit || task.lost_leases() >= limit) {
    v1::TaskError* error = task.mutable_error();
    if (hit_time_limit) {
      error->set_type("TimeLimitExceeded");
      error->set_message("ran past its time limit of " + std::to_string(task.time_limit_ms()) + " ms on worker '" +
                         worker + "'; the broker ended it");
    } else {
      error->set_type("DeliveryLimitExceeded");
      error->set_message("delivered " + std::to_string(task.lost_leases()) +
                         " times without an outcome (max_deliveries " + std::to_string(limit) +
                         "); the last lease, on worker '" + worker + "', " + how);
    }
    error->clear_traceback();
    batch_->erase(Family::kReady, ready_key);
    make_terminal(task, v1::FAILURE);
    ++totals_.failed_total;
    queue.failed.add(now);
    spdlog::warn("task {} failed: {}: {}", task_id, error->type(), error->message());
    emit_task_event(v1::TASK_FAILED, task, worker);
    return std::nullopt;
  }
  task.set_lease_id(0);
  task.set_lease_deadline_ms(0);
  if (loss == LeaseLoss::kReleased) {
    // The worker gave it back on purpose: back to its old place (same index key), at once.
    record_transition(task, v1::QUEUED, now);
    save_task(task);
    queue.window.on_insert(ready_key, task_id);
    count_transition(queue.counters, v1::STARTED, v1::QUEUED);
    op_dirty_queues_.insert(queue.name);
    emit_task_event(v1::TASK_REQUEUED, task, worker);
    return task.queue();
  }
  // Lost: it may be what killed its worker, so it waits out the retry policy's backoff
  // instead of jumping the queue (a poison task must not take down a fleet in a loop).
  v1::TaskError* error = task.mutable_error();
  error->set_type("LeaseLost");
  error->set_message(std::string("the lease on worker '") + worker + "' " + how + " (delivery " +
                     std::to_string(task.lost_leases()) + " of at most " + std::to_string(limit) + ")");
  error->clear_traceback();
  batch_->erase(Family::kReady, ready_key);
  make_delayed(task, v1::RETRY, saturating_add(now, retry_delay_ms(task.retry(), task.lost_leases(), random_)));
  emit_task_event(v1::TASK_REQUEUED, task, worker);
  return std::nullopt;
}

}  // namespace brokerd::server
