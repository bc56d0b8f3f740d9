// broker-torture, worker role: learns which of this worker's completions the broker has
// made durable, and journals them ("C <ms> <id> <result>").
//
// Why not CompleteOk: the client library's Worker sends the Complete and reads the
// CompleteOk itself, and does not tell the application which task it confirmed. So this
// asks the broker the way any reader would: WaitResult on the task. The broker sends
// that TaskInfo only after every write it made before is durable, so a SUCCESS carrying
// exactly the result this run returned (each run's result holds a random nonce) proves
// this run's completion is on disk. That is at least as strong as a CompleteOk.
// A different result means another run of the task won ("O"); it is not ours to check.
//
// Threads: watch() from handler threads; kThreads confirmer threads, each with its own
// Client, reconnecting when the broker goes away. finish() from the main thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "journal.h"

namespace torture {

class Confirmer {
 public:
  Confirmer(std::string server, JournalWriter& journal);
  ~Confirmer();
  Confirmer(const Confirmer&) = delete;
  Confirmer& operator=(const Confirmer&) = delete;

  // A handler returned `result_json` for task `id`; its Complete is on its way.
  void watch(const std::string& id, const std::string& result_json);

  // Keeps confirming what is pending until none is left or `budget` passes, then stops.
  void finish(std::chrono::milliseconds budget);

 private:
  struct Pending {
    std::string id;
    std::string result_json;
    unsigned rounds = 0;  // waits that timed out or failed so far
  };
  static constexpr unsigned kThreads = 2;
  // A task not terminal after this many 1 s waits is left to the final check.
  static constexpr unsigned kMaxRounds = 60;

  void run();

  const std::string server_;
  JournalWriter& journal_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;  // GUARDED_BY(mu_)
  bool stopping_ = false;        // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point stop_at_ = std::chrono::steady_clock::time_point::max();  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace torture
