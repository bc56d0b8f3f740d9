#include "support/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace brokerd::testing {

BrokerProcess::BrokerProcess(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  port_file_ = data_dir_ + ".port";
  log_path_ = data_dir_ + ".log";
}

BrokerProcess::~BrokerProcess() {
  if (pid_ > 0) kill_hard();
}

void BrokerProcess::start() {
  std::filesystem::remove(port_file_);
  std::vector<std::string> args = {BROKERD_BINARY, "--listen", "127.0.0.1:0", "--data-dir", data_dir_,
                                   "--port-file", port_file_, "--log-level", "debug"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  ASSERT_GE(pid_, 0) << "fork failed";
  if (pid_ == 0) {
    const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const bool up = eventually(
      [&] {
        std::ifstream in(port_file_);
        unsigned port = 0;
        if (in >> port && port > 0) {
          port_ = static_cast<uint16_t>(port);
          return true;
        }
        int status = 0;
        return waitpid(pid_, &status, WNOHANG) == pid_;  // exited early: stop waiting
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(up && port_ > 0) << "brokerd did not start; see " << log_path_;
}

void BrokerProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int BrokerProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const bool exited = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(20));
  if (!exited) {
    kill_hard();
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace brokerd::testing
