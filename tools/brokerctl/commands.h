// The brokerctl verbs. main.cc parses the command line into these option structs; each
// run_* function does the work and returns the process exit status (see exit_codes.h).
// Errors are reported by the verbs themselves as one line on stderr.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace brokerctl {

struct GlobalOptions {
  std::string server;  // HOST:PORT
};

struct EnqueueOptions {
  std::string name;
  std::string args_json = "[]";
  std::string kwargs_json = "{}";
  std::string queue;                   // empty: the broker's "default"
  uint32_t priority = 0;               // 0..9
  double countdown_seconds = 0;        // fractional seconds allowed
  std::optional<uint32_t> max_retries; // unset: the broker's default (no retries)
  std::string id;                      // empty: the broker generates one
};

struct TaskOptions {
  std::string id;
  bool json = false;
};

struct ResultOptions {
  std::string id;
  double wait_seconds = 0;  // 0: read the current state only
  bool json = false;
};

struct QueuesOptions {
  bool json = false;
};

int run_enqueue(const GlobalOptions& global, const EnqueueOptions& options);
int run_task(const GlobalOptions& global, const TaskOptions& options);
int run_result(const GlobalOptions& global, const ResultOptions& options);
int run_queues(const GlobalOptions& global, const QueuesOptions& options);

}  // namespace brokerctl
