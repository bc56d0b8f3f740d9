// beanstalk-load: a load generator for beanstalkd, the peer-queue counterpart of
// broker-bench. C connections, up to D commands in flight on each, 200-byte jobs;
// `--mode put` puts N jobs per connection, `--mode drain` reserves and deletes until the
// ready queue is empty. Prints one JSON object with tasks_per_s, measured from the moment
// every connection is open to the last counted reply. Used by tools/bench/compare-peers.sh.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <iostream>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "connection.h"
#include "endpoint.h"
#include "load_loops.h"

using namespace beanstalk_load;

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

struct Options {
  std::string server = "127.0.0.1:11300";
  std::string mode = "put";
  int connections = 4;
  uint64_t jobs = 50000;
  uint64_t expect = 0;
  int pipeline = 64;
  size_t payload = 200;
  double max_seconds = 300;
};

// Exit statuses, as broker-bench: 0 done, 1 error, 3 cut short by the time limit.
constexpr int kExitError = 1;
constexpr int kExitCutShort = 3;

int fail(const std::string& message) {
  std::cerr << "beanstalk-load: " << message << "\n";
  return kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"beanstalk-load - load generator for beanstalkd (peer of broker-bench)"};
  app.add_option("--server", options.server, "HOST:PORT of beanstalkd (loopback only)")->capture_default_str();
  app.add_option("--mode", options.mode, "put: put --jobs jobs per connection; drain: reserve+delete until empty")
      ->check(CLI::IsMember({"put", "drain"}))
      ->capture_default_str();
  app.add_option("--connections", options.connections, "Connections, one thread each")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--jobs", options.jobs, "put: jobs per connection")->check(CLI::Range(1, 1000000000))->capture_default_str();
  app.add_option("--expect", options.expect, "drain: jobs expected at least, in total; fewer deleted means not completed (0: any)")
      ->capture_default_str();
  app.add_option("--pipeline", options.pipeline, "Commands in flight per connection")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--payload", options.payload, "put: job body bytes (beanstalkd's default limit is 65535)")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--max-seconds", options.max_seconds, "Stop after this long and report what was done")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  app.footer(
      "Output: one JSON object; tasks_per_s counts INSERTED (put) or DELETED (drain) replies.\n"
      "Exit status: 0 done, 1 error, 3 cut short by --max-seconds or a signal.");
  CLI11_PARSE(app, argc, argv);
  install_signal_handlers();

  Endpoint endpoint;
  std::string error;
  if (!resolve_loopback(options.server, endpoint, error)) return fail(error);

  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < options.connections; ++i) {
    auto connection = Connection::open(endpoint, 5000, error);
    if (!connection) return fail(error);
    connections.push_back(std::move(connection));
  }

  LoopConfig config;
  config.jobs = options.jobs;
  config.pipeline = options.pipeline;
  config.payload = options.payload;
  config.stop = &g_stop;
  const bool put = options.mode == "put";

  // Every thread starts at once, after every connection is open, so that connecting is
  // not measured.
  std::latch start(1);
  std::vector<LoopResult> results(connections.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < connections.size(); ++i) {
    threads.emplace_back([&, i] {
      start.wait();
      results[i] = put ? run_put(*connections[i], config) : run_drain(*connections[i], config);
      if (!results[i].error.empty()) g_stop.store(true);  // one failure ends the run
    });
  }
  const Clock::time_point started = Clock::now();
  config.deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.max_seconds));
  start.count_down();
  for (auto& thread : threads) thread.join();

  uint64_t done = 0;
  bool completed = true;
  Clock::time_point last = started;
  std::string first_error;
  for (const LoopResult& result : results) {
    done += result.done;
    completed = completed && result.completed;
    last = std::max(last, result.last_reply);
    // A real failure explains the run better than the "stopped" it caused elsewhere.
    const bool secondary = result.error == "stopped";
    if (!result.error.empty() && (first_error.empty() || (first_error == "stopped" && !secondary))) {
      first_error = result.error;
    }
  }
  // At least: a put run cut short leaves jobs whose INSERTED it never read, so a drain
  // may find a few more than that run counted. Fewer would mean lost jobs.
  if (!put && options.expect != 0 && done < options.expect) {
    completed = false;
    if (first_error.empty()) first_error = "drained " + std::to_string(done) + " jobs, expected " +
                                           std::to_string(options.expect);
  }
  const double seconds = std::chrono::duration<double>(last - started).count();
  nlohmann::json report = {
      {"tool", "beanstalk-load"},
      {"mode", options.mode},
      {"server", options.server},
      {"connections", options.connections},
      {"pipeline", options.pipeline},
      {"payload", options.payload},
      {"tasks", done},
      {"seconds", seconds},
      {"tasks_per_s", seconds > 0 ? static_cast<double>(done) / seconds : 0.0},
      {"completed", completed},
  };
  if (put) report["jobs_per_connection"] = options.jobs;
  if (!put && options.expect != 0) report["tasks_expected"] = options.expect;
  if (!first_error.empty()) report["error"] = first_error;
  std::cout << report.dump() << std::endl;
  if (completed) return 0;
  const bool only_cut_short = first_error == "time limit reached" || first_error == "stopped";
  return only_cut_short ? kExitCutShort : kExitError;
}
