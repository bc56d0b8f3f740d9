// Names of error codes and the printable form of a Status.

#include "brokerd/status.h"

namespace brokerd {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "OK";
    case ErrorCode::kBadFrame: return "BAD_FRAME";
    case ErrorCode::kFrameTooLarge: return "FRAME_TOO_LARGE";
    case ErrorCode::kUnsupportedVersion: return "UNSUPPORTED_VERSION";
    case ErrorCode::kHandshakeRequired: return "HANDSHAKE_REQUIRED";
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kStaleLease: return "STALE_LEASE";
    case ErrorCode::kUnknownRequest: return "UNKNOWN_REQUEST";
    case ErrorCode::kInternal: return "INTERNAL";
    case ErrorCode::kShuttingDown: return "SHUTTING_DOWN";
    case ErrorCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case ErrorCode::kPermissionDenied: return "PERMISSION_DENIED";
    case ErrorCode::kTimeout: return "TIMEOUT";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kProtocolError: return "PROTOCOL_ERROR";
  }
  // A value cast from an integer the enum does not name.
  return "UNKNOWN_ERROR";
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out = error_code_name(code_);
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace brokerd
