// brokerd client library: what the operator requests of Client return (client.h, the
// "operator requests" section): revoking, purging, the dead-letter set, task listings,
// the connected workers and the server's own statistics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "brokerd/task.h"

namespace brokerd {

// Client::revoke.
struct RevokeOutcome {
  // REVOKED, or the terminal state (SUCCESS, FAILURE) the task already had and kept.
  TaskState state = TaskState::kUnknown;
  // The task was running: its worker has been told, and its late outcome will be refused.
  bool was_started = false;
};

// Client::purge: one bounded step of emptying a queue.
struct PurgeOutcome {
  uint64_t removed = 0;    // ready tasks revoked by this call
  uint64_t remaining = 0;  // ready tasks still in the queue
};

// Client::dead_requeue / dead_delete and their _all variants.
struct DeadOpOutcome {
  uint64_t count = 0;                      // tasks requeued or deleted
  std::vector<std::string> not_dead_ids{};  // named ids that were not in the dead set
};

// Client::list_tasks.
struct TaskListing {
  std::vector<TaskInfo> tasks{};  // newest first
  // The server's scan budget ran out before `limit` matches were found: there may be
  // more tasks in the requested state than listed.
  bool truncated = false;
};

// One connection that consumes tasks (Client::workers).
struct WorkerInfo {
  std::string session_id;
  std::string name;                 // its client name, e.g. WorkerOptions::name
  std::string host;
  uint32_t pid = 0;
  std::vector<std::string> queues;
  uint32_t prefetch = 0;
  uint32_t in_flight = 0;           // tasks it holds leases on now
  uint64_t completed = 0;           // SUCCESS outcomes it reported
  uint64_t failed = 0;              // FAILURE and RETRY outcomes it reported
  int64_t connected_ms = 0;         // Unix ms
  int64_t last_seen_ms = 0;         // last heartbeat or completion, Unix ms
};

// The broker process (Client::server_stats).
struct ServerStats {
  std::string version;
  int64_t started_ms = 0;  // Unix ms
  int64_t uptime_ms = 0;
  uint32_t connections = 0;
  uint32_t consumers = 0;
  uint32_t queues = 0;
  std::string sync;        // "always", "interval" or "none"
  std::string data_dir;
  uint64_t disk_bytes = 0;  // RocksDB files (SST + WAL)
  uint64_t rss_bytes = 0;
  QueueInfo totals;         // every queue summed; `name` is empty
};

}  // namespace brokerd
