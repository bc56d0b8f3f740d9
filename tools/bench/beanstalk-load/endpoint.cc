#include "endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace beanstalk_load {

namespace {

bool is_loopback(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) != 0;
  }
  return false;
}

}  // namespace

bool resolve_loopback(const std::string& host_port, Endpoint& out, std::string& error) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
    error = "expected HOST:PORT, got '" + host_port + "'";
    return false;
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = host_port.substr(colon + 1);

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
    out.length = found->ai_addrlen;
    out.text = host_port;
  } else {
    error = "'" + host_port + "' is not a loopback address; beanstalk-load only loads local servers";
  }
  freeaddrinfo(found);
  return ok;
}

}  // namespace beanstalk_load
