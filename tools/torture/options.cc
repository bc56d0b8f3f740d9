#include "options.h"

#include <map>

#include <CLI/CLI.hpp>

namespace torture {

const char* kill_mode_name(KillMode mode) {
  switch (mode) {
    case KillMode::kBroker: return "broker";
    case KillMode::kWorkers: return "workers";
    case KillMode::kBoth: return "both";
  }
  return "?";
}

namespace {

constexpr const char* kFooter =
    "The controller starts brokerd on 127.0.0.1 with a temporary data dir, runs producers\n"
    "and workers against it, SIGKILLs brokerd (--kill broker), random workers (--kill\n"
    "workers) or either (--kill both) at random moments --kills times, restarting each\n"
    "(--startup-crash-percent also kills some restarts during start-up and recovery),\n"
    "then stops the producers, lets the workers drain, kills and restarts brokerd once\n"
    "more and checks every task over the client library:\n"
    "  - every enqueue a producer saw confirmed exists;\n"
    "  - every task ended SUCCESS (nothing stuck, nothing lost on the way), except that\n"
    "    every poison task ended FAILURE \"DeliveryLimitExceeded\";\n"
    "  - every completion seen durable is still stored with the result its worker sent;\n"
    "  - every stored result is one that some worker run produced;\n"
    "  - no task was delivered again after its success was durable;\n"
    "  - no worker process ran one task in two handlers at once.\n"
    "A poison task (--poison-fraction of them) makes the worker process that gets it exit\n"
    "at once, on every delivery; the controller restarts such workers.\n"
    "Duplicate deliveries (at-least-once) are counted and reported, not failed.\n"
    "Exit status: 0 all checks passed, 1 a check failed, 2 usage or set-up error,\n"
    "3 the run did not complete (kill target or drain not reached within --max-seconds).";

}  // namespace

int parse_options(int argc, char** argv, Options& options) {
  CLI::App app{"broker-torture - crash torture for brokerd (SIGKILL brokerd and workers, then check)"};
  app.footer(kFooter);

  std::string role = "controller";
  app.add_option("--role", role, "controller, or (started by the controller) producer / worker")
      ->check(CLI::IsMember({"controller", "producer", "worker"}))
      ->capture_default_str();

  ControllerOptions& c = options.controller;
  app.add_option("--brokerd", c.brokerd_path,
                 "brokerd binary (default: <build>/server/brokerd beside this tool's build dir, "
                 "else brokerd beside this binary)");
  app.add_option("--brokerd-arg", c.brokerd_args, "Extra flag for brokerd, repeatable (e.g. --brokerd-arg=--sync=always)")
      ->type_name("FLAG")
      ->allow_extra_args(false);
  std::string kill_mode = "broker";
  app.add_option("--kill", kill_mode, "What to SIGKILL: broker, workers or both")
      ->check(CLI::IsMember({"broker", "workers", "both"}))
      ->capture_default_str();
  app.add_option("--kills", c.kills, "SIGKILLs to deliver")->check(CLI::Range(1u, 100000u))->capture_default_str();
  app.add_option("--kill-min-ms", c.kill_min_ms, "Shortest pause between kills")
      ->check(CLI::Range(10u, 600000u))
      ->capture_default_str();
  app.add_option("--kill-max-ms", c.kill_max_ms, "Longest pause between kills")
      ->check(CLI::Range(10u, 600000u))
      ->capture_default_str();
  app.add_option("--startup-crash-percent", c.startup_crash_percent,
                 "Of brokerd kills, the share followed by a second SIGKILL 0..300 ms into the "
                 "restart (during start-up and recovery), before the real restart")
      ->check(CLI::Range(0u, 100u))
      ->capture_default_str();
  app.add_option("--producers", c.producers, "Producer processes")->check(CLI::Range(1u, 64u))->capture_default_str();
  app.add_option("--workers", c.workers, "Worker processes")->check(CLI::Range(1u, 64u))->capture_default_str();
  app.add_option("--worker-concurrency", c.worker_concurrency, "Handler threads per worker")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--rate", c.rate, "Enqueues per second over all producers")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--tasks", c.tasks, "Most tasks enqueued over all producers")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--work-ms", c.work_ms, "A handler works a random 0..N ms")
      ->check(CLI::Range(0u, 10000u))
      ->capture_default_str();
  app.add_option("--lease-ms", c.lease_ms, "Workers' lease")->check(CLI::Range(1000u, 3600000u))->capture_default_str();
  app.add_option("--poison-fraction", c.poison_fraction,
                 "Share of the tasks that are poison: each delivery makes its worker process exit at "
                 "once; enqueued with max_deliveries 3, they must end FAILURE DeliveryLimitExceeded")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  app.add_option("--max-seconds", c.max_seconds, "Bound on the whole run, checks included")
      ->check(CLI::Range(10.0, 86400.0))
      ->capture_default_str();
  app.add_option("--seed", c.seed, "Random seed (0: random; the report prints the one used)");
  app.add_option("--work-dir", c.work_dir, "Directory for the data dir, logs and journals (default: a new temp dir)");
  app.add_flag("--keep", c.keep, "Keep the work dir even when every check passed");

  ChildOptions& k = options.child;
  app.add_option("--server", k.server, "(children) HOST:PORT of brokerd");
  app.add_option("--journal", k.journal, "(children) journal file");
  app.add_option("--child-seed", k.seed, "(children) random seed");
  app.add_option("--run-tag", k.run_tag, "(producer) prefix of task ids");
  app.add_option("--producer-index", k.producer_index, "(producer) index in task ids");
  app.add_option("--count", k.count, "(producer) tasks to enqueue");
  app.add_option("--child-rate", k.rate, "(producer) enqueues per second");
  app.add_option("--child-poison-fraction", k.poison_fraction, "(producer) share of poison tasks");
  app.add_option("--concurrency", k.concurrency, "(worker) handler threads");
  app.add_option("--child-work-ms", k.work_ms, "(worker) handler work 0..N ms");
  app.add_option("--child-lease-ms", k.lease_ms, "(worker) lease");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  static const std::map<std::string, Role> roles = {
      {"controller", Role::kController}, {"producer", Role::kProducer}, {"worker", Role::kWorker}};
  static const std::map<std::string, KillMode> modes = {
      {"broker", KillMode::kBroker}, {"workers", KillMode::kWorkers}, {"both", KillMode::kBoth}};
  options.role = roles.at(role);
  c.kill_mode = modes.at(kill_mode);
  if (c.kill_min_ms > c.kill_max_ms) {
    std::fprintf(stderr, "--kill-min-ms must not exceed --kill-max-ms\n");
    return 2;
  }
  if (options.role != Role::kController && (k.server.empty() || k.journal.empty())) {
    std::fprintf(stderr, "--role %s needs --server and --journal\n", role.c_str());
    return 2;
  }
  return -1;
}

}  // namespace torture
