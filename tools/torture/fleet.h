// broker-torture, controller: the producer and worker processes of a run, each a copy of
// this binary in another role, each replaceable after a kill. Journals go to
// <work dir>/journals, their stdout/stderr to <work dir>/logs; a replacement worker gets
// a journal of its own (worker-<slot>-<generation>.log).
//
// Thread safety: none; the controller's main thread owns it.
#pragma once

#include <sys/types.h>

#include <random>
#include <string>
#include <vector>

#include "options.h"

namespace torture {

class Fleet {
 public:
  Fleet(const ControllerOptions& options, std::string self, std::string work_dir, std::mt19937_64& random);
  ~Fleet();  // SIGKILLs whatever still runs
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Starts the workers, then the producers, against `server`; task ids start with `run_tag`.
  bool start(const std::string& server, const std::string& run_tag);

  // SIGKILLs one worker chosen at random and starts its replacement.
  bool kill_random_worker();

  // Replaces every worker that exited on its own, so the run goes on. One that exited
  // with kPoisonExitCode was taken down by a poison task (task_plan.h), as planned: it is
  // counted in poison_exits(). Any other exit is a finding (a worker should only die when
  // killed): returns how many of those there were.
  unsigned replace_dead_workers();
  unsigned poison_exits() const { return poison_exits_; }

  // SIGTERM to every producer (a finished one has exited already); returns how many
  // exited with a failure.
  unsigned stop_producers();

  // SIGTERM to every worker: graceful stop, outcomes reported, confirmers finish.
  void stop_workers();

 private:
  struct Slot {
    pid_t pid = -1;
    unsigned generation = 0;  // how many processes this slot has had
  };

  bool spawn_worker(unsigned slot);

  const ControllerOptions& options_;
  const std::string self_;
  const std::string work_dir_;
  std::mt19937_64& random_;
  std::string server_;
  std::vector<pid_t> producers_;
  std::vector<Slot> workers_;
  unsigned poison_exits_ = 0;
};

}  // namespace torture
