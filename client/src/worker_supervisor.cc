// Worker::Impl's supervisor thread: heartbeats, reconnection, and the graceful drain.

#include <algorithm>
#include <utility>

#include "log.h"
#include "wire_errors.h"
#include "worker_impl.h"

namespace brokerd {

using internal::Connection;

namespace {

constexpr std::chrono::milliseconds kFirstReconnectDelay{100};
// Pausing deliveries at stop is a courtesy; do not let a wedged broker hold stop() long.
constexpr std::chrono::milliseconds kPauseTimeout{5000};
// How long stop() waits for the broker to confirm the outcomes of the last handlers.
constexpr std::chrono::milliseconds kFinalCompleteTimeout{10000};

}  // namespace

std::chrono::milliseconds Worker::Impl::heartbeat_interval() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::max(std::chrono::milliseconds(100), lease_ / 3);
}

void Worker::Impl::supervise() {
  Clock::time_point next_heartbeat = Clock::now() + heartbeat_interval();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_requested_) {
    if (connection_lost_) {
      lock.unlock();
      reconnect();
      next_heartbeat = Clock::now() + heartbeat_interval();
      lock.lock();
      continue;
    }
    cv_.wait_until(lock, next_heartbeat, [&] { return stop_requested_ || connection_lost_; });
    if (stop_requested_ || connection_lost_ || Clock::now() < next_heartbeat) continue;
    lock.unlock();
    send_heartbeat();
    next_heartbeat = Clock::now() + heartbeat_interval();
    lock.lock();
  }
  lock.unlock();
  drain();
}

void Worker::Impl::reconnect() {
  std::shared_ptr<Connection> lost;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lost = std::move(connection_);
  }
  lost.reset();  // joins its I/O thread, here rather than on it

  std::chrono::milliseconds delay = kFirstReconnectDelay;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, delay, [&] { return stop_requested_.load(); })) return;
    }
    const Status status = connect_and_consume();
    if (status.ok()) {
      internal::log_notice("reconnected to " + options_.server);
      return;
    }
    delay = std::min(delay * 2, std::max(kFirstReconnectDelay, options_.reconnect_backoff_max));
    internal::log_warning("reconnect failed: " + status.to_string() + "; retrying in " +
                          std::to_string(delay.count()) + " ms");
  }
}

void Worker::Impl::send_heartbeat() {
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (connection_lost_) return;
    connection = connection_;
  }
  if (!connection) return;
  // Empty task_ids extends every lease this connection holds, so there is nothing to
  // track here; a lost lease surfaces as STALE_LEASE when the task completes.
  v1::Envelope envelope;
  envelope.mutable_heartbeat();
  connection->send(std::move(envelope), [](Result<v1::Envelope> reply) {
    reply = internal::expect_body(std::move(reply), v1::Envelope::kHeartbeatOk, "Heartbeat");
    if (!reply.ok() && reply.status().code() != ErrorCode::kUnavailable) {
      internal::log_warning("heartbeat failed: " + reply.status().to_string());
    }
  });
}

void Worker::Impl::drain() {
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!connection_lost_) connection = connection_;
  }
  // 1. Stop new deliveries. Ones already pushed are dropped below and requeued by the
  //    broker when the connection closes.
  if (connection) {
    Result<v1::Envelope> reply = internal::expect_body(
        connection->call(consume_request(0), kPauseTimeout), v1::Envelope::kConsumeOk, "Consume");
    if (!reply.ok() && reply.status().code() != ErrorCode::kUnavailable) {
      internal::log_warning("pausing deliveries at stop failed: " + reply.status().to_string());
    }
  }
  // 2. Drop what has not started; let running handlers finish and send their outcomes.
  //    Keep heartbeating meanwhile: a handler may run longer than a lease.
  deliveries_.close();
  while (!deliveries_.wait_idle_for(heartbeat_interval())) send_heartbeat();
  // 3. Wait, bounded, for the broker to confirm those outcomes.
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, kFinalCompleteTimeout, [&] { return outstanding_completes_ == 0; })) {
      internal::log_warning(std::to_string(outstanding_completes_) +
                            " task outcome(s) unconfirmed by the broker at stop");
    }
  }
  // 4. Close. The handler threads are idle, so this is the last reference. It is
  //    destroyed outside mu_: closing runs callbacks that take mu_.
  {
    std::lock_guard<std::mutex> lock(mu_);
    connection = std::move(connection_);
  }
  connection.reset();
}

}  // namespace brokerd
