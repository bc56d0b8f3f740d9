// Worker::Impl's supervisor thread: heartbeats, time limits, reconnection, and the
// graceful drain.

#include <algorithm>
#include <utility>

#include "log.h"
#include "task_runner.h"
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

Worker::Impl::Clock::time_point Worker::Impl::next_wake(Clock::time_point next_heartbeat) const {
  const std::optional<Clock::time_point> limit = deliveries_.next_time_limit();
  return limit ? std::min(*limit, next_heartbeat) : next_heartbeat;
}

void Worker::Impl::supervise() {
  Clock::time_point next_heartbeat = Clock::now() + heartbeat_interval();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_requested_) {
    if (connection_lost_) {
      // The runs of the lost connection report nothing, so their limits do not matter
      // while reconnecting; those of an earlier connection do not either.
      lock.unlock();
      reconnect();
      next_heartbeat = Clock::now() + heartbeat_interval();
      lock.lock();
      continue;
    }
    const Clock::time_point wake = next_wake(next_heartbeat);
    // A run that starts meanwhile may bring an earlier limit (run_handlers() notifies).
    cv_.wait_until(lock, wake, [&] { return stop_requested_ || connection_lost_ || next_wake(next_heartbeat) < wake; });
    if (stop_requested_ || connection_lost_) continue;
    lock.unlock();
    enforce_time_limits();
    if (Clock::now() >= next_heartbeat) {
      send_heartbeat();
      next_heartbeat = Clock::now() + heartbeat_interval();
    }
    lock.lock();
  }
  lock.unlock();
  drain();
}

void Worker::Impl::enforce_time_limits() {
  for (const internal::LimitPassed& passed : deliveries_.enforce_time_limits(Clock::now())) {
    const std::string task = "task " + passed.name + "[" + passed.task_id + "]";
    const std::string limit = std::to_string(passed.limit.count()) + " ms";
    if (!passed.hard) {
      internal::log_warning(task + " passed its soft time limit (" + limit + "); stop_requested() is now true");
      continue;
    }
    internal::log_warning(task + " passed its hard time limit (" + limit +
                          "): FAILURE TimeLimitExceeded; the handler's thread stays busy until it returns");
    v1::Delivery delivery;
    delivery.set_task_id(passed.task_id);
    delivery.set_lease_id(passed.lease_id);
    delivery.set_name(passed.name);
    report(passed.generation, internal::time_limit_exceeded(delivery, passed.limit));
  }
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
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (connection_lost_) return;
    connection = connection_;
    generation = generation_;
  }
  if (!connection) return;
  // Name every task held, so that the reply can say which leases are lost. With none
  // held no heartbeat is sent: an empty list would mean "every lease", and this worker
  // wants none of the others extended (e.g. deliveries refused while stopping). The
  // Connection's keepalive keeps an idle connection open.
  std::vector<internal::HeldLease> held = deliveries_.held(generation);
  if (held.empty()) return;
  v1::Envelope envelope;
  v1::Heartbeat* heartbeat = envelope.mutable_heartbeat();
  for (const internal::HeldLease& lease : held) heartbeat->add_task_ids(lease.task_id);
  connection->send(std::move(envelope), [this, generation, held = std::move(held)](Result<v1::Envelope> reply) {
    on_heartbeat_reply(generation, held, std::move(reply));
  });
}

void Worker::Impl::on_heartbeat_reply(uint64_t generation, const std::vector<internal::HeldLease>& named,
                                      Result<v1::Envelope> reply) {
  reply = internal::expect_body(std::move(reply), v1::Envelope::kHeartbeatOk, "Heartbeat");
  if (!reply.ok()) {
    if (reply.status().code() != ErrorCode::kUnavailable) {
      internal::log_warning("heartbeat failed: " + reply.status().to_string());
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) return;  // that connection's leases are gone already
  }
  for (const std::string& task_id : reply->heartbeat_ok().lost_task_ids()) {
    // By the lease this heartbeat named, not by task id alone: a newer lease of the same
    // task (delivered after the heartbeat left) is not the one the broker reports lost.
    for (const internal::HeldLease& lease : named) {
      if (lease.task_id != task_id) continue;
      switch (deliveries_.lose(lease.task_id, lease.lease_id)) {
        case internal::LeaseMatch::kDropped:
          internal::log_warning("the broker took back the lease of task " + task_id +
                                " before it started; dropped");
          break;
        case internal::LeaseMatch::kRunning:
          internal::log_warning("the broker took back the lease of task " + task_id +
                                " while it ran; stop_requested() is now true and its outcome will not be reported");
          break;
        case internal::LeaseMatch::kNone:
          break;  // finished meanwhile; its Complete is answered STALE_LEASE
      }
    }
  }
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
  //    Keep heartbeating meanwhile (a handler may run longer than a lease), and keep
  //    enforcing time limits.
  deliveries_.close();
  Clock::time_point next_heartbeat = Clock::now() + heartbeat_interval();
  while (!deliveries_.wait_idle_until(next_wake(next_heartbeat))) {
    enforce_time_limits();
    if (Clock::now() >= next_heartbeat) {
      send_heartbeat();
      next_heartbeat = Clock::now() + heartbeat_interval();
    }
  }
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
