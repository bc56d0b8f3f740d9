// Engine transitions against real RocksDB storage in a temporary directory, with a
// manual clock: leases, delays, retries and expiry happen by advancing time, not sleeping.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include "engine_fixture.h"

namespace brokerd::server {
namespace {

TEST_F(EngineTest, EnqueuedTaskIsQueuedAndReadable) {
  const std::string id = enqueue("tasks.add", [](v1::TaskSpec& s) { s.set_args_json("[2, 3]"); });
  const v1::TaskRecord record = task(id);
  EXPECT_EQ(record.state(), v1::QUEUED);
  EXPECT_EQ(record.name(), "tasks.add");
  EXPECT_EQ(record.args_json(), "[2, 3]");
  ASSERT_EQ(record.history_size(), 1);
  EXPECT_EQ(record.history(0).state(), v1::QUEUED);
  EXPECT_EQ(stats().ready(), 1u);
}

TEST_F(EngineTest, RequestsBeforeAFlushShareOneWrite) {
  const uint64_t before = storage_->last_written_seq();
  std::vector<uint64_t> tickets;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    v1::TaskSpec spec;
    spec.set_name("t");
    uint64_t ticket = 0;
    auto outcome = engine_->enqueue(spec, ticket);
    ASSERT_TRUE(outcome.ok());
    tickets.push_back(ticket);
    ids.push_back(outcome->id);
  }
  EXPECT_EQ(storage_->last_written_seq(), before);  // nothing written yet...
  EXPECT_EQ(task(ids[0]).state(), v1::QUEUED);      // ...but already readable
  EXPECT_EQ(tickets, (std::vector<uint64_t>{before + 1, before + 1, before + 1}));
  ASSERT_TRUE(engine_->flush().ok());
  EXPECT_EQ(storage_->last_written_seq(), before + 1);  // one write carried all three
  std::string stored;
  EXPECT_TRUE(storage_->get(Family::kTasks, ids[2], &stored).ok());
  ASSERT_TRUE(engine_->flush().ok());
  EXPECT_EQ(storage_->last_written_seq(), before + 1);  // nothing pending: no write
}

TEST_F(EngineTest, UnknownIdIsNotFound) {
  uint64_t ticket = 0;
  auto record = engine_->get_task("never-seen", ticket);
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(record.status().code(), StatusCode::kNotFound);
}

TEST_F(EngineTest, EnqueueWithExistingIdChangesNothing) {
  const std::string id = enqueue("first", [](v1::TaskSpec& s) { s.set_id("order-42"); });
  v1::TaskSpec again;
  again.set_name("second");
  again.set_id("order-42");
  uint64_t ticket = 0;
  auto outcome = engine_->enqueue(again, ticket);
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->created);
  EXPECT_EQ(outcome->id, id);
  EXPECT_EQ(task(id).name(), "first");
  EXPECT_EQ(stats().ready(), 1u);
}

TEST_F(EngineTest, BatchIsAllOrNothing) {
  v1::TaskSpec good, bad;
  good.set_name("ok");
  bad.set_name("bad");
  bad.set_priority(42);
  uint64_t ticket = 0;
  auto outcome = engine_->enqueue_batch({&good, &bad}, ticket);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find("tasks[1]"), std::string::npos);
  EXPECT_EQ(stats().ready(), 0u);
  // Duplicate ids inside one batch create one task.
  good.set_id("same");
  auto twice = engine_->enqueue_batch({&good, &good}, ticket);
  ASSERT_TRUE(twice.ok());
  EXPECT_TRUE(twice.value()[0].created);
  EXPECT_FALSE(twice.value()[1].created);
  EXPECT_EQ(stats().ready(), 1u);
}

TEST_F(EngineTest, DeliversByPriorityThenArrivalWithinPrefetch) {
  const std::string low1 = enqueue("t");
  const std::string high = enqueue("t", [](v1::TaskSpec& s) { s.set_priority(9); });
  const std::string low2 = enqueue("t");
  auto [id, sink] = consumer(2);
  ASSERT_EQ(sink->deliveries.size(), 2u);  // prefetch credit caps what is pushed
  EXPECT_EQ(sink->deliveries[0].task_id(), high);
  EXPECT_EQ(sink->deliveries[1].task_id(), low1);
  EXPECT_EQ(task(high).state(), v1::STARTED);
  EXPECT_EQ(stats().in_flight(), 2u);
  ASSERT_TRUE(succeed(id, sink->deliveries[0], "1").ok());
  ASSERT_EQ(sink->deliveries.size(), 3u);  // the freed credit pulls the next task
  EXPECT_EQ(sink->deliveries[2].task_id(), low2);
}

TEST_F(EngineTest, SuccessStoresResultAndWakesWaiter) {
  const std::string id = enqueue("t");
  std::optional<v1::TaskRecord> seen;
  uint64_t seen_ticket = 0;
  WaiterId waiter = 0;
  uint64_t ticket = 0;
  auto waited = engine_->wait_result(
      id, [&](const v1::TaskRecord& t, uint64_t done) { seen = t, seen_ticket = done; }, waiter, ticket);
  ASSERT_TRUE(waited.ok());
  EXPECT_FALSE(waited->has_value());
  auto [consumer_id, sink] = consumer(1);
  auto state = succeed(consumer_id, sink->deliveries.at(0), "{\"sum\": 5}");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state.value(), v1::SUCCESS);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->result_json(), "{\"sum\": 5}");
  EXPECT_GE(seen_ticket, storage_->last_written_seq() - 1);
  EXPECT_FALSE(engine_->cancel_wait(waiter));  // already fired
  const v1::TaskRecord record = task(id);
  EXPECT_EQ(record.state(), v1::SUCCESS);
  EXPECT_EQ(record.worker(), "worker-1");
  EXPECT_EQ(record.attempts(), 1u);
  EXPECT_GT(record.expires_ms(), record.finished_ms());
  EXPECT_EQ(stats().succeeded(), 1u);
}

TEST_F(EngineTest, InvalidResultJsonIsRefusedAndTaskKeepsItsLease) {
  enqueue("t");
  auto [consumer_id, sink] = consumer(1);
  auto state = succeed(consumer_id, sink->deliveries.at(0), "{not json");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(succeed(consumer_id, sink->deliveries.at(0), "true").ok());
}

TEST_F(EngineTest, FailureWithoutRetriesIsFinalAndDeadLettered) {
  const std::string id = enqueue("divide");
  auto [consumer_id, sink] = consumer(1);
  auto state = fail(consumer_id, sink->deliveries.at(0), "division by zero");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state.value(), v1::FAILURE);
  const v1::TaskRecord record = task(id);
  EXPECT_EQ(record.error().message(), "division by zero");
  EXPECT_EQ(record.error().type(), "ValueError");
  EXPECT_EQ(stats().failed(), 1u);
  std::string value;
  EXPECT_TRUE(storage_->get(Family::kDead, keys::dead_key("default", record.index_seq()), &value).ok());
  EXPECT_EQ(value, id);
}

TEST_F(EngineTest, FailureRetriesWithBackoffThenSucceeds) {
  const std::string id = enqueue("flaky", [](v1::TaskSpec& s) {
    s.mutable_retry()->set_max_retries(2);
    s.mutable_retry()->set_backoff_base_ms(1000);
    s.mutable_retry()->set_jitter(false);
  });
  auto [consumer_id, sink] = consumer(1);
  ASSERT_EQ(fail(consumer_id, sink->deliveries.at(0), "boom").value(), v1::RETRY);
  EXPECT_EQ(task(id).state(), v1::RETRY);
  EXPECT_EQ(stats().retrying(), 1u);
  clock_.advance_ms(999);
  engine_->run_timers();
  EXPECT_EQ(sink->deliveries.size(), 1u);  // not due yet
  clock_.advance_ms(1);
  engine_->run_timers();
  ASSERT_EQ(sink->deliveries.size(), 2u);
  EXPECT_EQ(sink->deliveries[1].attempt(), 2u);
  EXPECT_EQ(sink->deliveries[1].retries(), 1u);
  ASSERT_EQ(fail(consumer_id, sink->deliveries[1], "boom again").value(), v1::RETRY);
  clock_.advance_ms(1999);  // second retry waits base * 2
  engine_->run_timers();
  EXPECT_EQ(sink->deliveries.size(), 2u);
  clock_.advance_ms(1);
  engine_->run_timers();
  ASSERT_EQ(sink->deliveries.size(), 3u);
  ASSERT_EQ(succeed(consumer_id, sink->deliveries[2], "\"ok\"").value(), v1::SUCCESS);
  const v1::TaskRecord record = task(id);
  EXPECT_EQ(record.retries(), 2u);
  EXPECT_EQ(record.attempts(), 3u);
}

TEST_F(EngineTest, RetryRequestUsesItsCountdownAndFailsWhenExhausted) {
  const std::string id = enqueue("t", [](v1::TaskSpec& s) { s.mutable_retry()->set_max_retries(1); });
  auto [consumer_id, sink] = consumer(1);
  auto retry = [&](const v1::Delivery& delivery) {
    v1::Complete complete;
    complete.set_task_id(delivery.task_id());
    complete.set_lease_id(delivery.lease_id());
    complete.mutable_retry()->set_countdown_ms(5000);
    complete.mutable_retry()->mutable_reason()->set_message("not yet");
    uint64_t ticket = 0;
    return engine_->complete(consumer_id, complete, ticket);
  };
  ASSERT_EQ(retry(sink->deliveries.at(0)).value(), v1::RETRY);
  EXPECT_EQ(task(id).due_ms(), clock_.now_ms() + 5000);
  clock_.advance_ms(5000);
  engine_->run_timers();
  ASSERT_EQ(sink->deliveries.size(), 2u);
  ASSERT_EQ(retry(sink->deliveries[1]).value(), v1::FAILURE);
  EXPECT_EQ(task(id).error().message(), "not yet");
}

TEST_F(EngineTest, FinalFailureSkipsTheRetryPolicy) {
  const std::string id = enqueue("t", [](v1::TaskSpec& s) { s.mutable_retry()->set_max_retries(3); });
  auto [consumer_id, sink] = consumer(1);
  v1::Complete complete;
  complete.set_task_id(id);
  complete.set_lease_id(sink->deliveries.at(0).lease_id());
  complete.mutable_failure()->mutable_error()->set_type("ZeroDivisionError");
  complete.mutable_failure()->set_final(true);
  uint64_t ticket = 0;
  ASSERT_EQ(engine_->complete(consumer_id, complete, ticket).value(), v1::FAILURE);
  EXPECT_EQ(task(id).retries(), 0u);
  EXPECT_EQ(stats().failed(), 1u);
}

// A worker's own limit (a Python task's max_retries) replaces the enqueued policy's, both
// ways: retries the producer never asked for, and fewer than it allowed.
TEST_F(EngineTest, WorkerRetryLimitReplacesThePolicyLimit) {
  const std::string id = enqueue("t");  // no retry policy: max_retries 0
  auto [consumer_id, sink] = consumer(1);
  auto retry = [&](const v1::Delivery& delivery, uint32_t limit) {
    v1::Complete complete;
    complete.set_task_id(delivery.task_id());
    complete.set_lease_id(delivery.lease_id());
    complete.mutable_retry()->set_countdown_ms(10);
    complete.mutable_retry()->set_max_retries(limit);
    uint64_t ticket = 0;
    auto state = engine_->complete(consumer_id, complete, ticket);
    EXPECT_TRUE(engine_->flush().ok());
    clock_.advance_ms(10);
    engine_->run_timers();
    return state;
  };
  ASSERT_EQ(retry(sink->deliveries.at(0), 2).value(), v1::RETRY);
  ASSERT_EQ(retry(sink->deliveries.at(1), 2).value(), v1::RETRY);
  ASSERT_EQ(retry(sink->deliveries.at(2), 2).value(), v1::FAILURE);
  EXPECT_EQ(task(id).retries(), 2u);

  const std::string capped = enqueue("t", [](v1::TaskSpec& s) { s.mutable_retry()->set_max_retries(5); });
  ASSERT_EQ(sink->deliveries.back().task_id(), capped);
  v1::Complete failure;
  failure.set_task_id(capped);
  failure.set_lease_id(sink->deliveries.back().lease_id());
  failure.mutable_failure()->mutable_error()->set_type("KeyError");
  failure.mutable_failure()->set_max_retries(0);
  uint64_t ticket = 0;
  EXPECT_EQ(engine_->complete(consumer_id, failure, ticket).value(), v1::FAILURE);
}

TEST_F(EngineTest, CountdownTaskIsScheduledUntilDue) {
  const std::string id = enqueue("later", [](v1::TaskSpec& s) { s.set_countdown_ms(10'000); });
  EXPECT_EQ(task(id).state(), v1::SCHEDULED);
  EXPECT_EQ(stats().scheduled(), 1u);
  auto [consumer_id, sink] = consumer(5);
  engine_->run_timers();
  EXPECT_TRUE(sink->deliveries.empty());
  clock_.advance_ms(10'000);
  const int64_t sleep = engine_->run_timers();
  ASSERT_EQ(sink->deliveries.size(), 1u);
  EXPECT_EQ(sink->deliveries[0].task_id(), id);
  EXPECT_EQ(stats().scheduled(), 0u);
  EXPECT_GT(sleep, 0);
}

TEST_F(EngineTest, ScheduledTasksSurviveRestartAndComeDue) {
  const std::string id = enqueue("later", [](v1::TaskSpec& s) { s.set_countdown_ms(60'000); });
  restart();
  EXPECT_EQ(task(id).state(), v1::SCHEDULED);
  clock_.advance_ms(60'000);
  auto [consumer_id, sink] = consumer(1);
  engine_->run_timers();
  ASSERT_EQ(sink->deliveries.size(), 1u);
}

TEST_F(EngineTest, ClosedConsumerTasksWaitOutABackoffInsteadOfJumpingTheQueue) {
  const std::string first = enqueue("t", [](v1::TaskSpec& s) { s.mutable_retry()->set_jitter(false); });
  const std::string second = enqueue("t");
  auto [gone, gone_sink] = consumer(1);
  ASSERT_EQ(gone_sink->deliveries.at(0).task_id(), first);
  engine_->unregister_consumer(gone);
  const v1::TaskRecord lost = task(first);
  EXPECT_EQ(lost.state(), v1::RETRY);  // it may be what killed its worker
  EXPECT_EQ(lost.error().type(), "LeaseLost");
  EXPECT_NE(lost.error().message().find("worker-1"), std::string::npos);
  EXPECT_EQ(lost.lost_leases(), 1u);
  EXPECT_EQ(lost.retries(), 0u);  // not a retry the policy counts
  auto [next, next_sink] = consumer(2);
  ASSERT_EQ(next_sink->deliveries.size(), 1u);
  EXPECT_EQ(next_sink->deliveries[0].task_id(), second);
  clock_.advance_ms(999);
  engine_->run_timers();
  EXPECT_EQ(next_sink->deliveries.size(), 1u);
  clock_.advance_ms(1);  // the policy's first backoff: 1 s without jitter
  engine_->run_timers();
  ASSERT_EQ(next_sink->deliveries.size(), 2u);
  EXPECT_EQ(next_sink->deliveries[1].task_id(), first);
  EXPECT_EQ(next_sink->deliveries[1].attempt(), 2u);
}

TEST_F(EngineTest, ExpiredLeaseRequeuesAndStaleCompletionIsRefused) {
  const std::string id = enqueue("t");
  auto [slow, slow_sink] = consumer(1, {}, 5000);
  const v1::Delivery first = slow_sink->deliveries.at(0);
  clock_.advance_ms(4000);
  ASSERT_TRUE(engine_->heartbeat(slow, {}).ok());  // extends to now + 5 s
  clock_.advance_ms(4000);
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::STARTED);
  clock_.advance_ms(1001);
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::RETRY);
  EXPECT_EQ(task(id).error().type(), "LeaseLost");
  clock_.advance_ms(1000);  // the backoff (at most 1 s for the first loss)
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::QUEUED);
  auto [fresh, fresh_sink] = consumer(1);
  ASSERT_EQ(fresh_sink->deliveries.size(), 1u);
  EXPECT_NE(fresh_sink->deliveries[0].lease_id(), first.lease_id());
  EXPECT_EQ(slow_sink->deliveries.size(), 1u);  // the hung worker's credit stays used
  auto late = succeed(slow, first, "1");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kStaleLease);
  EXPECT_EQ(succeed(fresh, fresh_sink->deliveries[0], "2").value(), v1::SUCCESS);
  EXPECT_EQ(task(id).result_json(), "2");
  auto heartbeat = engine_->heartbeat(slow, {id});
  ASSERT_TRUE(heartbeat.ok());
  EXPECT_EQ(heartbeat->lost_task_ids, std::vector<std::string>{id});
}

TEST_F(EngineTest, LateReportOnExpiredLeaseFreesTheCredit) {
  enqueue("t");
  auto [slow, slow_sink] = consumer(1, {}, 1000);
  const v1::Delivery first = slow_sink->deliveries.at(0);
  clock_.advance_ms(1000);
  engine_->run_timers();
  const std::string second = enqueue("t");
  EXPECT_EQ(slow_sink->deliveries.size(), 1u);
  EXPECT_EQ(succeed(slow, first, "1").status().code(), StatusCode::kStaleLease);
  ASSERT_EQ(slow_sink->deliveries.size(), 2u);  // credit came back with the late report
  EXPECT_EQ(slow_sink->deliveries[1].task_id(), second);  // the lost task waits out its backoff
}

TEST_F(EngineTest, HeartbeatNamingALostTaskFreesTheCredit) {
  const std::string id = enqueue("t");
  auto [slow, slow_sink] = consumer(1, {}, 1000);
  clock_.advance_ms(1000);
  engine_->run_timers();
  const std::string second = enqueue("t");
  EXPECT_EQ(slow_sink->deliveries.size(), 1u);  // the expired lease still uses the credit
  auto heartbeat = engine_->heartbeat(slow, {id});
  ASSERT_TRUE(heartbeat.ok());
  EXPECT_EQ(heartbeat->lost_task_ids, std::vector<std::string>{id});
  // The worker learnt it lost the task and drops its outcome (protocol.md §7): the
  // credit is free, or a worker that follows §15 would never receive work again.
  ASSERT_EQ(slow_sink->deliveries.size(), 2u);
  EXPECT_EQ(slow_sink->deliveries[1].task_id(), second);
}

TEST_F(EngineTest, CompletionForAnotherConsumersLeaseIsStale) {
  enqueue("t");
  auto [holder, holder_sink] = consumer(1);
  auto [other, other_sink] = consumer(1);
  auto state = succeed(other, holder_sink->deliveries.at(0), "1");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), StatusCode::kStaleLease);
  v1::Delivery unknown = holder_sink->deliveries.at(0);
  unknown.set_task_id("no-such-task");
  EXPECT_EQ(succeed(holder, unknown, "1").status().code(), StatusCode::kNotFound);
}

TEST_F(EngineTest, ReleasedTaskGoesBackToItsPlaceAndCountsAsAnAttempt) {
  auto subscriber = std::make_shared<RecordingSubscriber>();
  engine_->events().subscribe(subscriber, {});
  const std::string first = enqueue("t");
  const std::string second = enqueue("t");
  auto [holder, holder_sink] = consumer(1);
  const v1::Delivery delivery = holder_sink->deliveries.at(0);
  ASSERT_EQ(delivery.task_id(), first);
  // A worker shutting down: it pauses its subscription, then gives back what it holds.
  ASSERT_TRUE(engine_->consume(holder, {}, 0, 0).ok());
  const uint64_t written = storage_->last_written_seq();
  auto state = release(holder, delivery);
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_EQ(state.value(), v1::QUEUED);
  EXPECT_GT(storage_->last_written_seq(), written);  // the attempt is written
  const v1::TaskRecord record = task(first);
  EXPECT_EQ(record.state(), v1::QUEUED);
  EXPECT_EQ(record.attempts(), 1u);
  EXPECT_EQ(record.retries(), 0u);
  EXPECT_EQ(record.lease_id(), 0u);
  EXPECT_EQ(stats().in_flight(), 0u);
  EXPECT_EQ(stats().ready(), 2u);
  EXPECT_EQ(subscriber->kinds().back(), v1::TASK_REQUEUED);
  EXPECT_EQ(subscriber->events.back().task_id(), first);
  EXPECT_EQ(holder_sink->deliveries.size(), 1u);  // paused: nothing came back to it
  auto heartbeat = engine_->heartbeat(holder, {first});
  ASSERT_TRUE(heartbeat.ok());
  EXPECT_EQ(heartbeat->lost_task_ids, std::vector<std::string>{first});

  auto [next, next_sink] = consumer(2);
  ASSERT_EQ(next_sink->deliveries.size(), 2u);
  EXPECT_EQ(next_sink->deliveries[0].task_id(), first);  // kept its place ahead of `second`
  EXPECT_EQ(next_sink->deliveries[0].attempt(), 2u);
  EXPECT_EQ(next_sink->deliveries[0].retries(), 0u);
  EXPECT_NE(next_sink->deliveries[0].lease_id(), delivery.lease_id());
  EXPECT_EQ(next_sink->deliveries[1].task_id(), second);
  EXPECT_EQ(succeed(next, next_sink->deliveries[0], "1").value(), v1::SUCCESS);
  EXPECT_EQ(task(first).attempts(), 2u);
  EXPECT_EQ(engine_->snapshot().requeued_total, 1u);
}

TEST_F(EngineTest, ReleasedAttemptSurvivesARestart) {
  const std::string id = enqueue("t");
  auto [holder, holder_sink] = consumer(1);
  ASSERT_TRUE(engine_->consume(holder, {}, 0, 0).ok());
  ASSERT_EQ(release(holder, holder_sink->deliveries.at(0)).value(), v1::QUEUED);
  restart();
  EXPECT_EQ(task(id).state(), v1::QUEUED);
  EXPECT_EQ(task(id).attempts(), 1u);
  auto [next, next_sink] = consumer(1);
  ASSERT_EQ(next_sink->deliveries.size(), 1u);
  EXPECT_EQ(next_sink->deliveries[0].attempt(), 2u);
}

TEST_F(EngineTest, ReleasedTaskGoesToAnotherConsumerAtOnceAndFreesTheCredit) {
  const std::string id = enqueue("t");
  auto [holder, holder_sink] = consumer(1);
  ASSERT_EQ(holder_sink->deliveries.size(), 1u);
  auto [other, other_sink] = consumer(1);
  EXPECT_TRUE(other_sink->deliveries.empty());
  ASSERT_EQ(release(holder, holder_sink->deliveries[0]).value(), v1::QUEUED);
  // Another consumer with credit is offered it before the one that gave it back.
  ASSERT_EQ(other_sink->deliveries.size(), 1u);
  EXPECT_EQ(other_sink->deliveries[0].task_id(), id);
  EXPECT_EQ(other_sink->deliveries[0].attempt(), 2u);
  EXPECT_EQ(holder_sink->deliveries.size(), 1u);
  EXPECT_EQ(task(id).state(), v1::STARTED);
  EXPECT_EQ(task(id).worker(), "worker-2");
  // The releasing consumer's credit is free again: the next task is its.
  const std::string next = enqueue("t");
  ASSERT_EQ(holder_sink->deliveries.size(), 2u);
  EXPECT_EQ(holder_sink->deliveries[1].task_id(), next);
  EXPECT_EQ(stats().in_flight(), 2u);
}

TEST_F(EngineTest, ReleaseFreesTheCreditOfAConsumerWithPrefetchOne) {
  const std::string first = enqueue("t");
  const std::string second = enqueue("t");
  auto [holder, sink] = consumer(1);
  ASSERT_EQ(sink->deliveries.size(), 1u);
  ASSERT_EQ(release(holder, sink->deliveries[0]).value(), v1::QUEUED);
  // No other consumer: the freed credit pulls the head of the queue, which is the
  // released task again (its place is ahead of `second`).
  ASSERT_EQ(sink->deliveries.size(), 2u);
  EXPECT_EQ(sink->deliveries[1].task_id(), first);
  EXPECT_EQ(sink->deliveries[1].attempt(), 2u);
  EXPECT_EQ(stats().ready(), 1u);
  EXPECT_EQ(stats().in_flight(), 1u);
  ASSERT_EQ(release(holder, sink->deliveries[1]).value(), v1::QUEUED);
  ASSERT_EQ(sink->deliveries.size(), 3u);
  EXPECT_EQ(sink->deliveries[2].attempt(), 3u);
  ASSERT_EQ(succeed(holder, sink->deliveries[2], "1").value(), v1::SUCCESS);
  ASSERT_EQ(sink->deliveries.size(), 4u);
  EXPECT_EQ(sink->deliveries[3].task_id(), second);
  EXPECT_EQ(sink->deliveries[3].attempt(), 1u);
}

TEST_F(EngineTest, ReleaseOfALeaseNotHeldIsRefusedAndChangesNothing) {
  const std::string id = enqueue("t");
  auto [holder, holder_sink] = consumer(1);
  auto [other, other_sink] = consumer(1);
  const v1::Delivery delivery = holder_sink->deliveries.at(0);
  // Another consumer's lease.
  EXPECT_EQ(release(other, delivery).status().code(), StatusCode::kStaleLease);
  // The right task with a wrong lease id.
  v1::Delivery wrong_lease = delivery;
  wrong_lease.set_lease_id(delivery.lease_id() + 1000);
  auto stale = release(holder, wrong_lease);
  EXPECT_EQ(stale.status().code(), StatusCode::kStaleLease);
  EXPECT_NE(stale.status().message().find("STARTED"), std::string::npos);
  // An unknown task.
  v1::Delivery unknown = delivery;
  unknown.set_task_id("no-such-task");
  EXPECT_EQ(release(holder, unknown).status().code(), StatusCode::kNotFound);
  // Before any consume.
  v1::Release before;
  before.set_task_id(id);
  before.set_lease_id(delivery.lease_id());
  uint64_t ticket = 0;
  EXPECT_EQ(engine_->release(/*consumer=*/0, before, ticket).status().code(), StatusCode::kInvalidArgument);
  // Nothing changed: the holder still has it, under the same lease.
  v1::TaskRecord record = task(id);
  EXPECT_EQ(record.state(), v1::STARTED);
  EXPECT_EQ(record.lease_id(), delivery.lease_id());
  EXPECT_EQ(record.attempts(), 1u);
  EXPECT_TRUE(other_sink->deliveries.empty());
  // Already completed.
  ASSERT_EQ(succeed(holder, delivery, "1").value(), v1::SUCCESS);
  EXPECT_EQ(release(holder, delivery).status().code(), StatusCode::kStaleLease);
  record = task(id);
  EXPECT_EQ(record.state(), v1::SUCCESS);
  EXPECT_EQ(record.attempts(), 1u);
  EXPECT_EQ(engine_->snapshot().requeued_total, 0u);
}

TEST_F(EngineTest, ReleaseOfAnExpiredLeaseIsStaleButFreesTheCredit) {
  const std::string id = enqueue("t");
  auto [slow, slow_sink] = consumer(1, {}, 1000);
  const v1::Delivery first = slow_sink->deliveries.at(0);
  clock_.advance_ms(1000);
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::RETRY);
  clock_.advance_ms(1000);
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::QUEUED);
  EXPECT_EQ(slow_sink->deliveries.size(), 1u);  // the expired lease still uses the credit
  EXPECT_EQ(release(slow, first).status().code(), StatusCode::kStaleLease);
  ASSERT_EQ(slow_sink->deliveries.size(), 2u);  // credit came back with the stale release
  EXPECT_EQ(slow_sink->deliveries[1].task_id(), id);
  EXPECT_EQ(slow_sink->deliveries[1].attempt(), 2u);  // the expiry counted; the release did not
  // A second stale release of the same lease frees nothing more.
  EXPECT_EQ(release(slow, first).status().code(), StatusCode::kStaleLease);
  EXPECT_EQ(task(id).lease_id(), slow_sink->deliveries[1].lease_id());
}

TEST_F(EngineTest, RestartQueuesLeasedTasksAgain) {
  const std::string id = enqueue("t");
  auto [consumer_id, sink] = consumer(1);
  ASSERT_EQ(sink->deliveries.size(), 1u);
  restart();
  EXPECT_EQ(task(id).state(), v1::QUEUED);
  EXPECT_EQ(stats().in_flight(), 0u);
  EXPECT_EQ(stats().ready(), 1u);
  auto [again, again_sink] = consumer(1);
  ASSERT_EQ(again_sink->deliveries.size(), 1u);
  EXPECT_EQ(again_sink->deliveries[0].task_id(), id);
}

TEST_F(EngineTest, DeliveryWritesNothingAndReadersSeeTheLease) {
  enqueue("t");
  const std::string id = enqueue("t");
  auto [warm, warm_sink] = consumer(1);  // the first lease id makes a block of them durable
  ASSERT_EQ(warm_sink->deliveries.size(), 1u);
  const uint64_t written = storage_->last_written_seq();
  auto [holder, sink] = consumer(1);
  ASSERT_EQ(sink->deliveries.size(), 1u);
  EXPECT_EQ(storage_->last_written_seq(), written);  // the hot path pays no write per delivery

  std::string bytes;
  ASSERT_TRUE(storage_->get(Family::kTasks, id, &bytes).ok());
  v1::TaskRecord stored;
  ASSERT_TRUE(stored.ParseFromString(bytes));
  EXPECT_EQ(stored.state(), v1::QUEUED);
  const std::string ready = keys::ready_key("default", stored.priority(), stored.index_seq());
  EXPECT_TRUE(storage_->get(Family::kReady, ready, &bytes).ok());

  const v1::TaskRecord seen = task(id);
  EXPECT_EQ(seen.state(), v1::STARTED);
  EXPECT_EQ(seen.attempts(), 1u);
  EXPECT_EQ(seen.worker(), "worker-2");
  EXPECT_EQ(seen.lease_id(), sink->deliveries[0].lease_id());
  EXPECT_EQ(seen.history().rbegin()->state(), v1::STARTED);

  // The completion removes the ready key in the same write as the outcome.
  EXPECT_EQ(succeed(holder, sink->deliveries[0], "1").value(), v1::SUCCESS);
  EXPECT_TRUE(storage_->get(Family::kReady, ready, &bytes).is_not_found());
  restart();
  EXPECT_EQ(task(id).state(), v1::SUCCESS);
  EXPECT_EQ(task(id).attempts(), 1u);
  EXPECT_EQ(stats().ready(), 1u);  // the warm-up task, its lease gone with the restart
  EXPECT_EQ(stats().succeeded(), 1u);
}

TEST_F(EngineTest, RefillThatRereadsALeasedKeySkipsIt) {
  restart(/*window=*/2);
  const std::string leased = enqueue("t");
  const std::string waiting = enqueue("t");
  auto [holder, sink] = consumer(1);
  ASSERT_EQ(sink->deliveries.at(0).task_id(), leased);
  // Higher-priority arrivals spill the window down past the leased key, so the next
  // refill reads it back from disk while its lease is still held.
  std::vector<std::string> urgent;
  for (int i = 0; i < 3; ++i) urgent.push_back(enqueue("t", [](v1::TaskSpec& s) { s.set_priority(9); }));
  auto [other, other_sink] = consumer(10);
  std::vector<std::string> order;
  for (const auto& delivery : other_sink->deliveries) order.push_back(delivery.task_id());
  EXPECT_EQ(order, (std::vector<std::string>{urgent[0], urgent[1], urgent[2], waiting}));
  EXPECT_EQ(task(leased).state(), v1::STARTED);
  EXPECT_EQ(stats().in_flight(), 5u);
  EXPECT_EQ(stats().ready(), 0u);
}

TEST_F(EngineTest, LeaseLostWithTheConnectionCountsAsAnAttempt) {
  const std::string id = enqueue("t");
  auto [gone, gone_sink] = consumer(1);
  engine_->unregister_consumer(gone);
  EXPECT_EQ(task(id).attempts(), 1u);  // recorded durably, though the delivery wrote nothing
  restart();
  auto [next, next_sink] = consumer(1);
  clock_.advance_ms(1000);  // its backoff
  engine_->run_timers();
  ASSERT_EQ(next_sink->deliveries.size(), 1u);
  EXPECT_EQ(next_sink->deliveries[0].attempt(), 2u);
}

TEST_F(EngineTest, ResultsExpireAfterTheirTtl) {
  const std::string id = enqueue("t", [](v1::TaskSpec& s) { s.set_result_ttl_ms(60'000); });
  auto [consumer_id, sink] = consumer(1);
  ASSERT_TRUE(succeed(consumer_id, sink->deliveries.at(0), "1").ok());
  clock_.advance_ms(59'999);
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::SUCCESS);
  clock_.advance_ms(1);
  engine_->run_timers();
  uint64_t ticket = 0;
  EXPECT_EQ(engine_->get_task(id, ticket).status().code(), StatusCode::kNotFound);
}

TEST_F(EngineTest, SmallWindowServesALargeBacklogInOrderAcrossRestart) {
  restart(/*window=*/8);
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(enqueue("t"));
  const std::string urgent = enqueue("t", [](v1::TaskSpec& s) { s.set_priority(5); });
  restart(/*window=*/8);
  EXPECT_EQ(stats().ready(), 101u);
  auto [consumer_id, sink] = consumer(1000);
  ASSERT_EQ(sink->deliveries.size(), 101u);
  EXPECT_EQ(sink->deliveries[0].task_id(), urgent);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sink->deliveries[i + 1].task_id(), ids[i]);
  EXPECT_EQ(stats().ready(), 0u);
}

TEST_F(EngineTest, ConsumersOfSeveralQueuesReceiveFromEach) {
  enqueue("a", [](v1::TaskSpec& s) { s.set_queue("alpha"); });
  enqueue("b", [](v1::TaskSpec& s) { s.set_queue("beta"); });
  enqueue("c", [](v1::TaskSpec& s) { s.set_queue("gamma"); });
  auto [consumer_id, sink] = consumer(10, {"alpha", "beta"});
  ASSERT_EQ(sink->deliveries.size(), 2u);
  std::set<std::string> queues;
  for (const auto& d : sink->deliveries) queues.insert(d.queue());
  EXPECT_EQ(queues, (std::set<std::string>{"alpha", "beta"}));
  EXPECT_EQ(stats("gamma").ready(), 1u);
  EXPECT_EQ(stats("alpha").consumers(), 1u);
}

TEST_F(EngineTest, ConsumeValidatesQueuesAndLease) {
  auto sink = std::make_shared<RecordingSink>();
  ConsumerId id = engine_->register_consumer(sink, ConsumerIdentity{"w", "", 0, ""});
  EXPECT_EQ(engine_->consume(id, {"bad queue"}, 1, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->consume(id, {}, 1, 10).status().code(), StatusCode::kInvalidArgument);
  auto lease = engine_->consume(id, {}, 1, 0);
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease.value(), 30'000);
}

TEST_F(EngineTest, PausedConsumerReceivesNothing) {
  enqueue("t");
  auto [consumer_id, sink] = consumer(0);
  EXPECT_TRUE(sink->deliveries.empty());
  ASSERT_TRUE(engine_->consume(consumer_id, {}, 1, 0).ok());
  EXPECT_EQ(sink->deliveries.size(), 1u);
}

}  // namespace
}  // namespace brokerd::server
