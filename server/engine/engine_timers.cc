// Engine: what happens with time alone — delayed tasks come due, leases run out,
// finished results expire.
#include <spdlog/spdlog.h>

#include "engine/engine.h"

namespace brokerd::server {

namespace {
// After a failed read, the timer tries the same entry again this much later.
constexpr int64_t kReadRetryMs = 1000;
}  // namespace

int64_t Engine::run_timers(int64_t max_sleep_ms) {
  std::lock_guard lock(mutex_);
  note_storage_error();  // a failed sync, with no write since to notice it
  if (degraded()) {
    if (clock_.now_ms() >= next_recovery_ms_) try_recover();
    if (degraded()) return std::clamp<int64_t>(next_recovery_ms_ - clock_.now_ms(), 0, max_sleep_ms);
  }
  const int64_t now = clock_.now_ms();
  const int64_t steady = clock_.steady_ms();
  promote_due(now);
  expire_leases(steady);
  expire_results(now);
  if (Status s = write_pending(); !s.ok()) spdlog::error("timer pass failed: {}", s.message());
  forget_idle_queues();
  int64_t sleep = max_sleep_ms;
  const int64_t next_wall = std::min(next_due_ms_, next_expiry_ms_);
  if (next_wall != INT64_MAX) sleep = std::min(sleep, next_wall - now);
  if (!lease_deadlines_.empty()) sleep = std::min(sleep, lease_deadlines_.begin()->first - steady);
  return std::clamp<int64_t>(sleep, 0, max_sleep_ms);
}

int64_t Engine::peek_first_time(Family family, const std::string& from) {
  int64_t first = INT64_MAX;
  Status s = storage_.scan(family, from, "", [&](std::string_view key, std::string_view) {
    first = static_cast<int64_t>(keys::decode_be64(key));
    return false;
  });
  if (!s.ok()) spdlog::error("reading the {} index failed: {}", family_name(family), s.message());
  return first;
}

void Engine::promote_due(int64_t now) {
  if (now < next_due_ms_) return;
  if (!write_pending().ok()) return;
  std::vector<std::pair<std::string, std::string>> due;  // delayed key, task id
  const std::string upper = keys::delayed_key(now + 1, 0);
  Status s = storage_.scan(Family::kDelayed, delayed_scan_from_, upper,
                           [&](std::string_view key, std::string_view value) {
                             due.emplace_back(std::string(key), std::string(value));
                             return due.size() < options_.timer_batch;
                           });
  if (!s.ok()) {
    note_read_error("the delayed index", s);
    return;
  }
  std::set<std::string> touched;
  std::string unread;  // the first entry whose task could not be read: kept, tried again
  for (const auto& [key, task_id] : due) {
    Result<v1::TaskRecord> task = load_task(task_id);
    if (!task.ok() && !task.status().is_not_found()) {
      note_read_error("task " + task_id, task.status());
      unread = key;
      break;
    }
    batch_->erase(Family::kDelayed, key);
    const bool current = task.ok() && (task->state() == v1::SCHEDULED || task->state() == v1::RETRY) &&
                         keys::delayed_key(task->due_ms(), task->index_seq()) == key;
    if (!current) continue;  // revoked or otherwise moved on: the entry was stale
    make_ready(task.value(), take_seq());
    touched.insert(task->queue());
  }
  if (!unread.empty()) {
    delayed_scan_from_ = unread;
  } else if (!due.empty()) {
    delayed_scan_from_ = keys::successor(due.back().first);
  }
  for (const std::string& name : touched) dispatch_queue(queue_state(name));
  if (!write_pending().ok()) return;
  next_due_ms_ = peek_first_time(Family::kDelayed, delayed_scan_from_);
  if (!unread.empty()) next_due_ms_ = std::max(next_due_ms_, now + kReadRetryMs);  // no busy loop on a bad read
}

void Engine::expire_leases(int64_t steady_now) {
  std::set<std::string> touched;
  while (!lease_deadlines_.empty() && lease_deadlines_.begin()->first <= steady_now) {
    const std::string task_id = lease_deadlines_.begin()->second;
    spdlog::info("lease on task {} expired without a heartbeat", task_id);
    const Lease& lease = leases_.at(task_id);
    if (auto holder = consumers_.find(lease.consumer); holder != consumers_.end()) {
      holder->second.expired_leases.emplace(lease.lease_id, task_id);
    }
    if (auto queue = lose_lease(task_id, LeaseLoss::kExpired)) touched.insert(*queue);
  }
  for (const std::string& name : touched) dispatch_queue(queue_state(name));
}

void Engine::expire_results(int64_t now) {
  if (now < next_expiry_ms_) return;
  if (!write_pending().ok()) return;
  std::vector<std::pair<std::string, std::string>> expired;  // expiry key, task id
  const std::string upper = keys::expiry_key(now + 1, "");
  Status s = storage_.scan(Family::kExpiry, expiry_scan_from_, upper,
                           [&](std::string_view key, std::string_view) {
                             expired.emplace_back(std::string(key), std::string(keys::expiry_key_task(key)));
                             return expired.size() < options_.timer_batch;
                           });
  if (!s.ok()) {
    note_read_error("the expiry index", s);
    return;
  }
  std::string unread;
  for (const auto& [key, task_id] : expired) {
    Result<v1::TaskRecord> task = load_task(task_id);
    if (!task.ok() && !task.status().is_not_found()) {
      note_read_error("task " + task_id, task.status());
      unread = key;
      break;
    }
    batch_->erase(Family::kExpiry, key);
    if (!task.ok() || !is_terminal(task->state()) || task->expires_ms() != keys::expiry_key_time(key)) continue;
    if (task->state() == v1::FAILURE) {
      batch_->erase(Family::kDead, keys::dead_key(task->queue(), task->index_seq()));
      QueueState& queue = queue_state(task->queue());
      queue.counters.set_dead(queue.counters.dead() > 0 ? queue.counters.dead() - 1 : 0);
      op_dirty_queues_.insert(queue.name);
    }
    erase_task(task_id);
  }
  if (!unread.empty()) {
    expiry_scan_from_ = unread;
  } else if (!expired.empty()) {
    expiry_scan_from_ = keys::successor(expired.back().first);
  }
  if (!write_pending().ok()) return;
  next_expiry_ms_ = peek_first_time(Family::kExpiry, expiry_scan_from_);
  if (!unread.empty()) next_expiry_ms_ = std::max(next_expiry_ms_, now + kReadRetryMs);
}

}  // namespace brokerd::server
