// How a client proves who it is to the broker and protects its connection. Both are off
// by default; a broker with auth_tokens_file or TLS configured refuses clients without
// them. See docs/security.md.
#pragma once

#include <string>

#include "brokerd/status.h"

namespace brokerd {

struct TlsOptions {
  // Connect with TLS. Setting any of the fields below turns it on as well.
  bool enabled = false;
  // PEM bundle of the CA(s) that signed the broker's certificate; empty = the system's
  // trusted CAs. The broker's certificate is always verified.
  std::string ca_file;
  // Name the certificate must carry; empty = the host part of the server address.
  std::string server_name;
  // This client's certificate chain and key, for brokers that verify clients.
  std::string cert_file;
  std::string key_file;
};

struct SecurityOptions {
  // Sent in the handshake; empty = none. Keep tokens out of command lines and source:
  // read them with read_token_file() or security_from_environment().
  std::string token;
  TlsOptions tls;
};

// The token in `path`: its first line without surrounding whitespace. kInvalidArgument if
// the file cannot be read or holds no token.
Result<std::string> read_token_file(const std::string& path);

// Reads, when set: BROKERD_TOKEN_FILE (a file read with read_token_file) or else
// BROKERD_TOKEN; BROKERD_TLS=1 (or any of the following) turns TLS on; BROKERD_TLS_CA,
// BROKERD_TLS_SERVER_NAME, BROKERD_TLS_CERT, BROKERD_TLS_KEY. Unset variables leave the
// defaults.
Result<SecurityOptions> security_from_environment();

}  // namespace brokerd
