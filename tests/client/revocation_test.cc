// How the worker runtime takes a revocation: the local delivery queue drops a waiting
// delivery or flags a running one (client/src/delivery_queue.h), and a flagged task's
// context says so (client/src/task_runner.h).

#include <gtest/gtest.h>


#include "delivery_queue.h"
#include "task_runner.h"

namespace brokerd::internal {
namespace {

QueuedDelivery delivery(const std::string& id, uint64_t lease_id) {
  QueuedDelivery item;
  item.delivery.set_task_id(id);
  item.delivery.set_lease_id(lease_id);
  item.delivery.set_name("t");
  item.generation = 1;
  return item;
}

TEST(DeliveryQueueRevokeTest, DropsADeliveryThatHasNotStarted) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  ASSERT_TRUE(queue.push(delivery("b", 2)));
  EXPECT_EQ(queue.revoke("a", 1), LeaseMatch::kDropped);
  auto next = queue.pop();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->delivery.task_id(), "b");
  queue.finish(*next);
}

TEST(DeliveryQueueRevokeTest, FlagsTheRunningDeliveryUntilItFinishes) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  auto running = queue.pop();
  ASSERT_TRUE(running);
  ASSERT_TRUE(running->flags);
  EXPECT_FALSE(running->flags->revoked.load());
  EXPECT_EQ(queue.revoke("a", 1), LeaseMatch::kRunning);
  EXPECT_TRUE(running->flags->revoked.load());
  EXPECT_FALSE(queue.wait_idle_until(WorkerClock::now()));
  EXPECT_EQ(queue.settle(*running), RunEnd::kRevoked);
  queue.finish(*running);
  EXPECT_TRUE(queue.wait_idle_until(WorkerClock::now()));
  EXPECT_EQ(queue.revoke("a", 1), LeaseMatch::kNone);  // finished: nothing to do
}

TEST(DeliveryQueueRevokeTest, MatchesTheLeaseNotJustTheTask) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 7)));
  EXPECT_EQ(queue.revoke("a", 6), LeaseMatch::kNone);  // an earlier lease of the same task
  EXPECT_EQ(queue.revoke("b", 7), LeaseMatch::kNone);
  auto running = queue.pop();
  ASSERT_TRUE(running);
  EXPECT_EQ(queue.revoke("a", 6), LeaseMatch::kNone);
  EXPECT_FALSE(running->flags->revoked.load());
  EXPECT_EQ(queue.settle(*running), RunEnd::kReport);
  queue.finish(*running);
}

TEST(DeliveryQueueRevokeTest, FinishingOneOfTwoRunningKeepsTheOther) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  ASSERT_TRUE(queue.push(delivery("b", 2)));
  auto first = queue.pop();
  auto second = queue.pop();
  ASSERT_TRUE(first && second);
  queue.finish(*first);
  EXPECT_FALSE(queue.wait_idle_until(WorkerClock::now()));
  EXPECT_EQ(queue.revoke("b", 2), LeaseMatch::kRunning);
  EXPECT_TRUE(second->flags->revoked.load());
  queue.finish(*second);
  EXPECT_TRUE(queue.wait_idle_until(WorkerClock::now()));
}

TEST(DeliveryQueueRevokeTest, ADecidedRunIsNoLongerMatched) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  auto running = queue.pop();
  ASSERT_TRUE(running);
  EXPECT_EQ(queue.settle(*running), RunEnd::kReport);  // its Complete is on its way
  EXPECT_EQ(queue.revoke("a", 1), LeaseMatch::kNone);
  queue.finish(*running);
}

TEST(RunTaskRevokedTest, ContextReportsRevocation) {
  const std::atomic<bool> not_stopping{false};
  RunFlags flags;
  v1::Delivery d;
  d.set_task_id("t1");
  d.set_name("t");
  bool seen_before = true;
  bool seen_after = false;
  bool stop_after = false;
  TaskHandler handler = [&](TaskContext& task) -> nlohmann::json {
    seen_before = task.revoked() || task.stop_requested();
    flags.revoked = true;  // as the worker's I/O thread would on a RevokeNotice
    seen_after = task.revoked();
    stop_after = task.stop_requested();
    return nullptr;
  };
  run_task(d, &handler, not_stopping, &flags);
  EXPECT_FALSE(seen_before);
  EXPECT_TRUE(seen_after);
  EXPECT_TRUE(stop_after);

  // Without a flag (the old call), revoked() is always false.
  TaskHandler plain = [&](TaskContext& task) -> nlohmann::json {
    seen_after = task.revoked();
    return nullptr;
  };
  run_task(d, &plain, not_stopping);
  EXPECT_FALSE(seen_after);
}

}  // namespace
}  // namespace brokerd::internal
