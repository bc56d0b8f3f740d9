// A program built against an installed brokerd client library (find_package or
// pkg-config). It only has to compile and link; run, it tries a port nothing listens on.
#include <chrono>
#include <iostream>

#include <brokerd/client.h>
#include <brokerd/worker.h>

int main() {
  brokerd::ClientOptions options;
  options.server = "127.0.0.1:1";
  options.connect_timeout = std::chrono::milliseconds(500);
  auto client = brokerd::Client::connect(options);

  brokerd::WorkerOptions worker_options;
  worker_options.server = options.server;
  brokerd::Worker worker(worker_options);
  worker.register_task("add", [](brokerd::TaskContext& task) {
    return task.args()[0].get<int>() + task.args()[1].get<int>();
  });

  std::cout << "brokerd client linked; default server " << brokerd::default_server_address()
            << "; connect to " << options.server << ": "
            << (client.ok() ? "connected" : client.status().to_string()) << '\n';
  return client.ok() ? 1 : 0;
}
