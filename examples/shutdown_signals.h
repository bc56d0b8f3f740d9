// SIGINT/SIGTERM handling for programs whose shutdown is more than a signal handler may do.
//
// Worker::stop() locks and joins threads, which is not async-signal-safe, so it must never
// run inside a signal handler. Instead the signals are blocked in every thread and one
// watcher thread receives them with sigtimedwait() and runs the callback as ordinary code.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace brokerd_demo {

class ShutdownSignals {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread, and so in every thread it creates
  // afterwards: construct this first in main(), before any other thread exists.
  ShutdownSignals();
  // Calls join().
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Starts the watcher thread. The first signal runs `on_signal` once, on a thread of its
  // own so it may block (a graceful stop waits for running tasks). A second signal means
  // the operator will not wait: the process exits at once with status 128 + signal, like
  // Celery's cold shutdown; the broker requeues whatever was running.
  void start(std::function<void(int signal_number)> on_signal);

  // Stops watching and waits for a running callback to return. Call it before destroying
  // what the callback uses (the Worker), since the callback may still be unwinding.
  void join();

 private:
  void watch();

  std::function<void(int)> on_signal_;
  std::atomic<bool> done_{false};
  std::thread watcher_;
  std::thread stopper_;  // runs on_signal_; joined by the destructor
};

}  // namespace brokerd_demo
