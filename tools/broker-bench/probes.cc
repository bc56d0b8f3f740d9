#include "probes.h"

#include "raw_connection.h"

namespace broker_bench {

bool ping_once(const Endpoint& endpoint, int timeout_ms, std::string& error) {
  auto connection = RawConnection::open(endpoint, "broker-bench-probe", timeout_ms, error);
  if (!connection) return false;
  v1::Envelope ping;
  ping.mutable_ping()->set_payload("broker-bench");
  v1::Envelope reply;
  if (!connection->call(ping, reply, timeout_ms)) {
    error = connection->error();
    return false;
  }
  if (!reply.has_pong()) {
    error = "ping answered with " + (reply.has_error() ? reply.error().message() : std::string("something else"));
    return false;
  }
  return true;
}

std::optional<v1::QueueStats> queue_stats(const Endpoint& endpoint, const std::string& queue, std::string& error) {
  constexpr int kTimeoutMs = 30'000;
  auto connection = RawConnection::open(endpoint, "broker-bench-probe", kTimeoutMs, error);
  if (!connection) return std::nullopt;
  v1::Envelope request;
  request.mutable_get_queue_stats()->add_queues(queue);
  v1::Envelope reply;
  if (!connection->call(request, reply, kTimeoutMs)) {
    error = connection->error();
    return std::nullopt;
  }
  for (const v1::QueueStats& stats : reply.queue_stats().queues()) {
    if (stats.name() == queue) return stats;
  }
  error = reply.has_error() ? reply.error().message() : "queue " + queue + " not in the reply";
  return std::nullopt;
}

}  // namespace broker_bench
