#include "shutdown_signals.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <pthread.h>

namespace brokerd_demo {
namespace {

sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

ShutdownSignals::ShutdownSignals() {
  sigset_t set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ShutdownSignals::~ShutdownSignals() { join(); }

void ShutdownSignals::join() {
  done_ = true;
  if (watcher_.joinable()) watcher_.join();
  if (stopper_.joinable()) stopper_.join();
}

void ShutdownSignals::start(std::function<void(int)> on_signal) {
  on_signal_ = std::move(on_signal);
  watcher_ = std::thread([this] { watch(); });
}

void ShutdownSignals::watch() {
  sigset_t set = shutdown_set();
  // A timed wait rather than sigwait(): the destructor must be able to end this thread
  // when the program finishes for another reason (e.g. the first connection failed).
  const timespec poll_interval{0, 200 * 1000 * 1000};
  while (!done_) {
    int signal_number = sigtimedwait(&set, nullptr, &poll_interval);
    if (signal_number <= 0) continue;  // timeout or EINTR
    if (!stopper_.joinable()) {
      stopper_ = std::thread(on_signal_, signal_number);
    } else {
      std::fprintf(stderr, "second signal: exiting without waiting for running tasks\n");
      std::_Exit(128 + signal_number);
    }
  }
}

}  // namespace brokerd_demo
