#include "engine/task_rules.h"

#include <gtest/gtest.h>

#include <limits>

namespace brokerd::server {
namespace {

v1::TaskSpec spec(const std::string& name) {
  v1::TaskSpec s;
  s.set_name(name);
  return s;
}

TEST(TaskRules, BuildsRecordWithDefaults) {
  auto task = build_record(spec("tasks.add"), TaskLimits{}, 1000);
  ASSERT_TRUE(task.ok()) << task.status().message();
  EXPECT_EQ(task->queue(), "default");
  EXPECT_EQ(task->args_json(), "[]");
  EXPECT_EQ(task->kwargs_json(), "{}");
  EXPECT_EQ(task->result_ttl_ms(), 86'400'000);
  EXPECT_EQ(task->due_ms(), 0);
  EXPECT_EQ(task->created_ms(), 1000);
}

TEST(TaskRules, CountdownAndEtaSetDueTime) {
  v1::TaskSpec s = spec("t");
  s.set_countdown_ms(500);
  EXPECT_EQ(build_record(s, TaskLimits{}, 1000)->due_ms(), 1500);
  s.set_eta_ms(9000);  // wins over countdown
  EXPECT_EQ(build_record(s, TaskLimits{}, 1000)->due_ms(), 9000);
  s.set_eta_ms(10);  // in the past: due now
  EXPECT_EQ(build_record(s, TaskLimits{}, 1000)->due_ms(), 0);
}

TEST(TaskRules, RejectsBadInputNamingTheField) {
  struct Case {
    std::function<void(v1::TaskSpec&)> mutate;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](v1::TaskSpec& s) { s.set_name(""); }, "name"},
      {[](v1::TaskSpec& s) { s.set_name(std::string(201, 'n')); }, "name"},
      {[](v1::TaskSpec& s) { s.set_name("a\nb"); }, "name"},
      {[](v1::TaskSpec& s) { s.set_queue("has space"); }, "queue"},
      {[](v1::TaskSpec& s) { s.set_queue(std::string(129, 'q')); }, "queue"},
      {[](v1::TaskSpec& s) { s.set_queue(std::string("a\0b", 3)); }, "queue"},
      {[](v1::TaskSpec& s) { s.set_id("bad id"); }, "id"},
      {[](v1::TaskSpec& s) { s.set_args_json("{\"a\":1}"); }, "args_json"},
      {[](v1::TaskSpec& s) { s.set_args_json("[1,"); }, "args_json"},
      {[](v1::TaskSpec& s) { s.set_kwargs_json("[]"); }, "kwargs_json"},
      {[](v1::TaskSpec& s) { s.set_priority(10); }, "priority"},
      {[](v1::TaskSpec& s) { s.set_countdown_ms(-1); }, "countdown_ms"},
      {[](v1::TaskSpec& s) { s.set_result_ttl_ms(-1); }, "result_ttl_ms"},
      {[](v1::TaskSpec& s) { s.mutable_retry()->set_max_retries(1001); }, "max_retries"},
      {[](v1::TaskSpec& s) { s.mutable_retry()->set_backoff_base_ms(0); }, "backoff_base_ms"},
      {[](v1::TaskSpec& s) { s.mutable_retry()->set_backoff_max_ms(10); }, "backoff_max_ms"},
  };
  for (const Case& c : cases) {
    v1::TaskSpec s = spec("t");
    c.mutate(s);
    auto task = build_record(s, TaskLimits{}, 0);
    ASSERT_FALSE(task.ok()) << c.field;
    EXPECT_EQ(task.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(task.status().message().find(c.field), std::string::npos) << task.status().message();
  }
}

TEST(TaskRules, JsonWithAnEmbeddedNulIsInvalid) {
  // nlohmann's parser stops at a NUL, so these used to pass as "[1]" and "{}".
  EXPECT_FALSE(is_valid_json(std::string("[1]\0garbage", 11)));
  EXPECT_FALSE(is_valid_json(std::string("{}\0", 3)));
  EXPECT_TRUE(is_valid_json("[\"escaped \\u0000 is fine\"]"));
  v1::TaskSpec s = spec("t");
  s.set_args_json(std::string("[1]\0[2]", 7));
  auto args = build_record(s, TaskLimits{}, 0);
  ASSERT_FALSE(args.ok());
  EXPECT_NE(args.status().message().find("args_json"), std::string::npos);
  s = spec("t");
  s.set_kwargs_json(std::string("{}\0x", 4));
  auto kwargs = build_record(s, TaskLimits{}, 0);
  ASSERT_FALSE(kwargs.ok());
  EXPECT_NE(kwargs.status().message().find("kwargs_json"), std::string::npos);
}

TEST(TaskRules, HugeCountdownSaturatesInsteadOfWrappingToNow) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  v1::TaskSpec s = spec("t");
  s.set_countdown_ms(kMax);  // now + countdown used to wrap negative: due at once
  auto task = build_record(s, TaskLimits{}, 1'700'000'000'000);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->due_ms(), kMax);
  EXPECT_EQ(saturating_add(1000, kMax), kMax);
  EXPECT_EQ(saturating_add(-1000, std::numeric_limits<int64_t>::min()), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(saturating_add(1000, 500), 1500);
  EXPECT_EQ(saturating_add(1000, -500), 500);
}

TEST(TaskRules, BackoffWithHugeBaseAndCapDoesNotOverflow) {
  v1::RetryPolicy policy;
  policy.set_backoff_base_ms(int64_t{1} << 62);
  policy.set_backoff_max_ms(std::numeric_limits<int64_t>::max());
  policy.set_jitter(false);
  std::mt19937_64 random(1);
  EXPECT_EQ(retry_delay_ms(policy, 1, random), int64_t{1} << 62);
  EXPECT_EQ(retry_delay_ms(policy, 2, random), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(retry_delay_ms(policy, 1000, random), std::numeric_limits<int64_t>::max());
  policy.set_jitter(true);
  for (int i = 0; i < 100; ++i) EXPECT_GT(retry_delay_ms(policy, 5, random), 0);
}

TEST(TaskRules, EnforcesPayloadLimit) {
  v1::TaskSpec s = spec("t");
  s.set_args_json("[\"" + std::string(100, 'x') + "\"]");
  TaskLimits limits;
  limits.max_payload_bytes = 64;
  EXPECT_FALSE(build_record(s, limits, 0).ok());
}

TEST(TaskRules, BackoffDoublesUpToTheCap) {
  v1::RetryPolicy policy;
  policy.set_backoff_base_ms(1000);
  policy.set_backoff_max_ms(5000);
  policy.set_jitter(false);
  std::mt19937_64 random(1);
  EXPECT_EQ(retry_delay_ms(policy, 1, random), 1000);
  EXPECT_EQ(retry_delay_ms(policy, 2, random), 2000);
  EXPECT_EQ(retry_delay_ms(policy, 3, random), 4000);
  EXPECT_EQ(retry_delay_ms(policy, 4, random), 5000);
  EXPECT_EQ(retry_delay_ms(policy, 200, random), 5000);
}

TEST(TaskRules, JitterStaysWithinHalfToFullDelay) {
  v1::RetryPolicy policy;  // defaults: base 1 s, jitter on
  std::mt19937_64 random(7);
  for (int i = 0; i < 1000; ++i) {
    const int64_t delay = retry_delay_ms(policy, 3, random);
    EXPECT_GE(delay, 2000);
    EXPECT_LE(delay, 4000);
  }
}

TEST(TaskRules, HistoryIsCappedKeepingTheFirstEntry) {
  v1::TaskRecord task;
  for (int i = 0; i < 100; ++i) record_transition(task, i == 0 ? v1::QUEUED : v1::STARTED, i);
  EXPECT_EQ(task.history_size(), kMaxHistoryEntries);
  EXPECT_EQ(task.history(0).state(), v1::QUEUED);
  EXPECT_EQ(task.history(kMaxHistoryEntries - 1).at_ms(), 99);
}

TEST(TaskRules, CountsGaugesAndLifetimeTotals) {
  v1::QueueCounters counters;
  count_transition(counters, v1::TASK_STATE_UNSPECIFIED, v1::QUEUED);
  count_transition(counters, v1::QUEUED, v1::STARTED);
  EXPECT_EQ(counters.ready(), 0u);
  EXPECT_EQ(counters.in_flight(), 1u);
  count_transition(counters, v1::STARTED, v1::SUCCESS);
  EXPECT_EQ(counters.in_flight(), 0u);
  EXPECT_EQ(counters.succeeded(), 1u);
  count_transition(counters, v1::QUEUED, v1::TASK_STATE_UNSPECIFIED);  // never below zero
  EXPECT_EQ(counters.ready(), 0u);
}

}  // namespace
}  // namespace brokerd::server
