#include "connection.h"

#include <iostream>

#include "exit_codes.h"

namespace brokerctl {

std::optional<brokerd::ClientOptions> client_options_or_report(const GlobalOptions& global,
                                                               const std::string& client_name) {
  brokerd::ClientOptions options;
  options.server = global.server;
  options.client_name = client_name;
  auto security = brokerd::security_from_environment();
  if (!security.ok()) {
    report_error(security.status());
    return std::nullopt;
  }
  options.security = std::move(security).value();
  if (!global.token_file.empty()) {
    auto token = brokerd::read_token_file(global.token_file);
    if (!token.ok()) {
      report_error(token.status());
      return std::nullopt;
    }
    options.security.token = std::move(token).value();
  }
  brokerd::TlsOptions& tls = options.security.tls;
  if (!global.tls_ca.empty()) tls.ca_file = global.tls_ca;
  if (!global.tls_cert.empty()) tls.cert_file = global.tls_cert;
  if (!global.tls_key.empty()) tls.key_file = global.tls_key;
  if (!global.tls_server_name.empty()) tls.server_name = global.tls_server_name;
  tls.enabled = tls.enabled || global.tls || !global.tls_ca.empty() || !global.tls_cert.empty();
  return options;
}

std::unique_ptr<brokerd::Client> connect_or_report(const GlobalOptions& global) {
  const std::string& server = global.server;
  std::optional<brokerd::ClientOptions> options = client_options_or_report(global, "brokerctl");
  if (!options) return nullptr;
  auto client = brokerd::Client::connect(*options);
  if (!client.ok()) {
    // The operator needs the address to spot a wrong --server or $BROKERD_SERVER at a
    // glance; add it unless the library's message already names it.
    const auto& status = client.status();
    if (status.message().find(server) != std::string::npos) {
      report_error(status);
    } else {
      report_error(std::string(brokerd::error_code_name(status.code())) +
                   ": cannot connect to " + server + ": " + status.message());
    }
    return nullptr;
  }
  return std::move(client).value();
}

void report_error(std::string_view message) { std::cerr << "brokerctl: " << message << '\n'; }

void report_error(const brokerd::Status& status) { report_error(status.to_string()); }

void report_task_error(const brokerd::Status& status, const std::string& id) {
  if (status.code() == brokerd::ErrorCode::kNotFound) {
    report_error("NOT_FOUND: no task with id " + id);
  } else {
    report_error(status);
  }
}

int exit_code_for(const brokerd::Status& status) {
  return status.code() == brokerd::ErrorCode::kNotFound ? kExitNotFound : kExitError;
}

}  // namespace brokerctl
