// broker-torture: command-line options of the three roles one binary plays.
//
//   controller (default)  spawns brokerd, producers and workers, kills them, checks.
//   --role producer       enqueues tasks and journals every confirmed enqueue.
//   --role worker         runs tasks with the client library's Worker and journals them.
//
// The controller starts the children as this same binary (fork + exec of
// /proc/self/exe), so that each is a process of its own that can be SIGKILLed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace torture {

enum class Role { kController, kProducer, kWorker };
enum class KillMode { kBroker, kWorkers, kBoth };

const char* kill_mode_name(KillMode mode);

struct ControllerOptions {
  std::string brokerd_path;          // empty: default_brokerd_path()
  std::vector<std::string> brokerd_args;  // extra flags for brokerd
  KillMode kill_mode = KillMode::kBroker;
  unsigned kills = 20;               // SIGKILLs to deliver before the chaos phase ends
  unsigned kill_min_ms = 200;        // random pause between two kills, uniform in
  unsigned kill_max_ms = 800;        //   [kill_min_ms, kill_max_ms]
  unsigned startup_crash_percent = 0;  // of brokerd kills: also crash the restart 0..300 ms in
  unsigned producers = 3;
  unsigned workers = 3;
  unsigned worker_concurrency = 2;
  unsigned rate = 300;               // enqueues per second over all producers
  uint64_t tasks = 200000;           // upper bound over all producers
  unsigned work_ms = 2;              // a handler works 0..work_ms ms
  unsigned lease_ms = 10000;         // workers' lease
  double poison_fraction = 0.02;     // of the tasks: poison (task_plan.h), 0..1
  double max_seconds = 600;          // the whole run, checks included
  uint64_t seed = 0;                 // 0: random
  std::string work_dir;              // empty: a fresh temporary dir
  bool keep = false;                 // keep the work dir even when every check passed
};

struct ChildOptions {
  std::string server;    // 127.0.0.1:PORT
  std::string journal;   // path of this process's journal
  uint64_t seed = 1;
  // Producer.
  std::string run_tag;
  unsigned producer_index = 0;
  uint64_t count = 0;    // tasks to enqueue
  double rate = 100;     // enqueues per second
  double poison_fraction = 0;
  // Worker.
  unsigned concurrency = 2;
  unsigned work_ms = 2;
  unsigned lease_ms = 10000;
};

struct Options {
  Role role = Role::kController;
  ControllerOptions controller;
  ChildOptions child;
};

// Parses argv; on --help or an error prints and returns the exit status (>= 0), else -1.
int parse_options(int argc, char** argv, Options& options);

}  // namespace torture
