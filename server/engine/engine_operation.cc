// Engine plumbing: the one-batch-per-operation discipline, record cache and queue state.
#include <spdlog/spdlog.h>

#include "engine/engine.h"

namespace brokerd::server {

Engine::QueueState::QueueState(const std::string& queue_name, size_t window_capacity)
    : name(queue_name), window(window_capacity, keys::ready_prefix(queue_name)) {}

Status Engine::check_writable() {
  note_storage_error();
  // A write attempt is as good a moment to retry recovery as a timer pass.
  if (degraded() && clock_.now_ms() >= next_recovery_ms_) try_recover();
  return degraded_;
}

uint64_t Engine::read_ticket() {
  note_storage_error();
  // While degraded every sync may fail, so a reader waiting for one would get an error
  // instead of its answer: it is answered at once. The store may then show writes whose
  // sync failed (their requests were refused); they become durable when recovery writes
  // the memtables out, and are lost only if the process dies before it.
  if (degraded()) return 0;
  return pending_ticket();
}

Result<v1::TaskRecord> Engine::load_task(const std::string& id) {
  v1::TaskRecord task;
  // Records written earlier in this operation are not in storage yet.
  if (auto it = op_records_.find(id); it != op_records_.end()) {
    task = it->second;
  } else {
    std::string bytes;
    Status s = storage_.get(Family::kTasks, id, &bytes);
    if (s.is_not_found()) return Status::NotFound("no task with id " + id);
    if (!s.ok()) return s;
    if (!task.ParseFromString(bytes)) return Status::Internal("stored record of task " + id + " is corrupt");
  }
  if (task.state() == v1::QUEUED) {
    if (auto lease = leases_.find(id); lease != leases_.end()) apply_lease(task, lease->second);
  }
  return task;
}

void Engine::apply_lease(v1::TaskRecord& task, const Lease& lease) const {
  task.set_attempts(task.attempts() + 1);
  task.set_started_ms(lease.started_wall_ms);
  task.set_lease_id(lease.lease_id);
  task.set_lease_deadline_ms(wall_of(lease.deadline));
  if (auto consumer = consumers_.find(lease.consumer); consumer != consumers_.end()) {
    task.set_worker(consumer->second.identity.name);
  }
  record_transition(task, v1::STARTED, lease.started_wall_ms);
}

void Engine::save_task(const v1::TaskRecord& task) {
  batch_->put(Family::kTasks, task.id(), task.SerializeAsString());
  op_records_[task.id()] = task;
}

void Engine::erase_task(const std::string& id) {
  batch_->erase(Family::kTasks, id);
  op_records_.erase(id);
}

Engine::QueueState& Engine::queue_state(const std::string& name) {
  auto it = queues_.find(name);
  if (it == queues_.end()) {
    it = queues_.emplace(name, std::make_unique<QueueState>(name, options_.ready_window)).first;
    // A name touched by a request that leaves nothing in it (a purge of an unknown
    // queue) must be forgotten too.
    idle_candidates_.insert(name);
  }
  return *it->second;
}

bool Engine::has_pending() const {
  return !batch_->empty() || !op_dirty_queues_.empty() || seq_dirty_;
}

uint64_t Engine::pending_ticket() const {
  // Every storage write goes through write_pending() under the engine lock, so the next
  // write is the one that will carry what is pending now.
  return storage_.last_written_seq() + (has_pending() ? 1 : 0);
}

Status Engine::write_pending() {
  if (degraded()) {
    // Readers flush too: with nothing to write they must succeed.
    if (!has_pending()) return Status::Ok();
    abandon_pending();
    return degraded_;
  }
  for (const std::string& name : op_dirty_queues_) {
    const QueueState& queue = queue_state(name);
    batch_->put(Family::kMeta, keys::queue_counters_key(name), queue.counters.SerializeAsString());
    if (queue_is_idle(queue)) idle_candidates_.insert(name);  // a busy queue costs nothing more here
  }
  if (seq_dirty_) batch_->put(Family::kMeta, keys::kNextSeq, keys::encode_be64(seq_limit_));
  seq_dirty_ = false;
  op_dirty_queues_.clear();
  if (batch_->empty()) return Status::Ok();
  Result<uint64_t> seq = storage_.write(*batch_);
  op_records_.clear();
  std::vector<v1::TaskRecord> finished = std::move(op_finished_);
  op_finished_.clear();
  if (!seq.ok()) {
    enter_degraded(seq.status());
    return degraded_;
  }
  for (const v1::TaskRecord& task : finished) {
    auto it = waiters_.find(task.id());
    if (it == waiters_.end()) continue;
    for (auto& [waiter_id, waiter] : it->second) {
      waiter_tasks_.erase(waiter_id);
      waiter(task, seq.value());
    }
    waiters_.erase(it);
  }
  return Status::Ok();
}

Status Engine::flush() {
  std::lock_guard lock(mutex_);
  Status s = write_pending();
  forget_idle_queues();
  return s;
}

bool Engine::queue_is_idle(const QueueState& queue) const {
  const v1::QueueCounters& c = queue.counters;
  return c.ready() == 0 && c.scheduled() == 0 && c.in_flight() == 0 && c.retrying() == 0 && c.dead() == 0 &&
         queue.consumers.empty();
}

void Engine::forget_idle_queues() {
  const int64_t now = clock_.steady_ms();
  for (const std::string& name : idle_candidates_) {
    auto it = queues_.find(name);
    if (it == queues_.end() || !queue_is_idle(*it->second)) continue;
    QueueState& queue = *it->second;
    if (queue.idle_since != kNotIdle) idle_queues_.erase({queue.idle_since, name});
    queue.idle_since = now;  // idle again after something happened in it: the wait restarts
    idle_queues_.insert({now, name});
  }
  idle_candidates_.clear();
  bool forgot = false;
  while (!idle_queues_.empty() && now - idle_queues_.begin()->first >= options_.idle_queue_ttl_ms) {
    const auto [since, name] = *idle_queues_.begin();
    idle_queues_.erase(idle_queues_.begin());
    auto it = queues_.find(name);
    if (it == queues_.end() || it->second->idle_since != since) continue;  // a newer entry stands
    // Busy again since (or its counters are still pending): no longer idle.
    if (!queue_is_idle(*it->second) || op_dirty_queues_.count(name) > 0) {
      it->second->idle_since = kNotIdle;
      continue;
    }
    queues_.erase(it);
    batch_->erase(Family::kMeta, keys::queue_counters_key(name));
    forgot = true;
  }
  if (!forgot) return;
  if (Status s = write_pending(); !s.ok()) spdlog::error("forgetting idle queues failed: {}", s.message());
}

void Engine::note_read_error(const std::string& what, const Status& status) {
  ++totals_.read_errors_total;
  last_read_error_ = status;
  last_read_error_at_ = clock_.steady_ms();
  spdlog::error("reading {} failed (kept, will be retried): {}", what, status.message());
}

Status Engine::read_health() {
  std::lock_guard lock(mutex_);
  constexpr int64_t kReadErrorMemoryMs = 60'000;
  if (last_read_error_.ok() || clock_.steady_ms() - last_read_error_at_ > kReadErrorMemoryMs) return Status::Ok();
  return Status(last_read_error_.code(), "storage read failed within the last minute: " + last_read_error_.message());
}

}  // namespace brokerd::server
