#pragma once

#include <string>

namespace brokerd::server {

// A random (version 4) UUID in canonical lower-case form. Thread-safe.
std::string make_uuid_v4();

}  // namespace brokerd::server
