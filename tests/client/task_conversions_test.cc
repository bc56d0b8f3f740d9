// TaskRequest -> TaskSpec and wire replies -> public structs (client/src/task_conversions.h).

#include "task_conversions.h"

#include <gtest/gtest.h>

namespace brokerd::internal {
namespace {

using std::chrono::milliseconds;

TEST(ToTaskSpecTest, DefaultsLeaveServerDefaultsInPlace) {
  const v1::TaskSpec spec = to_task_spec(TaskRequest{.name = "add"});
  EXPECT_EQ(spec.name(), "add");
  EXPECT_EQ(spec.id(), "");
  EXPECT_EQ(spec.queue(), "");
  EXPECT_EQ(spec.args_json(), "[]");
  EXPECT_EQ(spec.kwargs_json(), "{}");
  EXPECT_EQ(spec.priority(), 0u);
  EXPECT_EQ(spec.countdown_ms(), 0);
  EXPECT_EQ(spec.eta_ms(), 0);
  EXPECT_FALSE(spec.has_retry());
  EXPECT_EQ(spec.result_ttl_ms(), 0);
  EXPECT_EQ(spec.time_limit_ms(), 0);
  EXPECT_EQ(spec.soft_time_limit_ms(), 0);
  EXPECT_EQ(spec.max_deliveries(), 0u);
}

TEST(ToTaskSpecTest, MapsEveryOption) {
  TaskRequest request{.name = "tasks.add", .args = {2, 3}, .kwargs = {{"x", "y"}}};
  request.options.id = "job-1";
  request.options.queue = "math";
  request.options.priority = 7;
  request.options.countdown = milliseconds(1500);
  request.options.result_ttl = milliseconds(60000);
  request.options.time_limit = milliseconds(30000);
  request.options.soft_time_limit = milliseconds(25000);
  request.options.max_deliveries = 4;
  const v1::TaskSpec spec = to_task_spec(request);
  EXPECT_EQ(spec.id(), "job-1");
  EXPECT_EQ(spec.queue(), "math");
  EXPECT_EQ(spec.args_json(), "[2,3]");
  EXPECT_EQ(spec.kwargs_json(), R"({"x":"y"})");
  EXPECT_EQ(spec.priority(), 7u);
  EXPECT_EQ(spec.countdown_ms(), 1500);
  EXPECT_EQ(spec.result_ttl_ms(), 60000);
  EXPECT_EQ(spec.time_limit_ms(), 30000);
  EXPECT_EQ(spec.soft_time_limit_ms(), 25000);
  EXPECT_EQ(spec.max_deliveries(), 4u);
}

TEST(ToTaskSpecTest, NullArgumentsBecomeEmpty) {
  const v1::TaskSpec spec = to_task_spec(TaskRequest{.name = "t", .args = nullptr, .kwargs = nullptr});
  EXPECT_EQ(spec.args_json(), "");
  EXPECT_EQ(spec.kwargs_json(), "");
}

TEST(ToTaskSpecTest, EtaIsUnixMilliseconds) {
  TaskRequest request{.name = "t"};
  request.options.countdown = milliseconds(5000);
  request.options.eta = std::chrono::system_clock::time_point(milliseconds(1700000000123));
  const v1::TaskSpec spec = to_task_spec(request);
  EXPECT_EQ(spec.eta_ms(), 1700000000123);
  EXPECT_EQ(spec.countdown_ms(), 5000);  // sent too; the server lets the ETA win
}

TEST(ToTaskSpecTest, EtaAtEpochStillSetsEta) {
  TaskRequest request{.name = "t"};
  request.options.eta = std::chrono::system_clock::time_point{};
  EXPECT_EQ(to_task_spec(request).eta_ms(), 1);  // 0 would read as "unset"
}

TEST(ToTaskSpecTest, RetryPolicySetsOnlyGivenFields) {
  TaskRequest request{.name = "t"};
  request.options.retry.max_retries = 3;
  request.options.retry.backoff_base = milliseconds(200);
  v1::TaskSpec spec = to_task_spec(request);
  ASSERT_TRUE(spec.has_retry());
  EXPECT_TRUE(spec.retry().has_max_retries());
  EXPECT_EQ(spec.retry().max_retries(), 3u);
  EXPECT_EQ(spec.retry().backoff_base_ms(), 200);
  EXPECT_FALSE(spec.retry().has_backoff_max_ms());
  EXPECT_FALSE(spec.retry().has_jitter());

  request.options.retry = RetryPolicy{.backoff_max = milliseconds(9000), .jitter = false};
  spec = to_task_spec(request);
  EXPECT_FALSE(spec.retry().has_max_retries());
  EXPECT_EQ(spec.retry().backoff_max_ms(), 9000);
  ASSERT_TRUE(spec.retry().has_jitter());
  EXPECT_FALSE(spec.retry().jitter());
}

TEST(ToTaskSpecTest, InvalidUtf8DoesNotThrow) {
  TaskRequest request{.name = "t", .args = {std::string("\xff\xfe")}};
  v1::TaskSpec spec;
  EXPECT_NO_THROW(spec = to_task_spec(request));
  EXPECT_EQ(spec.args_json(), "[\"\xEF\xBF\xBD\xEF\xBF\xBD\"]");
}

TEST(FromWireStateTest, MapsEveryState) {
  EXPECT_EQ(from_wire_state(v1::QUEUED), TaskState::kQueued);
  EXPECT_EQ(from_wire_state(v1::SCHEDULED), TaskState::kScheduled);
  EXPECT_EQ(from_wire_state(v1::STARTED), TaskState::kStarted);
  EXPECT_EQ(from_wire_state(v1::RETRY), TaskState::kRetry);
  EXPECT_EQ(from_wire_state(v1::SUCCESS), TaskState::kSuccess);
  EXPECT_EQ(from_wire_state(v1::FAILURE), TaskState::kFailure);
  EXPECT_EQ(from_wire_state(v1::REVOKED), TaskState::kRevoked);
  EXPECT_EQ(from_wire_state(v1::TASK_STATE_UNSPECIFIED), TaskState::kUnknown);
  EXPECT_EQ(from_wire_state(static_cast<v1::TaskState>(42)), TaskState::kUnknown);
}

TEST(ToTaskInfoTest, CopiesRecord) {
  v1::TaskRecord record;
  record.set_id("abc");
  record.set_name("divide");
  record.set_queue("default");
  record.set_args_json("[1,0]");
  record.set_kwargs_json("{}");
  record.set_priority(4);
  record.set_state(v1::FAILURE);
  record.mutable_retry()->set_max_retries(2);
  record.set_attempts(3);
  record.set_retries(2);
  record.set_created_ms(10);
  record.set_due_ms(11);
  record.set_started_ms(12);
  record.set_finished_ms(13);
  record.set_expires_ms(14);
  record.set_worker("w1");
  record.mutable_error()->set_type("std::domain_error");
  record.mutable_error()->set_message("division by zero");
  record.mutable_error()->set_traceback("tb");
  auto* t = record.add_history();
  t->set_state(v1::QUEUED);
  t->set_at_ms(10);
  t = record.add_history();
  t->set_state(v1::FAILURE);
  t->set_at_ms(13);

  const TaskInfo info = to_task_info(record);
  EXPECT_EQ(info.id, "abc");
  EXPECT_EQ(info.name, "divide");
  EXPECT_EQ(info.queue, "default");
  EXPECT_EQ(info.args_json, "[1,0]");
  EXPECT_EQ(info.kwargs_json, "{}");
  EXPECT_EQ(info.priority, 4u);
  EXPECT_EQ(info.state, TaskState::kFailure);
  EXPECT_EQ(info.max_retries, 2u);
  EXPECT_EQ(info.attempts, 3u);
  EXPECT_EQ(info.retries, 2u);
  EXPECT_EQ(info.created_ms, 10);
  EXPECT_EQ(info.due_ms, 11);
  EXPECT_EQ(info.started_ms, 12);
  EXPECT_EQ(info.finished_ms, 13);
  EXPECT_EQ(info.expires_ms, 14);
  EXPECT_EQ(info.worker, "w1");
  ASSERT_TRUE(info.error.has_value());
  EXPECT_EQ(info.error->type, "std::domain_error");
  EXPECT_EQ(info.error->message, "division by zero");
  EXPECT_EQ(info.error->traceback, "tb");
  ASSERT_EQ(info.history.size(), 2u);
  EXPECT_EQ(info.history[1].state, TaskState::kFailure);
  EXPECT_EQ(info.history[1].at_ms, 13);
  EXPECT_TRUE(info.result().is_null());
}

TEST(ToTaskInfoTest, SuccessHasResultAndNoError) {
  v1::TaskRecord record;
  record.set_state(v1::SUCCESS);
  record.set_result_json("5");
  const TaskInfo info = to_task_info(record);
  EXPECT_FALSE(info.error.has_value());
  EXPECT_EQ(info.result(), 5);
}

TEST(ToReceiptTest, CopiesFields) {
  v1::EnqueueOk ok;
  ok.set_id("x");
  ok.set_state(v1::SCHEDULED);
  ok.set_created(false);
  const EnqueueReceipt receipt = to_receipt(ok);
  EXPECT_EQ(receipt.id, "x");
  EXPECT_EQ(receipt.state, TaskState::kScheduled);
  EXPECT_FALSE(receipt.created);
}

TEST(ToQueueInfoTest, CopiesCounters) {
  v1::QueueStats stats;
  stats.set_name("q");
  stats.set_ready(1);
  stats.set_scheduled(2);
  stats.set_in_flight(3);
  stats.set_retrying(4);
  stats.set_consumers(5);
  stats.set_succeeded(6);
  stats.set_failed(7);
  const QueueInfo info = to_queue_info(stats);
  EXPECT_EQ(info.name, "q");
  EXPECT_EQ(info.ready, 1u);
  EXPECT_EQ(info.scheduled, 2u);
  EXPECT_EQ(info.in_flight, 3u);
  EXPECT_EQ(info.retrying, 4u);
  EXPECT_EQ(info.consumers, 5u);
  EXPECT_EQ(info.succeeded, 6u);
  EXPECT_EQ(info.failed, 7u);
}

}  // namespace
}  // namespace brokerd::internal
