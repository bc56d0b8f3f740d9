// brokerctl enqueue: create one task and print its id alone on stdout, so a shell can
// capture it (`id=$(brokerctl enqueue add --args '[4,4]')`).
#include <chrono>
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "connection.h"
#include "exit_codes.h"

namespace brokerctl {
namespace {

// Parses a --args/--kwargs value and checks its JSON type. Done before connecting, so a
// typo costs no round trip and the message names the flag rather than a wire field.
bool parse_json_flag(const std::string& flag, const std::string& text, bool want_array,
                     nlohmann::json& out) {
  const char* wanted = want_array ? "a JSON array, e.g. '[4, 4]'" : "a JSON object, e.g. '{\"x\": 1}'";
  out = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) {
    report_error("invalid " + flag + ": not valid JSON (expected " + wanted + "): " + text);
    return false;
  }
  if (want_array ? !out.is_array() : !out.is_object()) {
    report_error("invalid " + flag + ": expected " + wanted + ", got a JSON " + out.type_name());
    return false;
  }
  return true;
}

}  // namespace

int run_enqueue(const GlobalOptions& global, const EnqueueOptions& options) {
  brokerd::TaskRequest request;
  request.name = options.name;
  if (!parse_json_flag("--args", options.args_json, true, request.args) ||
      !parse_json_flag("--kwargs", options.kwargs_json, false, request.kwargs)) {
    return kExitError;
  }
  request.options.id = options.id;
  request.options.queue = options.queue;
  request.options.priority = options.priority;
  request.options.countdown =
      std::chrono::milliseconds(std::llround(options.countdown_seconds * 1000.0));
  request.options.retry.max_retries = options.max_retries;
  request.options.time_limit = std::chrono::milliseconds(std::llround(options.time_limit_seconds * 1000.0));
  request.options.soft_time_limit =
      std::chrono::milliseconds(std::llround(options.soft_time_limit_seconds * 1000.0));
  request.options.max_deliveries = options.max_deliveries;

  auto client = connect_or_report(global);
  if (!client) return kExitError;
  auto receipt = client->enqueue(request);
  if (!receipt.ok()) {
    report_error(receipt.status());
    return receipt.status().code() == brokerd::ErrorCode::kNotFound ? kExitNotFound : kExitError;
  }
  if (!receipt->created) {
    // Enqueue by id is idempotent: not an error, but the operator should know the flags
    // given this time were not applied.
    std::cerr << "brokerctl: task " << receipt->id << " already exists ("
              << brokerd::task_state_name(receipt->state) << "); nothing was changed\n";
  }
  std::cout << receipt->id << '\n';
  return kExitOk;
}

}  // namespace brokerctl
