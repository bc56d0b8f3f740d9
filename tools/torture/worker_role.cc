#include "worker_role.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <brokerd/worker.h>

#include "confirmer.h"
#include "journal.h"
#include "task_plan.h"

namespace torture {

namespace {

// One random source for the handler threads; the handlers are short, a mutex is fine.
class SharedRandom {
 public:
  explicit SharedRandom(uint64_t seed) : engine_(seed) {}
  uint64_t next(uint64_t max_inclusive) {
    std::lock_guard<std::mutex> lock(mu_);
    return std::uniform_int_distribution<uint64_t>(0, max_inclusive)(engine_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

}  // namespace

int run_worker(const ChildOptions& options) {
  // SIGTERM/SIGINT are taken with sigwait() by the main thread: block them before any
  // thread starts, so every thread inherits the mask and none runs a handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  JournalWriter journal(options.journal);
  Confirmer confirmer(options.server, journal);
  SharedRandom random(options.seed);
  const std::string pid = std::to_string(::getpid());
  // One sequence for the whole process, taken when a run starts and when it ends: the
  // checker orders the runs of this process by it (clock milliseconds would tie).
  std::atomic<uint64_t> run_events{0};

  brokerd::WorkerOptions worker_options;
  worker_options.server = options.server;
  worker_options.name = "torture-worker-" + pid;
  worker_options.concurrency = options.concurrency;
  worker_options.lease = std::chrono::milliseconds(options.lease_ms);
  // Come back quickly after a broker restart, so the chaos keeps finding work in flight.
  worker_options.reconnect_backoff_max = std::chrono::milliseconds(500);
  brokerd::Worker worker(worker_options);
  worker.register_task(kTaskName, [&](brokerd::TaskContext& task) -> nlohmann::json {
    const uint64_t run = ++run_events;
    journal.append("D " + std::to_string(monotonic_ms()) + " " + task.id() + " " + std::to_string(task.attempt()) +
                   " " + std::to_string(task.retries()) + " " + std::to_string(run));
    if (is_poison(task.args())) std::_Exit(kPoisonExitCode);  // no unwinding, no goodbye: a crash
    // Journals "F" however the handler ends (returns or throws); a kill leaves the run open.
    struct RunEnd {
      JournalWriter& journal;
      std::atomic<uint64_t>& events;
      const std::string id;
      uint64_t run;
      ~RunEnd() {
        journal.append("F " + std::to_string(monotonic_ms()) + " " + id + " " + std::to_string(run) + " " +
                       std::to_string(++events));
      }
    } run_end{journal, run_events, task.id(), run};
    if (fails_first_run(task.args()) && task.retries() == 0) {
      throw std::runtime_error("planned failure of the first run");
    }
    if (is_slow(task.args())) {
      // Deaf to stop_requested() on purpose: a lost lease does not end this run early.
      std::this_thread::sleep_for(std::chrono::milliseconds(kSlowWorkMs));
    } else if (options.work_ms > 0) {
      // Simulated work, so that kills land while handlers run.
      std::this_thread::sleep_for(std::chrono::milliseconds(random.next(options.work_ms)));
    }
    nlohmann::json result = {{"id", task.id()},
                             {"pid", ::getpid()},
                             {"attempt", task.attempt()},
                             {"nonce", random.next(UINT64_MAX)}};
    const std::string text = result.dump();
    journal.append("R " + std::to_string(monotonic_ms()) + " " + task.id() + " " + text);
    confirmer.watch(task.id(), text);
    return result;
  });

  // The broker may be down at this very moment (just killed): keep trying, until told to
  // stop. sigtimedwait doubles as the retry pause and the stop check.
  const timespec retry_pause{0, 100'000'000};
  for (;;) {
    brokerd::Status started = worker.start();
    if (started.ok()) break;
    if (sigtimedwait(&stop_signals, nullptr, &retry_pause) > 0) return 0;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  worker.stop();  // running handlers finish and their outcomes are reported
  confirmer.finish(std::chrono::seconds(5));
  return 0;
}

}  // namespace torture
