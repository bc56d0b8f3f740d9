#include "brokerd/security.h"

#include <cstdlib>
#include <fstream>

namespace brokerd {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string trimmed(const std::string& text) {
  const char* space = " \t\r\n";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

}  // namespace

Result<std::string> read_token_file(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Status(ErrorCode::kInvalidArgument, "cannot read token file " + path);
  std::string line;
  std::getline(file, line);
  std::string token = trimmed(line);
  if (token.empty()) return Status(ErrorCode::kInvalidArgument, "token file " + path + " has no token on its first line");
  return token;
}

Result<SecurityOptions> security_from_environment() {
  SecurityOptions security;
  if (const std::string path = env("BROKERD_TOKEN_FILE"); !path.empty()) {
    Result<std::string> token = read_token_file(path);
    if (!token.ok()) return token.status();
    security.token = std::move(token).value();
  } else {
    security.token = trimmed(env("BROKERD_TOKEN"));
  }
  TlsOptions& tls = security.tls;
  tls.ca_file = env("BROKERD_TLS_CA");
  tls.server_name = env("BROKERD_TLS_SERVER_NAME");
  tls.cert_file = env("BROKERD_TLS_CERT");
  tls.key_file = env("BROKERD_TLS_KEY");
  const std::string enabled = env("BROKERD_TLS");
  tls.enabled = (!enabled.empty() && enabled != "0") || !tls.ca_file.empty() || !tls.cert_file.empty();
  return security;
}

}  // namespace brokerd
