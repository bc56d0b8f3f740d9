#include "connection.h"

#include <iostream>

#include "exit_codes.h"

namespace brokerctl {

std::unique_ptr<brokerd::Client> connect_or_report(const std::string& server) {
  brokerd::ClientOptions options;
  options.server = server;
  options.client_name = "brokerctl";
  auto client = brokerd::Client::connect(options);
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
