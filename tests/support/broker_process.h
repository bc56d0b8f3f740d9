// Runs a real brokerd process for integration tests: 127.0.0.1, port 0 (the port is
// read back from --port-file), a data dir the test owns. Can be killed with SIGKILL and
// restarted on the same data dir to test recovery.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace brokerd::testing {

class BrokerProcess {
 public:
  // `data_dir` must exist or be creatable; `extra_args` are appended to the command line.
  explicit BrokerProcess(std::string data_dir, std::vector<std::string> extra_args = {});
  ~BrokerProcess();  // SIGKILL if still running
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Starts brokerd and waits (up to 20 s) until it has written its port. Aborts the test
  // via a fatal failure if it does not come up.
  void start();
  // SIGKILL and reap: the crash case.
  void kill_hard();
  // SIGTERM and reap; returns the exit status (-1 when it had to be killed).
  int stop();

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& log_path() const { return log_path_; }

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string port_file_;
  std::string log_path_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Polls `condition` until it holds or `timeout` passes. For conditions no push can
// signal (a process state, a file); the broker's own waits use server push instead.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace brokerd::testing

#include "support/broker_process_inl.h"
