#include "endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace broker_bench {

namespace {

bool is_loopback(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    // ::ffff:127.x.x.x
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

bool resolve_loopback(const std::string& host_port, Endpoint& out, std::string& error) {
  std::string host;
  std::string port;
  if (!host_port.empty() && host_port.front() == '[') {
    const size_t close = host_port.find(']');
    if (close == std::string::npos || close + 1 >= host_port.size() || host_port[close + 1] != ':') {
      error = "expected [HOST]:PORT, got '" + host_port + "'";
      return false;
    }
    host = host_port.substr(1, close - 1);
    port = host_port.substr(close + 2);
  } else {
    const size_t colon = host_port.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
      error = "expected HOST:PORT, got '" + host_port + "'";
      return false;
    }
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve '" + host_port + "': " + gai_strerror(rc);
    return false;
  }
  bool ok = found != nullptr;
  for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    if (!is_loopback(entry->ai_addr)) ok = false;
  }
  if (ok) {
    std::memcpy(&out.address, found->ai_addr, found->ai_addrlen);
    out.address_length = found->ai_addrlen;
    out.text = host_port;
  } else {
    error = "refusing '" + host_port + "': broker-bench only connects to loopback addresses";
  }
  freeaddrinfo(found);
  return ok;
}

Endpoint loopback_endpoint(uint16_t port) {
  Endpoint endpoint;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.address);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(port);
  v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  endpoint.address_length = sizeof(sockaddr_in);
  endpoint.text = "127.0.0.1:" + std::to_string(port);
  return endpoint;
}

}  // namespace broker_bench
