// Where wire errors become Status values: the one mapping from brokerd.v1.ErrorCode to
// brokerd::ErrorCode, and the check that a reply has the body a request expects.
#pragma once

#include "broker.pb.h"
#include "brokerd/status.h"

namespace brokerd::internal {

// Codes 1..13 map one to one; anything else (a newer server, or UNSPECIFIED) is a
// protocol error, since this client cannot know what it means.
ErrorCode from_wire_error_code(v1::ErrorCode code);

// The Status for an Error body: the mapped code and the server's message.
Status status_from_wire(const v1::Error& error);

// Passes `reply` through when it failed or carries `expected`; otherwise a protocol error
// naming the request (`what`), e.g. a Pong where an EnqueueOk belongs.
Result<v1::Envelope> expect_body(Result<v1::Envelope> reply, v1::Envelope::BodyCase expected,
                                 const char* what);

}  // namespace brokerd::internal
