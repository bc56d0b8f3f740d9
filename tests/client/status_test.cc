// Status, error code names, task state names and TaskInfo::result (the public helpers).

#include <gtest/gtest.h>

#include "brokerd/status.h"
#include "brokerd/task.h"

namespace brokerd {
namespace {

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kOk);
  EXPECT_EQ(s.to_string(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, ToStringNamesCodeAndMessage) {
  EXPECT_EQ(Status(ErrorCode::kNotFound, "no task with id x").to_string(),
            "NOT_FOUND: no task with id x");
  EXPECT_EQ(Status(ErrorCode::kTimeout, "").to_string(), "TIMEOUT");
}

TEST(StatusTest, ErrorCodeNames) {
  EXPECT_STREQ(error_code_name(ErrorCode::kOk), "OK");
  EXPECT_STREQ(error_code_name(ErrorCode::kBadFrame), "BAD_FRAME");
  EXPECT_STREQ(error_code_name(ErrorCode::kFrameTooLarge), "FRAME_TOO_LARGE");
  EXPECT_STREQ(error_code_name(ErrorCode::kUnsupportedVersion), "UNSUPPORTED_VERSION");
  EXPECT_STREQ(error_code_name(ErrorCode::kHandshakeRequired), "HANDSHAKE_REQUIRED");
  EXPECT_STREQ(error_code_name(ErrorCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_STREQ(error_code_name(ErrorCode::kNotFound), "NOT_FOUND");
  EXPECT_STREQ(error_code_name(ErrorCode::kStaleLease), "STALE_LEASE");
  EXPECT_STREQ(error_code_name(ErrorCode::kUnknownRequest), "UNKNOWN_REQUEST");
  EXPECT_STREQ(error_code_name(ErrorCode::kInternal), "INTERNAL");
  EXPECT_STREQ(error_code_name(ErrorCode::kShuttingDown), "SHUTTING_DOWN");
  EXPECT_STREQ(error_code_name(ErrorCode::kResourceExhausted), "RESOURCE_EXHAUSTED");
  EXPECT_STREQ(error_code_name(ErrorCode::kPermissionDenied), "PERMISSION_DENIED");
  EXPECT_STREQ(error_code_name(ErrorCode::kTimeout), "TIMEOUT");
  EXPECT_STREQ(error_code_name(ErrorCode::kUnavailable), "UNAVAILABLE");
  EXPECT_STREQ(error_code_name(ErrorCode::kProtocolError), "PROTOCOL_ERROR");
  EXPECT_STREQ(error_code_name(static_cast<ErrorCode>(77)), "UNKNOWN_ERROR");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> value(5);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 5);
  Result<int> error(Status(ErrorCode::kInternal, "boom"));
  EXPECT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), ErrorCode::kInternal);
}

TEST(TaskStateTest, NamesAndTerminality) {
  EXPECT_STREQ(task_state_name(TaskState::kUnknown), "UNKNOWN");
  EXPECT_STREQ(task_state_name(TaskState::kQueued), "QUEUED");
  EXPECT_STREQ(task_state_name(TaskState::kScheduled), "SCHEDULED");
  EXPECT_STREQ(task_state_name(TaskState::kStarted), "STARTED");
  EXPECT_STREQ(task_state_name(TaskState::kRetry), "RETRY");
  EXPECT_STREQ(task_state_name(TaskState::kSuccess), "SUCCESS");
  EXPECT_STREQ(task_state_name(TaskState::kFailure), "FAILURE");
  EXPECT_STREQ(task_state_name(TaskState::kRevoked), "REVOKED");
  EXPECT_FALSE(is_terminal(TaskState::kQueued));
  EXPECT_FALSE(is_terminal(TaskState::kScheduled));
  EXPECT_FALSE(is_terminal(TaskState::kStarted));
  EXPECT_FALSE(is_terminal(TaskState::kRetry));
  EXPECT_FALSE(is_terminal(TaskState::kUnknown));
  EXPECT_TRUE(is_terminal(TaskState::kSuccess));
  EXPECT_TRUE(is_terminal(TaskState::kFailure));
  EXPECT_TRUE(is_terminal(TaskState::kRevoked));
}

TEST(TaskInfoTest, ResultParsesJson) {
  TaskInfo info;
  EXPECT_TRUE(info.result().is_null());
  info.result_json = R"({"sum": 5})";
  EXPECT_EQ(info.result()["sum"], 5);
  info.result_json = "not json";
  EXPECT_EQ(info.result(), nlohmann::json("not json"));
}

}  // namespace
}  // namespace brokerd
