#include "logging/shutdown_watchdog.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

namespace brokerd::server {

ShutdownWatchdog::~ShutdownWatchdog() { disarm(); }

void ShutdownWatchdog::arm(std::chrono::milliseconds timeout, int exit_code) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable() || disarmed_) return;
  thread_ = std::thread([this, timeout, exit_code] {
    std::unique_lock<std::mutex> lock(mutex_);
    if (changed_.wait_for(lock, timeout, [this] { return disarmed_; })) return;
    // Logging could itself be what hangs (a stuck log file system): SIGALRM's default action
    // ends the process if the lines below do not finish.
    alarm(2);
    spdlog::critical("shutdown did not finish within {} ms; exiting with status {} without finishing clean-up",
                     timeout.count(), exit_code);
    spdlog::default_logger()->flush();
    _exit(exit_code);
  });
}

void ShutdownWatchdog::disarm() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    disarmed_ = true;
    thread = std::move(thread_);
  }
  changed_.notify_all();
  if (thread.joinable()) thread.join();
}

}  // namespace brokerd::server
