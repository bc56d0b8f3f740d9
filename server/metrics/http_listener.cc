#include "metrics/http_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <system_error>
#include <utility>

#include <httplib.h>

#include "metrics/bounded_task_queue.h"
#include "metrics/connection_stream.h"
#include "metrics/prometheus_text.h"

namespace brokerd::server::metrics {
namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";

bool is_served_path(const std::string& path) { return path == "/metrics" || path == "/healthz" || path == "/readyz"; }

bool is_served(const httplib::Request& req) {
  return is_served_path(req.path) && (req.method == "GET" || req.method == "HEAD");
}

}  // namespace

// httplib's parsing, routing and response writing, with two parts replaced:
//  - the connection loop (process_and_close_socket, which httplib declares virtual): it
//    reads through a ConnectionStream, so a request head is bounded in bytes and time,
//    and waiting for a request ends at once when the server stops;
//  - stopping: httplib::Server::stop() does nothing until the listener thread has entered
//    its accept loop, so a stop() right after start() could be lost. Clearing the
//    listening socket ourselves (svr_sock_ is protected) ends that loop whenever it gets
//    there. The descriptor is only shut down then, which wakes a blocked accept(); it is
//    closed once the loop has ended, so accept() never runs on a reused number.
class MetricsHttpServer::Server final : public httplib::Server {
 public:
  explicit Server(const MetricsHttpLimits& limits)
      : limits_(limits), stop_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Server() override {
    close_listener();
    if (stop_fd_ >= 0) ::close(stop_fd_);
  }

  bool has_stop_fd() const { return stop_fd_ >= 0; }

  void stop_listening() {
    const uint64_t one = 1;  // an eventfd stays readable once written: every wait wakes
    [[maybe_unused]] const ssize_t n = ::write(stop_fd_, &one, sizeof(one));
    const socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock == INVALID_SOCKET) return;
    ::shutdown(sock, SHUT_RDWR);
    stopped_listener_ = sock;
  }

  void close_listener() {
    stop_listening();
    if (stopped_listener_ != INVALID_SOCKET) ::close(stopped_listener_);
    stopped_listener_ = INVALID_SOCKET;
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    ConnectionStream stream(sock, stop_fd_);
    for (size_t served = 0; served < limits_.max_requests_per_connection; ++served) {
      if (!stream.wait_for_request(limits_.idle_timeout)) break;
      stream.begin_request(limits_.max_request_head_bytes, limits_.request_timeout, limits_.response_timeout);
      const bool last = served + 1 == limits_.max_requests_per_connection;
      bool refused = false;
      bool client_closes = false;
      const bool answered = process_request(stream, last, client_closes, [&](httplib::Request& req) {
        // A refused request's body is never read (see the pre-routing handler), so the
        // connection cannot carry another request. Marking the request "Connection:
        // close" makes httplib say so in the response instead of offering keep-alive.
        refused = !is_served(req);
        if (refused) {
          req.headers.erase("Connection");
          req.headers.emplace("Connection", "close");
        }
      });
      if (!answered || client_closes || refused || !stream.reusable()) break;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return true;
  }

  const MetricsHttpLimits limits_;
  const int stop_fd_;
  socket_t stopped_listener_ = INVALID_SOCKET;
};

namespace {

bool is_ip_address(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

std::string format_address(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

void reply(httplib::Response& res, int status, const char* body) {
  res.status = status;
  res.set_content(body, kTextPlain);
}

// httplib's default binds with SO_REUSEPORT, which would let a second brokerd (or any
// process of the same user) bind the same port and silently take part of the scrapes.
// SO_REUSEADDR alone still allows a restart while old connections sit in TIME_WAIT.
void listener_socket_options(socket_t sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  ::fcntl(sock, F_SETFD, FD_CLOEXEC);
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(MetricsCallback metrics, ReadinessCallback ready, MetricsHttpLimits limits)
    : metrics_(std::move(metrics)), ready_(std::move(ready)), limits_(limits) {
  limits_.threads = std::max<size_t>(limits_.threads, 1);
  limits_.max_pending_connections = std::max<size_t>(limits_.max_pending_connections, 1);
  limits_.max_requests_per_connection = std::max<size_t>(limits_.max_requests_per_connection, 1);
}

MetricsHttpServer::~MetricsHttpServer() { stop(); }

Status MetricsHttpServer::start(const std::string& host, uint16_t port) {
  const std::string address = format_address(host, port);
  if (server_) {
    return Status::Internal("cannot listen for metrics on " + address + ": already listening on port " +
                            std::to_string(port_));
  }
  // Like the broker's --listen: an IP address, so that no name lookup decides the family.
  if (!is_ip_address(host)) return Status::InvalidArgument("metrics host '" + host + "' is not an IP address");

  auto server = std::make_unique<Server>(limits_);
  if (!server->has_stop_fd()) {
    return Status::Internal("cannot listen for metrics on " + address + ": eventfd: " + std::strerror(errno));
  }
  const MetricsHttpLimits limits = limits_;
  server->new_task_queue = [limits] { return new BoundedTaskQueue(limits.threads, limits.max_pending_connections); };
  // Only for the Keep-Alive header httplib writes; the connection loop enforces them.
  server->set_keep_alive_max_count(limits.max_requests_per_connection);
  server->set_keep_alive_timeout(std::chrono::duration_cast<std::chrono::seconds>(limits.idle_timeout).count());
  server->set_payload_max_length(limits.max_request_head_bytes);  // never reached: no body is read
  server->set_socket_options(listener_socket_options);

  // Decides every request before httplib would read a body (it does for POST and the
  // like, with a handler or not): only GET and HEAD on our paths reach the handlers below.
  server->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (is_served(req)) return httplib::Server::HandlerResponse::Unhandled;
    if (is_served_path(req.path)) {
      res.set_header("Allow", "GET, HEAD");
      reply(res, 405, "method not allowed");
    } else {
      reply(res, 404, "not found");
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  // Replaces httplib's default, which would put the exception's message in a header.
  server->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    reply(res, 500, "internal error");
  });
  server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(metrics_ ? metrics_() : std::string(), std::string(kPrometheusTextContentType));
  });
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { reply(res, 200, "ok"); });
  server->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (ready_ && ready_()) {
      reply(res, 200, "ready");
    } else {
      reply(res, 503, "not ready");
    }
  });

  errno = 0;
  const int bound = port == 0 ? server->bind_to_any_port(host) : (server->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    const int error = errno;
    return Status::Internal("cannot listen for metrics on " + address +
                            (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
  }

  // The listener thread, and the request threads it starts, block every signal: brokerd
  // takes SIGINT, SIGTERM and SIGHUP through asio without SA_RESTART, and httplib treats
  // an accept() interrupted by a signal (EINTR) as fatal, ending the listener for good.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    listener_ = std::thread([server = server.get()] { server->listen_after_bind(); });
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return Status::Internal("cannot start the metrics listener on " + address + ": " + e.what());
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  server_ = std::move(server);
  port_ = static_cast<uint16_t>(bound);
  return Status::Ok();
}

void MetricsHttpServer::stop() {
  if (!server_) return;
  server_->stop_listening();
  if (listener_.joinable()) listener_.join();
  server_.reset();  // closes the listening socket
  port_ = 0;
}

}  // namespace brokerd::server::metrics
