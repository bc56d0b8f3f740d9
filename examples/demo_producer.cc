// broker-demo-producer: the producer half of the Celery tutorial. Where Python writes
//
//   result = add.delay(4, 4)
//   result.get(timeout=10)   # 8
//
// this enqueues the task by name with the brokerd Client and waits for the result the
// broker pushes when a worker stores it (no polling). Run broker-demo-worker alongside.
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <brokerd/client.h>

namespace {

struct Call {
  std::string name;
  nlohmann::json args;
};

// Round i of the demo: a sum, a division that fails every third round (i % 3 == 0 divides
// by zero, to show a FAILURE with its error), and a report.
std::vector<Call> calls_for_round(int i) {
  return {{"add", nlohmann::json::array({i, i})},
          {"divide", nlohmann::json::array({i * 10, i % 3})},
          {"generate_report", nlohmann::json::array({1000 + i})}};
}

std::string describe(const Call& call) {
  std::string text = call.name + "(";
  for (size_t i = 0; i < call.args.size(); ++i) text += (i ? ", " : "") + call.args[i].dump();
  return text + ")";
}

}  // namespace

int main(int argc, char** argv) {
  brokerd::ClientOptions options;
  options.server = brokerd::default_server_address();
  options.client_name = "broker-demo-producer";
  int count = 3;
  double timeout_seconds = 30;
  CLI::App app{"Enqueue demo tasks (add, divide, generate_report) and print their results",
               "broker-demo-producer"};
  app.add_option("--server", options.server,
                 "Broker address (default: $BROKERD_SERVER, else 127.0.0.1:7411)")
      ->type_name("HOST:PORT")
      ->capture_default_str();
  app.add_option("--count", count, "Rounds to run; each enqueues add, divide and generate_report")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--timeout", timeout_seconds, "Seconds to wait for each result")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Token and TLS from BROKERD_TOKEN_FILE / BROKERD_TOKEN and BROKERD_TLS* (docs/security.md).
  auto security = brokerd::security_from_environment();
  if (!security.ok()) {
    std::cerr << "broker-demo-producer: " << security.status().to_string() << '\n';
    return 1;
  }
  options.security = security.value();

  auto client = brokerd::Client::connect(options);
  if (!client.ok()) {
    std::cerr << "broker-demo-producer: cannot connect to " << options.server << ": "
              << client.status().to_string() << '\n';
    return 1;
  }

  // Enqueue everything first, then collect: the worker(s) run the tasks concurrently
  // while we wait, as a web app would hand off work and check back later.
  struct Pending {
    Call call;
    std::string id;
  };
  std::vector<Pending> pending;
  for (int round = 1; round <= count; ++round) {
    for (auto& call : calls_for_round(round)) {
      brokerd::TaskRequest request;
      request.name = call.name;
      request.args = call.args;
      auto receipt = (*client)->enqueue(request);
      if (!receipt.ok()) {
        std::cerr << "broker-demo-producer: enqueue " << describe(call) << ": "
                  << receipt.status().to_string() << '\n';
        return 1;
      }
      std::cout << "enqueued " << describe(call) << " as " << receipt->id << '\n';
      pending.push_back({std::move(call), receipt->id});
    }
  }

  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  int unfinished = 0;
  for (const auto& task : pending) {
    auto done = (*client)->wait(task.id, timeout);
    std::cout << describe(task.call) << " -> ";
    if (!done.ok()) {
      std::cout << "no result: " << done.status().to_string() << '\n';
      ++unfinished;
    } else if (done->state == brokerd::TaskState::kSuccess) {
      std::cout << done->result().dump() << '\n';
    } else {
      std::cout << brokerd::task_state_name(done->state);
      if (done->error) std::cout << ' ' << done->error->type << ": " << done->error->message;
      std::cout << '\n';
    }
  }
  // Task failures are part of the demo; only results that never came are an error.
  return unfinished == 0 ? 0 : 1;
}
