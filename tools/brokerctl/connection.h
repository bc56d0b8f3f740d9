// Connecting to the broker and reporting errors, shared by every verb so all of them
// word their failures the same way: one line on stderr, "brokerctl: CODE: message".
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <optional>

#include <brokerd/client.h>
#include <brokerd/status.h>

#include "commands.h"

namespace brokerctl {

// The client options of the global flags and environment, as client `client_name`.
// Reports the error and returns nullopt when a token file cannot be read.
std::optional<brokerd::ClientOptions> client_options_or_report(const GlobalOptions& global,
                                                               const std::string& client_name);

// Connects as client "brokerctl". On failure reports the error and returns null.
std::unique_ptr<brokerd::Client> connect_or_report(const GlobalOptions& global);

// "brokerctl: <message>" on stderr.
void report_error(std::string_view message);
// "brokerctl: NOT_FOUND: <message>" on stderr.
void report_error(const brokerd::Status& status);
// Like report_error(status), but NOT_FOUND always reads "no task with id <id>", whatever the
// server's wording, because scripts and humans match on that line.
void report_task_error(const brokerd::Status& status, const std::string& id);

// kExitNotFound for NOT_FOUND, kExitError for anything else.
int exit_code_for(const brokerd::Status& status);

}  // namespace brokerctl
