// The HTTP endpoint Prometheus and orchestrators poll, beside brokerd's own protocol port:
//
//   GET /metrics  200, the text exposition from the metrics callback
//                 (Content-Type: text/plain; version=0.0.4; charset=utf-8)
//   GET /healthz  200 "ok" while the process serves at all (liveness)
//   GET /readyz   200 "ready" while the readiness callback says so, else 503 "not ready"
//
// HEAD is answered like GET without a body; any other method on those paths is 405 (with
// Allow), any other path 404. Built on cpp-httplib (libcpp-httplib-dev) for parsing and
// answering, with our own connection loop (metrics/connection_stream.h): it listens on
// whatever network the operator points it at, so everything a client controls is bounded
// (threads, connections waiting for one, bytes and time per request, requests per
// connection), a request body is never read, and stop() does not wait for idle clients.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace brokerd::server::metrics {

struct MetricsHttpLimits {
  // Requests handled at once. A connection holds its thread from accept to close, so
  // this is also how many slow or idle clients it takes to delay the others.
  size_t threads = 4;
  size_t max_pending_connections = 16;  // accepted, waiting for a thread; then accept() pauses
  size_t max_request_head_bytes = 16 * 1024;  // request line + headers; more is a 400 and a close
  std::chrono::milliseconds request_timeout{5000};   // to receive one request head, once it starts
  std::chrono::milliseconds response_timeout{5000};  // to send one response
  std::chrono::milliseconds idle_timeout{2000};      // a connection's wait for its (next) request
  // 1: no keep-alive. A scrape every 15 s gains nothing from keeping its connection, and
  // an idle kept connection would hold one of the few threads.
  size_t max_requests_per_connection = 1;
};

class MetricsHttpServer {
 public:
  // Called on the server's threads, up to `threads` at once: both must be thread-safe.
  // An exception from either answers 500 without its message. An empty `metrics` serves
  // an empty exposition; an empty `ready` means never ready.
  using MetricsCallback = std::function<std::string()>;
  using ReadinessCallback = std::function<bool()>;

  MetricsHttpServer(MetricsCallback metrics, ReadinessCallback ready, MetricsHttpLimits limits = {});
  ~MetricsHttpServer();  // stop()
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds host:port (port 0 picks a free one, see port()) and serves on its own threads.
  // Clients may connect as soon as it returns. The error names the address, e.g. when the
  // port is in use (another process cannot share it: no SO_REUSEPORT) or already started.
  Status start(const std::string& host, uint16_t port);
  // The bound port while started, else 0.
  uint16_t port() const { return port_; }
  // Stops accepting and reading; a request already read still gets its answer (its
  // callback's run, then at most response_timeout to send). Then closes every connection
  // and joins every thread. Idempotent; start() may follow. start() and stop() are for
  // one thread (the owner's), not to be called concurrently.
  void stop();

 private:
  class Server;  // an httplib::Server, defined in http_listener.cc

  MetricsCallback metrics_;
  ReadinessCallback ready_;
  MetricsHttpLimits limits_;
  std::unique_ptr<Server> server_;
  std::thread listener_;
  uint16_t port_ = 0;
};

}  // namespace brokerd::server::metrics
