// brokerd client library: the producer and query API.
//
//   auto client = brokerd::Client::connect({.server = "127.0.0.1:7411"});
//   if (!client.ok()) { ... client.status().to_string() ... }
//   auto task = (*client)->enqueue({.name = "add", .args = {2, 3}});
//   auto done = (*client)->wait(task->id, std::chrono::seconds(10));
//   if (done.ok() && done->state == brokerd::TaskState::kSuccess) use(done->result());
//
// A Client owns one TCP connection and one background I/O thread. Every method is
// thread-safe; calls from many threads are pipelined on the one connection. Blocking
// calls return when the reply arrives, the request timeout passes, or the connection
// is lost. wait() does not poll: the broker pushes the result when it is stored.
//
// The operator requests (revoke, purge, the dead-letter set, listings, statistics) are
// what brokerctl uses; their result types are in admin.h. The event stream is a
// connection of its own: see events.h.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "brokerd/admin.h"
#include "brokerd/security.h"
#include "brokerd/status.h"
#include "brokerd/task.h"

namespace brokerd {

struct ClientOptions {
  // HOST:PORT of the broker.
  std::string server = "127.0.0.1:7411";
  // Shown to operators; recorded as the worker of tasks this connection runs.
  std::string client_name = "brokerd-client";
  std::chrono::milliseconds connect_timeout{5000};
  // Deadline for one request's reply (wait() uses its own timeout instead).
  std::chrono::milliseconds request_timeout{30000};
  // Auth token and TLS (brokerd/security.h); off by default.
  SecurityOptions security{};
};

// Reads $BROKERD_SERVER, falling back to "127.0.0.1:7411".
std::string default_server_address();

class Client {
 public:
  // Connects and performs the handshake.
  static Result<std::unique_ptr<Client>> connect(const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Enqueues one task. Returns once the broker has stored it durably.
  Result<EnqueueReceipt> enqueue(const TaskRequest& request);
  // Enqueues many tasks in one request, all or none.
  Result<std::vector<EnqueueReceipt>> enqueue_batch(const std::vector<TaskRequest>& requests);
  // Pipelined enqueue: returns at once; `done` runs on the client's I/O thread with the
  // outcome. Keep `done` short; do not call blocking Client methods from it.
  void enqueue_async(const TaskRequest& request, std::function<void(Result<EnqueueReceipt>)> done);

  // The task's current record; kNotFound for an id the broker never saw.
  Result<TaskInfo> get_task(const std::string& id);
  // Blocks until the task is SUCCESS, FAILURE or REVOKED, or `timeout` passes (kTimeout).
  Result<TaskInfo> wait(const std::string& id, std::chrono::milliseconds timeout);

  // Depths and counters of the named queues (all known queues when empty).
  Result<std::vector<QueueInfo>> queue_stats(const std::vector<std::string>& queues = {});

  // ---- Operator requests ----------------------------------------------------------
  //
  // Bulk requests (purge, the _all variants) act on at most `limit` tasks per call, so
  // each call holds the broker only briefly: repeat them until they report 0. A `limit`
  // of 0 takes the server's default (1000 for bulk changes, 100 for listings); the
  // server caps it at 10000.

  // Cancels a task. A waiting task (QUEUED, SCHEDULED, RETRY) becomes REVOKED and is
  // never delivered; a running one becomes REVOKED, its worker is told and its late
  // outcome is refused. A finished task is left as it is (its state is returned).
  // kNotFound for an unknown id.
  Result<RevokeOutcome> revoke(const std::string& id);

  // Revokes up to `limit` ready (QUEUED) tasks of `queue`; scheduled, retrying and
  // running tasks are left alone.
  Result<PurgeOutcome> purge(const std::string& queue, uint32_t limit = 0);

  // The dead-letter set: FAILURE tasks kept until requeued, deleted or expired, oldest
  // failure first. An empty `queue` lists every queue.
  Result<std::vector<TaskInfo>> dead_list(const std::string& queue = "", uint32_t limit = 0);
  // Puts the named dead tasks back in their queues (QUEUED, retries reset).
  Result<DeadOpOutcome> dead_requeue(const std::vector<std::string>& ids);
  // Requeues up to `limit` dead tasks of `queue` (every queue when empty).
  Result<DeadOpOutcome> dead_requeue_all(const std::string& queue = "", uint32_t limit = 0);
  // Deletes the named dead tasks; their ids become NOT_FOUND.
  Result<DeadOpOutcome> dead_delete(const std::vector<std::string>& ids);
  // Deletes up to `limit` dead tasks of `queue` (every queue when empty).
  Result<DeadOpOutcome> dead_delete_all(const std::string& queue = "", uint32_t limit = 0);

  // Tasks of `queue` ("default" when empty), newest first, only those in `state` if set.
  Result<TaskListing> list_tasks(const std::string& queue, std::optional<TaskState> state = {},
                                 uint32_t limit = 0);

  // The connections consuming tasks now.
  Result<std::vector<WorkerInfo>> workers();
  // The broker's version, uptime, connections, storage and totals over every queue.
  Result<ServerStats> server_stats();

  // Round trip to the broker.
  Status ping();

  // False once the connection is lost; a lost Client does not reconnect.
  bool connected() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace brokerd
