// Issue 11's promises at the engine: poison tasks end, the broker enforces hard time
// limits, leases run on the steady clock, batches reach storage as one write, consumers
// and queues are bounded, and a failed read drops nothing.
#include <gtest/gtest.h>

#include "engine_fixture.h"
#include "faulty_engine_fixture.h"

namespace brokerd::server {
namespace {

class EngineReliabilityTest : public EngineTest {
 protected:
  // A worker that dies on delivery: its connection closes with the task leased.
  void deliver_and_die() {
    auto sink = std::make_shared<RecordingSink>();
    const ConsumerId id = engine_->register_consumer(sink, ConsumerIdentity{"crashy", "", 0, ""});
    ASSERT_TRUE(engine_->consume(id, {}, 1, 0).ok());
    engine_->run_timers();  // a task waiting out its backoff may be due now
    ASSERT_EQ(sink->deliveries.size(), 1u);
    engine_->unregister_consumer(id);
    clock_.advance_ms(kDefaultBackoffMaxMs);  // past any backoff
  }
};

TEST_F(EngineReliabilityTest, PoisonTaskEndsAfterMaxDeliveries) {
  const std::string id = enqueue("t", [](v1::TaskSpec& s) { s.set_max_deliveries(3); });
  for (int i = 0; i < 2; ++i) {
    deliver_and_die();
    EXPECT_EQ(task(id).state(), v1::RETRY);
  }
  deliver_and_die();
  const v1::TaskRecord record = task(id);
  EXPECT_EQ(record.state(), v1::FAILURE);
  EXPECT_EQ(record.error().type(), "DeliveryLimitExceeded");
  EXPECT_NE(record.error().message().find("crashy"), std::string::npos) << record.error().message();
  EXPECT_EQ(record.attempts(), 3u);
  auto dead = engine_->dead_list("default", 10, read_ticket_);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->at(0).id(), id);
  // Nothing more is delivered.
  auto [next, next_sink] = consumer(1);
  engine_->run_timers();
  EXPECT_TRUE(next_sink->deliveries.empty());
}

TEST_F(EngineReliabilityTest, ServerMaxDeliveriesAppliesWhenTheTaskSetsNone) {
  options_.max_deliveries = 2;
  restart();
  const std::string id = enqueue("t");
  for (int i = 0; i < 2; ++i) {
    deliver_and_die();
  }
  EXPECT_EQ(task(id).state(), v1::FAILURE);
  EXPECT_EQ(task(id).error().type(), "DeliveryLimitExceeded");
}

TEST_F(EngineReliabilityTest, AnOutcomeResetsTheLostLeaseCount) {
  const std::string id = enqueue("t", [](v1::TaskSpec& s) {
    s.set_max_deliveries(2);
    s.mutable_retry()->set_max_retries(3);
  });
  deliver_and_die();
  EXPECT_EQ(task(id).lost_leases(), 1u);
  auto [worker, worker_sink] = consumer(1);
  engine_->run_timers();
  ASSERT_EQ(worker_sink->deliveries.size(), 1u);
  EXPECT_EQ(fail(worker, worker_sink->deliveries[0], "boom").value(), v1::RETRY);
  EXPECT_EQ(task(id).lost_leases(), 0u);
  engine_->unregister_consumer(worker);
  clock_.advance_ms(kDefaultBackoffMaxMs);
  deliver_and_die();
  EXPECT_EQ(task(id).state(), v1::RETRY);  // one loss since the outcome: not yet the limit
}

TEST_F(EngineReliabilityTest, ReleasesCountTowardsMaxDeliveries) {
  const std::string id = enqueue("t", [](v1::TaskSpec& s) { s.set_max_deliveries(2); });
  auto [worker, sink] = consumer(1);
  ASSERT_EQ(release(worker, sink->deliveries.at(0)).value(), v1::QUEUED);
  ASSERT_EQ(sink->deliveries.size(), 2u);
  EXPECT_EQ(release(worker, sink->deliveries.at(1)).value(), v1::FAILURE);
  EXPECT_EQ(task(id).error().type(), "DeliveryLimitExceeded");
}

TEST_F(EngineReliabilityTest, BrokerNeverExtendsALeasePastTheTimeLimit) {
  const std::string id = enqueue("t", [](v1::TaskSpec& s) { s.set_time_limit_ms(5000); });
  auto [worker, sink] = consumer(1, {}, 30'000);
  ASSERT_EQ(sink->deliveries.size(), 1u);
  const v1::Delivery& delivery = sink->deliveries[0];
  EXPECT_EQ(delivery.time_limit_ms(), 5000);
  EXPECT_EQ(delivery.lease_deadline_ms(), clock_.now_ms() + 5000);  // capped from 30 s
  clock_.advance_ms(4000);
  ASSERT_TRUE(engine_->heartbeat(worker, {id}).ok());  // would extend to now + 30 s
  EXPECT_EQ(task(id).lease_deadline_ms(), clock_.now_ms() + 1000);
  clock_.advance_ms(999);
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::STARTED);
  clock_.advance_ms(1);
  engine_->run_timers();
  const v1::TaskRecord record = task(id);
  EXPECT_EQ(record.state(), v1::FAILURE);
  EXPECT_EQ(record.error().type(), "TimeLimitExceeded");
  EXPECT_NE(record.error().message().find("worker-1"), std::string::npos);
  // The hung worker's late outcome is refused; the failure stands.
  EXPECT_EQ(succeed(worker, delivery, "1").status().code(), StatusCode::kStaleLease);
  EXPECT_EQ(task(id).state(), v1::FAILURE);
}

TEST_F(EngineReliabilityTest, TimeLimitsAreValidated) {
  v1::TaskSpec spec;
  spec.set_name("t");
  uint64_t ticket = 0;
  spec.set_time_limit_ms(-1);
  EXPECT_EQ(engine_->enqueue(spec, ticket).status().code(), StatusCode::kInvalidArgument);
  spec.set_time_limit_ms(1000);
  spec.set_soft_time_limit_ms(2000);
  EXPECT_EQ(engine_->enqueue(spec, ticket).status().code(), StatusCode::kInvalidArgument);
  spec.set_soft_time_limit_ms(500);
  spec.set_max_deliveries(kMaxDeliveriesLimit + 1);
  EXPECT_EQ(engine_->enqueue(spec, ticket).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineReliabilityTest, WallClockStepsNeitherExpireNorHoldLeases) {
  const std::string id = enqueue("t");
  auto [worker, sink] = consumer(1, {}, 30'000);
  ASSERT_EQ(sink->deliveries.size(), 1u);
  clock_.step_wall_ms(3'600'000);  // NTP or `date -s` jumps an hour ahead
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::STARTED);  // a healthy lease survives
  clock_.step_wall_ms(-7'200'000);  // and an hour behind where it started
  clock_.advance_ms(30'000);        // while the lease's 30 s really pass
  engine_->run_timers();
  EXPECT_EQ(task(id).state(), v1::RETRY);  // a dead one still expires on time
}

TEST_F(EngineReliabilityTest, EtaStaysOnTheWallClock) {
  const std::string id = enqueue("t", [&](v1::TaskSpec& s) { s.set_eta_ms(clock_.now_ms() + 3'600'000); });
  auto [worker, sink] = consumer(1);
  engine_->run_timers();
  EXPECT_TRUE(sink->deliveries.empty());
  clock_.step_wall_ms(3'600'000);  // an ETA is a time of day: it is due when the wall clock says so
  engine_->run_timers();
  ASSERT_EQ(sink->deliveries.size(), 1u);
  EXPECT_EQ(sink->deliveries[0].task_id(), id);
}

TEST_F(EngineReliabilityTest, LeaseIdsAreNeverReusedAcrossRestarts) {
  std::set<uint64_t> seen;
  for (int round = 0; round < 3; ++round) {
    enqueue("t");
    auto [worker, sink] = consumer(10);
    for (const v1::Delivery& delivery : sink->deliveries) {
      EXPECT_TRUE(seen.insert(delivery.lease_id()).second) << "lease id " << delivery.lease_id() << " reused";
    }
    restart();  // memory gone; only what is on disk remains
  }
  EXPECT_EQ(seen.size(), 1u + 2u + 3u);
}

TEST_F(EngineReliabilityTest, ConsumeBoundsPrefetchAndQueues) {
  const ConsumerId id = engine_->register_consumer(std::make_shared<RecordingSink>(), ConsumerIdentity{"w", "", 0, ""});
  auto refused = engine_->consume(id, {}, UINT32_MAX, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("max_prefetch"), std::string::npos);
  std::vector<std::string> many;
  for (int i = 0; i < 100'000; ++i) many.push_back("q" + std::to_string(i));
  refused = engine_->consume(id, many, 1, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("max_consume_queues"), std::string::npos);
  EXPECT_TRUE(engine_->queue_stats({}).empty());  // nothing of the refused names stays
  EXPECT_TRUE(engine_->consume(id, {"a", "b"}, options_.max_prefetch, 0).ok());
}

TEST_F(EngineReliabilityTest, DrainedQueuesAreForgottenAfterTheirIdleTtl) {
  options_.idle_queue_ttl_ms = 60'000;
  restart();
  for (int i = 0; i < 200; ++i) enqueue("t", [&](v1::TaskSpec& s) { s.set_queue("q" + std::to_string(i)); });
  EXPECT_EQ(engine_->queue_stats({}).size(), 200u);
  for (int i = 0; i < 200; ++i) {
    auto [worker, sink] = consumer(1, {"q" + std::to_string(i)});
    ASSERT_EQ(sink->deliveries.size(), 1u);
    ASSERT_EQ(succeed(worker, sink->deliveries[0], "1").value(), v1::SUCCESS);
    engine_->unregister_consumer(worker);
  }
  EXPECT_EQ(engine_->queue_stats({}).size(), 200u);  // recently busy: operators still see them
  clock_.advance_ms(59'999);
  engine_->run_timers();
  EXPECT_EQ(engine_->queue_stats({}).size(), 200u);
  clock_.advance_ms(1);
  engine_->run_timers();
  EXPECT_TRUE(engine_->queue_stats({}).empty());
  restart();
  EXPECT_TRUE(engine_->queue_stats({}).empty());  // their counters are gone from disk too

  // A queue with dead tasks is kept: they are still there to inspect.
  enqueue("t", [](v1::TaskSpec& s) { s.set_queue("keep"); });
  auto [worker, sink] = consumer(1, {"keep"});
  ASSERT_EQ(fail(worker, sink->deliveries.at(0), "boom").value(), v1::FAILURE);
  engine_->unregister_consumer(worker);
  // A queue busy again before its time is up is kept too.
  enqueue("t", [](v1::TaskSpec& s) { s.set_queue("back"); });
  auto [back, back_sink] = consumer(1, {"back"});
  ASSERT_TRUE(succeed(back, back_sink->deliveries.at(0), "1").ok());
  clock_.advance_ms(30'000);
  enqueue("t", [](v1::TaskSpec& s) { s.set_queue("back"); });
  clock_.advance_ms(30'000);
  engine_->run_timers();
  std::vector<std::string> names;
  for (const v1::QueueStats& queue : engine_->queue_stats({})) names.push_back(queue.name());
  EXPECT_EQ(names, (std::vector<std::string>{"back", "keep"}));
}

// With the store behind FaultyStorage, for injected crashes and read errors.
class EngineFaultTest : public FaultyEngineTest {
 protected:
  // Five tasks with ids, enqueued as one batch while a consumer with credit waits, so
  // every task is delivered as it is applied (the first delivery also makes a block of
  // lease ids durable, a write of its own).
  Result<std::vector<EnqueueOutcome>> enqueue_batch_to_a_waiting_consumer(uint64_t& ticket) {
    auto sink = std::make_shared<RecordingSink>();
    const ConsumerId worker = engine_->register_consumer(sink, ConsumerIdentity{"w", "", 0, ""});
    EXPECT_TRUE(engine_->consume(worker, {}, 100, 0).ok());
    std::vector<const v1::TaskSpec*> pointers;
    for (const v1::TaskSpec& spec : batch_) pointers.push_back(&spec);
    return engine_->enqueue_batch(pointers, ticket);
  }
  size_t batch_tasks_on_disk() {
    size_t present = 0;
    for (const v1::TaskSpec& spec : batch_) present += get(spec.id()).ok() ? 1 : 0;
    return present;
  }

  const std::vector<v1::TaskSpec> batch_ = {spec("batch-0"), spec("batch-1"), spec("batch-2"), spec("batch-3"),
                                            spec("batch-4")};
};

TEST_F(EngineFaultTest, BatchIsOneWriteEvenWhenItsTasksAreDeliveredAtOnce) {
  storage_->fail_writes_after(1);  // the process "dies" at the second write
  uint64_t ticket = 0;
  ASSERT_TRUE(enqueue_batch_to_a_waiting_consumer(ticket).ok());
  (void)engine_->flush();  // nothing is left to write, or the write fails: either way, see below
  storage_->clear();
  restart();
  EXPECT_EQ(batch_tasks_on_disk(), 5u) << "a batch must reach storage whole (it was the one write that succeeded)";
}

TEST_F(EngineFaultTest, FailedBatchWriteLeavesNothing) {
  storage_->fail_writes_after(0);
  uint64_t ticket = 0;
  if (enqueue_batch_to_a_waiting_consumer(ticket).ok()) {
    // The write may happen inside the call (the first delivery makes lease ids durable)
    // or at the flush: either the flush fails or the ticket's write did.
    const bool flushed = engine_->flush().ok();
    EXPECT_FALSE(flushed && storage_->failed_write(ticket).ok());
  }
  storage_->clear();
  restart();
  EXPECT_EQ(batch_tasks_on_disk(), 0u);
}

TEST_F(EngineFaultTest, ReadErrorKeepsTheReadyEntry) {
  ASSERT_TRUE(try_enqueue("kept").ok());
  restart();  // the record is read from disk at delivery, not from the write cache
  storage_->fail_task_reads(true);
  auto sink = std::make_shared<RecordingSink>();
  const ConsumerId worker = engine_->register_consumer(sink, ConsumerIdentity{"w", "", 0, ""});
  ASSERT_TRUE(engine_->consume(worker, {}, 1, 0).ok());
  EXPECT_TRUE(sink->deliveries.empty());
  EXPECT_EQ(engine_->snapshot().read_errors_total, 1u);
  EXPECT_FALSE(engine_->read_health().ok());
  EXPECT_EQ(engine_->queue_stats({"default"}).at(0).ready(), 1u);
  storage_->fail_task_reads(false);
  engine_->resume_deliveries(worker);  // any later dispatch tries the kept entry again
  ASSERT_EQ(sink->deliveries.size(), 1u);
  EXPECT_EQ(sink->deliveries[0].task_id(), "kept");
}

}  // namespace
}  // namespace brokerd::server
