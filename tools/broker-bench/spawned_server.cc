#include "spawned_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace broker_bench {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// "VmHWM:     12345 kB" -> bytes.
uint64_t status_kb_field(const std::string& status, const char* name) {
  const size_t at = status.find(name);
  if (at == std::string::npos) return 0;
  return std::strtoull(status.c_str() + at + std::strlen(name), nullptr, 10) * 1024;
}

}  // namespace

ProcReading read_proc(pid_t pid) {
  ProcReading reading;
  reading.pid = pid;
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat_file(base + "/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; the fields after its ')' are fixed.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return reading;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // After ')' come field 3 (state) onward; utime and stime are fields 14 and 15.
  unsigned long long utime = 0, stime = 0;
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    if (number == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (number == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  reading.cpu_user_seconds = static_cast<double>(utime) / ticks;
  reading.cpu_system_seconds = static_cast<double>(stime) / ticks;
  std::ifstream status_file(base + "/status");
  std::string status((std::istreambuf_iterator<char>(status_file)), std::istreambuf_iterator<char>());
  reading.rss_bytes = status_kb_field(status, "VmRSS:");
  reading.peak_rss_bytes = status_kb_field(status, "VmHWM:");
  reading.ok = !status.empty();
  return reading;
}

uint64_t disk_usage_bytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code error;
  for (fs::recursive_directory_iterator it(path, error), end; !error && it != end; it.increment(error)) {
    struct stat info {};
    if (::lstat(it->path().c_str(), &info) == 0) total += static_cast<uint64_t>(info.st_blocks) * 512;
  }
  return total;
}

std::string default_brokerd_path() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) return "brokerd";
  const fs::path dir = self.parent_path();
  const fs::path in_build_tree = dir / ".." / ".." / "server" / "brokerd";
  if (fs::exists(in_build_tree, error)) return fs::weakly_canonical(in_build_tree, error).string();
  return (dir / "brokerd").string();
}

std::unique_ptr<SpawnedServer> SpawnedServer::create(std::string brokerd_path, std::string sync,
                                                     std::vector<std::string> extra_args, bool keep_data,
                                                     std::string& error) {
  if (::access(brokerd_path.c_str(), X_OK) != 0) {
    error = "brokerd binary '" + brokerd_path + "' is not executable (pass --brokerd PATH)";
    return nullptr;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/broker-bench.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    error = "cannot make a temporary dir " + pattern + ": " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<SpawnedServer> server(new SpawnedServer());
  server->brokerd_path_ = std::move(brokerd_path);
  server->sync_ = std::move(sync);
  server->extra_args_ = std::move(extra_args);
  server->keep_data_ = keep_data;
  server->root_dir_ = pattern;
  server->data_dir_ = pattern + "/data";
  server->port_file_ = pattern + "/port";
  server->log_path_ = pattern + "/brokerd.log";
  return server;
}

SpawnedServer::~SpawnedServer() {
  kill_hard();
  if (!keep_data_ && !root_dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(root_dir_, ignored);
  }
}

bool SpawnedServer::start(double timeout_seconds, std::string& error) {
  std::error_code ignored;
  fs::remove(port_file_, ignored);
  std::vector<std::string> args = {brokerd_path_, "--listen",  "127.0.0.1:0", "--data-dir", data_dir_,
                                   "--port-file", port_file_, "--sync",      sync_,        "--log-level",
                                   "warn"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the bench died before prctl took effect
    const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    const int null_in = ::open("/dev/null", O_RDONLY);
    if (null_in >= 0) dup2(null_in, STDIN_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  port_ = 0;

  const auto started = Clock::now();
  while (seconds_since(started) < timeout_seconds) {
    std::ifstream in(port_file_);
    unsigned port = 0;
    if (in >> port && port > 0 && port < 65536) {
      port_ = static_cast<uint16_t>(port);
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error = "brokerd exited during start-up; its log ends with:\n" + log_tail();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill_hard();
  error = "brokerd wrote no port file within " + std::to_string(timeout_seconds) + " s; log: " + log_path_;
  return false;
}

bool SpawnedServer::stop(double timeout_seconds, std::string& error) {
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  const auto started = Clock::now();
  int status = 0;
  while (seconds_since(started) < timeout_seconds) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
      error = "brokerd exited with status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill_hard();
  error = "brokerd did not exit within " + std::to_string(timeout_seconds) + " s of SIGTERM; killed";
  return false;
}

void SpawnedServer::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string SpawnedServer::log_tail(size_t max_bytes) const {
  std::ifstream in(log_path_);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

}  // namespace broker_bench
