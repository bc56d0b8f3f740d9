#include "handlers/error_mapping.h"

#include <gtest/gtest.h>

namespace brokerd::server {
namespace {

TEST(ErrorMapping, EveryStatusCodeHasItsWireCode) {
  EXPECT_EQ(to_wire_error(StatusCode::kInvalidArgument), v1::INVALID_ARGUMENT);
  EXPECT_EQ(to_wire_error(StatusCode::kNotFound), v1::NOT_FOUND);
  EXPECT_EQ(to_wire_error(StatusCode::kStaleLease), v1::STALE_LEASE);
  EXPECT_EQ(to_wire_error(StatusCode::kResourceExhausted), v1::RESOURCE_EXHAUSTED);
  EXPECT_EQ(to_wire_error(StatusCode::kShuttingDown), v1::SHUTTING_DOWN);
  EXPECT_EQ(to_wire_error(StatusCode::kTimeout), v1::TIMEOUT);
  EXPECT_EQ(to_wire_error(StatusCode::kInternal), v1::INTERNAL);
}

TEST(ErrorMapping, OnlyStreamErrorsCloseTheConnection) {
  for (int code = v1::ErrorCode_MIN; code <= v1::ErrorCode_MAX; ++code) {
    const auto wire = static_cast<v1::ErrorCode>(code);
    const bool expected = wire == v1::BAD_FRAME || wire == v1::FRAME_TOO_LARGE ||
                          wire == v1::UNSUPPORTED_VERSION || wire == v1::HANDSHAKE_REQUIRED;
    EXPECT_EQ(closes_connection(wire), expected) << v1::ErrorCode_Name(wire);
  }
}

}  // namespace
}  // namespace brokerd::server
