// Worker against the in-memory FakeBroker: running tasks, outcomes, heartbeats,
// reconnection, and stopping (also from inside a handler).

#include "brokerd/worker.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "brokerd/client.h"
#include "fake_broker.h"

namespace brokerd {
namespace {

using std::chrono::milliseconds;

// Polls `done` for up to five seconds.
template <typename Pred>
bool eventually(Pred done, milliseconds limit = milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto client = Client::connect({.server = broker_.address()});
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    client_ = std::move(client).value();
  }

  std::string enqueue(const std::string& name, nlohmann::json args = nlohmann::json::array()) {
    Result<EnqueueReceipt> receipt = client_->enqueue({.name = name, .args = std::move(args)});
    EXPECT_TRUE(receipt.ok()) << receipt.status().to_string();
    return receipt.ok() ? receipt->id : "";
  }

  WorkerOptions options(unsigned concurrency = 2) {
    return {.server = broker_.address(), .name = "test-worker", .concurrency = concurrency};
  }

  testing::FakeBroker broker_;
  std::unique_ptr<Client> client_;
};

TEST_F(WorkerTest, RunsTasksAndReportsOutcomes) {
  Worker worker(options());
  worker.register_task("add", [](TaskContext& t) { return t.args()[0].get<int>() + t.args()[1].get<int>(); });
  worker.register_task("divide", [](TaskContext& t) -> nlohmann::json {
    if (t.args()[1].get<int>() == 0) throw std::domain_error("division by zero");
    return t.args()[0].get<int>() / t.args()[1].get<int>();
  });
  ASSERT_TRUE(worker.start().ok());

  const std::string add = enqueue("add", {2, 3});
  const std::string divide = enqueue("divide", {1, 0});
  const std::string missing = enqueue("missing");

  Result<TaskInfo> added = client_->wait(add, milliseconds(5000));
  ASSERT_TRUE(added.ok()) << added.status().to_string();
  EXPECT_EQ(added->state, TaskState::kSuccess);
  EXPECT_EQ(added->result(), 5);
  EXPECT_EQ(added->worker, "test-worker");

  Result<TaskInfo> divided = client_->wait(divide, milliseconds(5000));
  ASSERT_TRUE(divided.ok());
  EXPECT_EQ(divided->state, TaskState::kFailure);
  ASSERT_TRUE(divided->error.has_value());
  EXPECT_EQ(divided->error->type, "std::domain_error");
  EXPECT_EQ(divided->error->message, "division by zero");

  Result<TaskInfo> unregistered = client_->wait(missing, milliseconds(5000));
  ASSERT_TRUE(unregistered.ok());
  EXPECT_EQ(unregistered->error->type, "NotRegistered");
  EXPECT_EQ(unregistered->error->message, "no handler registered for task missing");

  EXPECT_TRUE(eventually([&] { return worker.completed_count() == 3; }));
  worker.stop();
  worker.stop();  // idempotent
}

TEST_F(WorkerTest, RetryRequestBecomesRetry) {
  Worker worker(options(1));
  worker.register_task("flaky", [](TaskContext& t) -> nlohmann::json { t.retry(milliseconds(50), "later"); });
  ASSERT_TRUE(worker.start().ok());
  const std::string id = enqueue("flaky");
  EXPECT_TRUE(eventually([&] { return broker_.task(id).state() == v1::RETRY; }));
  EXPECT_EQ(broker_.task(id).error().type(), "Retry");
  EXPECT_EQ(broker_.task(id).error().message(), "later");
}

TEST_F(WorkerTest, StartFailsWithoutBroker) {
  WorkerOptions opts = options();
  opts.server = "127.0.0.1:1";
  Worker worker(opts);
  const Status status = worker.start();
  EXPECT_EQ(status.code(), ErrorCode::kUnavailable) << status.to_string();
}

TEST_F(WorkerTest, HeartbeatsEveryThirdOfTheLease) {
  WorkerOptions opts = options();
  opts.lease = milliseconds(1000);
  Worker worker(opts);
  ASSERT_TRUE(worker.start().ok());
  EXPECT_TRUE(eventually([&] { return broker_.heartbeats() >= 2; }, milliseconds(2000)));
}

TEST_F(WorkerTest, ReconnectsAndResumesAfterConnectionLoss) {
  Worker worker(options());
  worker.register_task("echo", [](TaskContext& t) { return t.args(); });
  ASSERT_TRUE(worker.start().ok());
  ASSERT_TRUE(client_->wait(enqueue("echo", {1}), milliseconds(5000)).ok());

  broker_.drop_connections();  // also drops client_
  EXPECT_TRUE(eventually([&] { return broker_.sessions() == 1; }));  // the worker is back
  auto client = Client::connect({.server = broker_.address()});
  ASSERT_TRUE(client.ok());
  client_ = std::move(client).value();
  Result<TaskInfo> info = client_->wait(enqueue("echo", {2}), milliseconds(5000));
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->result(), nlohmann::json::array({2}));
}

TEST_F(WorkerTest, LostLeaseIsNotReported) {
  Worker worker(options(1));
  std::atomic<bool> release{false};
  std::atomic<int> runs{0};
  worker.register_task("block", [&](TaskContext&) {
    ++runs;
    while (!release) std::this_thread::sleep_for(milliseconds(5));
    return nlohmann::json("done");
  });
  ASSERT_TRUE(worker.start().ok());
  const std::string id = enqueue("block");
  ASSERT_TRUE(eventually([&] { return runs == 1; }));
  broker_.drop_connections();
  ASSERT_TRUE(eventually([&] { return broker_.sessions() == 1; }));
  release = true;  // the first run ends; its lease died with the connection
  // The requeued task is delivered again on the new connection and succeeds there.
  EXPECT_TRUE(eventually([&] { return broker_.task(id).state() == v1::SUCCESS; }));
  EXPECT_EQ(runs.load(), 2);
  EXPECT_EQ(broker_.stale_completions(), 0u);
}

TEST_F(WorkerTest, StopWaitsForRunningHandlerAndReportsIt) {
  Worker worker(options(1));
  std::atomic<bool> running{false};
  worker.register_task("slow", [&](TaskContext&) {
    running = true;
    std::this_thread::sleep_for(milliseconds(300));
    return nlohmann::json(1);
  });
  ASSERT_TRUE(worker.start().ok());
  const std::string first = enqueue("slow");
  const std::string second = enqueue("slow");
  ASSERT_TRUE(eventually([&] { return running.load(); }));
  worker.stop();
  EXPECT_EQ(broker_.task(first).state(), v1::SUCCESS);
  EXPECT_EQ(worker.completed_count(), 1u);
  // Not started before stop: back in the queue once the connection closed.
  EXPECT_TRUE(eventually([&] { return broker_.task(second).state() == v1::QUEUED; }));
}

TEST_F(WorkerTest, StopFromHandlerDoesNotDeadlock) {
  Worker worker(options(2));
  worker.register_task("quit", [&](TaskContext&) {
    worker.stop();
    return nlohmann::json("bye");
  });
  std::thread runner([&] { EXPECT_TRUE(worker.run().ok()); });
  const std::string id = enqueue("quit");
  runner.join();  // run() returns once the stop completes
  EXPECT_EQ(broker_.task(id).state(), v1::SUCCESS);
  EXPECT_EQ(worker.completed_count(), 1u);
}

}  // namespace
}  // namespace brokerd
