// Runs a real brokerd process for integration tests: 127.0.0.1, port 0 (the port is
// read back from --port-file), a data dir the test owns. Can be killed with SIGKILL and
// restarted on the same data dir to test recovery, restarted on the same port so that
// reconnecting clients find it again, and frozen with SIGSTOP to test deadlines.
//
// Not thread-safe: one test thread drives it.
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
  // Like start(), after kill_hard() or stop(), but listening on the port the previous
  // run had bound (`--listen 127.0.0.1:<port>`; brokerd sets SO_REUSEADDR) instead of a
  // new one, so clients that reconnect to the old address() find it. Fatal failure if it
  // has never run or is still running.
  void restart_on_same_port();
  // SIGKILL and reap: the crash case.
  void kill_hard();
  // SIGTERM and reap; returns the exit status (-1 when it had to be killed).
  int stop();
  // SIGSTOP, returning once the process has stopped: it accepts nothing and answers
  // nothing, while the kernel keeps its sockets open (connections are accepted into the
  // backlog, requests are buffered). resume() is SIGCONT. Both do nothing when not
  // applicable. kill_hard() and the destructor end a paused process too; stop() resumes
  // it first so that it can act on SIGTERM.
  void pause();
  void resume();

  bool running() const { return pid_ > 0; }
  bool paused() const { return paused_; }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& log_path() const { return log_path_; }
  // Where brokerd writes its port (and, with --http, PORT_FILE.http its HTTP port).
  const std::string& port_file() const { return port_file_; }

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string port_file_;
  std::string log_path_;
  // Forks brokerd listening on 127.0.0.1:`listen_port` (0: any free port).
  void launch(uint16_t listen_port);
  // After the process is reaped: a sanitizer report (ASan, LSan, UBSan, TSan) that this
  // run wrote to its log fails the test, with the report in the failure message (the log
  // lives in the test's temporary dir and is gone afterwards).
  void check_sanitizer_reports();

  pid_t pid_ = -1;
  uint16_t port_ = 0;  // bound by the current or last run; 0 before it, or if it failed to start
  bool paused_ = false;
  std::streamoff log_offset_ = 0;  // where the current run's output starts in the log
};

// Polls `condition` until it holds or `timeout` passes. For conditions no push can
// signal (a process state, a file); the broker's own waits use server push instead.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace brokerd::testing

#include "support/broker_process_inl.h"
