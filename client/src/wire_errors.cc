#include "wire_errors.h"

#include <string>

namespace brokerd::internal {

ErrorCode from_wire_error_code(v1::ErrorCode code) {
  switch (code) {
    case v1::BAD_FRAME: return ErrorCode::kBadFrame;
    case v1::FRAME_TOO_LARGE: return ErrorCode::kFrameTooLarge;
    case v1::UNSUPPORTED_VERSION: return ErrorCode::kUnsupportedVersion;
    case v1::HANDSHAKE_REQUIRED: return ErrorCode::kHandshakeRequired;
    case v1::INVALID_ARGUMENT: return ErrorCode::kInvalidArgument;
    case v1::NOT_FOUND: return ErrorCode::kNotFound;
    case v1::STALE_LEASE: return ErrorCode::kStaleLease;
    case v1::UNKNOWN_REQUEST: return ErrorCode::kUnknownRequest;
    case v1::INTERNAL: return ErrorCode::kInternal;
    case v1::SHUTTING_DOWN: return ErrorCode::kShuttingDown;
    case v1::RESOURCE_EXHAUSTED: return ErrorCode::kResourceExhausted;
    case v1::PERMISSION_DENIED: return ErrorCode::kPermissionDenied;
    case v1::TIMEOUT: return ErrorCode::kTimeout;
    default: return ErrorCode::kProtocolError;
  }
}

Status status_from_wire(const v1::Error& error) {
  const ErrorCode code = from_wire_error_code(error.code());
  if (code == ErrorCode::kProtocolError) {
    // Keep the number: it is the only clue to what a newer server meant.
    return Status(code, "server sent error code " + std::to_string(static_cast<int>(error.code())) +
                            ": " + error.message());
  }
  return Status(code, error.message());
}

Result<v1::Envelope> expect_body(Result<v1::Envelope> reply, v1::Envelope::BodyCase expected,
                                 const char* what) {
  if (!reply.ok() || reply->body_case() == expected) return reply;
  return Status(ErrorCode::kProtocolError,
                std::string("unexpected reply to ") + what + " (body field " +
                    std::to_string(static_cast<int>(reply->body_case())) + ")");
}

}  // namespace brokerd::internal
