// broker-torture, controller: the processes it runs — brokerd and its own children —
// and how it ends them.
//
// Every child gets PR_SET_PDEATHSIG(SIGKILL): if the controller itself dies (ctest
// timeout, Ctrl-C), nothing it started outlives it. Children write stdout/stderr to a log
// file in the work dir.
//
// Thread safety: none; the controller's main thread owns these.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace torture {

// fork + execv(argv[0]) with output appended to `log_path`. Returns the pid, or -1.
pid_t spawn_process(const std::vector<std::string>& argv, const std::string& log_path);

// Waits up to `timeout` for `pid` to exit, polling. Returns true once it was reaped
// (then `status` holds its wait status).
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int& status);

// SIGKILL and reap.
void kill_and_reap(pid_t pid);

// SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code, or -1 if it had
// to be killed or died of a signal.
int terminate(pid_t pid, std::chrono::milliseconds timeout);

// The path of this executable (children are started from it).
std::string self_path();
// <dir of this executable>/../../server/brokerd in a build tree, else brokerd beside it.
std::string default_brokerd_path();

// brokerd on 127.0.0.1 with a data dir; restarted on the port of its first run.
class BrokerServer {
 public:
  BrokerServer(std::string brokerd_path, std::string work_dir, std::vector<std::string> extra_args);
  ~BrokerServer();  // SIGKILL if still running
  BrokerServer(const BrokerServer&) = delete;
  BrokerServer& operator=(const BrokerServer&) = delete;

  // Starts brokerd (on a free port the first time, on the same port afterwards) and
  // waits up to `timeout` for its port file. On failure `error` says why, with the tail
  // of its log.
  bool start(std::chrono::milliseconds timeout, std::string& error);
  void kill_hard();
  // Starts brokerd and SIGKILLs it `after` later, whether or not it is listening yet: a
  // crash during start-up and recovery. Leaves it stopped; start() brings it back.
  void crash_during_start(std::chrono::milliseconds after);
  // SIGTERM; returns brokerd's exit code (-1: killed after `timeout`, or a signal).
  int stop(std::chrono::milliseconds timeout);

  bool running() const { return pid_ > 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& log_path() const { return log_path_; }
  // Milliseconds from exec to the port file, for every start so far.
  const std::vector<int64_t>& start_times_ms() const { return start_times_ms_; }

 private:
  std::string log_tail() const;
  pid_t launch();  // forks brokerd on port_ (0 the first time); -1 if fork failed

  const std::string brokerd_path_;
  const std::vector<std::string> extra_args_;
  const std::string data_dir_;
  const std::string port_file_;
  const std::string log_path_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::vector<int64_t> start_times_ms_;
};

}  // namespace torture
