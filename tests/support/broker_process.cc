#include "support/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

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

void BrokerProcess::start() { launch(0); }

void BrokerProcess::restart_on_same_port() {
  ASSERT_GT(port_, 0) << "brokerd has not run yet, so it has no port to reuse";
  const uint16_t previous = port_;
  launch(previous);
  ASSERT_EQ(port_, previous);
}

void BrokerProcess::launch(uint16_t listen_port) {
  ASSERT_LE(pid_, 0) << "brokerd is already running";
  std::filesystem::remove(port_file_);
  port_ = 0;
  std::error_code no_log;  // the log is appended to across restarts
  const auto log_size = std::filesystem::file_size(log_path_, no_log);
  log_offset_ = no_log ? 0 : static_cast<std::streamoff>(log_size);
  const std::string listen = "127.0.0.1:" + std::to_string(listen_port);
  std::vector<std::string> args = {BROKERD_BINARY, "--listen", listen, "--data-dir", data_dir_,
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
  bool exited = false;
  const bool up = eventually(
      [&] {
        std::ifstream in(port_file_);
        unsigned port = 0;
        if (in >> port && port > 0) {
          port_ = static_cast<uint16_t>(port);
          return true;
        }
        int status = 0;
        exited = waitpid(pid_, &status, WNOHANG) == pid_;  // exited early: stop waiting
        return exited;
      },
      std::chrono::seconds(20));
  if (exited) {
    pid_ = -1;  // reaped: never signal that pid again
    check_sanitizer_reports();
  }
  ASSERT_TRUE(up && port_ > 0) << "brokerd did not start; see " << log_path_;
}

void BrokerProcess::kill_hard() {
  if (pid_ <= 0) return;
  // SIGKILL also ends a stopped process; clear the flag so nothing signals a reaped pid.
  paused_ = false;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  check_sanitizer_reports();
}

int BrokerProcess::stop() {
  if (pid_ <= 0) return -1;
  resume();  // a stopped process would not act on SIGTERM
  ::kill(pid_, SIGTERM);
  int status = 0;
  const bool exited = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(20));
  if (!exited) {
    kill_hard();
    return -1;
  }
  pid_ = -1;
  check_sanitizer_reports();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void BrokerProcess::pause() {
  if (pid_ <= 0 || paused_) return;
  ASSERT_EQ(::kill(pid_, SIGSTOP), 0);
  // kill() returns before every thread has stopped; the parent learns it from waitpid.
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, WUNTRACED), pid_);
  if (!WIFSTOPPED(status)) {
    pid_ = -1;  // reaped
    check_sanitizer_reports();
    FAIL() << "brokerd ended instead of stopping; see " << log_path_;
  }
  paused_ = true;
}

void BrokerProcess::resume() {
  if (pid_ <= 0 || !paused_) return;
  ::kill(pid_, SIGCONT);
  paused_ = false;
}

void BrokerProcess::check_sanitizer_reports() {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in || !in.seekg(log_offset_)) return;
  const std::string output{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  log_offset_ += static_cast<std::streamoff>(output.size());  // report each run once
  static constexpr const char* kMarkers[] = {
      "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "SUMMARY: UndefinedBehaviorSanitizer",
      "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer"};
  size_t first = std::string::npos;
  for (const char* marker : kMarkers) first = std::min(first, output.find(marker));
  // UBSan: "FILE:LINE:COLUMN: runtime error: ...", the only line it writes with halt_on_error.
  for (size_t at = output.find(": runtime error: "); at != std::string::npos && at < first;
       at = output.find(": runtime error: ", at + 1)) {
    if (at > 0 && std::isdigit(static_cast<unsigned char>(output[at - 1]))) first = at;
  }
  if (first == std::string::npos) return;
  // From the report's first line on, bounded so that a long log stays readable.
  const size_t line = output.rfind('\n', first);
  const size_t begin = line == std::string::npos ? 0 : line + 1;
  constexpr size_t kMaxReport = 16 * 1024;
  ADD_FAILURE() << "sanitizer report in brokerd's output (" << log_path_ << "):\n"
                << output.substr(begin, kMaxReport)
                << (output.size() - begin > kMaxReport ? "\n[... report truncated]" : "");
}

}  // namespace brokerd::testing
