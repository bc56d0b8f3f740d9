// MetricsHttpServer on 127.0.0.1:0, through httplib::Client and raw sockets: the three
// endpoints, what it refuses, bind errors, and stop() with requests and connections open.
#include "metrics/http_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "metrics/prometheus_text.h"

namespace brokerd::server::metrics {
namespace {

constexpr const char* kLocalhost = "127.0.0.1";

httplib::Client client_for(const MetricsHttpServer& server) {
  httplib::Client client(kLocalhost, server.port());
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(10));
  return client;
}

// A TCP connection to 127.0.0.1:port, or -1. Reads give up after 10 s, so a test fails
// rather than hangs.
int connect_raw(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, kLocalhost, &address.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` as is and returns everything the server sends until it closes the
// connection (a reset after the data counts as a close).
std::string exchange_raw(uint16_t port, const std::string& request) {
  const int fd = connect_raw(port);
  if (fd < 0) return "connect failed";
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, static_cast<size_t>(n));
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) response += "<still open after 10 s>";
  ::close(fd);
  return response;
}

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  MetricsHttpServer server_{[] { return std::string("brokerd_up 1\n"); }, [this] { return ready_.load(); }};
  std::atomic<bool> ready_{false};

  void SetUp() override {
    const Status started = server_.start(kLocalhost, 0);
    ASSERT_TRUE(started.ok()) << started.message();
    ASSERT_NE(server_.port(), 0);
  }
};

TEST_F(MetricsHttpServerTest, ServesTheMetricsCallbackAsPrometheusText) {
  httplib::Client client = client_for(server_);
  const httplib::Result res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "brokerd_up 1\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(res->get_header_value("Content-Type"), kPrometheusTextContentType);
}

TEST_F(MetricsHttpServerTest, AnswersHealthzWhileRunning) {
  httplib::Client client = client_for(server_);
  const httplib::Result res = client.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
}

TEST_F(MetricsHttpServerTest, AnswersReadyzFromTheReadinessCallback) {
  httplib::Client client = client_for(server_);
  httplib::Result res = client.Get("/readyz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "not ready");

  ready_ = true;
  res = client.Get("/readyz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ready");
}

TEST_F(MetricsHttpServerTest, AnswersHeadWithoutABody) {
  httplib::Client client = client_for(server_);
  const httplib::Result res = client.Head("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "");
}

TEST_F(MetricsHttpServerTest, AnswersNotFoundForOtherPaths) {
  httplib::Client client = client_for(server_);
  for (const char* path : {"/", "/metrics/", "/metricsz", "/healthz/x", "/../metrics"}) {
    const httplib::Result res = client.Get(path);
    ASSERT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 404) << path;
  }
  const httplib::Result post = client.Post("/elsewhere", "x", "text/plain");
  ASSERT_TRUE(post) << httplib::to_string(post.error());
  EXPECT_EQ(post->status, 404);
}

TEST_F(MetricsHttpServerTest, AnswersMethodNotAllowedForOtherMethods) {
  httplib::Client client = client_for(server_);
  std::vector<httplib::Result> results;
  results.push_back(client.Post("/metrics", "x", "text/plain"));
  results.push_back(client.Put("/healthz", "x", "text/plain"));
  results.push_back(client.Delete("/readyz"));
  results.push_back(client.Options("/metrics"));
  for (const httplib::Result& res : results) {
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 405);
    EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  }
}

TEST_F(MetricsHttpServerTest, RefusesOversizedRequestLinesAndHeaderLines) {
  // httplib's own limits: 8 KiB for the request line (414) and for each header line (400).
  httplib::Client client = client_for(server_);
  const httplib::Result res = client.Get("/metrics", {{"X-Filler", std::string(9000, 'a')}});
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400);
  const std::string response =
      exchange_raw(server_.port(), "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 414 ", 0), 0u) << response.substr(0, 200);
}

// Keep-alive allowed and a minute of patience for idle connections: when one of these
// tests sees its connection close, the server closed it on purpose, not on a timeout.
MetricsHttpLimits patient_limits() {
  MetricsHttpLimits limits;
  limits.max_requests_per_connection = 4;
  limits.idle_timeout = std::chrono::seconds(60);
  return limits;
}

TEST(MetricsHttpServer, NeverReadsTheBodyOfARefusedRequestAndClosesItsConnection) {
  MetricsHttpServer server([] { return std::string(); }, [] { return true; }, patient_limits());
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());
  // Announces a body larger than any limit and sends a piece of it: answered from the
  // headers alone, then closed, since the rest of the body would follow.
  const std::string response = exchange_raw(server.port(),
                                            "POST /metrics HTTP/1.1\r\nHost: x\r\n"
                                            "Content-Length: 1000000000\r\n\r\npartial");
  EXPECT_EQ(response.rfind("HTTP/1.1 405 ", 0), 0u) << response;
  EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos) << response;
  EXPECT_EQ(response.find("Keep-Alive"), std::string::npos) << response;
  EXPECT_TRUE(response.ends_with("\r\n\r\nmethod not allowed")) << response;
}

TEST(MetricsHttpServer, AnswersPipelinedRequestsInOrderWithKeepAlive) {
  MetricsHttpServer server([] { return std::string(); }, [] { return false; }, patient_limits());
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());
  const std::string response = exchange_raw(server.port(),
                                            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                            "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const size_t first = response.find("HTTP/1.1 200 OK\r\n");
  const size_t second = response.find("HTTP/1.1 503 Service Unavailable\r\n");
  ASSERT_NE(first, std::string::npos) << response;
  ASSERT_NE(second, std::string::npos) << response;
  EXPECT_LT(first, second);
  EXPECT_NE(response.find("Keep-Alive: timeout=60, max=4\r\n"), std::string::npos) << response;
  EXPECT_TRUE(response.ends_with("not ready")) << response;
}

TEST(MetricsHttpServer, ClosesAConnectionWhoseRequestHeadExceedsTheLimit) {
  MetricsHttpLimits limits = patient_limits();
  limits.max_request_head_bytes = 1024;
  MetricsHttpServer server([] { return std::string(); }, [] { return true; }, limits);
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());
  std::string request = "GET /metrics HTTP/1.1\r\n";
  while (request.size() < 2000) request += "X-A: b\r\n";  // each line short, the head long
  request += "\r\n";
  const std::string response = exchange_raw(server.port(), request);
  EXPECT_EQ(response.rfind("HTTP/1.1 400 ", 0), 0u) << response;

  // Below the limit, the same kind of head is fine.
  const std::string small = exchange_raw(server.port(),
                                         "GET /healthz HTTP/1.1\r\nX-A: b\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(small.rfind("HTTP/1.1 200 ", 0), 0u) << small;
}

TEST(MetricsHttpServer, ClosesAConnectionWhoseRequestHeadIsTooSlow) {
  MetricsHttpLimits limits = patient_limits();
  limits.request_timeout = std::chrono::milliseconds(200);
  MetricsHttpServer server([] { return std::string(); }, [] { return true; }, limits);
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());
  // The head never ends (no blank line): cut off after request_timeout with a 400.
  const std::string response = exchange_raw(server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 400 ", 0), 0u) << response;
}

TEST(MetricsHttpServer, ClosesAnIdleConnection) {
  MetricsHttpLimits limits;
  limits.idle_timeout = std::chrono::milliseconds(200);
  MetricsHttpServer server([] { return std::string(); }, [] { return true; }, limits);
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());
  EXPECT_EQ(exchange_raw(server.port(), ""), "");  // closed without a word, before the 10 s
}

TEST_F(MetricsHttpServerTest, ServesAgainAfterStopAndStart) {
  server_.stop();
  EXPECT_EQ(server_.port(), 0);
  server_.stop();  // idempotent
  const Status restarted = server_.start(kLocalhost, 0);
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  httplib::Client client = client_for(server_);
  const httplib::Result res = client.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(MetricsHttpServerTest, RefusesASecondStart) {
  const uint16_t port = server_.port();
  const Status again = server_.start(kLocalhost, 0);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(server_.port(), port);
}

TEST_F(MetricsHttpServerTest, StopClosesThePort) {
  const uint16_t port = server_.port();
  server_.stop();
  const int fd = connect_raw(port);
  EXPECT_EQ(fd, -1);
  if (fd >= 0) ::close(fd);
}

TEST(MetricsHttpServer, ReportsAPortInUseWithItsAddress) {
  MetricsHttpServer first([] { return std::string(); }, [] { return true; });
  ASSERT_TRUE(first.start(kLocalhost, 0).ok());
  MetricsHttpServer second([] { return std::string(); }, [] { return true; });
  const Status status = second.start(kLocalhost, first.port());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("127.0.0.1:" + std::to_string(first.port())), std::string::npos)
      << status.message();
  EXPECT_EQ(second.port(), 0);

  // The first one is unaffected.
  httplib::Client client = client_for(first);
  const httplib::Result res = client.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST(MetricsHttpServer, WantsAnIpAddress) {
  MetricsHttpServer server([] { return std::string(); }, [] { return true; });
  const Status status = server.start("localhost", 0);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("localhost"), std::string::npos);
  EXPECT_FALSE(server.start("", 0).ok());
  EXPECT_EQ(server.port(), 0);
}

TEST(MetricsHttpServer, ListensOnIpv6Loopback) {
  MetricsHttpServer server([] { return std::string("x 1\n"); }, [] { return true; });
  const Status status = server.start("::1", 0);
  if (!status.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << status.message();
  httplib::Client client("::1", server.port());
  const httplib::Result res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->body, "x 1\n");
}

TEST(MetricsHttpServer, AnswersInternalErrorWhenTheMetricsCallbackThrows) {
  MetricsHttpServer server([]() -> std::string { throw std::runtime_error("secret detail"); }, [] { return true; });
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());
  httplib::Client client = client_for(server);
  const httplib::Result res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body, "internal error");
  for (const auto& [name, value] : res->headers) EXPECT_EQ(value.find("secret"), std::string::npos) << name;
}

TEST(MetricsHttpServer, StopsRightAfterStart) {
  for (int i = 0; i < 20; ++i) {
    MetricsHttpServer server([] { return std::string(); }, [] { return true; });
    ASSERT_TRUE(server.start(kLocalhost, 0).ok());
    server.stop();
  }
}

TEST(MetricsHttpServer, StopLetsARequestInProgressFinish) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  MetricsHttpServer server(
      [&] {
        entered.set_value();
        released.wait();
        return std::string("late 1\n");
      },
      [] { return true; });
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());

  std::promise<httplib::Result> result;
  std::thread scraper([&] {
    httplib::Client client = client_for(server);
    result.set_value(client.Get("/metrics"));
  });
  entered.get_future().wait();
  std::thread stopper([&] { server.stop(); });
  release.set_value();
  stopper.join();
  scraper.join();

  const httplib::Result res = result.get_future().get();
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "late 1\n");
  EXPECT_EQ(server.port(), 0);
}

TEST(MetricsHttpServer, StopsAtOnceWithIdleConnectionsOpenAndQueued) {
  // One thread, one waiting slot: the first idle connection holds the thread, the second
  // waits for it, the third is left in the kernel's backlog. stop() must not wait for
  // their minute of idle timeout, and must close them all.
  MetricsHttpLimits limits = patient_limits();
  limits.threads = 1;
  limits.max_pending_connections = 1;
  MetricsHttpServer server([] { return std::string(); }, [] { return true; }, limits);
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(connect_raw(server.port()));
    ASSERT_GE(idle.back(), 0);
  }
  const auto before = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(30));
  for (int fd : idle) {
    char byte;
    errno = 0;
    EXPECT_LE(::recv(fd, &byte, 1, 0), 0);  // closed (0) or reset: never an answer
    EXPECT_NE(errno, EAGAIN) << "still open";
    ::close(fd);
  }
}

TEST(MetricsHttpServer, KeepsListeningWhenAProcessSignalArrives) {
  // brokerd's signal handlers (asio) are installed without SA_RESTART: a signal taken by
  // the listener thread would interrupt accept(), which httplib treats as fatal. The
  // server's threads block every signal, so one sent to the process while this thread
  // blocks it too must stay pending: nobody else may take it.
  struct sigaction action {};
  struct sigaction previous_action {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous_action), 0);
  sigset_t usr1;
  sigset_t previous_mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &previous_mask), 0);

  MetricsHttpServer server([] { return std::string("still 1\n"); }, [] { return true; });
  ASSERT_TRUE(server.start(kLocalhost, 0).ok());
  httplib::Client client = client_for(server);
  ASSERT_TRUE(client.Get("/healthz"));  // request threads exist now too
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);

  const httplib::Result res = client.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->body, "still 1\n");
  const timespec no_wait{0, 0};
  EXPECT_EQ(::sigtimedwait(&usr1, nullptr, &no_wait), SIGUSR1) << "a server thread took the signal";

  server.stop();
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  ::sigaction(SIGUSR1, &previous_action, nullptr);
}

}  // namespace
}  // namespace brokerd::server::metrics
