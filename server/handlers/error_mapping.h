// The one place where internal Status codes become wire error codes.
#pragma once

#include "broker.pb.h"
#include "common/status.h"

namespace brokerd::server {

v1::ErrorCode to_wire_error(StatusCode code);

// Errors after which the stream cannot be trusted (or the peer speaks another
// protocol): the server sends the error and closes the connection.
bool closes_connection(v1::ErrorCode code);

}  // namespace brokerd::server
