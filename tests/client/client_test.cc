// Client against the in-memory FakeBroker: requests, errors, timeouts, connection loss.

#include "brokerd/client.h"

#include <atomic>
#include <future>

#include <gtest/gtest.h>

#include "fake_broker.h"

namespace brokerd {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<Client> connect_to(testing::FakeBroker& broker, milliseconds request_timeout = milliseconds(5000)) {
  auto client = Client::connect({.server = broker.address(), .client_name = "test-client",
                                 .request_timeout = request_timeout});
  EXPECT_TRUE(client.ok()) << client.status().to_string();
  return client.ok() ? std::move(client).value() : nullptr;
}

TEST(ClientTest, EnqueueThenGetTask) {
  testing::FakeBroker broker;
  auto client = connect_to(broker);
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->connected());
  EXPECT_TRUE(client->ping().ok());

  Result<EnqueueReceipt> receipt = client->enqueue({.name = "add", .args = {2, 3}});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
  EXPECT_EQ(receipt->state, TaskState::kQueued);
  EXPECT_TRUE(receipt->created);

  Result<TaskInfo> info = client->get_task(receipt->id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "add");
  EXPECT_EQ(info->args_json, "[2,3]");
  EXPECT_EQ(info->state, TaskState::kQueued);
  EXPECT_EQ(broker.client_names().at(0), "test-client");
}

TEST(ClientTest, UnknownTaskIsNotFound) {
  testing::FakeBroker broker;
  auto client = connect_to(broker);
  ASSERT_TRUE(client);
  Result<TaskInfo> info = client->get_task("nope");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(info.status().message(), "no task with id nope");
  EXPECT_TRUE(client->connected());
}

TEST(ClientTest, ConnectToClosedPortIsUnavailable) {
  uint16_t port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  auto client = Client::connect({.server = "127.0.0.1:" + std::to_string(port)});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), ErrorCode::kUnavailable);
}

TEST(ClientTest, BadAddressIsInvalidArgument) {
  auto client = Client::connect({.server = "no-port"});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), ErrorCode::kInvalidArgument);
}

TEST(ClientTest, UnansweredRequestTimesOutAndConnectionSurvives) {
  testing::FakeBroker broker;
  auto client = connect_to(broker, milliseconds(300));
  ASSERT_TRUE(client);
  broker.set_muted(true);
  const auto start = std::chrono::steady_clock::now();
  Status status = client->ping();
  EXPECT_EQ(status.code(), ErrorCode::kTimeout) << status.to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  broker.set_muted(false);
  EXPECT_TRUE(client->ping().ok());
}

TEST(ClientTest, RepliesMayArriveOutOfOrder) {
  testing::FakeBroker broker;
  auto client = connect_to(broker);
  ASSERT_TRUE(client);
  Result<EnqueueReceipt> receipt = client->enqueue({.name = "slow"});
  ASSERT_TRUE(receipt.ok());
  // The wait is parked at the broker; later requests are answered before it.
  auto waited = std::async(std::launch::async, [&] { return client->wait(receipt->id, milliseconds(5000)); });
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(client->ping().ok());
  EXPECT_EQ(waited.wait_for(milliseconds(100)), std::future_status::timeout);
  broker.drop_connections();
  Result<TaskInfo> info = waited.get();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(client->connected());
  EXPECT_EQ(client->ping().code(), ErrorCode::kUnavailable);
}

TEST(ClientTest, EnqueueAsyncPipelines) {
  testing::FakeBroker broker;
  auto client = connect_to(broker);
  ASSERT_TRUE(client);
  constexpr int kTasks = 2000;
  std::atomic<int> ok{0};
  std::atomic<int> done{0};
  std::promise<void> all_done;
  for (int i = 0; i < kTasks; ++i) {
    client->enqueue_async({.name = "t", .args = {i}}, [&](Result<EnqueueReceipt> r) {
      if (r.ok()) ++ok;
      if (++done == kTasks) all_done.set_value();
    });
  }
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(ok.load(), kTasks);
}

TEST(ClientTest, ZeroTimeoutWaitIsARead) {
  testing::FakeBroker broker;
  auto client = connect_to(broker);
  ASSERT_TRUE(client);
  Result<EnqueueReceipt> receipt = client->enqueue({.name = "t"});
  ASSERT_TRUE(receipt.ok());
  Result<TaskInfo> info = client->wait(receipt->id, milliseconds(0));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), ErrorCode::kTimeout);
}

}  // namespace
}  // namespace brokerd
