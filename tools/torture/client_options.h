// broker-torture: how every role connects a Client. Short timeouts, because the broker
// it talks to is on loopback and is killed on purpose: a dead connection should surface
// as an error quickly so the caller reconnects. Fields are assigned one by one rather
// than with designated initializers, so options the library adds later keep their
// defaults without -Wmissing-field-initializers noise.
#pragma once

#include <chrono>
#include <string>

#include <brokerd/client.h>

namespace torture {

inline brokerd::ClientOptions client_options(const std::string& server, const std::string& name) {
  brokerd::ClientOptions options;
  options.server = server;
  options.client_name = name;
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.request_timeout = std::chrono::milliseconds(10000);
  return options;
}

}  // namespace torture
