// broker-bench: where the broker listens. The bench only ever talks to loopback
// addresses: it is a load generator, and pointing it at a shared host by mistake must
// fail before the first byte is sent.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace broker_bench {

struct Endpoint {
  sockaddr_storage address{};
  socklen_t address_length = 0;
  std::string text;  // as given, e.g. "127.0.0.1:7411"
};

// Resolves "HOST:PORT" ("[::1]:PORT" for IPv6). Fails, with a message in `error`, when
// the text is malformed, does not resolve, or any address it resolves to is not
// loopback (127.0.0.0/8, ::1).
bool resolve_loopback(const std::string& host_port, Endpoint& out, std::string& error);

// The endpoint of a server on 127.0.0.1 at `port`.
Endpoint loopback_endpoint(uint16_t port);

}  // namespace broker_bench
