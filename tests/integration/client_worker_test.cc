// The client library and worker runtime end to end against a real brokerd: the Celery
// tutorial's flows (add, divide by zero, retry, countdown) and time limits through the
// public API.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "brokerd/client.h"
#include "brokerd/worker.h"
#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

class ClientWorkerTest : public BrokerFixture {
 protected:
  std::unique_ptr<Client> connect() {
    ClientOptions options;
    options.server = broker_->address();
    options.client_name = "test-producer";
    auto client = Client::connect(options);
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    return client.ok() ? std::move(client.value()) : nullptr;
  }

  std::unique_ptr<Worker> worker(unsigned concurrency = 2, const std::string& name = "test-worker") {
    WorkerOptions options;
    options.server = broker_->address();
    options.name = name;
    options.concurrency = concurrency;
    auto runtime = std::make_unique<Worker>(options);
    runtime->register_task("add", [](TaskContext& task) {
      return task.args().at(0).get<double>() + task.args().at(1).get<double>();
    });
    runtime->register_task("divide", [](TaskContext& task) -> nlohmann::json {
      const double divisor = task.args().at(1).get<double>();
      if (divisor == 0) throw std::domain_error("division by zero");
      return task.args().at(0).get<double>() / divisor;
    });
    runtime->register_task("flaky", [](TaskContext& task) -> nlohmann::json {
      if (task.attempt() < 3) throw std::runtime_error("transient failure " + std::to_string(task.attempt()));
      return "recovered";
    });
    runtime->register_task("not_ready", [](TaskContext& task) -> nlohmann::json {
      if (task.retries() == 0) task.retry(100ms, "resource busy");
      return task.retries();
    });
    runtime->register_task("block", [this](TaskContext&) -> nlohmann::json {
      blocked_.fetch_add(1);
      std::unique_lock lock(release_mutex_);
      release_.wait(lock, [this] { return released_; });
      return nullptr;
    });
    return runtime;
  }

  void release_blocked() {
    {
      std::lock_guard lock(release_mutex_);
      released_ = true;
    }
    release_.notify_all();
  }

  // A worker with only the given time limits and no handlers yet.
  std::unique_ptr<Worker> limited_worker(std::chrono::milliseconds time_limit,
                                         std::chrono::milliseconds soft_time_limit, unsigned concurrency = 1) {
    WorkerOptions options;
    options.server = broker_->address();
    options.name = "limited-worker";
    options.concurrency = concurrency;
    options.time_limit = time_limit;
    options.soft_time_limit = soft_time_limit;
    return std::make_unique<Worker>(options);
  }

  // Blocks until release_blocked(), at most `bound`: a handler that ignores stop_requested().
  void wait_for_release(std::chrono::milliseconds bound) {
    std::unique_lock lock(release_mutex_);
    release_.wait_for(lock, bound, [this] { return released_; });
  }

  std::atomic<int> blocked_{0};
  std::mutex release_mutex_;
  std::condition_variable release_;
  bool released_ = false;
};

TEST_F(ClientWorkerTest, AddRunsOnAWorkerAndTheResultIsPushedToTheWaiter) {
  auto client = connect();
  auto runtime = worker();
  ASSERT_TRUE(runtime->start().ok());
  auto receipt = client->enqueue({.name = "add", .args = {4, 4}});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
  EXPECT_TRUE(receipt->created);
  EXPECT_EQ(receipt->id.size(), 36u);  // a UUID
  auto done = client->wait(receipt->id, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  EXPECT_EQ(done->result(), 8.0);
  EXPECT_EQ(done->worker, "test-worker");
  EXPECT_EQ(done->attempts, 1u);
  ASSERT_GE(done->history.size(), 3u);
  EXPECT_EQ(done->history.front().state, TaskState::kQueued);
  EXPECT_EQ(done->history.back().state, TaskState::kSuccess);
}

TEST_F(ClientWorkerTest, HandlerExceptionBecomesFailureWithItsMessage) {
  auto client = connect();
  auto runtime = worker();
  ASSERT_TRUE(runtime->start().ok());
  auto receipt = client->enqueue({.name = "divide", .args = {1, 0}});
  ASSERT_TRUE(receipt.ok());
  auto done = client->wait(receipt->id, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kFailure);
  ASSERT_TRUE(done->error.has_value());
  EXPECT_EQ(done->error->message, "division by zero");
  EXPECT_EQ(done->error->type, "std::domain_error");
}

TEST_F(ClientWorkerTest, FailuresAreRetriedWithBackoffUntilSuccess) {
  auto client = connect();
  auto runtime = worker();
  ASSERT_TRUE(runtime->start().ok());
  TaskRequest request{.name = "flaky"};
  request.options.retry.max_retries = 3;
  request.options.retry.backoff_base = 50ms;
  auto receipt = client->enqueue(request);
  ASSERT_TRUE(receipt.ok());
  auto done = client->wait(receipt->id, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  EXPECT_EQ(done->result(), "recovered");
  EXPECT_EQ(done->retries, 2u);
  EXPECT_EQ(done->attempts, 3u);
  bool saw_retry = false;
  for (const auto& step : done->history) saw_retry |= step.state == TaskState::kRetry;
  EXPECT_TRUE(saw_retry);
}

TEST_F(ClientWorkerTest, HandlerCanAskForARetryWithACountdown) {
  auto client = connect();
  auto runtime = worker();
  ASSERT_TRUE(runtime->start().ok());
  TaskRequest request{.name = "not_ready"};
  request.options.retry.max_retries = 1;
  auto receipt = client->enqueue(request);
  ASSERT_TRUE(receipt.ok());
  auto done = client->wait(receipt->id, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  EXPECT_EQ(done->result(), 1);
}

TEST_F(ClientWorkerTest, CountdownTaskIsScheduledThenDelivered) {
  auto client = connect();
  auto runtime = worker();
  ASSERT_TRUE(runtime->start().ok());
  TaskRequest request{.name = "add", .args = {1, 2}};
  request.options.countdown = 700ms;
  const auto enqueued_at = std::chrono::system_clock::now();
  auto receipt = client->enqueue(request);
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ(receipt->state, TaskState::kScheduled);
  auto now = client->get_task(receipt->id);
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE(now->state == TaskState::kScheduled || now->state == TaskState::kStarted ||
              now->state == TaskState::kSuccess);
  auto done = client->wait(receipt->id, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  const int64_t enqueued_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(enqueued_at.time_since_epoch()).count();
  EXPECT_GE(done->started_ms, enqueued_ms + 650);  // not delivered before it was due
}

TEST_F(ClientWorkerTest, UnknownIdIsNotFoundNeverPending) {
  auto client = connect();
  auto missing = client->get_task("00000000-0000-4000-8000-000000000000");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  auto waited = client->wait("no-such-task", 1s);
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.status().code(), ErrorCode::kNotFound);
}

TEST_F(ClientWorkerTest, EnqueueByExistingIdIsIdempotent) {
  auto client = connect();
  TaskRequest request{.name = "add", .args = {1, 1}};
  request.options.id = "invoice-2026-0001";
  auto first = client->enqueue(request);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  request.args = {5, 5};
  auto second = client->enqueue(request);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->id, "invoice-2026-0001");
  auto stats = client->queue_stats({"default"});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->at(0).ready, 1u);
  auto record = client->get_task("invoice-2026-0001");
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(nlohmann::json::parse(record->args_json), nlohmann::json({1, 1}));
}

TEST_F(ClientWorkerTest, BatchEnqueueAndPipelinedAsyncEnqueue) {
  auto client = connect();
  std::vector<TaskRequest> batch;
  for (int i = 0; i < 50; ++i) batch.push_back({.name = "add", .args = {i, i}});
  auto receipts = client->enqueue_batch(batch);
  ASSERT_TRUE(receipts.ok()) << receipts.status().to_string();
  EXPECT_EQ(receipts->size(), 50u);
  std::atomic<int> confirmed{0};
  std::mutex mutex;
  std::condition_variable all_done;
  for (int i = 0; i < 500; ++i) {
    client->enqueue_async({.name = "add", .args = {i, 1}}, [&](Result<EnqueueReceipt> receipt) {
      EXPECT_TRUE(receipt.ok());
      if (confirmed.fetch_add(1) + 1 == 500) {
        std::lock_guard lock(mutex);
        all_done.notify_all();
      }
    });
  }
  std::unique_lock lock(mutex);
  ASSERT_TRUE(all_done.wait_for(lock, 30s, [&] { return confirmed.load() == 500; }));
  lock.unlock();
  auto stats = client->queue_stats();
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ(stats->at(0).ready, 550u);
}

TEST_F(ClientWorkerTest, TasksOfAWorkerThatDisconnectsAreRunByAnother) {
  auto client = connect();
  auto receipt = client->enqueue({.name = "block"});
  ASSERT_TRUE(receipt.ok());
  // A raw consumer takes the task and then vanishes without completing it.
  {
    auto doomed = raw("doomed-worker");
    ASSERT_TRUE(doomed->call(1, consume_request(1)));
    auto delivery = doomed->receive();
    ASSERT_TRUE(delivery && delivery->has_delivery());
  }
  auto runtime = worker(1, "survivor");
  ASSERT_TRUE(runtime->start().ok());
  ASSERT_TRUE(eventually([&] { return blocked_.load() == 1; }));
  release_blocked();
  auto done = client->wait(receipt->id, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  EXPECT_EQ(done->worker, "survivor");
  EXPECT_EQ(done->attempts, 2u);
}

TEST_F(ClientWorkerTest, GracefulStopFinishesRunningTasks) {
  auto client = connect();
  auto runtime = worker(1);
  ASSERT_TRUE(runtime->start().ok());
  auto receipt = client->enqueue({.name = "block"});
  ASSERT_TRUE(receipt.ok());
  ASSERT_TRUE(eventually([&] { return blocked_.load() == 1; }));
  std::thread stopper([&] { runtime->stop(); });
  release_blocked();
  stopper.join();
  auto record = client->get_task(receipt->id);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->state, TaskState::kSuccess);  // reported before the worker left
  EXPECT_EQ(runtime->completed_count(), 1u);
}

TEST_F(ClientWorkerTest, AHungHandlerPastTheWorkersHardLimitEndsTimeLimitExceededAndIsNotRetried) {
  auto client = connect();
  auto runtime = limited_worker(/*time_limit=*/500ms, /*soft_time_limit=*/0ms);
  std::atomic<bool> told_to_stop{false};
  runtime->register_task("hang", [&](TaskContext& task) -> nlohmann::json {
    wait_for_release(20s);  // deaf to stop_requested(): only the hard limit ends the task
    told_to_stop = task.stop_requested() && task.time_limit_exceeded();
    return "finished anyway";
  });
  ASSERT_TRUE(runtime->start().ok());
  TaskRequest request{.name = "hang"};
  request.options.retry.max_retries = 3;
  auto receipt = client->enqueue(request);
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();

  auto done = client->wait(receipt->id, 10s);  // the handler is still blocked
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kFailure);
  ASSERT_TRUE(done->error.has_value());
  EXPECT_EQ(done->error->type, "TimeLimitExceeded");
  EXPECT_EQ(done->error->message, "task hang[" + receipt->id + "] ran past its time limit of 500 ms");
  EXPECT_EQ(done->retries, 0u);  // final, although the retry policy allowed three
  EXPECT_EQ(done->attempts, 1u);
  EXPECT_GE(done->finished_ms - done->started_ms, 500);

  release_blocked();
  runtime->stop();  // waits for the handler; what it returns is dropped
  EXPECT_TRUE(told_to_stop);
  auto after = client->get_task(receipt->id);
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_EQ(after->state, TaskState::kFailure);
  ASSERT_TRUE(after->error.has_value());
  EXPECT_EQ(after->error->type, "TimeLimitExceeded");
  EXPECT_EQ(runtime->completed_count(), 1u);  // the TimeLimitExceeded report alone
}

TEST_F(ClientWorkerTest, SoftLimitAsksTheHandlerToStopAndWhatItReturnsIsReported) {
  auto client = connect();
  auto runtime = limited_worker(/*time_limit=*/20s, /*soft_time_limit=*/300ms);
  runtime->register_task("cooperative", [](TaskContext& task) -> nlohmann::json {
    const auto started = std::chrono::steady_clock::now();
    const auto give_up = started + 10s;
    while (!task.stop_requested() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(5ms);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return {{"stop_requested", task.stop_requested()},
            {"time_limit_exceeded", task.time_limit_exceeded()},
            {"elapsed_ms", elapsed.count()}};
  });
  ASSERT_TRUE(runtime->start().ok());
  auto receipt = client->enqueue({.name = "cooperative"});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
  auto done = client->wait(receipt->id, 15s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  const nlohmann::json result = done->result();
  EXPECT_EQ(result["stop_requested"], true);
  EXPECT_EQ(result["time_limit_exceeded"], true);
  EXPECT_GE(result["elapsed_ms"].get<int64_t>(), 300);
  EXPECT_LT(result["elapsed_ms"].get<int64_t>(), 10000);
}

TEST_F(ClientWorkerTest, TimeLimitsSetByTheProducerAreHonoured) {
  auto client = connect();
  auto runtime = limited_worker(0ms, 0ms, /*concurrency=*/2);  // no limits of its own
  std::mutex mutex;
  std::map<std::string, int64_t> limit_seen_after_ms;  // task id -> when time_limit_exceeded() turned true
  runtime->register_task("until_limit", [&](TaskContext& task) -> nlohmann::json {
    const auto started = std::chrono::steady_clock::now();
    const auto give_up = started + 10s;
    while (!task.time_limit_exceeded() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(5ms);
    }
    if (task.time_limit_exceeded()) {
      std::lock_guard lock(mutex);
      limit_seen_after_ms[task.id()] =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    }
    return "returned";
  });
  ASSERT_TRUE(runtime->start().ok());
  TaskRequest soft{.name = "until_limit"};
  soft.options.soft_time_limit = 300ms;
  TaskRequest hard{.name = "until_limit"};
  hard.options.time_limit = 400ms;
  auto soft_receipt = client->enqueue(soft);
  auto hard_receipt = client->enqueue(hard);
  ASSERT_TRUE(soft_receipt.ok()) << soft_receipt.status().to_string();
  ASSERT_TRUE(hard_receipt.ok()) << hard_receipt.status().to_string();

  auto soft_done = client->wait(soft_receipt->id, 15s);
  ASSERT_TRUE(soft_done.ok()) << soft_done.status().to_string();
  EXPECT_EQ(soft_done->state, TaskState::kSuccess);  // past the soft limit only: reported
  EXPECT_EQ(soft_done->result(), "returned");
  auto hard_done = client->wait(hard_receipt->id, 15s);
  ASSERT_TRUE(hard_done.ok()) << hard_done.status().to_string();
  EXPECT_EQ(hard_done->state, TaskState::kFailure);
  ASSERT_TRUE(hard_done->error.has_value());
  EXPECT_EQ(hard_done->error->type, "TimeLimitExceeded");

  runtime->stop();  // every handler has returned
  std::lock_guard lock(mutex);
  ASSERT_TRUE(limit_seen_after_ms.count(soft_receipt->id)) << "the soft limit was never seen";
  EXPECT_GE(limit_seen_after_ms[soft_receipt->id], 300);
  EXPECT_LT(limit_seen_after_ms[soft_receipt->id], 5000);
  ASSERT_TRUE(limit_seen_after_ms.count(hard_receipt->id)) << "the hard limit was never seen";
  EXPECT_GE(limit_seen_after_ms[hard_receipt->id], 400);
  EXPECT_LT(limit_seen_after_ms[hard_receipt->id], 5000);
}

TEST_F(ClientWorkerTest, WaitTimesOutForAnUnfinishedTask) {
  auto client = connect();
  auto receipt = client->enqueue({.name = "add", .args = {1, 1}});
  ASSERT_TRUE(receipt.ok());
  auto waited = client->wait(receipt->id, 300ms);
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.status().code(), ErrorCode::kTimeout);
}

TEST_F(ClientWorkerTest, ConnectToNothingFailsClearly) {
  ClientOptions options;
  options.server = "127.0.0.1:1";
  options.connect_timeout = 2s;
  auto client = Client::connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace brokerd::testing
