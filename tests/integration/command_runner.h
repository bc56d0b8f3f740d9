// Running a command line (brokerctl) from a test: to completion with its stdout, stderr
// and exit status; in the background, reading its output line by line as it comes; or on
// a pseudo-terminal, to answer its questions. Commands go through /bin/sh -c, so
// arguments are shell-quoted by the caller. Every wait has a deadline.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

namespace brokerd::testing {

struct CommandRun {
  int exit_code = -1;  // -1: killed by a signal, or did not finish in time
  std::string out;
  std::string err;
};

namespace command_detail {

inline int64_t ms_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : left.count();
}

// Waits for `pid` until `deadline`; SIGKILLs it past the deadline. Exit status or -1.
inline int reap(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (done < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(2000);
  }
}

// In the child after fork(): async-signal-safe calls only (the test may have threads),
// so the command line is built before the fork.
[[noreturn]] inline void exec_shell(const std::string& shell_command) {
  execl("/bin/sh", "sh", "-c", shell_command.c_str(), static_cast<char*>(nullptr));
  _exit(127);
}

}  // namespace command_detail

// Runs `command` with stdin from /dev/null (so brokerctl sees no terminal) and returns
// once it has exited, or kills it after `timeout`.
inline CommandRun run_command(const std::string& command,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  CommandRun run;
  const std::string shell_command = "exec " + command;
  int out_pipe[2];
  int err_pipe[2];
  if (pipe(out_pipe) != 0) return run;
  if (pipe(err_pipe) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return run;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    close(out_pipe[0]);
    close(err_pipe[0]);
    command_detail::exec_shell(shell_command);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&run.out, &run.err};
  int open_fds = 2;
  while (open_fds > 0 && command_detail::ms_until(deadline) > 0) {
    if (poll(fds, 2, static_cast<int>(command_detail::ms_until(deadline))) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  run.exit_code = command_detail::reap(pid, deadline);
  return run;
}

// A command running in the background whose stdout is read line by line (stderr goes to
// the test's stderr). Either its own stdin is /dev/null, or (`terminal`) it runs on a
// pseudo-terminal, which is then both its stdin and its stdout, and write() types into it.
class BackgroundCommand {
 public:
  explicit BackgroundCommand(const std::string& command, bool terminal = false) {
    const std::string shell_command = "exec " + command;
    if (terminal) {
      pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
      if (pid_ == 0) command_detail::exec_shell(shell_command);
      return;
    }
    int out_pipe[2];
    if (pipe(out_pipe) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      const int null_fd = open("/dev/null", O_RDONLY);
      dup2(null_fd, STDIN_FILENO);
      dup2(out_pipe[1], STDOUT_FILENO);
      close(out_pipe[0]);
      command_detail::exec_shell(shell_command);
    }
    close(out_pipe[1]);
    fd_ = out_pipe[0];
  }

  ~BackgroundCommand() {
    if (pid_ > 0 && exit_code_ == kRunning) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  // The next whole line of output (without its newline, and without a terminal's "\r"),
  // or nullopt if none came within `timeout` or the output ended.
  std::optional<std::string> next_line(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }

  // Waits until the output so far contains `text` (for a prompt without a newline).
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.find(text) == std::string::npos) {
      if (!read_some(deadline)) return false;
    }
    return true;
  }

  // Everything read so far that next_line() has not returned.
  const std::string& pending_output() const { return buffer_; }

  void write(const std::string& text) {
    if (fd_ >= 0) (void)::write(fd_, text.data(), text.size());
  }

  void signal(int sig) {
    if (pid_ > 0 && exit_code_ == kRunning) kill(pid_, sig);
  }

  // The exit status (-1 if killed by a signal or still running after `timeout`, in which
  // case it is killed).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (exit_code_ == kRunning && pid_ > 0) {
      exit_code_ = command_detail::reap(pid_, std::chrono::steady_clock::now() + timeout);
    }
    return exit_code_;
  }

 private:
  static constexpr int kRunning = -2;

  // Reads what is available before `deadline`; false at the deadline or end of output.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0 || eof_) return false;
    pollfd fd{fd_, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(command_detail::ms_until(deadline))) <= 0) return false;
    char chunk[4096];
    const ssize_t n = read(fd_, chunk, sizeof chunk);
    if (n <= 0) {  // EOF (or EIO from a terminal whose program has exited)
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool eof_ = false;
  int exit_code_ = kRunning;
  std::string buffer_;
};

}  // namespace brokerd::testing
