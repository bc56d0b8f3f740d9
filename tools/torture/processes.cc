#include "processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace torture {

namespace fs = std::filesystem;

namespace {
constexpr std::chrono::milliseconds kPollStep{5};
}

pid_t spawn_process(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> raw;
  std::vector<std::string> copy = argv;  // execv wants char*, and the strings must outlive fork
  for (std::string& arg : copy) raw.push_back(arg.data());
  raw.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: only async-signal-safe calls until execv.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the controller died before prctl took effect
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log >= 0) {
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
  }
  ::execv(raw[0], raw.data());
  ::_exit(127);
}

bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int& status) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollStep);  // polling: a child's exit has no fd to wait on here
  }
}

void kill_and_reap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

int terminate(pid_t pid, std::chrono::milliseconds timeout) {
  if (pid <= 0) return -1;
  ::kill(pid, SIGTERM);
  int status = 0;
  if (!wait_exit(pid, timeout, status)) {
    kill_and_reap(pid);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string self_path() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string() : self.string();
}

std::string default_brokerd_path() {
  std::error_code error;
  const fs::path dir = fs::path(self_path()).parent_path();
  const fs::path in_build_tree = dir / ".." / ".." / "server" / "brokerd";
  if (fs::exists(in_build_tree, error)) return fs::weakly_canonical(in_build_tree, error).string();
  return (dir / "brokerd").string();
}

BrokerServer::BrokerServer(std::string brokerd_path, std::string work_dir, std::vector<std::string> extra_args)
    : brokerd_path_(std::move(brokerd_path)),
      extra_args_(std::move(extra_args)),
      data_dir_(work_dir + "/data"),
      port_file_(work_dir + "/brokerd.port"),
      log_path_(work_dir + "/brokerd.log") {}

BrokerServer::~BrokerServer() { kill_hard(); }

bool BrokerServer::start(std::chrono::milliseconds timeout, std::string& error) {
  const auto began = std::chrono::steady_clock::now();
  pid_ = launch();
  if (pid_ < 0) {
    error = "fork failed";
    return false;
  }
  const auto deadline = began + timeout;
  for (;;) {
    std::ifstream in(port_file_);
    unsigned port = 0;
    if (in >> port && port > 0 && port < 65536) {
      if (port_ != 0 && port != port_) {
        error = "brokerd came back on port " + std::to_string(port) + " instead of " + std::to_string(port_);
        return false;
      }
      port_ = static_cast<uint16_t>(port);
      start_times_ms_.push_back(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count());
      return true;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error = "brokerd exited during start (status " + std::to_string(status) + "); log tail:\n" + log_tail();
      return false;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill_hard();
      error = "brokerd did not write its port file in time; log tail:\n" + log_tail();
      return false;
    }
    std::this_thread::sleep_for(kPollStep);  // polling the port file, as the tests do
  }
}

pid_t BrokerServer::launch() {
  std::error_code ignored;
  fs::remove(port_file_, ignored);
  std::vector<std::string> argv = {brokerd_path_, "--listen", "127.0.0.1:" + std::to_string(port_),
                                   "--data-dir", data_dir_, "--port-file", port_file_};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  return spawn_process(argv, log_path_);
}

void BrokerServer::crash_during_start(std::chrono::milliseconds after) {
  pid_ = launch();
  // Not a wait for a condition: the crash is meant to land at an arbitrary point of the
  // start-up, whatever brokerd is doing then.
  std::this_thread::sleep_for(after);
  kill_hard();
}

void BrokerServer::kill_hard() {
  kill_and_reap(pid_);
  pid_ = -1;
}

int BrokerServer::stop(std::chrono::milliseconds timeout) {
  const int code = terminate(pid_, timeout);
  pid_ = -1;
  return code;
}

std::string BrokerServer::log_tail() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return data.size() > 2000 ? data.substr(data.size() - 2000) : data;
}

}  // namespace torture
