// Bounds how long brokerd may take to stop. arm() when the stop signal arrives; unless
// disarm() (or the destructor) follows within the timeout, it logs that shutdown hung and
// ends the process with _exit(exit_code): what brokerd had confirmed is already durable,
// so skipping the rest of the clean-up loses nothing that was promised.
//
// Declare it before everything else in main(), so that its destructor, which disarms it,
// runs after every other destructor: those are bounded too.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace brokerd::server {

class ShutdownWatchdog {
 public:
  ShutdownWatchdog() = default;
  ~ShutdownWatchdog();
  ShutdownWatchdog(const ShutdownWatchdog&) = delete;
  ShutdownWatchdog& operator=(const ShutdownWatchdog&) = delete;

  // Starts the countdown; a second call does nothing.
  void arm(std::chrono::milliseconds timeout, int exit_code = 1);
  // Stops it; the process goes on. Safe to call without arm() and more than once.
  void disarm();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool disarmed_ = false;
  std::thread thread_;
};

}  // namespace brokerd::server
