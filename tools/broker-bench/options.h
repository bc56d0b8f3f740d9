// broker-bench: the command line. Every flag, its default and its bounds are declared in
// options.cc; the rest of the tool reads only this struct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace broker_bench {

enum class Scenario { kEnqueue, kEndToEnd, kLatency, kBacklog, kChurn };

// "enqueue", "e2e", "latency", "backlog", "churn".
const char* scenario_name(Scenario scenario);

struct BenchOptions {
  // Where the broker is: an address given with --server, or a brokerd started by the bench.
  std::string server = "127.0.0.1:7411";
  bool spawn = false;
  std::string brokerd_path;               // empty: found next to the bench's build dir
  std::string sync = "always";            // --spawn only
  std::vector<std::string> brokerd_args;  // extra flags passed to a spawned brokerd
  bool keep_data = false;                 // keep the spawned server's temporary dir

  Scenario scenario = Scenario::kEnqueue;
  uint64_t tasks = 100'000;  // adjusted per scenario when not given (latency, backlog, churn)
  bool tasks_given = false;
  unsigned producers = 1;
  unsigned workers = 1;
  unsigned prefetch = 100;
  unsigned pipeline = 64;
  unsigned batch = 1;       // churn: 1000 when not given
  unsigned payload = 200;   // bytes of args_json per task
  std::string queue;        // empty: "bench-<scenario>-<pid>"

  double max_seconds = 300;
  bool json = false;
  bool progress = true;  // shown only when stderr is a terminal
};

// Parses argv into `options`. Returns -1 to go on, or the exit status to end with (help,
// version, bad command line; the message is already printed).
int parse_options(int argc, char** argv, BenchOptions& options);

}  // namespace broker_bench
