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

  std::unique_ptr<Connection> connection_;
};

Result<std::unique_ptr<Client>> Client::connect(const ClientOptions& options) {
  internal::ConnectionOptions connection_options;
  connection_options.server = options.server;
  connection_options.client_name = options.client_name;
  connection_options.connect_timeout = options.connect_timeout;
  connection_options.request_timeout = options.request_timeout;
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

Status Client::ping() { return impl_->ping(); }

bool Client::connected() const { return impl_->connected(); }

}  // namespace brokerd
