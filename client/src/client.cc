// Client: the producer and query API, a thin layer of requests over one Connection.

#include "brokerd/client.h"

#include <algorithm>
#include <utility>

#include "connection.h"
#include "task_conversions.h"
#include "wire_errors.h"

namespace brokerd {

using internal::Connection;
using internal::expect_body;

namespace {

// The server answers WaitResult with TIMEOUT at its deadline; the client's own deadline
// is later by this much so the server's answer, not a local guess, normally decides.
constexpr std::chrono::milliseconds kWaitSlack{2000};

// The longest WaitResult the server honours (3600000 ms); longer waits are chained.
constexpr std::chrono::milliseconds kMaxServerWait{3600000};

}  // namespace

class Client::Impl {
 public:
  explicit Impl(std::unique_ptr<Connection> connection) : connection_(std::move(connection)) {}

  Result<EnqueueReceipt> enqueue(const TaskRequest& request) {
    v1::Envelope envelope;
    *envelope.mutable_enqueue()->mutable_task() = internal::to_task_spec(request);
    Result<v1::Envelope> reply =
        expect_body(connection_->call(std::move(envelope)), v1::Envelope::kEnqueueOk, "Enqueue");
    if (!reply.ok()) return reply.status();
    return internal::to_receipt(reply->enqueue_ok());
  }

  Result<std::vector<EnqueueReceipt>> enqueue_batch(const std::vector<TaskRequest>& requests) {
    v1::Envelope envelope;
    v1::EnqueueBatch* batch = envelope.mutable_enqueue_batch();
    batch->mutable_tasks()->Reserve(static_cast<int>(requests.size()));
    for (const TaskRequest& request : requests) *batch->add_tasks() = internal::to_task_spec(request);
    Result<v1::Envelope> reply = expect_body(connection_->call(std::move(envelope)),
                                             v1::Envelope::kEnqueueBatchOk, "EnqueueBatch");
    if (!reply.ok()) return reply.status();
    const auto& tasks = reply->enqueue_batch_ok().tasks();
    if (static_cast<size_t>(tasks.size()) != requests.size()) {
      return Status(ErrorCode::kProtocolError, "EnqueueBatchOk has " + std::to_string(tasks.size()) +
                                                   " entries for " + std::to_string(requests.size()) +
                                                   " tasks");
    }
    std::vector<EnqueueReceipt> receipts;
    receipts.reserve(requests.size());
    for (const v1::EnqueueOk& ok : tasks) receipts.push_back(internal::to_receipt(ok));
    return receipts;
  }

  void enqueue_async(const TaskRequest& request, std::function<void(Result<EnqueueReceipt>)> done) {
    v1::Envelope envelope;
    *envelope.mutable_enqueue()->mutable_task() = internal::to_task_spec(request);
    connection_->send(std::move(envelope), [done = std::move(done)](Result<v1::Envelope> reply) {
      reply = expect_body(std::move(reply), v1::Envelope::kEnqueueOk, "Enqueue");
      if (!reply.ok()) {
        done(reply.status());
        return;
      }
      done(internal::to_receipt(reply->enqueue_ok()));
    });
  }

  Result<TaskInfo> get_task(const std::string& id) {
    v1::Envelope envelope;
    envelope.mutable_get_task()->set_id(id);
    return task_info_from(connection_->call(std::move(envelope)), "GetTask");
  }

  Result<TaskInfo> wait(const std::string& id, std::chrono::milliseconds timeout) {
    // WaitResult's timeout_ms 0 means "the server's maximum", not "don't wait", so a
    // zero timeout is a plain read.
    if (timeout <= std::chrono::milliseconds::zero()) {
      Result<TaskInfo> info = get_task(id);
      if (info.ok() && !is_terminal(info->state)) {
        return Status(ErrorCode::kTimeout, "task " + id + " has not finished");
      }
      return info;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      const auto chunk = std::clamp(remaining, std::chrono::milliseconds(1), kMaxServerWait);
      v1::Envelope envelope;
      envelope.mutable_wait_result()->set_id(id);
      envelope.mutable_wait_result()->set_timeout_ms(chunk.count());
      Result<TaskInfo> info =
          task_info_from(connection_->call(std::move(envelope), chunk + kWaitSlack), "WaitResult");
      // Only a wait longer than the server's maximum goes round again.
      if (info.ok() || info.status().code() != ErrorCode::kTimeout || remaining <= kMaxServerWait) {
        return info;
      }
    }
  }

  Result<std::vector<QueueInfo>> queue_stats(const std::vector<std::string>& queues) {
    v1::Envelope envelope;
    for (const std::string& queue : queues) envelope.mutable_get_queue_stats()->add_queues(queue);
    if (queues.empty()) envelope.mutable_get_queue_stats();  // the body must be present
    Result<v1::Envelope> reply = expect_body(connection_->call(std::move(envelope)),
                                             v1::Envelope::kQueueStats, "GetQueueStats");
    if (!reply.ok()) return reply.status();
    std::vector<QueueInfo> out;
    out.reserve(reply->queue_stats().queues_size());
    for (const v1::QueueStats& stats : reply->queue_stats().queues()) {
      out.push_back(internal::to_queue_info(stats));
    }
    return out;
  }

  Result<RevokeOutcome> revoke(const std::string& id) {
    v1::Envelope envelope;
    envelope.mutable_revoke()->set_id(id);
    Result<v1::Envelope> reply =
        expect_body(connection_->call(std::move(envelope)), v1::Envelope::kRevokeOk, "Revoke");
    if (!reply.ok()) return reply.status();
    return RevokeOutcome{internal::from_wire_state(reply->revoke_ok().state()),
                         reply->revoke_ok().was_started()};
  }

  Result<PurgeOutcome> purge(const std::string& queue, uint32_t limit) {
    v1::Envelope envelope;
    envelope.mutable_purge()->set_queue(queue);
    envelope.mutable_purge()->set_limit(limit);
    Result<v1::Envelope> reply =
        expect_body(connection_->call(std::move(envelope)), v1::Envelope::kPurgeOk, "Purge");
    if (!reply.ok()) return reply.status();
    return PurgeOutcome{reply->purge_ok().removed(), reply->purge_ok().remaining()};
  }

  Result<std::vector<TaskInfo>> dead_list(const std::string& queue, uint32_t limit) {
    v1::Envelope envelope;
    envelope.mutable_list_dead()->set_queue(queue);
    envelope.mutable_list_dead()->set_limit(limit);
    Result<TaskListing> listing = task_list_from(connection_->call(std::move(envelope)), "ListDead");
    if (!listing.ok()) return listing.status();
    return std::move(listing->tasks);
  }

  Result<DeadOpOutcome> dead_requeue(const std::vector<std::string>& ids, bool all,
                                     const std::string& queue, uint32_t limit) {
    v1::Envelope envelope;
    fill_dead_op(envelope.mutable_dead_requeue(), ids, all, queue, limit);
    return dead_op_from(connection_->call(std::move(envelope)), "DeadRequeue");
  }

  Result<DeadOpOutcome> dead_delete(const std::vector<std::string>& ids, bool all,
                                    const std::string& queue, uint32_t limit) {
    v1::Envelope envelope;
    fill_dead_op(envelope.mutable_dead_delete(), ids, all, queue, limit);
    return dead_op_from(connection_->call(std::move(envelope)), "DeadDelete");
  }

  Result<TaskListing> list_tasks(const std::string& queue, std::optional<TaskState> state,
                                 uint32_t limit) {
    v1::Envelope envelope;
    v1::ListTasks* list = envelope.mutable_list_tasks();
    list->set_queue(queue);
    if (state) list->set_state(internal::to_wire_state(*state));
    list->set_limit(limit);
    return task_list_from(connection_->call(std::move(envelope)), "ListTasks");
  }

  Result<std::vector<WorkerInfo>> workers() {
    v1::Envelope envelope;
    envelope.mutable_get_workers();
    Result<v1::Envelope> reply =
        expect_body(connection_->call(std::move(envelope)), v1::Envelope::kWorkers, "GetWorkers");
    if (!reply.ok()) return reply.status();
    std::vector<WorkerInfo> out;
    out.reserve(reply->workers().workers_size());
    for (const v1::WorkerInfo& worker : reply->workers().workers()) {
      out.push_back(internal::to_worker_info(worker));
    }
    return out;
  }

  Result<ServerStats> server_stats() {
    v1::Envelope envelope;
    envelope.mutable_get_server_stats();
    Result<v1::Envelope> reply = expect_body(connection_->call(std::move(envelope)),
                                             v1::Envelope::kServerStats, "GetServerStats");
    if (!reply.ok()) return reply.status();
    return internal::to_server_stats(reply->server_stats());
  }

  Status ping() {
    v1::Envelope envelope;
    envelope.mutable_ping();
    Result<v1::Envelope> reply =
        expect_body(connection_->call(std::move(envelope)), v1::Envelope::kPong, "Ping");
    return reply.ok() ? Status::Ok() : reply.status();
  }

  bool connected() const { return connection_->connected(); }

 private:
  static Result<TaskInfo> task_info_from(Result<v1::Envelope> reply, const char* what) {
    reply = expect_body(std::move(reply), v1::Envelope::kTaskInfo, what);
    if (!reply.ok()) return reply.status();
    return internal::to_task_info(reply->task_info().task());
  }

  // DeadRequeue and DeadDelete have the same fields and the same reply.
  template <typename Request>
  static void fill_dead_op(Request* request, const std::vector<std::string>& ids, bool all,
                           const std::string& queue, uint32_t limit) {
    for (const std::string& id : ids) request->add_ids(id);
    request->set_all(all);
    request->set_queue(queue);
    request->set_limit(limit);
  }

  static Result<DeadOpOutcome> dead_op_from(Result<v1::Envelope> reply, const char* what) {
    reply = expect_body(std::move(reply), v1::Envelope::kDeadOpOk, what);
    if (!reply.ok()) return reply.status();
    return internal::to_dead_op_outcome(reply->dead_op_ok());
  }

  // ListTasks and ListDead are both answered with a TaskList.
  static Result<TaskListing> task_list_from(Result<v1::Envelope> reply, const char* what) {
    reply = expect_body(std::move(reply), v1::Envelope::kTaskList, what);
    if (!reply.ok()) return reply.status();
    TaskListing listing;
    listing.tasks.reserve(reply->task_list().tasks_size());
    for (const v1::TaskRecord& record : reply->task_list().tasks()) {
      listing.tasks.push_back(internal::to_task_info(record));
    }
    listing.truncated = reply->task_list().truncated();
    return listing;
  }

  std::unique_ptr<Connection> connection_;
};

Result<std::unique_ptr<Client>> Client::connect(const ClientOptions& options) {
  const internal::ConnectionOptions connection_options = internal::connection_options_for(options);
  Result<std::unique_ptr<Connection>> connection = Connection::open(connection_options);
  if (!connection.ok()) return connection.status();
  auto impl = std::make_unique<Impl>(std::move(connection).value());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<EnqueueReceipt> Client::enqueue(const TaskRequest& request) { return impl_->enqueue(request); }

Result<std::vector<EnqueueReceipt>> Client::enqueue_batch(const std::vector<TaskRequest>& requests) {
  return impl_->enqueue_batch(requests);
}

void Client::enqueue_async(const TaskRequest& request,
                           std::function<void(Result<EnqueueReceipt>)> done) {
  impl_->enqueue_async(request, std::move(done));
}

Result<TaskInfo> Client::get_task(const std::string& id) { return impl_->get_task(id); }

Result<TaskInfo> Client::wait(const std::string& id, std::chrono::milliseconds timeout) {
  return impl_->wait(id, timeout);
}

Result<std::vector<QueueInfo>> Client::queue_stats(const std::vector<std::string>& queues) {
  return impl_->queue_stats(queues);
}

Result<RevokeOutcome> Client::revoke(const std::string& id) { return impl_->revoke(id); }

Result<PurgeOutcome> Client::purge(const std::string& queue, uint32_t limit) {
  return impl_->purge(queue, limit);
}

Result<std::vector<TaskInfo>> Client::dead_list(const std::string& queue, uint32_t limit) {
  return impl_->dead_list(queue, limit);
}

Result<DeadOpOutcome> Client::dead_requeue(const std::vector<std::string>& ids) {
  return impl_->dead_requeue(ids, false, "", 0);
}

Result<DeadOpOutcome> Client::dead_requeue_all(const std::string& queue, uint32_t limit) {
  return impl_->dead_requeue({}, true, queue, limit);
}

Result<DeadOpOutcome> Client::dead_delete(const std::vector<std::string>& ids) {
  return impl_->dead_delete(ids, false, "", 0);
}

Result<DeadOpOutcome> Client::dead_delete_all(const std::string& queue, uint32_t limit) {
  return impl_->dead_delete({}, true, queue, limit);
}

Result<TaskListing> Client::list_tasks(const std::string& queue, std::optional<TaskState> state,
                                       uint32_t limit) {
  return impl_->list_tasks(queue, state, limit);
}

Result<std::vector<WorkerInfo>> Client::workers() { return impl_->workers(); }

Result<ServerStats> Client::server_stats() { return impl_->server_stats(); }

Status Client::ping() { return impl_->ping(); }

bool Client::connected() const { return impl_->connected(); }

}  // namespace brokerd
