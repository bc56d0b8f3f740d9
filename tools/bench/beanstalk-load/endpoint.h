// beanstalk-load: where the beanstalkd under test listens. Only loopback addresses are
// accepted: this is a load generator, and pointing it at a shared server by mistake
// would flood that server with jobs.
#pragma once

#include <sys/socket.h>

#include <string>

namespace beanstalk_load {

struct Endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;  // as given, for messages and the report
};

// Resolves "HOST:PORT" (numeric port) and checks that every address is loopback.
// Returns false with `error` set otherwise.
bool resolve_loopback(const std::string& host_port, Endpoint& out, std::string& error);

}  // namespace beanstalk_load
