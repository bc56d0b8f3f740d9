// Engine: what operators do and ask — revoke, purge, dead letters, task lists, workers,
// statistics. Bulk operations take a limit so one call holds the engine lock for a
// bounded time; clients repeat them to finish a large job.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine.h"

namespace brokerd::server {

namespace {

constexpr std::string_view kRevokedErrorType = "TaskRevokedError";

void mark_revoked(v1::TaskRecord& task) {
  task.mutable_error()->set_type(std::string(kRevokedErrorType));
  task.mutable_error()->set_message("revoked by an operator");
  task.mutable_error()->clear_traceback();
}

}  // namespace

Result<RevokeOutcome> Engine::revoke(const std::string& id, uint64_t& ticket) {
  std::lock_guard lock(mutex_);
  if (Status s = check_writable(); !s.ok()) return s;
  Result<v1::TaskRecord> task = load_task(id);
  if (!task.ok()) return task.status();
  RevokeOutcome outcome;
  if (is_terminal(task->state())) {
    outcome.state = task->state();
  } else {
    revoke_locked(task.value(), outcome);
  }
  ticket = pending_ticket();
  return outcome;
}

void Engine::revoke_locked(v1::TaskRecord& task, RevokeOutcome& outcome) {
  QueueState& queue = queue_state(task.queue());
  Consumer* holder = nullptr;
  switch (task.state()) {
    case v1::QUEUED: {
      const std::string key = keys::ready_key(task.queue(), task.priority(), task.index_seq());
      batch_->erase(Family::kReady, key);
      queue.window.on_erase(key);
      break;
    }
    case v1::STARTED: {
      auto lease = leases_.find(task.id());
      if (lease == leases_.end()) break;  // a format-1 record without a live lease
      const uint64_t lease_id = lease->second.lease_id;
      if (auto consumer = consumers_.find(lease->second.consumer); consumer != consumers_.end()) {
        holder = &consumer->second;
      }
      batch_->erase(Family::kReady, release_lease(task.id()));
      // The worker is told to stop; its late outcome finds no lease (STALE_LEASE), so
      // REVOKED stands. Its credit is free at once: it was told, not waited for.
      if (holder != nullptr) holder->sink->revoked(task.id(), lease_id);
      outcome.was_started = true;
      break;
    }
    case v1::SCHEDULED:
    case v1::RETRY:
      remove_from_delay_index(task);
      break;
    default:
      break;
  }
  mark_revoked(task);
  make_terminal(task, v1::REVOKED);
  ++totals_.revoked_total;
  emit_task_event(v1::TASK_REVOKED, task);
  outcome.state = v1::REVOKED;
  if (holder != nullptr) dispatch_consumer(*holder);
}

void Engine::remove_from_delay_index(const v1::TaskRecord& task) {
  batch_->erase(Family::kDelayed, keys::delayed_key(task.due_ms(), task.index_seq()));
}

Result<PurgeOutcome> Engine::purge(const std::string& queue_name, size_t limit, uint64_t& ticket) {
  if (Status s = validate_queue_name(queue_name); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  if (Status s = check_writable(); !s.ok()) return s;
  PurgeOutcome outcome;
  ticket = pending_ticket();
  auto found = queues_.find(queue_name);
  if (found == queues_.end()) return outcome;
  QueueState& queue = *found->second;
  while (outcome.removed < limit && queue.counters.ready() > 0) {
    std::optional<ReadyWindow::Entry> entry = pop_ready(queue);
    if (!entry) break;
    if (leases_.count(entry->task_id) > 0) continue;  // out on lease: not ready
    Result<v1::TaskRecord> task = load_task(entry->task_id);
    if (!task.ok() && !task.status().is_not_found()) {
      note_read_error("task " + entry->task_id, task.status());  // kept; the purge stops here
      queue.window.on_insert(entry->key, entry->task_id);
      break;
    }
    batch_->erase(Family::kReady, entry->key);
    if (!task.ok() || task->state() != v1::QUEUED ||
        keys::ready_key(task->queue(), task->priority(), task->index_seq()) != entry->key) {
      continue;  // a stale entry: dropping it is all there is to do
    }
    mark_revoked(task.value());
    make_terminal(task.value(), v1::REVOKED);
    ++totals_.revoked_total;
    emit_task_event(v1::TASK_REVOKED, task.value());
    ++outcome.removed;
  }
  outcome.remaining = queue.counters.ready();
  ticket = pending_ticket();
  return outcome;
}

std::vector<std::string> Engine::dead_ids(const std::string& queue, size_t limit) {
  std::vector<std::string> ids;
  if (!write_pending().ok()) return ids;  // the scan must see this engine's own changes
  const std::string lower = queue.empty() ? std::string() : keys::ready_prefix(queue);
  const std::string upper = queue.empty() ? std::string() : keys::ready_end(queue);
  Status s = storage_.scan(Family::kDead, lower, upper, [&](std::string_view, std::string_view value) {
    ids.emplace_back(value);
    return ids.size() < limit;
  });
  if (!s.ok()) spdlog::error("reading the dead-letter index failed: {}", s.message());
  return ids;
}

Result<std::vector<v1::TaskRecord>> Engine::dead_list(const std::string& queue, size_t limit, uint64_t& ticket) {
  if (!queue.empty()) {
    if (Status s = validate_queue_name(queue); !s.ok()) return s;
  }
  std::lock_guard lock(mutex_);
  ticket = read_ticket();
  std::vector<v1::TaskRecord> out;
  for (const std::string& id : dead_ids(queue, limit)) {
    Result<v1::TaskRecord> task = load_task(id);
    if (task.ok() && task->state() == v1::FAILURE) out.push_back(std::move(task.value()));
  }
  return out;
}

Result<DeadOpOutcome> Engine::dead_requeue(const std::vector<std::string>& ids, const std::string& queue,
                                           size_t limit, uint64_t& ticket) {
  return dead_apply(ids, queue, limit, /*requeue=*/true, ticket);
}

Result<DeadOpOutcome> Engine::dead_delete(const std::vector<std::string>& ids, const std::string& queue,
                                          size_t limit, uint64_t& ticket) {
  return dead_apply(ids, queue, limit, /*requeue=*/false, ticket);
}

Result<DeadOpOutcome> Engine::dead_apply(const std::vector<std::string>& ids, const std::string& queue,
                                         size_t limit, bool requeue, uint64_t& ticket) {
  if (!queue.empty()) {
    if (Status s = validate_queue_name(queue); !s.ok()) return s;
  }
  std::lock_guard lock(mutex_);
  if (Status s = check_writable(); !s.ok()) return s;
  DeadOpOutcome outcome;
  const std::vector<std::string> targets = ids.empty() ? dead_ids(queue, limit) : ids;
  std::set<std::string> touched;
  for (const std::string& id : targets) {
    Result<v1::TaskRecord> loaded = load_task(id);
    if (!loaded.ok() && !loaded.status().is_not_found()) note_read_error("task " + id, loaded.status());
    if (!loaded.ok() || loaded->state() != v1::FAILURE) {
      outcome.not_dead_ids.push_back(id);
      continue;
    }
    v1::TaskRecord& task = loaded.value();
    batch_->erase(Family::kDead, keys::dead_key(task.queue(), task.index_seq()));
    batch_->erase(Family::kExpiry, keys::expiry_key(task.expires_ms(), task.id()));
    QueueState& state = queue_state(task.queue());
    state.counters.set_dead(state.counters.dead() > 0 ? state.counters.dead() - 1 : 0);
    op_dirty_queues_.insert(state.name);
    if (requeue) {
      // A fresh start: the retry budget again, no outcome; the history keeps the past.
      task.set_retries(0);
      task.set_lost_leases(0);
      task.clear_error();
      task.clear_result_json();
      task.set_finished_ms(0);
      task.set_expires_ms(0);
      make_ready(task, take_seq());
      emit_task_event(v1::TASK_ENQUEUED, task);
      touched.insert(task.queue());
    } else {
      erase_task(task.id());
    }
    ++outcome.count;
  }
  for (const std::string& name : touched) dispatch_queue(queue_state(name));
  ticket = pending_ticket();
  return outcome;
}

Result<TaskListing> Engine::list_tasks(const std::string& queue_name, v1::TaskState state, size_t limit,
                                       uint64_t& ticket, size_t scan_budget) {
  const std::string queue = queue_name.empty() ? std::string(kDefaultQueue) : queue_name;
  if (Status s = validate_queue_name(queue); !s.ok()) return s;
  // The scan runs without the engine lock (RocksDB iterators are safe beside writes), so
  // a long listing never stalls other clients. Leases live in memory, so a stored
  // QUEUED record may be running: such records are candidates for either filter and are
  // settled under the lock below.
  size_t extra = 0;
  {
    std::lock_guard lock(mutex_);
    if (Status s = write_pending(); !s.ok()) return s;
    if (state == v1::QUEUED || state == v1::STARTED) extra = leases_.size();
  }
  auto candidate = [&](const v1::TaskRecord& task) {
    if (task.queue() != queue) return false;
    if (state == v1::TASK_STATE_UNSPECIFIED) return true;
    if (state == v1::QUEUED || state == v1::STARTED) return task.state() == v1::QUEUED || task.state() == v1::STARTED;
    return task.state() == state;
  };
  TaskListing listing;
  std::vector<v1::TaskRecord> found;
  size_t examined = 0;
  Status s = storage_.scan_reverse(Family::kTasks, "", "", [&](std::string_view, std::string_view bytes) {
    if (++examined > scan_budget) {
      listing.truncated = true;
      return false;
    }
    v1::TaskRecord task;
    if (!task.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
    if (candidate(task)) found.push_back(std::move(task));
    return found.size() < limit + extra;
  });
  if (!s.ok()) return s;
  std::lock_guard lock(mutex_);
  ticket = read_ticket();  // covers every write the scan can have seen
  for (v1::TaskRecord& task : found) {
    if (listing.tasks.size() >= limit) break;
    if (task.state() == v1::QUEUED) {
      if (auto lease = leases_.find(task.id()); lease != leases_.end()) apply_lease(task, lease->second);
    }
    if (state == v1::TASK_STATE_UNSPECIFIED || task.state() == state) listing.tasks.push_back(std::move(task));
  }
  std::stable_sort(listing.tasks.begin(), listing.tasks.end(),
                   [](const v1::TaskRecord& a, const v1::TaskRecord& b) { return a.created_ms() > b.created_ms(); });
  return listing;
}

std::vector<v1::WorkerInfo> Engine::workers() {
  std::lock_guard lock(mutex_);
  std::vector<v1::WorkerInfo> out;
  for (const auto& [id, consumer] : consumers_) {
    v1::WorkerInfo info;
    info.set_session_id(consumer.identity.session_id);
    info.set_name(consumer.identity.name);
    info.set_host(consumer.identity.host);
    info.set_pid(consumer.identity.pid);
    for (const std::string& queue : consumer.queues) info.add_queues(queue);
    info.set_prefetch(consumer.prefetch);
    info.set_in_flight(static_cast<uint32_t>(consumer.leased.size()));
    info.set_completed(consumer.completed);
    info.set_failed(consumer.failed);
    info.set_connected_ms(consumer.connected_ms);
    info.set_last_seen_ms(consumer.last_seen_ms);
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.connected_ms() < b.connected_ms(); });
  return out;
}

v1::QueueStats Engine::describe_queue(const std::string& name, const QueueState* queue, int64_t now) const {
  v1::QueueStats stats;
  stats.set_name(name);
  if (queue == nullptr) return stats;
  const v1::QueueCounters& counters = queue->counters;
  stats.set_ready(counters.ready());
  stats.set_scheduled(counters.scheduled());
  stats.set_in_flight(counters.in_flight());
  stats.set_retrying(counters.retrying());
  stats.set_succeeded(counters.succeeded());
  stats.set_failed(counters.failed());
  stats.set_dead(counters.dead());
  stats.set_revoked(counters.revoked());
  stats.set_consumers(static_cast<uint32_t>(queue->consumers.size()));
  stats.set_enqueued_per_s(queue->enqueued.per_second(now));
  stats.set_completed_per_s(queue->completed.per_second(now));
  stats.set_failed_per_s(queue->failed.per_second(now));
  return stats;
}

std::vector<v1::QueueStats> Engine::queue_stats(const std::vector<std::string>& names) {
  std::lock_guard lock(mutex_);
  const int64_t now = clock_.now_ms();
  std::vector<v1::QueueStats> out;
  if (names.empty()) {
    for (const auto& [name, queue] : queues_) out.push_back(describe_queue(name, queue.get(), now));
  } else {
    for (const std::string& name : names) {
      auto it = queues_.find(name);
      out.push_back(describe_queue(name, it == queues_.end() ? nullptr : it->second.get(), now));
    }
  }
  return out;
}

EngineSnapshot Engine::snapshot() {
  std::lock_guard lock(mutex_);
  const int64_t now = clock_.now_ms();
  EngineSnapshot snapshot = totals_;
  snapshot.queue_wait = queue_wait_.snapshot();
  snapshot.run_time = run_time_.snapshot();
  for (const auto& [name, queue] : queues_) snapshot.queues.push_back(describe_queue(name, queue.get(), now));
  snapshot.consumers = consumers_.size();
  return snapshot;
}

}  // namespace brokerd::server
