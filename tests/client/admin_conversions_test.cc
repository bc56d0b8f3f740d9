// Wire replies of the operator requests and events -> public structs
// (client/src/task_conversions.h), and the names the CLI prints.

#include <gtest/gtest.h>

#include "task_conversions.h"

namespace brokerd::internal {
namespace {

TEST(AdminConversionsTest, QueueStatsCarryTheNewCountersAndRates) {
  v1::QueueStats wire;
  wire.set_name("q");
  wire.set_ready(1);
  wire.set_scheduled(2);
  wire.set_in_flight(3);
  wire.set_retrying(4);
  wire.set_consumers(5);
  wire.set_succeeded(6);
  wire.set_failed(7);
  wire.set_dead(8);
  wire.set_revoked(9);
  wire.set_enqueued_per_s(1.5);
  wire.set_completed_per_s(2.5);
  wire.set_failed_per_s(0.25);
  const QueueInfo info = to_queue_info(wire);
  EXPECT_EQ(info.name, "q");
  EXPECT_EQ(info.ready, 1u);
  EXPECT_EQ(info.scheduled, 2u);
  EXPECT_EQ(info.in_flight, 3u);
  EXPECT_EQ(info.retrying, 4u);
  EXPECT_EQ(info.consumers, 5u);
  EXPECT_EQ(info.succeeded, 6u);
  EXPECT_EQ(info.failed, 7u);
  EXPECT_EQ(info.dead, 8u);
  EXPECT_EQ(info.revoked, 9u);
  EXPECT_DOUBLE_EQ(info.enqueued_per_s, 1.5);
  EXPECT_DOUBLE_EQ(info.completed_per_s, 2.5);
  EXPECT_DOUBLE_EQ(info.failed_per_s, 0.25);
}

TEST(AdminConversionsTest, TaskStatesRoundTrip) {
  for (TaskState state : {TaskState::kQueued, TaskState::kScheduled, TaskState::kStarted, TaskState::kRetry,
                          TaskState::kSuccess, TaskState::kFailure, TaskState::kRevoked}) {
    EXPECT_EQ(from_wire_state(to_wire_state(state)), state) << task_state_name(state);
  }
  EXPECT_EQ(to_wire_state(TaskState::kUnknown), v1::TASK_STATE_UNSPECIFIED);
}

TEST(AdminConversionsTest, WorkerInfo) {
  v1::WorkerInfo wire;
  wire.set_session_id("s1");
  wire.set_name("w");
  wire.set_host("h");
  wire.set_pid(42);
  wire.add_queues("a");
  wire.add_queues("b");
  wire.set_prefetch(8);
  wire.set_in_flight(3);
  wire.set_completed(10);
  wire.set_failed(2);
  wire.set_connected_ms(1000);
  wire.set_last_seen_ms(2000);
  const WorkerInfo info = to_worker_info(wire);
  EXPECT_EQ(info.session_id, "s1");
  EXPECT_EQ(info.name, "w");
  EXPECT_EQ(info.host, "h");
  EXPECT_EQ(info.pid, 42u);
  EXPECT_EQ(info.queues, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(info.prefetch, 8u);
  EXPECT_EQ(info.in_flight, 3u);
  EXPECT_EQ(info.completed, 10u);
  EXPECT_EQ(info.failed, 2u);
  EXPECT_EQ(info.connected_ms, 1000);
  EXPECT_EQ(info.last_seen_ms, 2000);
}

TEST(AdminConversionsTest, ServerStats) {
  v1::ServerStats wire;
  wire.set_version("1.2.3");
  wire.set_uptime_ms(5000);
  wire.set_started_ms(123);
  wire.set_connections(4);
  wire.set_consumers(2);
  wire.set_sync("interval");
  wire.set_disk_bytes(1 << 20);
  wire.set_rss_bytes(1 << 25);
  wire.set_queues(3);
  wire.set_data_dir("/var/lib/brokerd");
  wire.mutable_totals()->set_ready(11);
  wire.mutable_totals()->set_dead(1);
  const ServerStats stats = to_server_stats(wire);
  EXPECT_EQ(stats.version, "1.2.3");
  EXPECT_EQ(stats.uptime_ms, 5000);
  EXPECT_EQ(stats.started_ms, 123);
  EXPECT_EQ(stats.connections, 4u);
  EXPECT_EQ(stats.consumers, 2u);
  EXPECT_EQ(stats.sync, "interval");
  EXPECT_EQ(stats.disk_bytes, 1u << 20);
  EXPECT_EQ(stats.rss_bytes, 1u << 25);
  EXPECT_EQ(stats.queues, 3u);
  EXPECT_EQ(stats.data_dir, "/var/lib/brokerd");
  EXPECT_EQ(stats.totals.ready, 11u);
  EXPECT_EQ(stats.totals.dead, 1u);
  EXPECT_EQ(stats.totals.name, "");
}

TEST(AdminConversionsTest, DeadOpOutcome) {
  v1::DeadOpOk wire;
  wire.set_count(3);
  wire.add_not_dead_ids("x");
  const DeadOpOutcome outcome = to_dead_op_outcome(wire);
  EXPECT_EQ(outcome.count, 3u);
  EXPECT_EQ(outcome.not_dead_ids, std::vector<std::string>{"x"});
}

TEST(AdminConversionsTest, Events) {
  v1::Event wire;
  wire.set_kind(v1::TASK_FAILED);
  wire.set_at_ms(99);
  wire.set_task_id("t");
  wire.set_task_name("divide");
  wire.set_queue("math");
  wire.set_worker("w");
  wire.set_attempt(2);
  wire.mutable_error()->set_type("ZeroDivisionError");
  wire.mutable_error()->set_message("division by zero");
  wire.set_runtime_ms(12);
  const Event event = to_event(wire);
  EXPECT_EQ(event.kind, EventKind::kTaskFailed);
  EXPECT_EQ(event.at_ms, 99);
  EXPECT_EQ(event.task_id, "t");
  EXPECT_EQ(event.task_name, "divide");
  EXPECT_EQ(event.queue, "math");
  EXPECT_EQ(event.worker, "w");
  EXPECT_EQ(event.attempt, 2u);
  ASSERT_TRUE(event.error.has_value());
  EXPECT_EQ(event.error->type, "ZeroDivisionError");
  EXPECT_EQ(event.error->message, "division by zero");
  EXPECT_EQ(event.runtime_ms, 12);

  v1::Event online;
  online.set_kind(v1::WORKER_ONLINE);
  online.set_worker("w");
  online.set_host("h");
  online.set_pid(7);
  const Event worker = to_event(online);
  EXPECT_EQ(worker.kind, EventKind::kWorkerOnline);
  EXPECT_FALSE(worker.error.has_value());
  EXPECT_EQ(worker.host, "h");
  EXPECT_EQ(worker.pid, 7u);

  v1::Event future;
  future.set_kind(static_cast<v1::EventKind>(99));
  EXPECT_EQ(to_event(future).kind, EventKind::kUnknown);
}

TEST(AdminConversionsTest, EventKindNamesMatchTheWire) {
  for (int kind = v1::TASK_ENQUEUED; kind <= v1::WORKER_OFFLINE; ++kind) {
    const auto wire = static_cast<v1::EventKind>(kind);
    EXPECT_EQ(event_kind_name(from_wire_event_kind(wire)), v1::EventKind_Name(wire));
  }
}

}  // namespace
}  // namespace brokerd::internal
