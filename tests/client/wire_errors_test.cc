// The one mapping from wire error codes to brokerd::ErrorCode (client/src/wire_errors.h).

#include "wire_errors.h"

#include <gtest/gtest.h>

namespace brokerd::internal {
namespace {

TEST(WireErrorsTest, EveryWireCodeMapsToTheSameNumber) {
  for (int code = v1::BAD_FRAME; code <= v1::TIMEOUT; ++code) {
    ASSERT_TRUE(v1::ErrorCode_IsValid(code));
    EXPECT_EQ(static_cast<int>(from_wire_error_code(static_cast<v1::ErrorCode>(code))), code)
        << v1::ErrorCode_Name(static_cast<v1::ErrorCode>(code));
  }
}

TEST(WireErrorsTest, NamesMatchTheWire) {
  for (int code = v1::BAD_FRAME; code <= v1::TIMEOUT; ++code) {
    const auto wire = static_cast<v1::ErrorCode>(code);
    EXPECT_EQ(error_code_name(from_wire_error_code(wire)), v1::ErrorCode_Name(wire));
  }
}

TEST(WireErrorsTest, UnknownCodesAreProtocolErrors) {
  EXPECT_EQ(from_wire_error_code(v1::ERROR_CODE_UNSPECIFIED), ErrorCode::kProtocolError);
  EXPECT_EQ(from_wire_error_code(static_cast<v1::ErrorCode>(99)), ErrorCode::kProtocolError);
  v1::Error error;
  error.set_code(static_cast<v1::ErrorCode>(99));
  error.set_message("future");
  const Status status = status_from_wire(error);
  EXPECT_EQ(status.code(), ErrorCode::kProtocolError);
  EXPECT_NE(status.message().find("99"), std::string::npos);
}

TEST(WireErrorsTest, StatusCarriesMessage) {
  v1::Error error;
  error.set_code(v1::NOT_FOUND);
  error.set_message("no task with id x");
  const Status status = status_from_wire(error);
  EXPECT_EQ(status.code(), ErrorCode::kNotFound);
  EXPECT_EQ(status.message(), "no task with id x");
}

TEST(ExpectBodyTest, PassesMatchingAndFailedReplies) {
  v1::Envelope pong;
  pong.mutable_pong();
  EXPECT_TRUE(expect_body(pong, v1::Envelope::kPong, "Ping").ok());
  const Result<v1::Envelope> failed = expect_body(Status(ErrorCode::kTimeout, "t"),
                                                  v1::Envelope::kPong, "Ping");
  EXPECT_EQ(failed.status().code(), ErrorCode::kTimeout);
}

TEST(ExpectBodyTest, WrongBodyIsProtocolError) {
  v1::Envelope pong;
  pong.mutable_pong();
  const Result<v1::Envelope> reply = expect_body(pong, v1::Envelope::kEnqueueOk, "Enqueue");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), ErrorCode::kProtocolError);
  EXPECT_NE(reply.status().message().find("Enqueue"), std::string::npos);
}

}  // namespace
}  // namespace brokerd::internal
