#include "options.h"

#include <unistd.h>

#include <map>

#include <CLI/CLI.hpp>

namespace broker_bench {

const char* scenario_name(Scenario scenario) {
  switch (scenario) {
    case Scenario::kEnqueue: return "enqueue";
    case Scenario::kEndToEnd: return "e2e";
    case Scenario::kLatency: return "latency";
    case Scenario::kBacklog: return "backlog";
    case Scenario::kChurn: return "churn";
  }
  return "?";
}

namespace {

constexpr const char* kScenarioHelp =
    "Scenarios:\n"
    "  enqueue  P producers enqueue N tasks, --pipeline requests in flight each,\n"
    "           --batch B > 1 sends EnqueueBatch of B tasks. Rate: confirmed enqueues.\n"
    "           Latency: request sent -> EnqueueOk (or EnqueueBatchOk).\n"
    "  e2e      producers enqueue while W workers (prefetch K) complete every task with a\n"
    "           small result; the clock stops at the last CompleteOk. Latency: enqueue\n"
    "           request sent -> CompleteOk of that task.\n"
    "  latency  one task at a time: Enqueue and WaitResult pipelined, a worker completes\n"
    "           it, the result is pushed to the waiter. Latency: that round trip.\n"
    "           Default --tasks 2000.\n"
    "  backlog  fill a queue with --tasks tasks (default 10,000,000), report disk and\n"
    "           RSS, drain it and show the drain rate per tenth of the backlog; with\n"
    "           --spawn, restart the server and time until a Ping succeeds.\n"
    "  churn    queue-name churn: rounds of one EnqueueBatch of --batch tasks (default\n"
    "           1000) to as many never-used queue names (result_ttl_ms 1), one worker\n"
    "           consumes exactly those queues and completes them; --tasks names in all\n"
    "           (default 1,000,000). Reads the server's RSS and queues known after each\n"
    "           tenth and after the worker leaves; with --spawn, restarts the server on\n"
    "           the same data and times it to its port file and first Ping, and reads\n"
    "           the queues it loaded. A spawned server gets --max-consume-queues=BATCH\n"
    "           unless given with --brokerd-arg; compare --brokerd-arg=--idle-queue-ttl-s=0\n"
    "           and =2592000 (forgetting off).\n"
    "Every run is bounded by --max-seconds; a run cut short reports \"completed\": false\n"
    "and exits with status 3. Only loopback servers are accepted.";

}  // namespace

int parse_options(int argc, char** argv, BenchOptions& options) {
  CLI::App app{"broker-bench - load generator for brokerd (like redis-benchmark)"};
  app.footer(kScenarioHelp);

  const std::map<std::string, Scenario> scenarios = {{"enqueue", Scenario::kEnqueue},
                                                     {"e2e", Scenario::kEndToEnd},
                                                     {"latency", Scenario::kLatency},
                                                     {"backlog", Scenario::kBacklog},
                                                     {"churn", Scenario::kChurn}};
  std::string scenario = "enqueue";
  app.add_option("--scenario", scenario, "What to run (see below)")
      ->check(CLI::IsMember({"enqueue", "e2e", "latency", "backlog", "churn"}))
      ->capture_default_str();

  auto* server = app.add_option("--server", options.server,
                                "HOST:PORT of a running brokerd (loopback only)")
                     ->capture_default_str();
  auto* spawn = app.add_flag("--spawn", options.spawn,
                             "Start a private brokerd on a temporary data dir and stop it at the end");
  server->excludes(spawn);
  app.add_option("--brokerd", options.brokerd_path,
                 "brokerd binary for --spawn (default: <build>/server/brokerd beside this "
                 "tool's build dir, else brokerd beside this binary)")
      ->needs(spawn);
  app.add_option("--sync", options.sync, "Durability policy of the spawned server")
      ->check(CLI::IsMember({"always", "interval", "none"}))
      ->capture_default_str()
      ->needs(spawn);
  app.add_option("--brokerd-arg", options.brokerd_args,
                 "Extra flag for the spawned brokerd, repeatable (e.g. --brokerd-arg=--io-threads=1)")
      ->type_name("FLAG")
      ->allow_extra_args(false)
      ->needs(spawn);
  app.add_flag("--keep-data", options.keep_data, "Keep the spawned server's temporary dir")->needs(spawn);

  auto* tasks = app.add_option("--tasks", options.tasks,
                               "Tasks to run (default 100000; latency 2000; backlog 10000000; churn: queue "
                               "names, 1000000)")
                    ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  app.add_option("--producers", options.producers, "Producer connections")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--workers", options.workers, "Worker (consumer) connections")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--prefetch", options.prefetch, "Unfinished deliveries per worker")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  app.add_option("--pipeline", options.pipeline, "Requests in flight per producer connection")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  auto* batch = app.add_option("--batch", options.batch,
                               "Tasks per enqueue request (> 1 uses EnqueueBatch; churn: 1000 by default)")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--payload", options.payload, "Bytes of args_json per task")
      ->check(CLI::Range(2, 1 << 20))
      ->capture_default_str();
  app.add_option("--queue", options.queue, "Queue to use (default: bench-<scenario>-<pid>)");
  app.add_option("--max-seconds", options.max_seconds,
                 "Stop after this long and report what was done (\"completed\": false)")
      ->check(CLI::Range(0.1, 86'400.0))
      ->capture_default_str();
  app.add_flag("--json", options.json, "Print exactly one JSON object on stdout");
  bool no_progress = false;
  app.add_flag("--no-progress", no_progress, "Never draw the progress line (drawn only when stderr is a terminal)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  options.scenario = scenarios.at(scenario);
  options.progress = !no_progress;
  options.tasks_given = tasks->count() > 0;
  if (!options.tasks_given) {
    if (options.scenario == Scenario::kLatency) options.tasks = 2000;
    if (options.scenario == Scenario::kBacklog) options.tasks = 10'000'000;
    if (options.scenario == Scenario::kChurn) options.tasks = 1'000'000;
  }
  if (options.scenario == Scenario::kChurn && batch->count() == 0) options.batch = 1000;
  if (options.queue.empty()) {
    options.queue = std::string("bench-") + scenario_name(options.scenario) + "-" + std::to_string(getpid());
  }
  return -1;
}

}  // namespace broker_bench
