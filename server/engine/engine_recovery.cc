// Engine: rebuilding memory from storage, at start and after a storage write error
// (degraded mode).
//
// Why rebuild after a write error: an operation changes memory first and writes after,
// so when the write fails memory is ahead of disk (a task counted and queued in memory
// that the store does not have). Undoing each change would be a second, untested code
// path; rebuilding from disk is the start-up code, exercised on every start. What the
// engine then holds is exactly what the store holds, so nothing of a failed write can
// later be confirmed, and every confirmed write is there.
//
// Leases are memory only, so they cannot be rebuilt: every lease is treated as lost, as
// if it had expired. The tasks are QUEUED again (their stored records never stopped
// being QUEUED) and delivered anew; the old holder keeps the lost lease on its credit
// until it reports, and its report is answered STALE_LEASE (like an expired lease).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine.h"

namespace brokerd::server {

Status Engine::open() {
  std::lock_guard lock(mutex_);
  return load_state(/*probe=*/false);
}

Status Engine::load_state(bool probe) {
  std::string value;
  Status s = storage_.get(Family::kMeta, keys::kNextSeq, &value);
  if (s.ok() && value.size() == 8) {
    // The bound of the last reserved block. After a write error memory may have handed
    // out numbers above it (lease ids need no write): never hand them out again.
    next_seq_ = std::max(next_seq_, keys::decode_be64(value));
  } else if (!s.ok() && !s.is_not_found()) {
    return s;
  }
  seq_limit_ = next_seq_;  // the next number taken reserves a block and stores its bound
  durable_seq_limit_ = next_seq_;  // the first lease id taken makes that bound durable
  // After a write error: one real write and sync, to learn the store takes writes again.
  if (probe) seq_dirty_ = true;

  // Counters are stored with every change, so start-up never scans the indexes.
  const std::string prefix(keys::kQueueCountersPrefix);
  std::string prefix_end = prefix;
  prefix_end.back() = static_cast<char>(prefix_end.back() + 1);
  s = storage_.scan(Family::kMeta, prefix, prefix_end,
                    [&](std::string_view key, std::string_view bytes) {
                      QueueState& queue = queue_state(std::string(key.substr(prefix.size())));
                      queue.counters.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
                      idle_candidates_.insert(queue.name);  // an idle one is forgotten in time
                      return true;
                    });
  if (!s.ok()) return s;

  // No consumer survives a restart. Data written before leases moved to memory (format
  // 1 data dirs) marked leased tasks STARTED with a leases entry: queue them again.
  std::vector<std::string> leased;
  s = storage_.scan(Family::kLeases, "", "", [&](std::string_view key, std::string_view) {
    leased.emplace_back(key);
    return true;
  });
  if (!s.ok()) return s;
  for (const std::string& task_id : leased) {
    batch_->erase(Family::kLeases, task_id);
    Result<v1::TaskRecord> task = load_task(task_id);
    if (task.ok() && task->state() == v1::STARTED) make_ready(task.value(), task->index_seq());
  }
  // A delivery writes nothing (its record stays QUEUED with its ready key), so tasks that
  // were out on lease at the crash are already queued on disk; only the counters, which
  // may have been stored while they were in flight, need to count them as ready again.
  for (auto& [name, queue] : queues_) {
    if (queue->counters.in_flight() != 0) {
      spdlog::info("queue {}: {} tasks that were out on lease are ready again", name,
                   queue->counters.in_flight());
      queue->counters.set_ready(queue->counters.ready() + queue->counters.in_flight());
      queue->counters.set_in_flight(0);
      op_dirty_queues_.insert(name);
    }
  }
  if (!leased.empty()) spdlog::info("recovery: {} leased tasks queued again", leased.size());

  next_due_ms_ = peek_first_time(Family::kDelayed, "");
  next_expiry_ms_ = peek_first_time(Family::kExpiry, "");
  if (Status f = write_pending(); !f.ok()) return f;
  return storage_.sync();
}

// ---- degraded mode -------------------------------------------------------------------

Status Engine::write_refusal() {
  std::lock_guard lock(mutex_);
  note_storage_error();
  return degraded_;
}

void Engine::note_storage_error() {
  if (degraded()) return;
  if (Status s = storage_.write_error(); !s.ok()) enter_degraded(s);
}

void Engine::enter_degraded(const Status& cause) {
  const bool first = !degraded();
  // The refusal clients get: typed like the cause, so a full disk is RESOURCE_EXHAUSTED.
  if (cause.code() == StatusCode::kResourceExhausted) {
    degraded_ = Status::ResourceExhausted(
        "disk full: brokerd accepts no writes until disk space is freed, reads still work (" + cause.message() +
        ")");
  } else {
    degraded_ = Status::Internal("storage write failed: brokerd accepts no writes until it has recovered, reads "
                                 "still work (" +
                                 cause.message() + ")");
  }
  // The store may not know yet (the cause was a read, or a write it never saw).
  storage_.fail_writes(cause);
  abandon_pending();
  if (first && !recovering_) {
    spdlog::critical("storage write failed; refusing writes until the store takes them again: {}",
                     cause.message());
    recovery_backoff_ms_ = options_.recovery_backoff_min_ms;
    next_recovery_ms_ = clock_.now_ms() + recovery_backoff_ms_;
  }
}

void Engine::abandon_pending() {
  if (has_pending()) {
    // Readers may hold the ticket of these changes (the next write's number). Handing
    // the batch to the stopped store makes that write fail under its number, so the
    // committer refuses those tickets instead of confirming them with a later write.
    Result<uint64_t> burned = storage_.write(*batch_);
    if (burned.ok()) spdlog::critical("a write went through while writes were stopped");
  }
  batch_->clear();
  op_records_.clear();
  op_dirty_queues_.clear();
  op_finished_.clear();  // their waiters go on waiting: the tasks are not finished on disk
  seq_dirty_ = false;
}

void Engine::try_recover() {
  Status s = storage_.recover();
  if (s.ok()) {
    recovering_ = true;
    degraded_ = Status::Ok();  // lets load_state() write its probe
    drop_memory_state();
    s = load_state(/*probe=*/true);
    if (s.ok()) {
      for (auto& [name, queue] : queues_) dispatch_queue(*queue);
      s = write_pending();  // stale index entries the deliveries dropped
    }
    if (!s.ok() && !degraded()) enter_degraded(s);
    recovering_ = false;
    if (s.ok()) {
      spdlog::warn("storage takes writes again: state rebuilt from disk, leases that were out are queued again");
      recovery_backoff_ms_ = 0;
      return;
    }
  }
  recovery_backoff_ms_ = std::clamp(recovery_backoff_ms_ * 2, options_.recovery_backoff_min_ms,
                                    options_.recovery_backoff_max_ms);
  next_recovery_ms_ = clock_.now_ms() + recovery_backoff_ms_;
  spdlog::info("storage still refuses writes ({}); next attempt in {} ms", s.message(), recovery_backoff_ms_);
}

void Engine::drop_memory_state() {
  // Nothing becomes pending while degraded (every write is refused before it changes
  // anything), and what was pending then was abandoned on entry: clear, never write.
  batch_->clear();
  op_records_.clear();
  op_dirty_queues_.clear();
  op_finished_.clear();
  seq_dirty_ = false;
  // Lost leases stay on their holders' credit until reported, as expired ones do.
  for (auto& [id, consumer] : consumers_) {
    for (const std::string& task_id : consumer.leased) {
      consumer.expired_leases.emplace(leases_.at(task_id).lease_id, task_id);
    }
    totals_.requeued_total += consumer.leased.size();
    consumer.leased.clear();
  }
  leases_.clear();
  lease_deadlines_.clear();
  for (auto& [name, queue] : queues_) {
    queue->window = ReadyWindow(options_.ready_window, keys::ready_prefix(name));
    queue->counters.Clear();  // queues only the failed write created stay at zero
    queue->idle_since = kNotIdle;
  }
  idle_queues_.clear();
  delayed_scan_from_.clear();
  expiry_scan_from_.clear();
  next_due_ms_ = INT64_MAX;
  next_expiry_ms_ = INT64_MAX;
}

}  // namespace brokerd::server
