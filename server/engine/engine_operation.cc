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
  task.set_started_ms(lease.started_ms);
  task.set_lease_id(lease.lease_id);
  task.set_lease_deadline_ms(lease.deadline_ms);
  if (auto consumer = consumers_.find(lease.consumer); consumer != consumers_.end()) {
    task.set_worker(consumer->second.identity.name);
  }
  record_transition(task, v1::STARTED, lease.started_ms);
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
    batch_->put(Family::kMeta, keys::queue_counters_key(name),
                queue_state(name).counters.SerializeAsString());
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
  return write_pending();
}

}  // namespace brokerd::server
