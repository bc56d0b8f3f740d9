// brokerd::Worker's runtime against a real brokerd: unregistered names, retry requests,
// heartbeats outlasting the lease, reconnecting after the broker is killed and restarted
// on its port, dropping the outcome of a run whose lease died with the connection, and
// stopping (also from inside a handler). The task flows themselves are in
// client_worker_test.cc.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "brokerd/client.h"
#include "brokerd/worker.h"
#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

// A one-way signal from a handler thread to the test thread, or back.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return opened_.wait_for(lock, timeout, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;  // guarded by mutex_
};

class WorkerRuntimeTest : public BrokerFixture {
 protected:
  void SetUp() override {
    BrokerFixture::SetUp();
    client_ = connect();
    ASSERT_TRUE(client_);
  }

  std::unique_ptr<Client> connect() {
    auto client = Client::connect({.server = broker_->address(), .client_name = "test-producer"});
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  // Reconnects within a fifth of a second of the broker coming back.
  WorkerOptions options(unsigned concurrency = 2) {
    return {.server = broker_->address(), .name = "test-worker", .concurrency = concurrency,
            .reconnect_backoff_max = 200ms};
  }

  std::string enqueue(const TaskRequest& request) {
    Result<EnqueueReceipt> receipt = client_->enqueue(request);
    EXPECT_TRUE(receipt.ok()) << receipt.status().to_string();
    return receipt.ok() ? receipt->id : "";
  }

  // Polls the task's record until `condition` holds: for states no wait() reports.
  template <typename Condition>
  bool task_eventually(const std::string& id, Condition condition) {
    return eventually([&] {
      Result<TaskInfo> info = client_->get_task(id);
      return info.ok() && condition(*info);
    });
  }

  std::unique_ptr<Client> client_;
};

TEST_F(WorkerRuntimeTest, UnregisteredTaskFailsAsNotRegisteredAndOutcomesAreCounted) {
  Worker worker(options());
  worker.register_task("add", [](TaskContext& t) { return t.args()[0].get<int>() + t.args()[1].get<int>(); });
  ASSERT_TRUE(worker.start().ok());
  const std::string add = enqueue({.name = "add", .args = {2, 3}});
  const std::string missing = enqueue({.name = "missing"});

  Result<TaskInfo> unregistered = client_->wait(missing, 5s);
  ASSERT_TRUE(unregistered.ok()) << unregistered.status().to_string();
  EXPECT_EQ(unregistered->state, TaskState::kFailure);
  ASSERT_TRUE(unregistered->error.has_value());
  EXPECT_EQ(unregistered->error->type, "NotRegistered");
  EXPECT_EQ(unregistered->error->message, "no handler registered for task missing");
  Result<TaskInfo> added = client_->wait(add, 5s);
  ASSERT_TRUE(added.ok()) << added.status().to_string();
  EXPECT_EQ(added->result(), 5);

  // Counted when the broker confirms the outcome, which may land after the waiter's push.
  EXPECT_TRUE(eventually([&] { return worker.completed_count() == 2; }));
  worker.stop();
  worker.stop();  // idempotent
  EXPECT_EQ(worker.completed_count(), 2u);
}

TEST_F(WorkerRuntimeTest, HandlerRetryIsStoredAsRetryWithItsCountdownAndReason) {
  Worker worker(options(1));
  worker.register_task("flaky", [](TaskContext& t) -> nlohmann::json { t.retry(30s, "later"); });
  ASSERT_TRUE(worker.start().ok());
  TaskRequest request{.name = "flaky"};
  request.options.retry.max_retries = 1;
  const std::string id = enqueue(request);

  ASSERT_TRUE(task_eventually(id, [](const TaskInfo& info) { return info.state == TaskState::kRetry; }));
  Result<TaskInfo> info = client_->get_task(id);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->retries, 1u);
  ASSERT_TRUE(info->error.has_value());
  EXPECT_EQ(info->error->type, "Retry");
  EXPECT_EQ(info->error->message, "later");
  // Due after the handler's countdown, not the policy's backoff (about a second).
  ASSERT_FALSE(info->history.empty());
  EXPECT_EQ(info->history.back().state, TaskState::kRetry);
  EXPECT_GE(info->due_ms - info->history.back().at_ms, 29000);
  EXPECT_LE(info->due_ms - info->history.back().at_ms, 31000);
}

TEST_F(WorkerRuntimeTest, StartFailsWithoutABrokerAndMayBeTriedAgain) {
  broker_->stop();
  Worker worker(options());
  worker.register_task("echo", [](TaskContext& t) { return t.args(); });
  const Status status = worker.start();
  EXPECT_EQ(status.code(), ErrorCode::kUnavailable) << status.to_string();

  ASSERT_NO_FATAL_FAILURE(broker_->restart_on_same_port());
  ASSERT_TRUE(worker.start().ok());
  client_ = connect();
  ASSERT_TRUE(client_);
  Result<TaskInfo> info = client_->wait(enqueue({.name = "echo", .args = {1}}), 5s);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->state, TaskState::kSuccess);
}

TEST_F(WorkerRuntimeTest, HeartbeatsKeepALeaseLongerThanItsLength) {
  WorkerOptions opts = options(1);
  opts.lease = 1000ms;  // the broker's minimum; heartbeats every third of it
  Worker worker(opts);
  // The handler's work outlasts the lease twice over; only heartbeats keep it leased.
  worker.register_task("long", [](TaskContext&) {
    std::this_thread::sleep_for(2500ms);
    return nlohmann::json("done");
  });
  ASSERT_TRUE(worker.start().ok());
  Result<TaskInfo> info = client_->wait(enqueue({.name = "long"}), 8s);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->state, TaskState::kSuccess);
  EXPECT_EQ(info->attempts, 1u);  // never requeued, so never delivered again
  int started = 0;
  for (const TaskTransition& step : info->history) started += step.state == TaskState::kStarted;
  EXPECT_EQ(started, 1);
}

TEST_F(WorkerRuntimeTest, ReconnectsAndResumesAfterTheBrokerRestarts) {
  Worker worker(options());
  worker.register_task("echo", [](TaskContext& t) { return t.args(); });
  ASSERT_TRUE(worker.start().ok());
  Result<TaskInfo> before = client_->wait(enqueue({.name = "echo", .args = {1}}), 5s);
  ASSERT_TRUE(before.ok()) << before.status().to_string();

  broker_->kill_hard();  // also ends client_'s connection
  ASSERT_NO_FATAL_FAILURE(broker_->restart_on_same_port());
  client_ = connect();
  ASSERT_TRUE(client_);
  Result<TaskInfo> after = client_->wait(enqueue({.name = "echo", .args = {2}}), 5s);
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_EQ(after->state, TaskState::kSuccess);
  EXPECT_EQ(after->result(), nlohmann::json::array({2}));
  EXPECT_EQ(after->worker, "test-worker");
}

TEST_F(WorkerRuntimeTest, OutcomeOfARunWhoseLeaseDiedWithTheConnectionIsNotReported) {
  Worker worker(options(1));
  Gate first_run_started;
  Gate release_first_run;
  std::atomic<int> runs{0};
  worker.register_task("block", [&](TaskContext&) {
    const int run = ++runs;
    if (run == 1) {
      first_run_started.open();
      release_first_run.wait_for(10s);
    }
    return nlohmann::json("run " + std::to_string(run));
  });
  ASSERT_TRUE(worker.start().ok());
  const std::string id = enqueue({.name = "block"});
  ASSERT_TRUE(first_run_started.wait_for(5s));

  // The lease dies with the broker; the restarted broker has the task queued (a delivery
  // writes nothing) and hands it to the reconnected worker while the first run goes on.
  broker_->kill_hard();
  ASSERT_NO_FATAL_FAILURE(broker_->restart_on_same_port());
  client_ = connect();
  ASSERT_TRUE(client_);
  ASSERT_TRUE(eventually([&] { return runs.load() == 2; }));
  release_first_run.open();  // the first run ends now, its outcome stale

  Result<TaskInfo> info = client_->wait(id, 5s);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->state, TaskState::kSuccess);
  EXPECT_EQ(info->result(), "run 2");  // not overwritten by the first run's outcome
  // The crash voided the first delivery before anything recorded it: one attempt counted.
  EXPECT_EQ(info->attempts, 1u);
  EXPECT_EQ(runs.load(), 2);
}

TEST_F(WorkerRuntimeTest, StopFinishesTheRunningHandlerAndReturnsUnstartedDeliveries) {
  WorkerOptions opts = options(1);
  opts.prefetch = 2;  // the second task is delivered while the first runs
  Worker worker(opts);
  Gate running;
  std::atomic<int> runs{0};
  worker.register_task("slow", [&](TaskContext& t) {
    ++runs;
    running.open();
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    while (!t.stop_requested() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(5ms);
    return nlohmann::json(t.stop_requested() ? "stopped early" : "never told to stop");
  });
  ASSERT_TRUE(worker.start().ok());
  const std::string first = enqueue({.name = "slow"});
  const std::string second = enqueue({.name = "slow"});
  ASSERT_TRUE(running.wait_for(5s));
  ASSERT_TRUE(task_eventually(second, [](const TaskInfo& info) { return info.state == TaskState::kStarted; }));

  worker.stop();  // returns once the first outcome is confirmed and the connection closed
  Result<TaskInfo> done = client_->get_task(first);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  EXPECT_EQ(done->result(), "stopped early");
  EXPECT_EQ(worker.completed_count(), 1u);
  EXPECT_EQ(runs.load(), 1);
  // Delivered but never started: the broker queues it again when the connection closes.
  EXPECT_TRUE(task_eventually(second, [](const TaskInfo& info) { return info.state == TaskState::kQueued; }));
}

TEST_F(WorkerRuntimeTest, StopFromHandlerDoesNotDeadlock) {
  Worker worker(options(2));
  worker.register_task("quit", [&](TaskContext&) {
    worker.stop();
    return nlohmann::json("bye");
  });
  auto ran = std::async(std::launch::async, [&] { return worker.run(); });
  const std::string id = enqueue({.name = "quit"});
  ASSERT_EQ(ran.wait_for(10s), std::future_status::ready) << "run() did not return after stop() from a handler";
  EXPECT_TRUE(ran.get().ok());
  Result<TaskInfo> info = client_->get_task(id);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->state, TaskState::kSuccess);
  EXPECT_EQ(worker.completed_count(), 1u);
}

}  // namespace
}  // namespace brokerd::testing
