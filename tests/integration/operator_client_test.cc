// The client library's operator requests against a real brokerd: revoke in every state
// (and what a Worker does when told), purge, the dead-letter set, task listings, workers
// and server statistics.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>

#include <unistd.h>

#include "brokerd/client.h"
#include "brokerd/worker.h"
#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

class OperatorClientTest : public BrokerFixture {
 protected:
  std::unique_ptr<Client> connect(const std::string& name = "test-operator") {
    ClientOptions options;
    options.server = broker_->address();
    options.client_name = name;
    auto client = Client::connect(options);
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    return client.ok() ? std::move(client.value()) : nullptr;
  }

  WorkerOptions worker_options(unsigned concurrency, unsigned prefetch = 0,
                               std::vector<std::string> queues = {"default"}) {
    WorkerOptions options;
    options.server = broker_->address();
    options.name = "test-worker";
    options.queues = std::move(queues);
    options.concurrency = concurrency;
    options.prefetch = prefetch;
    return options;
  }

  std::string enqueue(const TaskRequest& request) {
    auto receipt = client_->enqueue(request);
    EXPECT_TRUE(receipt.ok()) << receipt.status().to_string();
    return receipt.ok() ? receipt->id : "";
  }

  TaskState state_of(const std::string& id) {
    auto task = client_->get_task(id);
    EXPECT_TRUE(task.ok()) << task.status().to_string();
    return task.ok() ? task->state : TaskState::kUnknown;
  }

  QueueInfo queue(const std::string& name) {
    auto stats = client_->queue_stats({name});
    EXPECT_TRUE(stats.ok()) << stats.status().to_string();
    if (stats.ok()) {
      for (const QueueInfo& info : *stats) {
        if (info.name == name) return info;
      }
    }
    return QueueInfo{.name = name};
  }

  void SetUp() override {
    BrokerFixture::SetUp();
    client_ = connect();
    ASSERT_TRUE(client_);
  }

  std::unique_ptr<Client> client_;
};

// A handler that blocks until released (or until its task is revoked, with
// `until_revoked`), recording what its TaskContext said.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  std::atomic<bool> saw_revoked{false};
  std::atomic<bool> saw_stop_requested{false};

  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }

  TaskHandler handler(bool until_revoked) {
    return [this, until_revoked](TaskContext& task) -> nlohmann::json {
      entered.fetch_add(1);
      std::unique_lock lock(mu);
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      while (!open && std::chrono::steady_clock::now() < deadline) {
        if (until_revoked && task.revoked()) break;
        cv.wait_for(lock, 5ms);
      }
      saw_revoked = task.revoked();
      saw_stop_requested = task.stop_requested();
      return "late result";
    };
  }
};

// ---- revoke --------------------------------------------------------------------------

TEST_F(OperatorClientTest, RevokeAQueuedTaskAndItIsNeverDelivered) {
  const std::string revoked = enqueue({.name = "never"});
  auto outcome = client_->revoke(revoked);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->state, TaskState::kRevoked);
  EXPECT_FALSE(outcome->was_started);
  auto waited = client_->wait(revoked, 5s);  // REVOKED is terminal: answered at once
  ASSERT_TRUE(waited.ok()) << waited.status().to_string();
  EXPECT_EQ(waited->state, TaskState::kRevoked);

  std::atomic<int> never_ran{0};
  Worker worker(worker_options(1));
  worker.register_task("never", [&](TaskContext&) -> nlohmann::json { return ++never_ran; });
  worker.register_task("add", [](TaskContext& task) { return task.args()[0].get<int>() + 1; });
  ASSERT_TRUE(worker.start().ok());
  const std::string after = enqueue({.name = "add", .args = {41}});
  auto done = client_->wait(after, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->result(), 42);
  EXPECT_EQ(never_ran.load(), 0);
  EXPECT_EQ(queue("default").revoked, 1u);
}

TEST_F(OperatorClientTest, RevokeAScheduledTask) {
  const std::string id = enqueue({.name = "later", .options = {.queue = "sched", .countdown = 60s}});
  EXPECT_EQ(queue("sched").scheduled, 1u);
  auto outcome = client_->revoke(id);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->state, TaskState::kRevoked);
  EXPECT_EQ(state_of(id), TaskState::kRevoked);
  EXPECT_EQ(queue("sched").scheduled, 0u);
}

TEST_F(OperatorClientTest, RevokeATaskWaitingToRetry) {
  const std::string id = enqueue({.name = "flaky",
                                  .options = {.queue = "rq",
                                              .retry = {.max_retries = 2, .backoff_base = 600s,
                                                        .backoff_max = 600s}}});
  Worker worker(worker_options(1, 0, {"rq"}));
  worker.register_task("flaky", [](TaskContext&) -> nlohmann::json { throw std::runtime_error("not yet"); });
  ASSERT_TRUE(worker.start().ok());
  ASSERT_TRUE(eventually([&] { return state_of(id) == TaskState::kRetry; }, 20s));
  EXPECT_EQ(queue("rq").retrying, 1u);
  auto outcome = client_->revoke(id);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->state, TaskState::kRevoked);
  EXPECT_FALSE(outcome->was_started);
  EXPECT_EQ(state_of(id), TaskState::kRevoked);
  EXPECT_EQ(queue("rq").retrying, 0u);
}

TEST_F(OperatorClientTest, RevokeARunningTaskTellsTheWorkerAndItsLateSuccessIsDropped) {
  Gate gate;
  Worker worker(worker_options(1));
  worker.register_task("slow", gate.handler(/*until_revoked=*/true));
  worker.register_task("add", [](TaskContext& task) { return task.args()[0].get<int>() + 1; });
  ASSERT_TRUE(worker.start().ok());

  const std::string id = enqueue({.name = "slow"});
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; }, 20s));
  auto outcome = client_->revoke(id);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->state, TaskState::kRevoked);
  EXPECT_TRUE(outcome->was_started);

  // The handler sees revoked() (and stop_requested()) and returns; the runtime does not
  // report that late success, and the task stays REVOKED.
  ASSERT_TRUE(eventually([&] { return gate.saw_revoked.load(); }, 20s));
  EXPECT_TRUE(gate.saw_stop_requested.load());
  // The worker's one slot (prefetch 1) is free again: the next task runs.
  const std::string next = enqueue({.name = "add", .args = {1}});
  auto done = client_->wait(next, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);

  auto task = client_->get_task(id);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state, TaskState::kRevoked);
  EXPECT_EQ(task->result_json, "");
}

TEST_F(OperatorClientTest, RevokeDropsATaskWaitingInTheWorkersPrefetchBuffer) {
  Gate gate;
  std::atomic<int> dropped_ran{0};
  Worker worker(worker_options(1, /*prefetch=*/2));
  worker.register_task("slow", gate.handler(/*until_revoked=*/false));
  worker.register_task("waiting", [&](TaskContext&) -> nlohmann::json { return ++dropped_ran; });
  worker.register_task("add", [](TaskContext& task) { return task.args()[0].get<int>() + 1; });
  ASSERT_TRUE(worker.start().ok());

  const std::string running = enqueue({.name = "slow"});
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; }, 20s));
  const std::string waiting = enqueue({.name = "waiting"});
  // Delivered (STARTED) but held in the local buffer: the one handler thread is busy.
  ASSERT_TRUE(eventually([&] { return state_of(waiting) == TaskState::kStarted; }, 20s));
  auto outcome = client_->revoke(waiting);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_TRUE(outcome->was_started);

  gate.release();
  auto first = client_->wait(running, 20s);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->state, TaskState::kSuccess);
  // Both prefetch slots are free again: two more tasks run.
  const std::string a = enqueue({.name = "add", .args = {1}});
  const std::string b = enqueue({.name = "add", .args = {2}});
  EXPECT_TRUE(client_->wait(a, 20s).ok());
  EXPECT_TRUE(client_->wait(b, 20s).ok());
  EXPECT_EQ(dropped_ran.load(), 0);
  EXPECT_EQ(state_of(waiting), TaskState::kRevoked);
}

TEST_F(OperatorClientTest, RevokeLeavesFinishedTasksAloneAndUnknownIdsAreNotFound) {
  Worker worker(worker_options(1));
  worker.register_task("add", [](TaskContext& task) { return task.args()[0].get<int>() + 1; });
  ASSERT_TRUE(worker.start().ok());
  const std::string id = enqueue({.name = "add", .args = {1}});
  ASSERT_TRUE(client_->wait(id, 20s).ok());
  auto outcome = client_->revoke(id);
  ASSERT_TRUE(outcome.ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->state, TaskState::kSuccess);
  EXPECT_FALSE(outcome->was_started);
  auto task = client_->get_task(id);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->result(), 2);

  auto missing = client_->revoke("no-such-task");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
}

// ---- purge ---------------------------------------------------------------------------

TEST_F(OperatorClientTest, PurgeRemovesReadyTasksInBoundedSteps) {
  std::vector<TaskRequest> batch(25, TaskRequest{.name = "bulk", .options = {.queue = "pq"}});
  ASSERT_TRUE(client_->enqueue_batch(batch).ok());
  const std::string later = enqueue({.name = "later", .options = {.queue = "pq", .countdown = 60s}});

  auto step = client_->purge("pq", 10);
  ASSERT_TRUE(step.ok()) << step.status().to_string();
  EXPECT_EQ(step->removed, 10u);
  EXPECT_EQ(step->remaining, 15u);
  uint64_t removed = step->removed;
  while (step.ok() && step->removed > 0) {
    step = client_->purge("pq", 10);
    ASSERT_TRUE(step.ok()) << step.status().to_string();
    removed += step->removed;
  }
  EXPECT_EQ(removed, 25u);
  EXPECT_EQ(step->remaining, 0u);
  const QueueInfo info = queue("pq");
  EXPECT_EQ(info.ready, 0u);
  EXPECT_EQ(info.scheduled, 1u);
  EXPECT_EQ(info.revoked, 25u);
  EXPECT_EQ(state_of(later), TaskState::kScheduled);

  auto purged = client_->list_tasks("pq", TaskState::kRevoked);
  ASSERT_TRUE(purged.ok()) << purged.status().to_string();
  EXPECT_EQ(purged->tasks.size(), 25u);
}

// ---- dead letters --------------------------------------------------------------------

TEST_F(OperatorClientTest, DeadLetterRoundTrip) {
  std::atomic<int> calls{0};
  Worker worker(worker_options(1));
  worker.register_task("fragile", [&](TaskContext&) -> nlohmann::json {
    if (calls.fetch_add(1) == 0) throw std::runtime_error("first time fails");
    return "second time works";
  });
  ASSERT_TRUE(worker.start().ok());

  const std::string id = enqueue({.name = "fragile", .options = {.retry = {.max_retries = 0}}});
  auto failed = client_->wait(id, 20s);
  ASSERT_TRUE(failed.ok()) << failed.status().to_string();
  ASSERT_EQ(failed->state, TaskState::kFailure);
  EXPECT_EQ(queue("default").dead, 1u);

  auto dead = client_->dead_list();
  ASSERT_TRUE(dead.ok()) << dead.status().to_string();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].id, id);
  EXPECT_EQ((*dead)[0].state, TaskState::kFailure);
  ASSERT_TRUE((*dead)[0].error.has_value());
  EXPECT_EQ((*dead)[0].error->message, "first time fails");
  auto elsewhere = client_->dead_list("other-queue");
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_TRUE(elsewhere->empty());

  auto requeued = client_->dead_requeue({id});
  ASSERT_TRUE(requeued.ok()) << requeued.status().to_string();
  EXPECT_EQ(requeued->count, 1u);
  EXPECT_TRUE(requeued->not_dead_ids.empty());
  auto done = client_->wait(id, 20s);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  EXPECT_EQ(done->result(), "second time works");
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(queue("default").dead, 0u);
  EXPECT_TRUE(client_->dead_list()->empty());
}

TEST_F(OperatorClientTest, DeadDeleteAndTheAllVariants) {
  Worker worker(worker_options(1, 0, {"dq", "default"}));
  worker.register_task("doomed", [](TaskContext&) -> nlohmann::json { throw std::runtime_error("no"); });
  ASSERT_TRUE(worker.start().ok());

  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(enqueue({.name = "doomed", .options = {.queue = "dq"}}));
  const std::string lone = enqueue({.name = "doomed"});
  for (const std::string& id : ids) ASSERT_TRUE(client_->wait(id, 20s).ok());
  ASSERT_TRUE(client_->wait(lone, 20s).ok());
  EXPECT_EQ(queue("dq").dead, 5u);

  auto deleted = client_->dead_delete({lone, "no-such-task"});
  ASSERT_TRUE(deleted.ok()) << deleted.status().to_string();
  EXPECT_EQ(deleted->count, 1u);
  EXPECT_EQ(deleted->not_dead_ids, std::vector<std::string>{"no-such-task"});
  EXPECT_EQ(client_->get_task(lone).status().code(), ErrorCode::kNotFound);

  worker.stop();  // requeued tasks must stay QUEUED to be counted
  auto step = client_->dead_requeue_all("dq", 3);
  ASSERT_TRUE(step.ok()) << step.status().to_string();
  EXPECT_EQ(step->count, 3u);
  step = client_->dead_requeue_all("dq", 3);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->count, 2u);
  step = client_->dead_requeue_all("dq", 3);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->count, 0u);
  EXPECT_EQ(queue("dq").ready, 5u);
  EXPECT_EQ(queue("dq").dead, 0u);
  for (const std::string& id : ids) EXPECT_EQ(state_of(id), TaskState::kQueued);

  auto none = client_->dead_delete_all();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->count, 0u);
}

// ---- listings and statistics ----------------------------------------------------------

TEST_F(OperatorClientTest, ListTasksNewestFirstByState) {
  const std::string first = enqueue({.name = "a", .options = {.queue = "lq"}});
  const std::string second = enqueue({.name = "b", .options = {.queue = "lq"}});
  const std::string third = enqueue({.name = "c", .options = {.queue = "lq", .countdown = 60s}});
  enqueue({.name = "elsewhere"});

  auto all = client_->list_tasks("lq");
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  ASSERT_EQ(all->tasks.size(), 3u);
  EXPECT_FALSE(all->truncated);
  EXPECT_EQ(all->tasks[0].id, third);
  EXPECT_EQ(all->tasks[1].id, second);
  EXPECT_EQ(all->tasks[2].id, first);
  EXPECT_EQ(all->tasks[2].name, "a");

  auto queued = client_->list_tasks("lq", TaskState::kQueued);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->tasks.size(), 2u);
  EXPECT_EQ(queued->tasks[0].id, second);

  auto limited = client_->list_tasks("lq", std::nullopt, 1);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->tasks.size(), 1u);
  EXPECT_EQ(limited->tasks[0].id, third);

  auto by_default = client_->list_tasks("");
  ASSERT_TRUE(by_default.ok());
  ASSERT_EQ(by_default->tasks.size(), 1u);
  EXPECT_EQ(by_default->tasks[0].name, "elsewhere");
}

TEST_F(OperatorClientTest, WorkersAndServerStats) {
  WorkerOptions options = worker_options(2, 0, {"wa", "wb"});
  options.name = "listed-worker";
  Worker worker(options);
  worker.register_task("add", [](TaskContext& task) { return task.args()[0].get<int>() + 1; });
  ASSERT_TRUE(worker.start().ok());
  const std::string id = enqueue({.name = "add", .args = {1}, .options = {.queue = "wa"}});
  ASSERT_TRUE(client_->wait(id, 20s).ok());

  // The worker's completion is counted once the broker has stored it, which wait() saw.
  auto workers = client_->workers();
  ASSERT_TRUE(workers.ok()) << workers.status().to_string();
  ASSERT_EQ(workers->size(), 1u);
  const WorkerInfo& info = (*workers)[0];
  EXPECT_EQ(info.name, "listed-worker");
  EXPECT_EQ(std::set<std::string>(info.queues.begin(), info.queues.end()), (std::set<std::string>{"wa", "wb"}));
  EXPECT_EQ(info.prefetch, 2u);
  EXPECT_EQ(info.pid, static_cast<uint32_t>(getpid()));
  EXPECT_FALSE(info.host.empty());
  EXPECT_FALSE(info.session_id.empty());
  EXPECT_GT(info.connected_ms, 0);
  EXPECT_EQ(info.completed, 1u);
  EXPECT_EQ(info.failed, 0u);

  enqueue({.name = "later", .options = {.queue = "wb", .countdown = 60s}});
  auto stats = client_->server_stats();
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  EXPECT_FALSE(stats->version.empty());
  EXPECT_EQ(stats->sync, "always");
  EXPECT_GE(stats->connections, 2u);
  EXPECT_EQ(stats->consumers, 1u);
  EXPECT_GT(stats->started_ms, 0);
  EXPECT_GE(stats->uptime_ms, 0);
  EXPECT_GT(stats->rss_bytes, 0u);
  EXPECT_FALSE(stats->data_dir.empty());
  EXPECT_EQ(stats->totals.scheduled, 1u);
  EXPECT_EQ(stats->totals.succeeded, 1u);
  EXPECT_TRUE(stats->totals.name.empty());

  const QueueInfo wa = queue("wa");
  EXPECT_EQ(wa.succeeded, 1u);
  EXPECT_GT(wa.enqueued_per_s, 0.0);
  EXPECT_GT(wa.completed_per_s, 0.0);
  EXPECT_EQ(wa.failed_per_s, 0.0);

  worker.stop();
  ASSERT_TRUE(eventually([&] {
    auto now = client_->workers();
    return now.ok() && now->empty();
  }));
}

}  // namespace
}  // namespace brokerd::testing
