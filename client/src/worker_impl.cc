// Worker::Impl: lifecycle, the connection and its callbacks, and the handler threads.
// The supervisor thread (heartbeats, reconnects, drain) is in worker_supervisor.cc.

#include "worker_impl.h"

#include <algorithm>
#include <utility>

#include "log.h"
#include "task_runner.h"
#include "wire_errors.h"

namespace brokerd {

using internal::Connection;

namespace {

// The Worker whose handler is running on this thread, if any: stop() called from a
// handler must not wait for that very handler to finish.
thread_local const Worker::Impl* current_worker = nullptr;

}  // namespace

Worker::Impl::Impl(WorkerOptions options)
    : options_(std::move(options)),
      concurrency_(std::max(1u, options_.concurrency)),
      prefetch_(options_.prefetch == 0 ? concurrency_ : options_.prefetch),
      deliveries_(internal::TimeLimits{options_.soft_time_limit, options_.time_limit}),
      lease_(options_.lease) {
  connection_options_.server = options_.server;
  connection_options_.client_name = options_.name;
  connection_options_.security = options_.security;
}

Worker::Impl::~Impl() { stop(); }

void Worker::Impl::register_task(const std::string& name, TaskHandler handler) {
  std::unique_lock<std::shared_mutex> lock(handlers_mu_);
  handlers_[name] = std::move(handler);
}

Status Worker::Impl::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return Status(ErrorCode::kInvalidArgument, "worker already started");
    if (stop_requested_) return Status(ErrorCode::kInvalidArgument, "worker was stopped");
    started_ = true;
  }
  if (Status s = connect_and_consume(); !s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = false;  // nothing is running; start() may be tried again
    return s;
  }
  handler_threads_.reserve(concurrency_);
  for (unsigned i = 0; i < concurrency_; ++i) handler_threads_.emplace_back([this] { run_handlers(); });
  supervisor_ = std::thread([this] { supervise(); });
  return Status::Ok();
}

Status Worker::Impl::run() {
  if (Status s = start(); !s.ok()) return s;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_requested_.load(); });
  }
  stop();
  return Status::Ok();
}

void Worker::Impl::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
  }
  cv_.notify_all();
  // From a handler: the supervisor drains; run() or the destructor joins later.
  if (current_worker == this) return;

  std::lock_guard<std::mutex> join_lock(join_mu_);
  if (supervisor_.joinable()) supervisor_.join();  // returns once drained
  deliveries_.close();  // already closed by the drain, unless start() never succeeded
  for (std::thread& t : handler_threads_) t.join();
  handler_threads_.clear();
  std::shared_ptr<Connection> last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = std::move(connection_);
  }
  // `last` closes here, on this thread, never on its own I/O thread.
}

// ---- connection ----

v1::Envelope Worker::Impl::consume_request(uint32_t prefetch) const {
  v1::Envelope envelope;
  v1::Consume* consume = envelope.mutable_consume();
  for (const std::string& queue : options_.queues) consume->add_queues(queue);
  consume->set_prefetch(prefetch);
  consume->set_lease_ms(options_.lease.count());
  return envelope;
}

Status Worker::Impl::connect_and_consume() {
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation = ++generation_;
  }
  Connection::Handlers handlers;
  handlers.on_delivery = [this, generation](v1::Delivery delivery) {
    on_delivery(generation, std::move(delivery));
  };
  handlers.on_push = [this, generation](v1::Envelope push) { on_push(generation, push); };
  handlers.on_loss = [this, generation](const Status& status) {
    on_connection_lost(generation, status);
  };
  Result<std::unique_ptr<Connection>> opened = Connection::open(connection_options_, std::move(handlers));
  if (!opened.ok()) return opened.status();
  std::shared_ptr<Connection> connection = std::move(opened).value();
  {
    // Current before Consume is sent: a fast handler may report before ConsumeOk lands.
    std::lock_guard<std::mutex> lock(mu_);
    if (generation_ != generation) return Status(ErrorCode::kUnavailable, "connection lost");
    connection_ = connection;
    connection_lost_ = false;
  }
  Result<v1::Envelope> reply = internal::expect_body(connection->call(consume_request(prefetch_)),
                                                     v1::Envelope::kConsumeOk, "Consume");
  std::lock_guard<std::mutex> lock(mu_);
  if (!reply.ok()) {
    if (connection_ == connection) {
      ++generation_;  // deliveries that slipped in before the failure are void
      connection_.reset();
    }
    deliveries_.lose_generation(generation);
    return reply.status();  // `connection` closes on return, on this thread
  }
  const int64_t lease_ms = reply->consume_ok().lease_ms();
  lease_ = lease_ms > 0 ? std::chrono::milliseconds(lease_ms) : options_.lease;
  return Status::Ok();
}

void Worker::Impl::on_delivery(uint64_t generation, v1::Delivery delivery) {
  // Under mu_, so that a loss of this connection cannot fall between the check and the
  // push and leave a delivery of a dead connection waiting.
  std::lock_guard<std::mutex> lock(mu_);
  if (generation != generation_) return;  // leased to a connection already given up
  // Refused once stopping; the broker requeues it when the connection closes.
  deliveries_.push({std::move(delivery), generation});
}

void Worker::Impl::on_push(uint64_t generation, const v1::Envelope& push) {
  if (!push.has_revoke_notice()) {
    internal::log_warning("ignoring an unexpected push frame (body field " +
                          std::to_string(static_cast<int>(push.body_case())) + ")");
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) return;  // that connection's leases are gone already
  }
  const v1::RevokeNotice& notice = push.revoke_notice();
  switch (deliveries_.revoke(notice.task_id(), notice.lease_id())) {
    case internal::LeaseMatch::kDropped:
      internal::log_notice("task " + notice.task_id() + " was revoked before it started");
      break;
    case internal::LeaseMatch::kRunning:
      internal::log_notice("task " + notice.task_id() +
                           " was revoked while running; its outcome will not be reported");
      break;
    case internal::LeaseMatch::kNone:
      break;  // it finished meanwhile; the broker answers (or answered) STALE_LEASE
  }
}

void Worker::Impl::on_connection_lost(uint64_t generation, const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) return;
    ++generation_;
    connection_lost_ = true;
    // The broker requeued every task this connection held: none of them may start here,
    // and the handlers running them are told to stop.
    deliveries_.lose_generation(generation);
  }
  if (!stop_requested_) internal::log_warning(status.to_string() + "; reconnecting");
  cv_.notify_all();
}

// ---- handler threads ----

void Worker::Impl::run_handlers() {
  current_worker = this;
  while (std::optional<internal::QueuedDelivery> item = deliveries_.pop()) {
    // Stopping: start nothing new; the broker requeues it when the connection closes.
    if (!stop_requested_) {
      const v1::Delivery& delivery = item->delivery;
      if (delivery.time_limit_ms() > 0 || delivery.soft_time_limit_ms() > 0 || options_.time_limit.count() > 0 ||
          options_.soft_time_limit.count() > 0) {
        // The supervisor may be asleep until a later time: make it look at this run's limits.
        { std::lock_guard<std::mutex> lock(mu_); }
        cv_.notify_all();
      }
      TaskHandler handler;
      {
        std::shared_lock<std::shared_mutex> lock(handlers_mu_);
        auto it = handlers_.find(delivery.name());
        if (it != handlers_.end()) handler = it->second;
      }
      v1::Complete complete =
          internal::run_task(delivery, handler ? &handler : nullptr, stop_requested_, item->flags.get());
      const std::string task = "task " + delivery.name() + "[" + delivery.task_id() + "]";
      switch (deliveries_.settle(*item)) {
        case internal::RunEnd::kReport:
          report(item->generation, std::move(complete));
          break;
        case internal::RunEnd::kRevoked:
          break;  // the broker has made it REVOKED and refuses the outcome (logged at the notice)
        case internal::RunEnd::kLeaseLost:
          internal::log_warning(task + " finished after the broker took its lease back; it runs again "
                                       "elsewhere, so this outcome is not reported");
          break;
        case internal::RunEnd::kTimedOut:
          internal::log_warning(task + "'s handler returned after its hard time limit; TimeLimitExceeded "
                                       "was reported, this outcome is dropped");
          break;
      }
    }
    deliveries_.finish(*item);  // after report(): the drain counts the Complete before it waits
  }
  current_worker = nullptr;
}

void Worker::Impl::report(uint64_t generation, v1::Complete complete) {
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation == generation_ && !connection_lost_ && connection_) {
      connection = connection_;
      ++outstanding_completes_;
    }
  }
  if (!connection) {
    internal::log_warning("task " + complete.task_id() +
                          " finished after its lease was lost with the connection; the broker "
                          "has requeued it, so this outcome is not reported");
    return;
  }
  const std::string task_id = complete.task_id();
  const bool time_limit = complete.has_failure() && complete.failure().error().type() == "TimeLimitExceeded";
  v1::Envelope envelope;
  *envelope.mutable_complete() = std::move(complete);
  connection->send(std::move(envelope), [this, task_id, time_limit](Result<v1::Envelope> reply) {
    on_complete_reply(task_id, time_limit, std::move(reply));
  });
}

void Worker::Impl::on_complete_reply(const std::string& task_id, bool time_limit, Result<v1::Envelope> reply) {
  reply = internal::expect_body(std::move(reply), v1::Envelope::kCompleteOk, "Complete");
  if (reply.ok()) {
    ++completed_;
  } else if (reply.status().code() == ErrorCode::kStaleLease && time_limit) {
    // A producer's time limit: the broker ends the lease at delivery + the limit, a moment
    // before this worker's count (from the handler's start) runs out. Same outcome.
    internal::log_notice("task " + task_id + " had already been ended by the broker at its time limit");
  } else if (reply.status().code() == ErrorCode::kStaleLease) {
    // The lease expired (a handler outran it without heartbeats reaching the broker) and
    // the task went to another attempt; that attempt's outcome is the one that counts.
    internal::log_warning("outcome of task " + task_id + " ignored by the broker: " +
                          reply.status().to_string());
  } else if (reply.status().code() != ErrorCode::kUnavailable) {
    internal::log_warning("reporting task " + task_id + " failed: " + reply.status().to_string());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    --outstanding_completes_;
  }
  cv_.notify_all();
}

}  // namespace brokerd
