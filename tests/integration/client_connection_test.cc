// brokerd::Client's connection behaviour against a real brokerd: what a request returns
// when the broker answers, errs, stays silent (frozen with SIGSTOP) or dies (kill -9),
// and that replies are matched by id, not by order. The task flows themselves are in
// client_worker_test.cc.
#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <string>

#include "brokerd/client.h"
#include "brokerd/worker.h"
#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

class ClientConnectionTest : public BrokerFixture {
 protected:
  std::unique_ptr<Client> connect(std::chrono::milliseconds request_timeout = 5s) {
    auto client = Client::connect(
        {.server = broker_->address(), .client_name = "test-client", .request_timeout = request_timeout});
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    return client.ok() ? std::move(client).value() : nullptr;
  }

};

// Resumes a paused broker when the test leaves its scope, failing or not, so that no
// stopped process outlives a test.
class ResumeOnExit {
 public:
  explicit ResumeOnExit(BrokerProcess& broker) : broker_(broker) {}
  ~ResumeOnExit() { broker_.resume(); }
  ResumeOnExit(const ResumeOnExit&) = delete;
  ResumeOnExit& operator=(const ResumeOnExit&) = delete;

 private:
  BrokerProcess& broker_;
};

TEST_F(ClientConnectionTest, EnqueuedTaskReadsBackQueuedWithItsArgs) {
  auto client = connect();
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->connected());
  EXPECT_TRUE(client->ping().ok());

  Result<EnqueueReceipt> receipt = client->enqueue({.name = "add", .args = {2, 3}});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
  EXPECT_EQ(receipt->state, TaskState::kQueued);
  EXPECT_TRUE(receipt->created);

  Result<TaskInfo> info = client->get_task(receipt->id);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->name, "add");
  EXPECT_EQ(info->args_json, "[2,3]");
  EXPECT_EQ(info->state, TaskState::kQueued);
}

TEST_F(ClientConnectionTest, NotFoundCarriesTheBrokersMessageAndKeepsTheConnection) {
  auto client = connect();
  ASSERT_TRUE(client);
  Result<TaskInfo> info = client->get_task("nope");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(info.status().message(), "no task with id nope");
  EXPECT_TRUE(client->connected());
  EXPECT_TRUE(client->ping().ok());
}

TEST(ClientAddressTest, BadAddressIsInvalidArgument) {
  auto client = Client::connect({.server = "no-port"});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(ClientConnectionTest, UnansweredRequestTimesOutAndTheConnectionSurvives) {
  auto client = connect(300ms);
  ASSERT_TRUE(client);
  {
    ResumeOnExit resume(*broker_);
    ASSERT_NO_FATAL_FAILURE(broker_->pause());
    const auto start = std::chrono::steady_clock::now();
    const Status status = client->ping();
    EXPECT_EQ(status.code(), ErrorCode::kTimeout) << status.to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
    EXPECT_TRUE(client->connected());
  }
  // The broker now answers the timed-out ping late; the client drops that reply and
  // matches the next ones to their own requests.
  EXPECT_TRUE(client->ping().ok());
  Result<TaskInfo> info = client->get_task("nope");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), ErrorCode::kNotFound);
}

TEST_F(ClientConnectionTest, RepliesMayArriveOutOfOrder) {
  auto client = connect();
  ASSERT_TRUE(client);
  Result<EnqueueReceipt> receipt = client->enqueue({.name = "slow"});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();

  // The broker holds the WaitResult until the task finishes and answers later requests
  // on the same connection meanwhile.
  auto waited = std::async(std::launch::async, [&] { return client->wait(receipt->id, 10s); });
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(client->ping().ok());
    Result<TaskInfo> info = client->get_task(receipt->id);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(info->state, TaskState::kQueued);
  }
  EXPECT_EQ(waited.wait_for(0ms), std::future_status::timeout);

  // Only now is the task run, and the held reply reaches the waiting caller.
  Worker worker({.server = broker_->address(), .name = "test-worker"});
  worker.register_task("slow", [](TaskContext&) { return nlohmann::json(42); });
  ASSERT_TRUE(worker.start().ok());
  Result<TaskInfo> done = waited.get();
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  EXPECT_EQ(done->result(), 42);
}

TEST_F(ClientConnectionTest, ConnectionLossFailsPendingRequestsAndTheClientStaysLost) {
  auto client = connect();
  ASSERT_TRUE(client);
  Result<EnqueueReceipt> receipt = client->enqueue({.name = "never_run"});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
  auto waited = std::async(std::launch::async, [&] { return client->wait(receipt->id, 10s); });
  EXPECT_TRUE(client->ping().ok());

  broker_->kill_hard();
  Result<TaskInfo> info = waited.get();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), ErrorCode::kUnavailable) << info.status().to_string();
  EXPECT_FALSE(client->connected());
  EXPECT_EQ(client->ping().code(), ErrorCode::kUnavailable);

  // A lost Client does not reconnect, even once the broker is back where it was.
  ASSERT_NO_FATAL_FAILURE(broker_->restart_on_same_port());
  EXPECT_FALSE(client->connected());
  EXPECT_EQ(client->ping().code(), ErrorCode::kUnavailable);
  auto fresh = connect();
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(fresh->ping().ok());
}

TEST_F(ClientConnectionTest, ZeroTimeoutWaitIsARead) {
  auto client = connect();
  ASSERT_TRUE(client);
  Result<EnqueueReceipt> receipt = client->enqueue({.name = "t"});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
  // On the wire, WaitResult timeout 0 means the broker's maximum (an hour); wait(id, 0)
  // must not become that.
  const auto start = std::chrono::steady_clock::now();
  Result<TaskInfo> info = client->wait(receipt->id, 0ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), ErrorCode::kTimeout);
}

}  // namespace
}  // namespace brokerd::testing
