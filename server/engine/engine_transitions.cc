// Engine: the state changes of one task, each with its index entries and counters.
#include "engine/engine.h"

namespace brokerd::server {

void Engine::make_ready(v1::TaskRecord& task, uint64_t index_seq) {
  QueueState& queue = queue_state(task.queue());
  const v1::TaskState from = task.state();
  task.set_index_seq(index_seq);
  task.set_due_ms(0);
  task.set_lease_id(0);
  task.set_lease_deadline_ms(0);
  record_transition(task, v1::QUEUED, clock_.now_ms());
  const std::string key = keys::ready_key(task.queue(), task.priority(), index_seq);
  batch_->put(Family::kReady, key, task.id());
  queue.window.on_insert(key, task.id());
  count_transition(queue.counters, from, v1::QUEUED);
  op_dirty_queues_.insert(task.queue());
  save_task(task);
}

void Engine::make_delayed(v1::TaskRecord& task, v1::TaskState state, int64_t due_ms) {
  QueueState& queue = queue_state(task.queue());
  const v1::TaskState from = task.state();
  task.set_index_seq(take_seq());
  task.set_due_ms(due_ms);
  task.set_lease_id(0);
  task.set_lease_deadline_ms(0);
  record_transition(task, state, clock_.now_ms());
  const std::string key = keys::delayed_key(due_ms, task.index_seq());
  batch_->put(Family::kDelayed, key, task.id());
  count_transition(queue.counters, from, state);
  op_dirty_queues_.insert(task.queue());
  save_task(task);
  note_due(due_ms, key);
}

void Engine::make_terminal(v1::TaskRecord& task, v1::TaskState state) {
  QueueState& queue = queue_state(task.queue());
  const v1::TaskState from = task.state();
  const int64_t now = clock_.now_ms();
  task.set_finished_ms(now);
  task.set_expires_ms(saturating_add(now, task.result_ttl_ms()));
  task.set_lease_id(0);
  task.set_lease_deadline_ms(0);
  task.set_due_ms(0);
  record_transition(task, state, now);
  const std::string expiry = keys::expiry_key(task.expires_ms(), task.id());
  batch_->put(Family::kExpiry, expiry, "");
  if (state == v1::FAILURE) {
    // Dead letters keep the failure inspectable by queue until the record expires.
    task.set_index_seq(take_seq());
    batch_->put(Family::kDead, keys::dead_key(task.queue(), task.index_seq()), task.id());
    queue.counters.set_dead(queue.counters.dead() + 1);
  }
  count_transition(queue.counters, from, state);
  op_dirty_queues_.insert(task.queue());
  save_task(task);
  op_finished_.push_back(task);
  note_expiry(task.expires_ms(), expiry);
}

void Engine::note_due(int64_t due_ms, const std::string& delayed_key) {
  // A key below the scan cursor (an earlier due time than one already promoted, after
  // a clock step back) must still be found.
  if (delayed_key < delayed_scan_from_) delayed_scan_from_ = delayed_key;
  if (due_ms < next_due_ms_) {
    next_due_ms_ = due_ms;
    if (wakeup_hook_) wakeup_hook_(due_ms);
  }
}

void Engine::note_expiry(int64_t expires_ms, const std::string& expiry_key) {
  if (expiry_key < expiry_scan_from_) expiry_scan_from_ = expiry_key;
  if (expires_ms < next_expiry_ms_) next_expiry_ms_ = expires_ms;
}

}  // namespace brokerd::server
