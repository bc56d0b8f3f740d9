// Parsing of "HOST:PORT" server addresses.
#pragma once

#include <string>
#include <string_view>

#include "brokerd/status.h"

namespace brokerd::internal {

struct HostPort {
  std::string host;
  std::string port;
};

// Splits "host:port", "1.2.3.4:port" or "[v6::addr]:port". The port must be 1..65535
// in decimal; the host must not be empty. Errors are kInvalidArgument.
Result<HostPort> split_host_port(std::string_view address);

}  // namespace brokerd::internal
