// brokerctl watch: print events as the broker pushes them, one line each, until Ctrl-C
// or SIGTERM (exit 0), --count events have been printed (exit 0), --timeout passes, or
// the connection is lost (exit 1). Each line is flushed at once, so the output can be
// piped into other tools.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <iostream>
#include <variant>

#include <brokerd/events.h>

#include "admin_format.h"
#include "commands.h"
#include "connection.h"
#include "exit_codes.h"
#include "terminal.h"

namespace brokerctl {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void on_signal(int) { g_interrupted = 1; }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

// How often the loop looks at the signal flag while no event arrives.
constexpr std::chrono::milliseconds kPollInterval{100};

std::string describe_queues(const std::vector<std::string>& queues) {
  if (queues.empty()) return "every queue";
  std::string text = queues.size() == 1 ? "queue " : "queues ";
  for (size_t i = 0; i < queues.size(); ++i) text += (i == 0 ? "" : ", ") + queues[i];
  return text;
}

}  // namespace

int run_watch(const GlobalOptions& global, const WatchOptions& options) {
  install_signal_handlers();
  std::optional<brokerd::ClientOptions> client_options = client_options_or_report(global, "brokerctl-watch");
  if (!client_options) return kExitError;
  auto stream = brokerd::EventStream::open(*client_options, options.queues);
  if (!stream.ok()) {
    const auto& status = stream.status();
    if (status.code() == brokerd::ErrorCode::kUnavailable &&
        status.message().find(global.server) == std::string::npos) {
      report_error(std::string(brokerd::error_code_name(status.code())) + ": cannot connect to " +
                   global.server + ": " + status.message());
    } else {
      report_error(status);
    }
    return kExitError;
  }
  if (stderr_is_terminal()) {
    std::cerr << "watching " << describe_queues(options.queues) << " on " << global.server
              << " (Ctrl-C to stop)\n";
  }

  using Clock = std::chrono::steady_clock;
  const bool has_deadline = options.timeout_seconds > 0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(std::llround(options.timeout_seconds * 1000.0));
  uint64_t printed = 0;
  while (!g_interrupted) {
    if (options.count > 0 && printed >= options.count) return kExitOk;
    auto wait = kPollInterval;
    if (has_deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= std::chrono::milliseconds::zero()) {
        if (options.count == 0) return kExitOk;  // watching for a fixed time
        report_error("TIMEOUT: " + std::to_string(printed) + " of " + std::to_string(options.count) +
                     " events within the timeout");
        return kExitError;
      }
      wait = std::min(wait, left);
    }
    auto item = (*stream)->next(wait);
    if (!item.ok()) {
      if (item.status().code() == brokerd::ErrorCode::kTimeout) continue;
      if (g_interrupted) break;
      report_error(item.status());
      return kExitError;
    }
    if (const auto* event = std::get_if<brokerd::Event>(&*item)) {
      if (options.json) {
        std::cout << event_to_json(*event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      } else {
        std::cout << event_line(*event);
      }
      ++printed;
    } else {
      const auto& missed = std::get<brokerd::EventsMissed>(*item);
      if (options.json) {
        std::cout << events_missed_to_json(missed).dump();
      } else {
        std::cout << events_missed_line(missed);
      }
    }
    std::cout << std::endl;  // flush: a reader downstream sees each event as it happens
  }
  return kExitOk;
}

}  // namespace brokerctl
