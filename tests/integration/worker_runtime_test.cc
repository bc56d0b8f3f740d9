// brokerd::Worker's runtime against a real brokerd: unregistered names, retry requests,
// heartbeats outlasting the lease, reconnecting after the broker is killed and restarted
// on its port, one run per task id across that restart (the outcome of a run whose lease
// died with the connection is dropped), heartbeats naming tasks and the leases the broker
// reports lost, and stopping (also from inside a handler). The task flows themselves and
// time limits are in client_worker_test.cc.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// When each run of a handler starts and ends, per task id: two runs of one id must never
// overlap.
class RunLog {
 public:
  void start(const std::string& id) {
    std::lock_guard lock(mutex_);
    if (running_[id]++ > 0) overlapping_.push_back(id);
    ++starts_[id];
  }
  void end(const std::string& id) {
    std::lock_guard lock(mutex_);
    --running_[id];
  }
  int starts(const std::string& id) {
    std::lock_guard lock(mutex_);
    return starts_[id];
  }
  std::vector<std::string> overlapping() {
    std::lock_guard lock(mutex_);
    return overlapping_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> running_;        // guarded by mutex_
  std::map<std::string, int> starts_;         // guarded by mutex_
  std::vector<std::string> overlapping_;      // guarded by mutex_: ids that ran twice at once
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

TEST_F(WorkerRuntimeTest, ARedeliveryWaitsForTheRunOfItsLostLeaseAcrossABrokerRestart) {
  WorkerOptions opts = options(2);  // a free thread, on which the redelivery could run at once
  opts.lease = 1000ms;              // the redelivery waits longer than that: heartbeats keep it
  Worker worker(opts);
  RunLog log;
  Gate first_run_started;
  Gate release_first_run;
  std::atomic<int> block_runs{0};
  worker.register_task("block", [&](TaskContext& t) {
    log.start(t.id());
    const int run = ++block_runs;
    if (run == 1) {
      first_run_started.open();
      release_first_run.wait_for(20s);  // deaf to stop_requested(), which the lost lease sets
    }
    log.end(t.id());
    return nlohmann::json("run " + std::to_string(run));
  });
  worker.register_task("echo", [&](TaskContext& t) {
    log.start(t.id());
    if (t.args().at(0) == "slow") std::this_thread::sleep_for(1500ms);  // work longer than a lease
    log.end(t.id());
    return t.args();
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
  // Delivered again (STARTED; or already finished, if the redelivery did not wait).
  ASSERT_TRUE(task_eventually(id, [](const TaskInfo& info) { return info.state != TaskState::kQueued; }));

  // Later tasks overtake the waiting redelivery on the free thread, for over a lease.
  std::vector<std::string> echoes;
  for (const char* arg : {"slow", "a", "b", "c"}) echoes.push_back(enqueue({.name = "echo", .args = {arg}}));
  for (size_t i = 0; i < echoes.size(); ++i) {
    Result<TaskInfo> info = client_->wait(echoes[i], 10s);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(info->state, TaskState::kSuccess);
    EXPECT_EQ(info->result(), nlohmann::json::array({std::vector<std::string>{"slow", "a", "b", "c"}[i]}));
  }
  EXPECT_EQ(block_runs.load(), 1) << "the redelivery ran while the first run went on";
  release_first_run.open();  // the first run ends now, its outcome dropped; the redelivery runs

  Result<TaskInfo> info = client_->wait(id, 10s);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->state, TaskState::kSuccess);
  EXPECT_EQ(info->result(), "run 2");  // not the first run's outcome
  // The crash voided the first delivery before anything recorded it, and heartbeats kept
  // the waiting redelivery's lease: one attempt counted, so it was never requeued.
  EXPECT_EQ(info->attempts, 1u);
  worker.stop();
  EXPECT_EQ(block_runs.load(), 2);
  EXPECT_EQ(log.starts(id), 2);
  EXPECT_TRUE(log.overlapping().empty()) << "task " << log.overlapping().front() << " ran twice at once";
}

TEST_F(WorkerRuntimeTest, AWaitingDeliveryWhoseLeaseTheBrokerEndedIsDroppedAndItsCreditComesBack) {
  WorkerOptions opts = options(1);
  opts.prefetch = 2;  // one task runs, one waits for the thread
  opts.lease = 1000ms;
  Worker worker(opts);
  Gate blocker_started;
  Gate release_blocker;
  std::atomic<int> expiring_runs{0};
  worker.register_task("block", [&](TaskContext&) {
    blocker_started.open();
    release_blocker.wait_for(20s);
    return nlohmann::json("unblocked");
  });
  worker.register_task("expiring", [&](TaskContext&) {
    ++expiring_runs;
    return nlohmann::json("ran");
  });
  worker.register_task("echo", [](TaskContext& t) { return t.args(); });
  ASSERT_TRUE(worker.start().ok());
  const std::string blocker = enqueue({.name = "block"});
  ASSERT_TRUE(blocker_started.wait_for(5s));
  // Its lease is never extended past its time limit, so it ends while it waits here.
  TaskRequest expiring{.name = "expiring"};
  expiring.options.time_limit = 1000ms;
  const std::string lost = enqueue(expiring);
  const std::string next = enqueue({.name = "echo", .args = {"next"}});
  Result<TaskInfo> ended = client_->wait(lost, 10s);
  ASSERT_TRUE(ended.ok()) << ended.status().to_string();
  EXPECT_EQ(ended->state, TaskState::kFailure);

  // The broker frees the credit of the ended lease once a heartbeat names the task and
  // learns that it is lost: only then can the next task be delivered, while the first
  // still blocks the only thread.
  ASSERT_TRUE(task_eventually(next, [](const TaskInfo& info) { return info.state == TaskState::kStarted; }))
      << "the credit of the lost lease never came back";
  // A later heartbeat (a third of a lease after the one that learnt of the loss) extends
  // the next task's lease: by then the worker has read that reply and dropped the task.
  auto reader = raw("reader");
  auto lease_deadline = [&, request_id = uint64_t{1}]() mutable -> int64_t {
    auto reply = reader->call(request_id++, get_task_request(next));
    return reply && reply->has_task_info() ? reply->task_info().task().lease_deadline_ms() : 0;
  };
  const int64_t first_deadline = lease_deadline();
  ASSERT_GT(first_deadline, 0);
  ASSERT_TRUE(eventually([&] { return lease_deadline() > first_deadline; }));

  release_blocker.open();
  Result<TaskInfo> unblocked = client_->wait(blocker, 10s);
  ASSERT_TRUE(unblocked.ok()) << unblocked.status().to_string();
  EXPECT_EQ(unblocked->state, TaskState::kSuccess);
  Result<TaskInfo> after = client_->wait(next, 10s);
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  EXPECT_EQ(after->state, TaskState::kSuccess);
  worker.stop();
  EXPECT_EQ(expiring_runs.load(), 0) << "a delivery whose lease was lost still ran";
  Result<TaskInfo> still = client_->get_task(lost);
  ASSERT_TRUE(still.ok()) << still.status().to_string();
  EXPECT_EQ(still->state, TaskState::kFailure);
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
