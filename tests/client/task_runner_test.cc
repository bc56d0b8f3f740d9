// How a handler's outcome becomes a Complete (client/src/task_runner.h).

#include "task_runner.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace brokerd::internal {
namespace {

v1::Delivery make_delivery(const std::string& args = "[2,3]", const std::string& kwargs = "{}") {
  v1::Delivery d;
  d.set_task_id("t1");
  d.set_lease_id(77);
  d.set_name("add");
  d.set_queue("default");
  d.set_args_json(args);
  d.set_kwargs_json(kwargs);
  d.set_attempt(2);
  d.set_retries(1);
  d.set_max_retries(3);
  return d;
}

const std::atomic<bool> kNotStopping{false};

TEST(RunTaskTest, ReturnValueIsSuccess) {
  TaskHandler add = [](TaskContext& task) {
    EXPECT_EQ(task.id(), "t1");
    EXPECT_EQ(task.name(), "add");
    EXPECT_EQ(task.queue(), "default");
    EXPECT_EQ(task.attempt(), 2u);
    EXPECT_EQ(task.retries(), 1u);
    EXPECT_EQ(task.max_retries(), 3u);
    EXPECT_FALSE(task.stop_requested());
    return task.args()[0].get<int>() + task.args()[1].get<int>();
  };
  const v1::Complete c = run_task(make_delivery(), &add, kNotStopping);
  EXPECT_EQ(c.task_id(), "t1");
  EXPECT_EQ(c.lease_id(), 77u);
  ASSERT_TRUE(c.has_success());
  EXPECT_EQ(c.success().result_json(), "5");
}

TEST(RunTaskTest, EmptyArgumentsDefault) {
  TaskHandler check = [](TaskContext& task) {
    EXPECT_TRUE(task.args().is_array());
    EXPECT_TRUE(task.kwargs().is_object());
    return nlohmann::json();
  };
  const v1::Complete c = run_task(make_delivery("", ""), &check, kNotStopping);
  ASSERT_TRUE(c.has_success());
  EXPECT_EQ(c.success().result_json(), "null");
}

TEST(RunTaskTest, StdExceptionIsFailureWithDemangledType) {
  TaskHandler fail = [](TaskContext&) -> nlohmann::json { throw std::domain_error("division by zero"); };
  const v1::Complete c = run_task(make_delivery(), &fail, kNotStopping);
  ASSERT_TRUE(c.has_failure());
  EXPECT_EQ(c.failure().error().type(), "std::domain_error");
  EXPECT_EQ(c.failure().error().message(), "division by zero");
  EXPECT_EQ(c.failure().error().traceback(), "");
}

TEST(RunTaskTest, JsonExceptionsAreFailures) {
  TaskHandler bad = [](TaskContext& task) { return task.args()[0].get<std::string>(); };
  const v1::Complete c = run_task(make_delivery(), &bad, kNotStopping);
  ASSERT_TRUE(c.has_failure());
  const std::string& type = c.failure().error().type();
  EXPECT_EQ(type.rfind("nlohmann::", 0), 0u) << type;
  EXPECT_NE(type.find("type_error"), std::string::npos) << type;
}

TEST(RunTaskTest, NonStdExceptionIsUnknown) {
  TaskHandler weird = [](TaskContext&) -> nlohmann::json { throw 42; };
  const v1::Complete c = run_task(make_delivery(), &weird, kNotStopping);
  ASSERT_TRUE(c.has_failure());
  EXPECT_EQ(c.failure().error().type(), "unknown");
}

TEST(RunTaskTest, RetryIsRetryLater) {
  TaskHandler again = [](TaskContext& task) -> nlohmann::json {
    task.retry(std::chrono::milliseconds(1500), "not yet");
  };
  const v1::Complete c = run_task(make_delivery(), &again, kNotStopping);
  ASSERT_TRUE(c.has_retry());
  EXPECT_EQ(c.retry().countdown_ms(), 1500);
  EXPECT_EQ(c.retry().reason().type(), "Retry");
  EXPECT_EQ(c.retry().reason().message(), "not yet");
}

TEST(RunTaskTest, MissingHandlerIsNotRegistered) {
  const v1::Complete c = run_task(make_delivery(), nullptr, kNotStopping);
  ASSERT_TRUE(c.has_failure());
  EXPECT_EQ(c.failure().error().type(), "NotRegistered");
  EXPECT_EQ(c.failure().error().message(), "no handler registered for task add");
}

TEST(RunTaskTest, BadArgumentsFailWithoutCallingHandler) {
  bool called = false;
  TaskHandler h = [&](TaskContext&) { called = true; return nlohmann::json(); };
  const v1::Complete c = run_task(make_delivery("[1,"), &h, kNotStopping);
  EXPECT_FALSE(called);
  ASSERT_TRUE(c.has_failure());
  EXPECT_EQ(c.failure().error().type(), "BadArguments");
}

TEST(RunTaskTest, StopRequestedIsVisible) {
  const std::atomic<bool> stopping{true};
  TaskHandler h = [](TaskContext& task) { return task.stop_requested(); };
  const v1::Complete c = run_task(make_delivery(), &h, stopping);
  EXPECT_EQ(c.success().result_json(), "true");
}

TEST(RunTaskTest, FlagsOfTheRunAreVisible) {
  RunFlags flags;
  std::vector<std::pair<bool, bool>> seen;  // (stop_requested, time_limit_exceeded) per step
  TaskHandler h = [&](TaskContext& task) {
    seen.emplace_back(task.stop_requested(), task.time_limit_exceeded());
    flags.soft_limit_passed = true;  // as the supervisor would at the soft limit
    seen.emplace_back(task.stop_requested(), task.time_limit_exceeded());
    return nlohmann::json();
  };
  run_task(make_delivery(), &h, kNotStopping, &flags);
  EXPECT_EQ(seen, (std::vector<std::pair<bool, bool>>{{false, false}, {true, true}}));

  RunFlags lost;
  TaskHandler check_lost = [&](TaskContext& task) {
    const bool before = task.stop_requested();
    lost.lease_lost = true;  // as a heartbeat reply naming the task in lost_task_ids would
    return nlohmann::json::array({before, task.stop_requested(), task.time_limit_exceeded(), task.revoked()});
  };
  const v1::Complete c = run_task(make_delivery(), &check_lost, kNotStopping, &lost);
  EXPECT_EQ(c.success().result_json(), "[false,true,false,false]");

  RunFlags hard;
  hard.hard_limit_passed = true;
  TaskHandler check_hard = [](TaskContext& task) {
    return nlohmann::json::array({task.stop_requested(), task.time_limit_exceeded()});
  };
  EXPECT_EQ(run_task(make_delivery(), &check_hard, kNotStopping, &hard).success().result_json(), "[true,true]");
}

TEST(TimeLimitExceededTest, IsAFinalFailureNamingTheLimit) {
  const v1::Complete c = time_limit_exceeded(make_delivery(), std::chrono::milliseconds(1500));
  EXPECT_EQ(c.task_id(), "t1");
  EXPECT_EQ(c.lease_id(), 77u);
  ASSERT_TRUE(c.has_failure());
  EXPECT_TRUE(c.failure().final());
  EXPECT_EQ(c.failure().error().type(), "TimeLimitExceeded");
  EXPECT_EQ(c.failure().error().message(), "task add[t1] ran past its time limit of 1500 ms");
}

TEST(ExceptionTypeNameTest, Demangles) {
  EXPECT_EQ(exception_type_name(std::runtime_error("x")), "std::runtime_error");
  EXPECT_EQ(exception_type_name(RetryRequested(std::chrono::milliseconds(0), "r")),
            "brokerd::RetryRequested");
}

}  // namespace
}  // namespace brokerd::internal
