// broker-bench: the load generator of brokerd, like redis-benchmark. This file sets up
// the run (a spawned or given server, the deadline, signals), runs one scenario, adds
// the configuration and the server's readings, and prints the report.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "bench_context.h"
#include "options.h"
#include "progress.h"
#include "report.h"
#include "scenarios.h"
#include "spawned_server.h"

using namespace broker_bench;

namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted.store(true); }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

nlohmann::json config_json(const BenchOptions& options) {
  return {
      {"tasks", options.tasks},       {"producers", options.producers}, {"workers", options.workers},
      {"prefetch", options.prefetch}, {"pipeline", options.pipeline},   {"batch", options.batch},
      {"payload", options.payload},   {"queue", options.queue},         {"max_seconds", options.max_seconds},
  };
}

// Whether `args` set the server flag `flag` ("--flag=VALUE" or "--flag" "VALUE").
bool names_setting(const std::vector<std::string>& args, const std::string& flag) {
  for (const std::string& arg : args) {
    if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
  }
  return false;
}

int fail(const std::string& message) {
  std::cerr << "broker-bench: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions options;
  if (const int exit_status = parse_options(argc, argv, options); exit_status >= 0) return exit_status;
  install_signal_handlers();

  std::unique_ptr<SpawnedServer> server;
  Endpoint endpoint;
  std::string error;
  if (options.spawn) {
    const std::string binary = options.brokerd_path.empty() ? default_brokerd_path() : options.brokerd_path;
    std::vector<std::string> brokerd_args = options.brokerd_args;
    if (options.scenario == Scenario::kChurn && !names_setting(brokerd_args, "--max-consume-queues")) {
      // One Consume names every queue of a round.
      brokerd_args.push_back("--max-consume-queues=" + std::to_string(options.batch));
    }
    server = SpawnedServer::create(binary, options.sync, std::move(brokerd_args), options.keep_data, error);
    if (!server) return fail(error);
    if (!server->start(30, error)) return fail(error);
    endpoint = loopback_endpoint(server->port());
  } else if (!resolve_loopback(options.server, endpoint, error)) {
    return fail(error);
  }

  Progress progress(options.progress);
  BenchContext ctx{options, endpoint, server.get(), progress, 0, g_interrupted};
  ctx.deadline_ns = now_ns() + static_cast<int64_t>(options.max_seconds * 1e9);

  Report report;
  switch (options.scenario) {
    case Scenario::kEnqueue: report = run_enqueue_scenario(ctx); break;
    case Scenario::kEndToEnd: report = run_e2e_scenario(ctx); break;
    case Scenario::kLatency: report = run_latency_scenario(ctx); break;
    case Scenario::kBacklog: report = run_backlog_scenario(ctx); break;
    case Scenario::kChurn: report = run_churn_scenario(ctx); break;
  }
  progress.finish();

  nlohmann::json run = nlohmann::json::object();
  run["config"] = config_json(options);
  if (server) {
    // Read before stopping: a process that has exited has no /proc entry.
    const ProcReading reading = report.server_reading ? *report.server_reading : read_proc(server->pid());
    run["server"] = {
        {"spawned", true},
        {"address", ctx.endpoint.text},
        {"brokerd", server->brokerd_path()},
        {"sync", server->sync()},
        {"pid", reading.pid},
        {"cpu_seconds", round_to(reading.cpu_seconds(), 2)},
        {"cpu_user_seconds", reading.cpu_user_seconds},
        {"cpu_system_seconds", reading.cpu_system_seconds},
        {"peak_rss_bytes", reading.peak_rss_bytes},
        {"rss_bytes", reading.rss_bytes},
    };
    if (report.server_reading) run["server"]["reading"] = "before the restart";
    if (options.keep_data) run["server"]["data_dir"] = server->data_dir();
    std::string stop_error;
    if (!server->stop(60, stop_error)) {
      run["server"]["stop_error"] = stop_error;
      std::cerr << "broker-bench: " << stop_error << "; log: " << server->log_path() << "\n";
    }
  } else {
    run["server"] = {{"spawned", false}, {"address", ctx.endpoint.text}};
  }
  run["bench_cpu_seconds"] = round_to(own_cpu_seconds(), 3);
  if (g_interrupted.load()) run["interrupted"] = true;

  if (options.json) {
    std::cout << report_json(report, run).dump() << std::endl;
  } else {
    std::cout << report_text(report, run);
  }
  return report.completed ? 0 : 3;
}
