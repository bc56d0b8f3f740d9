#include "net/broker_server.h"

#include <charconv>

#include "commit/committer.h"

#include <spdlog/spdlog.h>

namespace brokerd::server {

bool split_host_port(const std::string& text, std::string& host, uint16_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned value = 0;
  const char* first = text.data() + colon + 1;
  const char* last = text.data() + text.size();
  auto [end, error] = std::from_chars(first, last, value);
  if (error != std::errc() || end != last || value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

BrokerServer::BrokerServer(asio::io_context& io, SessionContext& sessions, int64_t stats_log_interval_ms)
    : io_(io),
      sessions_(sessions),
      acceptor_(io),
      timer_strand_(asio::make_strand(io)),
      timer_(timer_strand_),
      accept_backoff_(io),
      stats_log_interval_ms_(stats_log_interval_ms),
      next_stats_log_(std::chrono::steady_clock::now() + std::chrono::milliseconds(stats_log_interval_ms)) {}

Status BrokerServer::listen(const std::string& host_port) {
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(host_port, host, port)) {
    return Status::InvalidArgument("listen address '" + host_port + "' is not HOST:PORT");
  }
  asio::error_code error;
  const asio::ip::address address = asio::ip::make_address(host, error);
  if (error) return Status::InvalidArgument("listen host '" + host + "' is not an IP address");
  const asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) return Status::Internal("cannot listen on " + host_port + ": " + error.message());
  return Status::Ok();
}

void BrokerServer::start() {
  accept_next();
  asio::post(timer_strand_, [this] { on_timer(); });
  sessions_.engine.set_wakeup_hook([this](int64_t) {
    // Something is due earlier than the armed timer knows: wake it to recompute.
    asio::post(timer_strand_, [this] { timer_.cancel(); });
  });
}

void BrokerServer::accept_next() {
  acceptor_.async_accept(asio::make_strand(io_), [this](const asio::error_code& error, asio::ip::tcp::socket socket) {
    if (stopping_) return;
    if (error) {
      // Out of descriptors or similar: back off instead of spinning on the error.
      spdlog::warn("accept failed: {}; retrying in 100 ms", error.message());
      accept_backoff_.expires_after(std::chrono::milliseconds(100));
      accept_backoff_.async_wait([this](const asio::error_code&) {
        if (!stopping_) accept_next();
      });
      return;
    }
    asio::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    if (sessions_.open_connections.load(std::memory_order_relaxed) >= sessions_.max_connections) {
      refuse(std::move(socket));
      accept_next();
      return;
    }
    uint64_t id = 0;
    std::shared_ptr<Session> session;
    {
      std::lock_guard lock(sessions_mutex_);
      id = next_session_id_++;
      wire::Transport transport = sessions_.tls != nullptr ? wire::Transport(std::move(socket), *sessions_.tls)
                                                     : wire::Transport(std::move(socket));
      session = std::make_shared<Session>(std::move(transport), sessions_, id);
      live_sessions_[id] = session;
      if (id % 256 == 0) std::erase_if(live_sessions_, [](const auto& entry) { return entry.second.expired(); });
    }
    session->start();
    accept_next();
  });
}

void BrokerServer::refuse(asio::ip::tcp::socket socket) {
  // Logged sparingly: a connection storm must not become a log storm.
  if (refused_log_.should_log()) {
    spdlog::warn("max_connections ({}) reached: refusing new connections ({} so far)", sessions_.max_connections,
                 refused_log_.count());
  }
  auto held = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
  if (sessions_.tls != nullptr) {
    // A TLS client could only read the error after a handshake we do not want to pay for.
    asio::error_code ignored;
    held->close(ignored);
    return;
  }
  // A plain client hears why before the close; the write is one small frame into an
  // empty socket buffer, so it does not wait on the peer.
  v1::Envelope error;
  error.mutable_error()->set_code(v1::RESOURCE_EXHAUSTED);
  error.mutable_error()->set_message("brokerd has max_connections (" + std::to_string(sessions_.max_connections) +
                                     ") open connections; retry later");
  auto frame = std::make_shared<std::string>(wire::encode_frame(error));
  asio::async_write(*held, asio::buffer(*frame), [held, frame](const asio::error_code&, size_t) {
    asio::error_code ignored;
    held->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    held->close(ignored);
  });
}

void BrokerServer::arm_timer(int64_t delay_ms) {
  timer_.expires_after(std::chrono::milliseconds(delay_ms));
  timer_.async_wait([this](const asio::error_code&) {
    // A cancel (from the wakeup hook) also lands here: run the pass and re-arm.
    if (!stopping_) on_timer();
  });
}

void BrokerServer::on_timer() {
  const int64_t sleep_ms = sessions_.engine.run_timers(/*max_sleep_ms=*/1000);
  // What no client waits for (promotions, expiries, lost-lease counts, closed consumers'
  // requeues) still goes through group commit: ask for a sync of every write so far.
  if (const uint64_t written = sessions_.engine.last_written_ticket(); written > synced_by_timer_) {
    synced_by_timer_ = written;
    sessions_.committer.after_durable(written, [](bool) {});
  }
  if (stats_log_interval_ms_ > 0 && std::chrono::steady_clock::now() >= next_stats_log_) {
    next_stats_log_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(stats_log_interval_ms_);
    sessions_.committer.log_stats_since_last_call();
  }
  arm_timer(std::max<int64_t>(sleep_ms, 1));
}

void BrokerServer::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(io_, [this] {
    asio::error_code ignored;
    acceptor_.close(ignored);
    accept_backoff_.cancel();
  });
  asio::post(timer_strand_, [this] { timer_.cancel(); });
  std::lock_guard lock(sessions_mutex_);
  for (auto& [id, weak] : live_sessions_) {
    if (auto session = weak.lock()) session->close();
  }
  live_sessions_.clear();
}

}  // namespace brokerd::server
