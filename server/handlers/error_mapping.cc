#include "handlers/error_mapping.h"

namespace brokerd::server {

v1::ErrorCode to_wire_error(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return v1::ERROR_CODE_UNSPECIFIED;
    case StatusCode::kInvalidArgument: return v1::INVALID_ARGUMENT;
    case StatusCode::kNotFound: return v1::NOT_FOUND;
    case StatusCode::kStaleLease: return v1::STALE_LEASE;
    case StatusCode::kResourceExhausted: return v1::RESOURCE_EXHAUSTED;
    case StatusCode::kShuttingDown: return v1::SHUTTING_DOWN;
    case StatusCode::kTimeout: return v1::TIMEOUT;
    case StatusCode::kPermissionDenied: return v1::PERMISSION_DENIED;
    case StatusCode::kInternal: return v1::INTERNAL;
  }
  return v1::INTERNAL;
}

bool closes_connection(v1::ErrorCode code) {
  return code == v1::BAD_FRAME || code == v1::FRAME_TOO_LARGE || code == v1::UNSUPPORTED_VERSION ||
         code == v1::HANDSHAKE_REQUIRED;
}

}  // namespace brokerd::server
