// The TLS configuration of the broker port, built once at start from the settings.
#pragma once

#include <memory>
#include <string>

#include <asio/ssl.hpp>

#include "common/status.h"

namespace brokerd::server {

struct TlsFiles {
  std::string cert_file;       // PEM chain, leaf first
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // empty: clients are not asked for a certificate
};

// TLS 1.2 or newer only. With client_ca_file, a client without a certificate signed by
// one of its CAs fails the handshake. Errors name the file that could not be used.
Result<std::unique_ptr<asio::ssl::context>> make_server_tls_context(const TlsFiles& files);

}  // namespace brokerd::server
