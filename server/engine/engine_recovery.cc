// Engine: rebuilding memory from storage at start.
#include <spdlog/spdlog.h>

#include "engine/engine.h"

namespace brokerd::server {

Status Engine::open() {
  std::lock_guard lock(mutex_);
  std::string value;
  Status s = storage_.get(Family::kMeta, keys::kNextSeq, &value);
  if (s.ok() && value.size() == 8) {
    next_seq_ = keys::decode_be64(value);  // the bound of the last reserved block
    seq_limit_ = next_seq_;
  } else if (!s.ok() && !s.is_not_found()) {
    return s;
  }

  // Counters are stored with every change, so start-up never scans the indexes.
  const std::string prefix(keys::kQueueCountersPrefix);
  std::string prefix_end = prefix;
  prefix_end.back() = static_cast<char>(prefix_end.back() + 1);
  s = storage_.scan(Family::kMeta, prefix, prefix_end,
                    [&](std::string_view key, std::string_view bytes) {
                      QueueState& queue = queue_state(std::string(key.substr(prefix.size())));
                      queue.counters.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
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

}  // namespace brokerd::server
