// broker-demo-worker: a brokerd worker serving the Celery tutorial tasks (demo_tasks.h).
//
//   broker-demo-worker --queues default --concurrency 4
//
// Ctrl-C / SIGTERM stop it gracefully: running tasks finish and are reported, tasks not yet
// started go back to the broker. A second Ctrl-C exits at once.
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <brokerd/client.h>
#include <brokerd/worker.h>

#include "demo_tasks.h"
#include "shutdown_signals.h"

namespace {

std::string default_worker_name() {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  return "demo-worker@" + std::string(host) + "." + std::to_string(getpid());
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the blocked signal mask.
  brokerd_demo::ShutdownSignals signals;

  brokerd::WorkerOptions options;
  options.server = brokerd::default_server_address();
  options.name = default_worker_name();
  CLI::App app{"Demo brokerd worker serving add, divide, sleep and generate_report",
               "broker-demo-worker"};
  app.add_option("--server", options.server,
                 "Broker address (default: $BROKERD_SERVER, else 127.0.0.1:7411)")
      ->type_name("HOST:PORT")
      ->capture_default_str();
  app.add_option("--queues", options.queues, "Queues to consume, comma-separated")
      ->delimiter(',')
      ->type_name("a,b")
      ->capture_default_str();
  app.add_option("--concurrency", options.concurrency, "Tasks run at the same time")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--name", options.name, "Worker name shown to operators and stored on tasks")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Token and TLS from BROKERD_TOKEN_FILE / BROKERD_TOKEN and BROKERD_TLS* (docs/security.md).
  auto security = brokerd::security_from_environment();
  if (!security.ok()) {
    std::cerr << "broker-demo-worker: " << security.status().to_string() << '\n';
    return 1;
  }
  options.security = security.value();
  brokerd::Worker worker(options);
  brokerd_demo::register_demo_tasks(worker);

  signals.start([&worker](int signal_number) {
    std::cerr << "broker-demo-worker: " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
              << " received, finishing running tasks (again to quit at once)\n";
    worker.stop();
  });

  std::string queue_list;
  for (const auto& queue : options.queues) queue_list += (queue_list.empty() ? "" : ",") + queue;
  std::cerr << "broker-demo-worker: " << options.name << " serving add, divide, sleep, "
            << "generate_report from " << queue_list << " on " << options.server
            << " (concurrency " << options.concurrency << ")\n";

  brokerd::Status status = worker.run();
  signals.join();  // the stop callback may still be returning; it uses `worker`
  if (!status.ok()) {
    std::cerr << "broker-demo-worker: " << status.to_string() << '\n';
    return 1;
  }
  std::cerr << "broker-demo-worker: stopped after " << worker.completed_count() << " tasks\n";
  return 0;
}
