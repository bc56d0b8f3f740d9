// The listening side of brokerd: accepts connections into Sessions, runs the engine's
// timer loop, and closes everything on shutdown.
//
// Threading: runs on the shared io_context; accept and timer handlers each have a strand.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <asio.hpp>

#include "common/status.h"
#include "logging/log_throttle.h"
#include "net/session.h"

namespace brokerd::server {

class BrokerServer {
 public:
  // Every `stats_log_interval_ms` (0 = never) the committer's statistics are logged.
  BrokerServer(asio::io_context& io, SessionContext& sessions, int64_t stats_log_interval_ms = 0);

  // Binds HOST:PORT (port 0 picks a free one).
  Status listen(const std::string& host_port);
  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

  void start();
  // Stops accepting, closes every session (their leased tasks go back to the queues)
  // and stops the timer loop. Thread-safe.
  void stop();

 private:
  void accept_next();
  // Past max_connections: tells the peer RESOURCE_EXHAUSTED (plain TCP) and closes.
  void refuse(asio::ip::tcp::socket socket);
  void arm_timer(int64_t delay_ms);
  void on_timer();

  asio::io_context& io_;
  SessionContext& sessions_;
  asio::ip::tcp::acceptor acceptor_;
  asio::strand<asio::io_context::executor_type> timer_strand_;
  asio::steady_timer timer_;
  asio::steady_timer accept_backoff_;
  std::atomic<bool> stopping_{false};
  LogThrottle refused_log_;  // connections refused at max_connections
  const int64_t stats_log_interval_ms_;
  std::chrono::steady_clock::time_point next_stats_log_;  // timer strand only
  uint64_t synced_by_timer_ = 0;                          // timer strand only

  std::mutex sessions_mutex_;
  std::map<uint64_t, std::weak_ptr<Session>> live_sessions_;  // GUARDED_BY(sessions_mutex_)
  uint64_t next_session_id_ = 1;                              // GUARDED_BY(sessions_mutex_)
};

// Splits "HOST:PORT" ("[::1]:7411" for IPv6). False when malformed.
bool split_host_port(const std::string& text, std::string& host, uint16_t& port);

}  // namespace brokerd::server
