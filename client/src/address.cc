#include "address.h"

#include <cstdlib>

#include "brokerd/client.h"

namespace brokerd {

std::string default_server_address() {
  const char* from_env = std::getenv("BROKERD_SERVER");
  if (from_env != nullptr && *from_env != '\0') return from_env;
  return "127.0.0.1:7411";
}

namespace internal {

Result<HostPort> split_host_port(std::string_view address) {
  const auto invalid = [&](const char* why) {
    return Status(ErrorCode::kInvalidArgument,
                  "bad server address \"" + std::string(address) + "\": " + why);
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return invalid("expected HOST:PORT");
  std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return invalid("empty host");
  if (port.empty() || port.size() > 5) return invalid("port must be 1..65535");
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return invalid("port must be 1..65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return invalid("port must be 1..65535");
  return HostPort{std::string(host), std::string(port)};
}

}  // namespace internal
}  // namespace brokerd
