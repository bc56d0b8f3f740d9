// The HTTP listener of a real brokerd (--http 127.0.0.1:0): /metrics in Prometheus text
// with figures that follow the broker's work, /healthz and /readyz.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "brokerd/client.h"
#include "brokerd/worker.h"
#include "support/broker_process.h"
#include "support/temp_dir.h"

namespace brokerd {
namespace {

using testing::BrokerProcess;
using testing::eventually;

// One HTTP/1.1 request on a fresh connection; the whole response (head and body).
std::string http_get(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return "";
  }
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

class MetricsHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(dir_.file("data"), std::vector<std::string>{"--http", "127.0.0.1:0"});
    ASSERT_NO_FATAL_FAILURE(broker_->start());
    ASSERT_TRUE(eventually([&] { return std::ifstream(broker_->port_file() + ".http") >> http_port_; }));
    auto client = Client::connect({.server = broker_->address(), .client_name = "metrics-test"});
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(client.value());
  }

  testing::TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<Client> client_;
  uint16_t http_port_ = 0;
};

TEST_F(MetricsHttpTest, MetricsFollowTheBrokersWork) {
  ASSERT_TRUE(client_->enqueue({.name = "add", .options = {.queue = "mail"}}).ok());
  ASSERT_TRUE(client_->enqueue({.name = "add", .options = {.queue = "mail"}}).ok());
  const std::string response = http_get(http_port_, "/metrics");
  ASSERT_NE(response.find("HTTP/1.1 200"), std::string::npos) << response;
  EXPECT_NE(response.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << response;
  EXPECT_NE(response.find("brokerd_queue_tasks{queue=\"mail\",state=\"ready\"} 2\n"), std::string::npos) << response;
  EXPECT_NE(response.find("brokerd_tasks_enqueued_total 2\n"), std::string::npos) << response;
  EXPECT_NE(response.find("brokerd_connections 1\n"), std::string::npos) << response;
  EXPECT_NE(response.find("brokerd_commit_fsync_seconds_bucket{le=\"+Inf\"}"), std::string::npos) << response;
  EXPECT_NE(response.find("brokerd_commit_batch_size_count"), std::string::npos) << response;
  EXPECT_NE(response.find("# TYPE brokerd_task_run_seconds histogram"), std::string::npos) << response;
  EXPECT_NE(response.find("brokerd_storage_bytes "), std::string::npos) << response;
  // Every sample line names a brokerd_ metric.
  size_t at = response.find("\r\n\r\n") + 4;
  while (at < response.size()) {
    const size_t end = response.find('\n', at);
    const std::string line = response.substr(at, end - at);
    if (!line.empty() && line[0] != '#') {
      EXPECT_EQ(line.rfind("brokerd_", 0), 0u) << line;
    }
    at = end == std::string::npos ? response.size() : end + 1;
  }
}

TEST_F(MetricsHttpTest, HealthAndReadinessAndUnknownPaths) {
  EXPECT_NE(http_get(http_port_, "/healthz").find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(http_get(http_port_, "/readyz").find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(http_get(http_port_, "/nothing-here").find("HTTP/1.1 404"), std::string::npos);
}

}  // namespace
}  // namespace brokerd
