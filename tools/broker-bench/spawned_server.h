// broker-bench: a private brokerd for --spawn. It runs on a temporary directory
// (<tmp>/data is the database; the port file and the server's log sit beside it), listens
// on 127.0.0.1 port 0 and reports its port through --port-file, as the integration tests
// start it (tests/support/broker_process.cc).
//
// The child gets its own process group (a Ctrl-C at the terminal reaches only the bench,
// which then stops the server itself) and dies with the bench (PR_SET_PDEATHSIG).
//
// Thread safety: none; owned and driven by the main thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace broker_bench {

// What /proc says about a process.
struct ProcReading {
  bool ok = false;
  pid_t pid = 0;
  double cpu_user_seconds = 0;    // /proc/PID/stat utime
  double cpu_system_seconds = 0;  // /proc/PID/stat stime
  uint64_t rss_bytes = 0;         // /proc/PID/status VmRSS
  uint64_t peak_rss_bytes = 0;    // /proc/PID/status VmHWM
  double cpu_seconds() const { return cpu_user_seconds + cpu_system_seconds; }
};

ProcReading read_proc(pid_t pid);

// Bytes the files under `path` occupy on disk (allocated blocks, as du reports).
uint64_t disk_usage_bytes(const std::string& path);

// <dir of this executable>/../../server/brokerd when it exists (the build tree: the bench
// is <build>/tools/broker-bench/broker-bench), else <dir of this executable>/brokerd
// (an installed bin/ directory).
std::string default_brokerd_path();

class SpawnedServer {
 public:
  // Makes the temporary directory; start() runs the server in it.
  static std::unique_ptr<SpawnedServer> create(std::string brokerd_path, std::string sync,
                                               std::vector<std::string> extra_args, bool keep_data,
                                               std::string& error);
  // Kills a server still running (SIGKILL) and removes the directory unless kept.
  ~SpawnedServer();
  SpawnedServer(const SpawnedServer&) = delete;
  SpawnedServer& operator=(const SpawnedServer&) = delete;

  // Starts brokerd on the data dir (again, after stop(): the data survives) and waits up
  // to `timeout_seconds` for its port file.
  bool start(double timeout_seconds, std::string& error);
  // SIGTERM, then waits up to `timeout_seconds` for the exit (SIGKILL after that).
  // Returns false when it had to be killed or exited with a failure status.
  bool stop(double timeout_seconds, std::string& error);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }
  const std::string& brokerd_path() const { return brokerd_path_; }
  const std::string& sync() const { return sync_; }
  // The last lines of the server's log, for error messages.
  std::string log_tail(size_t max_bytes = 2000) const;

 private:
  SpawnedServer() = default;
  void kill_hard();

  std::string brokerd_path_;
  std::string sync_;
  std::vector<std::string> extra_args_;
  bool keep_data_ = false;
  std::string root_dir_;
  std::string data_dir_;
  std::string port_file_;
  std::string log_path_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace broker_bench
