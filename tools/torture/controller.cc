#include "controller.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include <brokerd/client.h>

#include "checker.h"
#include "client_options.h"
#include "fleet.h"
#include "processes.h"
#include "run_stats.h"

namespace torture {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kBrokerStartTimeout{30000};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// How often the controller looks for worker processes that exited on their own (poison
// tasks take them down several times a second) to replace them.
constexpr milliseconds kReplaceStep{20};

// Sleeps until `until`, replacing exited workers every kReplaceStep meanwhile. Returns
// how many exited other than by a poison task (fleet.h).
unsigned wait_replacing_workers(Fleet& fleet, Clock::time_point until) {
  unsigned unexpected = fleet.replace_dead_workers();
  while (Clock::now() < until) {
    // Polling: a child's exit has no fd to wait on here (processes.h).
    std::this_thread::sleep_until(std::min(until, Clock::now() + kReplaceStep));
    unexpected += fleet.replace_dead_workers();
  }
  return unexpected;
}

// Polls the queue statistics until nothing is waiting or running, or `deadline`; poison
// tasks keep taking workers down until the broker ends them, so exited workers are
// replaced meanwhile (their unexpected exits are added to `workers_died_alone`).
// Polling: "the queue became empty" is nothing the broker pushes.
bool wait_for_drain(const std::string& server, Fleet& fleet, Clock::time_point deadline, unsigned& workers_died_alone) {
  std::unique_ptr<brokerd::Client> client;
  while (Clock::now() < deadline) {
    if (!client || !client->connected()) {
      auto connected = brokerd::Client::connect(client_options(server, "torture-controller"));
      if (connected.ok()) client = std::move(connected).value();
    }
    if (client) {
      auto stats = client->queue_stats({"default"});
      if (stats.ok()) {
        uint64_t open = 0;
        for (const brokerd::QueueInfo& queue : *stats) open += queue.ready + queue.scheduled + queue.in_flight + queue.retrying;
        if (open == 0) return true;
      }
    }
    workers_died_alone += wait_replacing_workers(fleet, std::min(deadline, Clock::now() + milliseconds(100)));
  }
  return false;
}

bool make_work_dir(std::string& work_dir, bool& temporary, std::string& error) {
  temporary = work_dir.empty();
  if (temporary) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/broker-torture.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      error = "cannot make a temporary dir: " + std::string(std::strerror(errno));
      return false;
    }
    work_dir = pattern;
  }
  std::error_code ec;
  if (fs::exists(work_dir + "/data", ec)) {
    error = "work dir " + work_dir + " already holds a data dir; give an empty one";
    return false;
  }
  fs::create_directories(work_dir + "/journals", ec);
  fs::create_directories(work_dir + "/logs", ec);
  if (ec) {
    error = "cannot create " + work_dir + ": " + ec.message();
    return false;
  }
  return true;
}

int finish(const ControllerOptions& options, RunStats& stats, Clock::time_point started, bool temporary_dir,
           int exit_code) {
  stats.total_seconds = seconds_since(started);
  if (exit_code == 0 && temporary_dir && !options.keep) {
    std::error_code ignored;
    fs::remove_all(stats.work_dir, ignored);
  }
  print_report(options, stats, exit_code);
  return exit_code;
}

}  // namespace

int run_controller(const ControllerOptions& options) {
  const Clock::time_point started = Clock::now();
  const Clock::time_point chaos_deadline = started + milliseconds(static_cast<int64_t>(options.max_seconds * 600));
  const Clock::time_point drain_deadline = started + milliseconds(static_cast<int64_t>(options.max_seconds * 850));
  ::signal(SIGPIPE, SIG_IGN);

  RunStats stats;
  stats.seed = options.seed != 0 ? options.seed : std::random_device{}();
  std::mt19937_64 random(stats.seed);
  stats.work_dir = options.work_dir;
  bool temporary_dir = false;
  if (!make_work_dir(stats.work_dir, temporary_dir, stats.error)) return finish(options, stats, started, false, 2);

  const std::string brokerd_path = options.brokerd_path.empty() ? default_brokerd_path() : options.brokerd_path;
  if (::access(brokerd_path.c_str(), X_OK) != 0) {
    stats.error = "brokerd binary '" + brokerd_path + "' is not executable (pass --brokerd PATH)";
    return finish(options, stats, started, temporary_dir, 2);
  }
  BrokerServer broker(brokerd_path, stats.work_dir, options.brokerd_args);
  if (!broker.start(kBrokerStartTimeout, stats.error)) return finish(options, stats, started, temporary_dir, 2);

  // ---- 1. chaos ----
  Fleet fleet(options, self_path(), stats.work_dir, random);
  if (!fleet.start(broker.address(), "t" + std::to_string(stats.seed % 1000000))) {
    stats.error = "cannot start the producer and worker processes";
    return finish(options, stats, started, temporary_dir, 2);
  }
  std::uniform_int_distribution<unsigned> pause_ms(options.kill_min_ms, options.kill_max_ms);
  unsigned workers_died_alone = 0;
  while (stats.broker_kills + stats.worker_kills < options.kills) {
    // The pause is the randomness of "when": kills land wherever the processes are.
    const Clock::time_point next_kill = Clock::now() + milliseconds(pause_ms(random));
    if (next_kill >= chaos_deadline) break;
    workers_died_alone += wait_replacing_workers(fleet, next_kill);
    const bool kill_broker = options.kill_mode == KillMode::kBroker ||
                             (options.kill_mode == KillMode::kBoth && random() % 2 == 0);
    if (kill_broker) {
      broker.kill_hard();
      ++stats.broker_kills;
      if (random() % 100 < options.startup_crash_percent) {
        broker.crash_during_start(milliseconds(std::uniform_int_distribution<int>(0, 300)(random)));
        ++stats.startup_crashes;
      }
      if (!broker.start(kBrokerStartTimeout, stats.error)) {
        stats.figures.violations.push_back("brokerd did not come back after SIGKILL #" +
                                           std::to_string(stats.broker_kills) + ": " + stats.error);
        stats.error.clear();
        stats.broker_start_ms = broker.start_times_ms();
        return finish(options, stats, started, temporary_dir, 1);
      }
    } else {
      ++stats.worker_kills;
      if (!fleet.kill_random_worker()) {
        stats.error = "cannot start a replacement worker";
        return finish(options, stats, started, temporary_dir, 2);
      }
    }
  }
  stats.chaos_seconds = seconds_since(started);
  workers_died_alone += fleet.replace_dead_workers();

  // ---- 2. drain ----
  const Clock::time_point drain_started = Clock::now();
  stats.producer_failures = fleet.stop_producers();
  if (stats.producer_failures > 0) {
    stats.figures.violations.push_back(std::to_string(stats.producer_failures) +
                                       " producer(s) failed (an enqueue error no retry could fix); see logs/");
  }
  stats.drained = wait_for_drain(broker.address(), fleet, drain_deadline, workers_died_alone);
  fleet.stop_workers();
  stats.drain_seconds = seconds_since(drain_started);
  stats.poison_exits = fleet.poison_exits();
  if (workers_died_alone > 0) {
    stats.figures.violations.push_back(std::to_string(workers_died_alone) +
                                       " worker process(es) exited without being killed or poisoned; see logs/");
  }

  // ---- 3. check, on what survived one more crash ----
  const Clock::time_point check_started = Clock::now();
  broker.kill_hard();
  if (!broker.start(kBrokerStartTimeout, stats.error)) {
    stats.figures.violations.push_back("brokerd did not come back after the final SIGKILL: " + stats.error);
    stats.error.clear();
    return finish(options, stats, started, temporary_dir, 1);
  }
  std::string check_error;
  stats.checked =
      check_run(stats.work_dir + "/journals", broker.address(), options.poison_fraction, stats.figures, check_error);
  if (!stats.checked) stats.error = check_error;
  stats.check_seconds = seconds_since(check_started);

  // ---- 4. a clean stop must still be clean ----
  stats.broker_exit_code = broker.stop(milliseconds(30000));
  if (stats.broker_exit_code != 0) {
    stats.figures.violations.push_back("brokerd exited " + std::to_string(stats.broker_exit_code) +
                                       " on SIGTERM instead of 0");
  }
  stats.broker_start_ms = broker.start_times_ms();

  int exit_code = 0;
  if (!stats.checked) {
    exit_code = 2;
  } else if (!stats.figures.violations.empty()) {
    exit_code = 1;
  } else if (stats.broker_kills + stats.worker_kills < options.kills || !stats.drained) {
    exit_code = 3;
  }
  return finish(options, stats, started, temporary_dir, exit_code);
}

}  // namespace torture
