#include "fleet.h"

#include <sys/wait.h>

#include <chrono>
#include <cstdio>

#include "processes.h"
#include "task_plan.h"

namespace torture {

namespace {
// A graceful stop includes the worker's drain (up to 10 s for the last outcomes) and
// its confirmer (5 s).
constexpr std::chrono::milliseconds kChildStopTimeout{20000};

// Every digit: the producer must decide which tasks are poison exactly as the checker does.
std::string exact(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}
}  // namespace

Fleet::Fleet(const ControllerOptions& options, std::string self, std::string work_dir, std::mt19937_64& random)
    : options_(options), self_(std::move(self)), work_dir_(std::move(work_dir)), random_(random) {}

Fleet::~Fleet() {
  for (pid_t pid : producers_) kill_and_reap(pid);
  for (Slot& worker : workers_) kill_and_reap(worker.pid);
}

bool Fleet::start(const std::string& server, const std::string& run_tag) {
  server_ = server;
  workers_.resize(options_.workers);
  for (unsigned slot = 0; slot < options_.workers; ++slot) {
    if (!spawn_worker(slot)) return false;
  }
  const uint64_t per_producer = (options_.tasks + options_.producers - 1) / options_.producers;
  const double rate = static_cast<double>(options_.rate) / options_.producers;
  for (unsigned p = 0; p < options_.producers; ++p) {
    const std::string tag = "producer-" + std::to_string(p);
    const pid_t pid = spawn_process({self_, "--role", "producer", "--server", server_, "--journal",
                                     work_dir_ + "/journals/" + tag + ".log", "--child-seed", std::to_string(random_()),
                                     "--run-tag", run_tag, "--producer-index", std::to_string(p), "--count",
                                     std::to_string(per_producer), "--child-rate", std::to_string(rate),
                                     "--child-poison-fraction", exact(options_.poison_fraction)},
                                    work_dir_ + "/logs/" + tag + ".log");
    if (pid < 0) return false;
    producers_.push_back(pid);
  }
  return true;
}

bool Fleet::kill_random_worker() {
  const unsigned slot = std::uniform_int_distribution<unsigned>(0, options_.workers - 1)(random_);
  kill_and_reap(workers_[slot].pid);
  return spawn_worker(slot);
}

unsigned Fleet::replace_dead_workers() {
  unsigned unexpected = 0;
  for (unsigned slot = 0; slot < workers_.size(); ++slot) {
    int status = 0;
    if (::waitpid(workers_[slot].pid, &status, WNOHANG) == workers_[slot].pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == kPoisonExitCode) {
        ++poison_exits_;
      } else {
        ++unexpected;
      }
      spawn_worker(slot);
    }
  }
  return unexpected;
}

unsigned Fleet::stop_producers() {
  unsigned failures = 0;
  for (pid_t pid : producers_) {
    if (terminate(pid, kChildStopTimeout) != 0) ++failures;
  }
  producers_.clear();
  return failures;
}

void Fleet::stop_workers() {
  for (Slot& worker : workers_) {
    terminate(worker.pid, kChildStopTimeout);
    worker.pid = -1;
  }
}

bool Fleet::spawn_worker(unsigned slot) {
  Slot& worker = workers_[slot];
  const std::string tag = "worker-" + std::to_string(slot) + "-" + std::to_string(worker.generation++);
  worker.pid = spawn_process({self_, "--role", "worker", "--server", server_, "--journal",
                              work_dir_ + "/journals/" + tag + ".log", "--child-seed", std::to_string(random_()),
                              "--concurrency", std::to_string(options_.worker_concurrency), "--child-work-ms",
                              std::to_string(options_.work_ms), "--child-lease-ms", std::to_string(options_.lease_ms)},
                             work_dir_ + "/logs/" + tag + ".log");
  return worker.pid > 0;
}

}  // namespace torture
