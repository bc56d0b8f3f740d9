// The worker's record of held deliveries (client/src/delivery_queue.h): one run per task
// id, the leases a heartbeat names, leases the broker reports lost or that die with the
// connection, and time limits. Time is passed in, so nothing here sleeps.

#include "delivery_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace brokerd::internal {
namespace {

using std::chrono::milliseconds;

QueuedDelivery delivery(const std::string& id, uint64_t lease_id, uint64_t generation = 1) {
  QueuedDelivery item;
  item.delivery.set_task_id(id);
  item.delivery.set_lease_id(lease_id);
  item.delivery.set_name("t");
  item.generation = generation;
  return item;
}

std::vector<std::string> named(const std::vector<HeldLease>& leases) {
  std::vector<std::string> out;
  for (const HeldLease& lease : leases) out.push_back(lease.task_id + "#" + std::to_string(lease.lease_id));
  return out;
}

TEST(DeliveryQueueOneRunPerTaskTest, ARedeliveryWaitsForTheOldRunAndLaterOnesOvertakeIt) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1, /*generation=*/1)));
  auto old_run = queue.pop();
  ASSERT_TRUE(old_run);
  queue.lose_generation(1);  // the connection dropped while "a" ran
  EXPECT_TRUE(old_run->flags->lease_lost.load());

  // The reconnected worker gets "a" again, then "b".
  ASSERT_TRUE(queue.push(delivery("a", 2, 2)));
  ASSERT_TRUE(queue.push(delivery("b", 3, 2)));
  auto next = queue.pop();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->delivery.task_id(), "b");  // "a" still runs: its redelivery waits
  // The waiting redelivery is still heartbeated; the old run is not (its lease is gone).
  EXPECT_EQ(named(queue.held(2)), (std::vector<std::string>{"a#2", "b#3"}));
  EXPECT_TRUE(named(queue.held(1)).empty());

  EXPECT_EQ(queue.settle(*old_run), RunEnd::kLeaseLost);
  queue.finish(*old_run);
  auto redelivered = queue.pop();  // would block forever if the old run still counted
  ASSERT_TRUE(redelivered);
  EXPECT_EQ(redelivered->delivery.lease_id(), 2u);
  EXPECT_EQ(queue.settle(*redelivered), RunEnd::kReport);
  EXPECT_EQ(queue.settle(*next), RunEnd::kReport);
  queue.finish(*redelivered);
  queue.finish(*next);
  EXPECT_TRUE(queue.wait_idle_until(WorkerClock::now()));
}

TEST(DeliveryQueueOneRunPerTaskTest, ARedeliveryLostWhileWaitingNeverRuns) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1, 1)));
  auto old_run = queue.pop();
  ASSERT_TRUE(old_run);
  queue.lose_generation(1);
  ASSERT_TRUE(queue.push(delivery("a", 2, 2)));
  EXPECT_EQ(queue.lose("a", 2), LeaseMatch::kDropped);  // named in lost_task_ids
  EXPECT_TRUE(named(queue.held(2)).empty());
  queue.finish(*old_run);
  queue.close();
  EXPECT_FALSE(queue.pop());  // nothing was left to run
}

TEST(DeliveryQueueLeasesTest, ANewerLeaseOfATaskEndsTheOlderOne) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  auto run = queue.pop();
  ASSERT_TRUE(run);
  ASSERT_TRUE(queue.push(delivery("b", 2)));
  // Both leases expired unnoticed and the broker leased both tasks to this connection again.
  ASSERT_TRUE(queue.push(delivery("a", 3)));
  ASSERT_TRUE(queue.push(delivery("b", 4)));
  EXPECT_TRUE(run->flags->lease_lost.load());
  EXPECT_EQ(named(queue.held(1)), (std::vector<std::string>{"a#3", "b#4"}));  // each task once
  EXPECT_EQ(queue.settle(*run), RunEnd::kLeaseLost);
  queue.finish(*run);
  auto first = queue.pop();
  auto second = queue.pop();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->delivery.lease_id(), 3u);
  EXPECT_EQ(second->delivery.lease_id(), 4u);
  queue.finish(*first);
  queue.finish(*second);
}

TEST(DeliveryQueueLeasesTest, HeldNamesWaitingAndUndecidedRunsOfOneGeneration) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  ASSERT_TRUE(queue.push(delivery("b", 2)));
  ASSERT_TRUE(queue.push(delivery("c", 3)));
  auto a = queue.pop();
  auto b = queue.pop();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(named(queue.held(1)), (std::vector<std::string>{"c#3", "a#1", "b#2"}));
  EXPECT_EQ(queue.revoke("b", 2), LeaseMatch::kRunning);
  EXPECT_EQ(named(queue.held(1)), (std::vector<std::string>{"c#3", "a#1"}));
  EXPECT_EQ(queue.settle(*a), RunEnd::kReport);  // its Complete is being sent
  EXPECT_EQ(named(queue.held(1)), (std::vector<std::string>{"c#3"}));
  EXPECT_TRUE(queue.held(2).empty());
  queue.finish(*a);
  EXPECT_EQ(queue.settle(*b), RunEnd::kRevoked);
  queue.finish(*b);
}

TEST(DeliveryQueueLeasesTest, ALostLeaseFlagsTheRunAndItsOutcomeIsNotReported) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  auto run = queue.pop();
  ASSERT_TRUE(run);
  EXPECT_EQ(queue.lose("a", 7), LeaseMatch::kNone);  // another lease of the task
  EXPECT_FALSE(run->flags->lease_lost.load());
  EXPECT_EQ(queue.lose("a", 1), LeaseMatch::kRunning);
  EXPECT_TRUE(run->flags->lease_lost.load());
  EXPECT_TRUE(queue.held(1).empty());
  EXPECT_EQ(queue.settle(*run), RunEnd::kLeaseLost);
  queue.finish(*run);
}

TEST(DeliveryQueueLeasesTest, LosingAGenerationKeepsTheOthers) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1, 1)));
  auto run = queue.pop();
  ASSERT_TRUE(run);
  ASSERT_TRUE(queue.push(delivery("b", 2, 2)));
  queue.lose_generation(2);
  EXPECT_FALSE(run->flags->lease_lost.load());
  EXPECT_TRUE(queue.held(2).empty());
  EXPECT_EQ(named(queue.held(1)), (std::vector<std::string>{"a#1"}));
  EXPECT_EQ(queue.settle(*run), RunEnd::kReport);
  queue.finish(*run);
}

TEST(DeliveryQueueTimeLimitTest, TheDeliveryLimitsWinOverTheDefaults) {
  DeliveryQueue queue(TimeLimits{.soft = milliseconds(100), .hard = milliseconds(200)});
  QueuedDelivery own = delivery("own", 1);
  own.delivery.set_time_limit_ms(5000);
  own.delivery.set_soft_time_limit_ms(4000);
  ASSERT_TRUE(queue.push(own));
  ASSERT_TRUE(queue.push(delivery("default", 2)));
  const WorkerClock::time_point before = WorkerClock::now();
  auto first = queue.pop();
  auto second = queue.pop();
  const WorkerClock::time_point after = WorkerClock::now();
  ASSERT_TRUE(first && second);

  // The default soft limit of "default" comes first.
  auto next = queue.next_time_limit();
  ASSERT_TRUE(next);
  EXPECT_GE(*next, before + milliseconds(100));
  EXPECT_LE(*next, after + milliseconds(100));

  std::vector<LimitPassed> passed = queue.enforce_time_limits(after + milliseconds(150));
  ASSERT_EQ(passed.size(), 1u);
  EXPECT_EQ(passed[0].task_id, "default");
  EXPECT_FALSE(passed[0].hard);
  EXPECT_TRUE(second->flags->soft_limit_passed.load());
  EXPECT_FALSE(first->flags->soft_limit_passed.load());

  passed = queue.enforce_time_limits(after + milliseconds(250));
  ASSERT_EQ(passed.size(), 1u);
  EXPECT_EQ(passed[0].task_id, "default");
  EXPECT_TRUE(passed[0].hard);
  EXPECT_EQ(passed[0].limit, milliseconds(200));
  EXPECT_EQ(passed[0].lease_id, 2u);

  passed = queue.enforce_time_limits(after + milliseconds(4500));
  ASSERT_EQ(passed.size(), 1u);
  EXPECT_EQ(passed[0].task_id, "own");
  EXPECT_FALSE(passed[0].hard);
  EXPECT_EQ(passed[0].limit, milliseconds(4000));
  EXPECT_EQ(queue.settle(*first), RunEnd::kReport);  // returned between its two limits
  EXPECT_EQ(queue.settle(*second), RunEnd::kTimedOut);
  EXPECT_FALSE(queue.next_time_limit());
  queue.finish(*first);
  queue.finish(*second);
}

TEST(DeliveryQueueTimeLimitTest, APassedHardLimitSettlesTheRunAndEndsItsHeartbeats) {
  DeliveryQueue queue(TimeLimits{.hard = milliseconds(100)});
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  auto run = queue.pop();
  ASSERT_TRUE(run);
  ASSERT_TRUE(queue.next_time_limit());
  const std::vector<LimitPassed> passed = queue.enforce_time_limits(WorkerClock::now() + milliseconds(200));
  ASSERT_EQ(passed.size(), 1u);
  EXPECT_TRUE(passed[0].hard);
  EXPECT_TRUE(run->flags->hard_limit_passed.load());
  EXPECT_TRUE(queue.held(1).empty());
  EXPECT_FALSE(queue.next_time_limit());  // nothing left to enforce: no busy wake-ups
  EXPECT_TRUE(queue.enforce_time_limits(WorkerClock::now() + milliseconds(300)).empty());
  EXPECT_EQ(queue.lose("a", 1), LeaseMatch::kNone);
  ASSERT_TRUE(queue.push(delivery("a", 2)));  // a later lease of "a" (e.g. from an operator's retry)
  EXPECT_EQ(queue.settle(*run), RunEnd::kTimedOut) << "the newer lease must not undo the decision";
  // The handler still runs: the other lease of "a" must wait for it.
  EXPECT_FALSE(queue.wait_idle_until(WorkerClock::now()));
  queue.finish(*run);
  auto second = queue.pop();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->delivery.lease_id(), 2u);
  EXPECT_EQ(queue.settle(*second), RunEnd::kReport);
  queue.finish(*second);
}

TEST(DeliveryQueueTimeLimitTest, LostOrRevokedRunsAreNotTimed) {
  DeliveryQueue queue(TimeLimits{.soft = milliseconds(50), .hard = milliseconds(100)});
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  ASSERT_TRUE(queue.push(delivery("b", 2)));
  auto a = queue.pop();
  auto b = queue.pop();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(queue.lose("a", 1), LeaseMatch::kRunning);
  EXPECT_EQ(queue.revoke("b", 2), LeaseMatch::kRunning);
  EXPECT_FALSE(queue.next_time_limit());
  EXPECT_TRUE(queue.enforce_time_limits(WorkerClock::now() + milliseconds(500)).empty());
  EXPECT_EQ(queue.settle(*a), RunEnd::kLeaseLost);
  EXPECT_EQ(queue.settle(*b), RunEnd::kRevoked);
  queue.finish(*a);
  queue.finish(*b);
}

TEST(DeliveryQueueTimeLimitTest, ASoftLimitAtOrPastTheHardOneIsIgnored) {
  DeliveryQueue queue;
  QueuedDelivery item = delivery("a", 1);
  item.delivery.set_time_limit_ms(100);
  item.delivery.set_soft_time_limit_ms(100);
  ASSERT_TRUE(queue.push(item));
  auto run = queue.pop();
  ASSERT_TRUE(run);
  const std::vector<LimitPassed> passed = queue.enforce_time_limits(WorkerClock::now() + milliseconds(200));
  ASSERT_EQ(passed.size(), 1u);
  EXPECT_TRUE(passed[0].hard);
  EXPECT_FALSE(run->flags->soft_limit_passed.load());
  queue.finish(*run);
}

TEST(DeliveryQueueTimeLimitTest, NoLimitsMeansNothingToEnforce) {
  DeliveryQueue queue;
  ASSERT_TRUE(queue.push(delivery("a", 1)));
  auto run = queue.pop();
  ASSERT_TRUE(run);
  EXPECT_FALSE(queue.next_time_limit());
  EXPECT_TRUE(queue.enforce_time_limits(WorkerClock::now() + std::chrono::hours(24 * 365)).empty());
  EXPECT_EQ(queue.settle(*run), RunEnd::kReport);
  queue.finish(*run);
}

}  // namespace
}  // namespace brokerd::internal
