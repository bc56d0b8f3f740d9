// The brokerctl verbs. main.cc parses the command line into these option structs; each
// run_* function does the work and returns the process exit status (see exit_codes.h).
// Errors are reported by the verbs themselves as one line on stderr.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace brokerctl {

struct GlobalOptions {
  std::string server;  // HOST:PORT
  // Security flags; each overrides its environment variable (brokerd/security.h).
  std::string token_file;
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
};

struct EnqueueOptions {
  std::string name;
  std::string args_json = "[]";
  std::string kwargs_json = "{}";
  std::string queue;                   // empty: the broker's "default"
  uint32_t priority = 0;               // 0..9
  double countdown_seconds = 0;        // fractional seconds allowed
  std::optional<uint32_t> max_retries; // unset: the broker's default (no retries)
  double time_limit_seconds = 0;       // 0: none
  double soft_time_limit_seconds = 0;  // 0: none
  uint32_t max_deliveries = 0;         // 0: the broker's max_deliveries setting
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

struct StatsOptions {
  bool json = false;
};

struct WorkersOptions {
  bool json = false;
};

struct RevokeOptions {
  std::string id;
  bool json = false;
};

struct PurgeOptions {
  std::string queue;
  bool yes = false;  // skip the confirmation
  bool json = false;
};

struct DeadListOptions {
  std::string queue;     // empty: every queue
  uint32_t limit = 100;
  bool json = false;
};

// `dead requeue` and `dead delete`: IDs, or --all with at most one QUEUE in `args`.
struct DeadOpOptions {
  std::vector<std::string> args;
  bool all = false;
  bool json = false;
};

struct TasksOptions {
  std::string queue;
  std::string state;     // empty: any state; else a state name, any case
  uint32_t limit = 100;
  bool json = false;
};

struct WatchOptions {
  std::vector<std::string> queues;  // empty: every queue
  uint64_t count = 0;               // 0: until interrupted
  double timeout_seconds = 0;       // 0: no limit
  bool json = false;
};

int run_enqueue(const GlobalOptions& global, const EnqueueOptions& options);
int run_task(const GlobalOptions& global, const TaskOptions& options);
int run_result(const GlobalOptions& global, const ResultOptions& options);
int run_queues(const GlobalOptions& global, const QueuesOptions& options);
int run_stats(const GlobalOptions& global, const StatsOptions& options);
int run_workers(const GlobalOptions& global, const WorkersOptions& options);
int run_revoke(const GlobalOptions& global, const RevokeOptions& options);
int run_purge(const GlobalOptions& global, const PurgeOptions& options);
int run_dead_list(const GlobalOptions& global, const DeadListOptions& options);
int run_dead_requeue(const GlobalOptions& global, const DeadOpOptions& options);
int run_dead_delete(const GlobalOptions& global, const DeadOpOptions& options);
int run_tasks(const GlobalOptions& global, const TasksOptions& options);
int run_watch(const GlobalOptions& global, const WatchOptions& options);

}  // namespace brokerctl
