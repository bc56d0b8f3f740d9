// Disk full and other storage write errors: the request gets a typed error, reads go on,
// writes resume once the store takes them again, and what the engine then holds is what
// the disk holds. The store is a real RocksDB behind FaultyStorage, which fails writes
// and syncs on demand the way a full disk does.
#include <gtest/gtest.h>

#include <future>

#include "commit/committer.h"
#include "engine/engine.h"
#include "server/storage/faulty_storage.h"
#include "storage/rocks_storage.h"
#include "support/temp_dir.h"
#include "engine_fixture.h"
#include "faulty_engine_fixture.h"

namespace brokerd::server {
namespace {

using EngineWriteErrorTest = FaultyEngineTest;

TEST_F(EngineWriteErrorTest, FullDiskRefusesWritesWithResourceExhaustedAndReadsGoOn) {
  ASSERT_TRUE(try_enqueue("before").ok());
  storage_->fail_writes_with_no_space();

  // The request whose write fails, then every later one before recovery.
  Status failed = try_enqueue("lost");
  EXPECT_EQ(failed.code(), StatusCode::kResourceExhausted) << failed.message();
  EXPECT_NE(failed.message().find("disk full"), std::string::npos) << failed.message();
  Status refused = try_enqueue("refused");
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.message();
  EXPECT_EQ(engine_->write_refusal().code(), StatusCode::kResourceExhausted);
  uint64_t ticket = 0;
  std::vector<const v1::TaskSpec*> batch;
  v1::TaskSpec batched = spec("batched");
  batch.push_back(&batched);
  EXPECT_EQ(engine_->enqueue_batch(batch, ticket).status().code(), StatusCode::kResourceExhausted);

  // Reads: the confirmed task, answered at once (ticket 0: no sync to wait for); the
  // failed one does not exist; statistics and listings answer.
  auto before = engine_->get_task("before", ticket);
  ASSERT_TRUE(before.ok()) << before.status().message();
  EXPECT_EQ(before->state(), v1::QUEUED);
  EXPECT_EQ(ticket, 0u);
  EXPECT_TRUE(get("lost").status().is_not_found());
  EXPECT_EQ(engine_->queue_stats({"default"}).size(), 1u);
  uint64_t read_ticket = 0;
  EXPECT_TRUE(engine_->list_tasks("default", v1::TASK_STATE_UNSPECIFIED, 10, read_ticket).ok());
  EXPECT_TRUE(engine_->flush().ok()) << "a reader's flush has nothing to write and must succeed";
}

TEST_F(EngineWriteErrorTest, WritesResumeAfterSpaceReturnsAndStateEqualsDisk) {
  ASSERT_TRUE(try_enqueue("a").ok());
  ASSERT_TRUE(try_enqueue("b").ok());
  storage_->fail_writes_with_no_space();
  ASSERT_FALSE(try_enqueue("lost").ok());

  // While the disk stays full, attempts fail and writes stay refused.
  let_recovery_run();
  let_recovery_run();
  EXPECT_EQ(try_enqueue("still-full").code(), StatusCode::kResourceExhausted);

  storage_->clear();
  let_recovery_run();
  ASSERT_TRUE(engine_->write_refusal().ok()) << engine_->write_refusal().message();
  ASSERT_TRUE(try_enqueue("c").ok());

  // Memory was rebuilt from disk: the failed enqueue left nothing, counters agree.
  EXPECT_TRUE(get("lost").status().is_not_found());
  EXPECT_FALSE(on_disk("lost"));
  EXPECT_FALSE(on_disk("still-full"));
  for (const char* id : {"a", "b", "c"}) {
    auto task = get(id);
    ASSERT_TRUE(task.ok()) << id;
    EXPECT_EQ(task->state(), v1::QUEUED) << id;
  }
  EXPECT_EQ(engine_->queue_stats({"default"}).at(0).ready(), 3u);

  // And a consumer gets exactly those, in order.
  auto sink = std::make_shared<RecordingSink>();
  ConsumerId consumer = engine_->register_consumer(sink, ConsumerIdentity{"w", "", 0, ""});
  ASSERT_TRUE(engine_->consume(consumer, {}, 10, 0).ok());
  ASSERT_EQ(sink->deliveries.size(), 3u);
  EXPECT_EQ(sink->deliveries[0].task_id(), "a");
  EXPECT_EQ(sink->deliveries[2].task_id(), "c");

  // What a restart recovers is the same.
  engine_.reset();
  restart();
  EXPECT_EQ(engine_->queue_stats({"default"}).at(0).ready(), 3u);
  EXPECT_TRUE(get("lost").status().is_not_found());
}

TEST_F(EngineWriteErrorTest, NextWriteAttemptRecoversWithoutATimerPass) {
  storage_->fail_writes_with_no_space();
  ASSERT_FALSE(try_enqueue("lost").ok());
  storage_->clear();
  EXPECT_EQ(try_enqueue("too-soon").code(), StatusCode::kResourceExhausted) << "backoff not yet over";
  clock_.advance_ms(EngineOptions{}.recovery_backoff_min_ms);
  EXPECT_TRUE(try_enqueue("after").ok());
  EXPECT_TRUE(get("after").ok());
  EXPECT_TRUE(get("lost").status().is_not_found());
}

TEST_F(EngineWriteErrorTest, LeasesAreLostInRecoveryTheTaskIsDeliveredAgain) {
  ASSERT_TRUE(try_enqueue("leased").ok());
  auto sink = std::make_shared<RecordingSink>();
  ConsumerId consumer = engine_->register_consumer(sink, ConsumerIdentity{"w", "", 0, ""});
  ASSERT_TRUE(engine_->consume(consumer, {}, 1, 0).ok());
  ASSERT_EQ(sink->deliveries.size(), 1u);
  const v1::Delivery first = sink->deliveries[0];

  storage_->fail_writes_with_no_space();
  ASSERT_FALSE(try_enqueue("lost").ok());
  // The holder's completion is refused with the typed error while degraded.
  EXPECT_EQ(succeed(consumer, first).status().code(), StatusCode::kResourceExhausted);

  storage_->clear();
  let_recovery_run();
  ASSERT_TRUE(engine_->write_refusal().ok());
  // The lease is gone: the task is QUEUED again; the lost lease keeps the holder's only
  // credit until it reports, as an expired lease does.
  EXPECT_EQ(get("leased")->state(), v1::QUEUED);
  EXPECT_EQ(sink->deliveries.size(), 1u);
  EXPECT_EQ(succeed(consumer, first).status().code(), StatusCode::kStaleLease);
  ASSERT_EQ(sink->deliveries.size(), 2u) << "the report freed the credit";
  const v1::Delivery second = sink->deliveries[1];
  EXPECT_EQ(second.task_id(), "leased");
  EXPECT_NE(second.lease_id(), first.lease_id());
  auto done = succeed(consumer, second);
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(done.value(), v1::SUCCESS);
  EXPECT_EQ(engine_->queue_stats({"default"}).at(0).in_flight(), 0u);
}

TEST_F(EngineWriteErrorTest, OtherWriteErrorsAreInternal) {
  rocks_->fail_writes(Status::Internal("write: IO error: Input/output error"));
  Status failed = try_enqueue("x");
  EXPECT_EQ(failed.code(), StatusCode::kInternal) << failed.message();
  EXPECT_NE(failed.message().find("storage write failed"), std::string::npos) << failed.message();
  let_recovery_run();  // nothing wrong with the disk: Resume() succeeds at once
  EXPECT_TRUE(try_enqueue("y").ok());
  EXPECT_FALSE(on_disk("x"));
}

// A failed sync (the committer's): the waiting request gets the typed error, the engine
// notices without a write of its own, and recovers like after a failed write.
TEST_F(EngineWriteErrorTest, FailedSyncIsTypedAndDegradesTheEngine) {
  Committer committer(*storage_, SyncPolicy::kAlways, 0);
  committer.start();
  auto when_durable = [&](uint64_t ticket) {
    std::promise<Status> promise;
    committer.when_durable(ticket, [&](const Status& s) { promise.set_value(s); });
    return promise.get_future().get();
  };
  uint64_t ok_ticket = 0;
  ASSERT_TRUE(try_enqueue("durable", &ok_ticket).ok());
  ASSERT_TRUE(when_durable(ok_ticket).ok());

  storage_->fail_writes_with_no_space(/*writes=*/false, /*syncs=*/true);
  uint64_t ticket = 0;
  ASSERT_TRUE(try_enqueue("unsynced", &ticket).ok()) << "the write itself succeeds";
  Status synced = when_durable(ticket);
  EXPECT_EQ(synced.code(), StatusCode::kResourceExhausted) << synced.message();
  bool ok_flag = true;
  std::promise<void> done;
  committer.after_durable(ticket, [&](bool ok) {
    ok_flag = ok;
    done.set_value();
  });
  done.get_future().get();
  EXPECT_FALSE(ok_flag);

  // Reads are answered without waiting for a sync; writes are refused, typed.
  uint64_t read_ticket = 1;
  ASSERT_TRUE(engine_->get_task("durable", read_ticket).ok());
  EXPECT_EQ(read_ticket, 0u);
  EXPECT_EQ(try_enqueue("refused").code(), StatusCode::kResourceExhausted);

  storage_->clear();
  let_recovery_run();
  uint64_t after = 0;
  ASSERT_TRUE(try_enqueue("after", &after).ok());
  EXPECT_TRUE(when_durable(after).ok());
  // The unsynced write was applied (only its sync failed): like a write at a crash, it
  // may survive. Memory agrees with the disk either way.
  EXPECT_EQ(get("unsynced").ok(), on_disk("unsynced"));
  EXPECT_EQ(engine_->queue_stats({"default"}).at(0).ready(), on_disk("unsynced") ? 3u : 2u);
  committer.stop();
}

// A ticket whose write failed is never confirmed, not even by a later sync that covers
// a successful write with a higher number.
TEST_F(EngineWriteErrorTest, CommitterNeverConfirmsAFailedWrite) {
  Committer committer(*storage_, SyncPolicy::kAlways, 0);
  committer.start();
  auto when_durable = [&](uint64_t ticket) {
    std::promise<Status> promise;
    committer.when_durable(ticket, [&](const Status& s) { promise.set_value(s); });
    return promise.get_future().get();
  };
  // A reader saw the pending task and holds the ticket of the write that will fail.
  uint64_t enqueue_ticket = 0;
  auto outcome = engine_->enqueue(spec("lost"), enqueue_ticket);
  ASSERT_TRUE(outcome.ok());
  uint64_t reader_ticket = 0;
  ASSERT_TRUE(engine_->get_task("lost", reader_ticket).ok());
  EXPECT_EQ(reader_ticket, enqueue_ticket);
  storage_->fail_writes_with_no_space();
  EXPECT_EQ(engine_->flush().code(), StatusCode::kResourceExhausted);
  storage_->clear();
  let_recovery_run();
  uint64_t later = 0;
  ASSERT_TRUE(try_enqueue("later", &later).ok());
  EXPECT_GT(later, reader_ticket);
  EXPECT_TRUE(when_durable(later).ok());
  Status stale = when_durable(reader_ticket);
  EXPECT_EQ(stale.code(), StatusCode::kResourceExhausted) << "the reader saw a task that never existed";
  EXPECT_TRUE(get("lost").status().is_not_found());
  committer.stop();
}

}  // namespace
}  // namespace brokerd::server
