// Operator actions on the engine: revoke in every state, purge, the dead-letter set, task
// listings, worker information, rates and events.
#include <gtest/gtest.h>

#include "engine/rate_window.h"
#include "engine_fixture.h"

namespace brokerd::server {
namespace {

class EngineAdminTest : public EngineTest {
 protected:
  Result<RevokeOutcome> revoke(const std::string& id) {
    uint64_t ticket = 0;
    auto outcome = engine_->revoke(id, ticket);
    EXPECT_TRUE(engine_->flush().ok());
    return outcome;
  }
  std::string dead_task(const std::string& queue = "default") {
    const std::string id = enqueue("t", [&](v1::TaskSpec& s) {
      s.set_queue(queue);
      s.mutable_retry()->set_max_retries(0);
    });
    auto [worker, sink] = consumer(1, {queue});
    EXPECT_EQ(fail(worker, sink->deliveries.at(0), "boom").value(), v1::FAILURE);
    engine_->unregister_consumer(worker);
    return id;
  }
};

TEST_F(EngineAdminTest, RevokeQueuedTaskTakesItOutOfDelivery) {
  const std::string id = enqueue("t");
  const std::string next = enqueue("t");
  auto outcome = revoke(id);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->state, v1::REVOKED);
  EXPECT_FALSE(outcome->was_started);
  EXPECT_EQ(task(id).state(), v1::REVOKED);
  EXPECT_EQ(task(id).error().type(), "TaskRevokedError");
  EXPECT_EQ(stats().ready(), 1u);
  EXPECT_EQ(stats().revoked(), 1u);
  restart();  // durable, and the index entry is gone with it
  EXPECT_EQ(task(id).state(), v1::REVOKED);
  auto [worker, sink] = consumer(5);
  ASSERT_EQ(sink->deliveries.size(), 1u);
  EXPECT_EQ(sink->deliveries[0].task_id(), next);
}

TEST_F(EngineAdminTest, RevokeScheduledAndRetryingTasks) {
  const std::string scheduled = enqueue("t", [](v1::TaskSpec& s) { s.set_countdown_ms(60'000); });
  const std::string retrying = enqueue("t", [](v1::TaskSpec& s) { s.mutable_retry()->set_max_retries(3); });
  auto [worker, sink] = consumer(1);
  ASSERT_EQ(fail(worker, sink->deliveries.at(0), "again").value(), v1::RETRY);
  EXPECT_EQ(revoke(scheduled)->state, v1::REVOKED);
  EXPECT_EQ(revoke(retrying)->state, v1::REVOKED);
  EXPECT_EQ(stats().scheduled(), 0u);
  EXPECT_EQ(stats().retrying(), 0u);
  clock_.advance_ms(120'000);
  engine_->run_timers();
  EXPECT_EQ(sink->deliveries.size(), 1u);  // neither came due
  EXPECT_EQ(task(scheduled).state(), v1::REVOKED);
  EXPECT_EQ(task(retrying).state(), v1::REVOKED);
}

TEST_F(EngineAdminTest, RevokeStartedTaskTellsTheWorkerAndRefusesItsLateOutcome) {
  const std::string id = enqueue("t");
  const std::string next = enqueue("t");
  auto [worker, sink] = consumer(1);
  const v1::Delivery running = sink->deliveries.at(0);
  auto outcome = revoke(id);
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->was_started);
  ASSERT_EQ(sink->revocations.size(), 1u);
  EXPECT_EQ(sink->revocations[0], std::make_pair(id, running.lease_id()));
  // The worker's credit came back at once: it already has the next task.
  ASSERT_EQ(sink->deliveries.size(), 2u);
  EXPECT_EQ(sink->deliveries[1].task_id(), next);
  EXPECT_EQ(succeed(worker, running, "1").status().code(), StatusCode::kStaleLease);
  EXPECT_EQ(task(id).state(), v1::REVOKED);
  EXPECT_EQ(stats().in_flight(), 1u);
  restart();
  EXPECT_EQ(task(id).state(), v1::REVOKED);
  EXPECT_EQ(stats().ready(), 1u);  // only `next`, which was in flight at the crash
}

TEST_F(EngineAdminTest, RevokeFinishedTaskChangesNothingAndUnknownIsNotFound) {
  const std::string id = enqueue("t");
  auto [worker, sink] = consumer(1);
  ASSERT_EQ(succeed(worker, sink->deliveries.at(0), "7").value(), v1::SUCCESS);
  EXPECT_EQ(revoke(id)->state, v1::SUCCESS);
  EXPECT_EQ(task(id).result_json(), "7");
  EXPECT_EQ(revoke("no-such-task").status().code(), StatusCode::kNotFound);
}

TEST_F(EngineAdminTest, PurgeRemovesReadyTasksInBoundedSteps) {
  restart(/*window=*/16);
  for (int i = 0; i < 50; ++i) enqueue("t");
  const std::string other = enqueue("t", [](v1::TaskSpec& s) { s.set_queue("other"); });
  auto [worker, sink] = consumer(2);  // two in flight: not ready, not purged
  uint64_t ticket = 0;
  auto first = engine_->purge("default", 30, ticket);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->removed, 30u);
  EXPECT_EQ(first->remaining, 18u);
  auto second = engine_->purge("default", 30, ticket);
  EXPECT_EQ(second->removed, 18u);
  EXPECT_EQ(second->remaining, 0u);
  EXPECT_EQ(engine_->purge("default", 30, ticket)->removed, 0u);
  EXPECT_EQ(engine_->purge("never-seen", 30, ticket)->removed, 0u);
  ASSERT_TRUE(engine_->flush().ok());
  EXPECT_EQ(stats().in_flight(), 2u);
  EXPECT_EQ(stats().revoked(), 48u);
  EXPECT_EQ(task(other).state(), v1::QUEUED);
  EXPECT_EQ(engine_->purge("bad queue", 1, ticket).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineAdminTest, DeadLetterRoundTrip) {
  const std::string first = dead_task();
  const std::string second = dead_task();
  const std::string elsewhere = dead_task("mail");
  EXPECT_EQ(stats().dead(), 2u);
  auto listed = engine_->dead_list("default", 10, read_ticket_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ(listed->at(0).id(), first);  // oldest failure first
  EXPECT_EQ(engine_->dead_list("", 10, read_ticket_)->size(), 3u);

  uint64_t ticket = 0;
  auto requeued = engine_->dead_requeue({first, "not-dead"}, "", 100, ticket);
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->count, 1u);
  EXPECT_EQ(requeued->not_dead_ids, std::vector<std::string>{"not-dead"});
  ASSERT_TRUE(engine_->flush().ok());
  EXPECT_EQ(task(first).state(), v1::QUEUED);
  EXPECT_EQ(task(first).retries(), 0u);
  EXPECT_FALSE(task(first).has_error());
  EXPECT_EQ(stats().dead(), 1u);
  auto [worker, sink] = consumer(1);
  ASSERT_EQ(sink->deliveries.size(), 1u);
  EXPECT_EQ(sink->deliveries[0].task_id(), first);
  EXPECT_EQ(succeed(worker, sink->deliveries[0], "1").value(), v1::SUCCESS);

  auto deleted = engine_->dead_delete({}, "", 100, ticket);  // --all, every queue
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->count, 2u);
  ASSERT_TRUE(engine_->flush().ok());
  uint64_t read_ticket = 0;
  EXPECT_EQ(engine_->get_task(second, read_ticket).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->get_task(elsewhere, read_ticket).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(engine_->dead_list("", 10, read_ticket_)->empty());
  EXPECT_EQ(stats().dead(), 0u);
  EXPECT_EQ(stats("mail").dead(), 0u);
  restart();
  EXPECT_TRUE(engine_->dead_list("", 10, read_ticket_)->empty());
  EXPECT_EQ(task(first).state(), v1::SUCCESS);
}

TEST_F(EngineAdminTest, ListTasksNewestFirstWithStateFilterAndLeases) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    clock_.advance_ms(10);
    ids.push_back(enqueue("t"));
  }
  enqueue("t", [](v1::TaskSpec& s) { s.set_queue("other"); });
  auto [worker, sink] = consumer(1);  // ids[0] is now STARTED (in memory only)
  auto all = engine_->list_tasks("default", v1::TASK_STATE_UNSPECIFIED, 3, read_ticket_);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->tasks.size(), 3u);
  EXPECT_EQ(all->tasks[0].id(), ids[4]);
  EXPECT_EQ(all->tasks[2].id(), ids[2]);
  auto started = engine_->list_tasks("default", v1::STARTED, 10, read_ticket_);
  ASSERT_EQ(started->tasks.size(), 1u);
  EXPECT_EQ(started->tasks[0].id(), ids[0]);
  EXPECT_EQ(engine_->list_tasks("default", v1::QUEUED, 10, read_ticket_)->tasks.size(), 4u);
  EXPECT_TRUE(engine_->list_tasks("default", v1::SUCCESS, 10, read_ticket_)->tasks.empty());
  auto budget = engine_->list_tasks("default", v1::SUCCESS, 10, read_ticket_, /*scan_budget=*/2);
  EXPECT_TRUE(budget->truncated);
}

TEST_F(EngineAdminTest, WorkersShowIdentityCreditAndOutcomes) {
  enqueue("t");
  enqueue("t");
  auto sink = std::make_shared<RecordingSink>();
  ConsumerId id = engine_->register_consumer(sink, ConsumerIdentity{"w1", "host-a", 42, "7"});
  ASSERT_TRUE(engine_->consume(id, {"default"}, 4, 0).ok());
  ASSERT_EQ(fail(id, sink->deliveries.at(0), "x").value(), v1::FAILURE);
  auto workers = engine_->workers();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].name(), "w1");
  EXPECT_EQ(workers[0].host(), "host-a");
  EXPECT_EQ(workers[0].pid(), 42u);
  EXPECT_EQ(workers[0].session_id(), "7");
  EXPECT_EQ(workers[0].prefetch(), 4u);
  EXPECT_EQ(workers[0].in_flight(), 1u);
  EXPECT_EQ(workers[0].failed(), 1u);
  EXPECT_EQ(workers[0].queues_size(), 1);
}

TEST_F(EngineAdminTest, EventsFollowTheLifecycle) {
  auto subscriber = std::make_shared<RecordingSubscriber>();
  engine_->events().subscribe(subscriber, {});
  const std::string id = enqueue("t");
  auto sink = std::make_shared<RecordingSink>();
  ConsumerId worker = engine_->register_consumer(sink, ConsumerIdentity{"w1", "h", 1, "1"});
  ASSERT_TRUE(engine_->consume(worker, {}, 1, 0).ok());
  ASSERT_EQ(succeed(worker, sink->deliveries.at(0), "1").value(), v1::SUCCESS);
  const std::string revoked = enqueue("t", [](v1::TaskSpec& s) { s.set_countdown_ms(1000); });
  ASSERT_TRUE(revoke(revoked).ok());
  engine_->unregister_consumer(worker);
  EXPECT_EQ(subscriber->kinds(), (std::vector<v1::EventKind>{v1::TASK_ENQUEUED, v1::WORKER_ONLINE, v1::TASK_STARTED,
                                                              v1::TASK_SUCCEEDED, v1::TASK_ENQUEUED, v1::TASK_REVOKED,
                                                              v1::WORKER_OFFLINE}));
  EXPECT_EQ(subscriber->events[2].task_id(), id);
  EXPECT_EQ(subscriber->events[2].worker(), "w1");
  EXPECT_EQ(subscriber->events[3].attempt(), 1u);

  auto only_mail = std::make_shared<RecordingSubscriber>();
  engine_->events().subscribe(only_mail, {"mail"});
  enqueue("t");
  enqueue("t", [](v1::TaskSpec& s) { s.set_queue("mail"); });
  ASSERT_EQ(only_mail->events.size(), 1u);
  EXPECT_EQ(only_mail->events[0].queue(), "mail");
}

TEST_F(EngineAdminTest, QueueRatesAverageTheLastMinute) {
  clock_.set_ms(1'000'000);
  for (int i = 0; i < 120; ++i) enqueue("t");
  EXPECT_DOUBLE_EQ(stats().enqueued_per_s(), 120.0);  // a fresh burst counts over one second
  clock_.advance_ms(500);
  EXPECT_DOUBLE_EQ(stats().enqueued_per_s(), 120.0);
  clock_.advance_ms(29'500);
  EXPECT_DOUBLE_EQ(stats().enqueued_per_s(), 4.0);  // 120 over the 30 s since
  clock_.advance_ms(29'000);
  EXPECT_DOUBLE_EQ(stats().enqueued_per_s(), 120.0 / 59.0);  // the burst's second is still in the window
  clock_.advance_ms(1000);
  EXPECT_DOUBLE_EQ(stats().enqueued_per_s(), 0.0);  // out of the window
}

TEST(RateWindowTest, SkipsIdleSecondsAndClockStepsBack) {
  RateWindow window;
  window.add(10'000, 6);
  window.add(10'500, 6);
  window.add(12'000, 3);  // second 11 had no events
  EXPECT_DOUBLE_EQ(window.per_second(13'000), 15.0 / 3.0);
  window.add(11'000, 3);  // the clock stepped back: counted in the current second
  EXPECT_DOUBLE_EQ(window.per_second(13'000), 18.0 / 3.0);
  EXPECT_DOUBLE_EQ(window.per_second(200'000), 0.0);
}

}  // namespace
}  // namespace brokerd::server
