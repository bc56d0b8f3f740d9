// Test helpers for systemd notifications: a unix datagram socket standing in for the
// service manager's $NOTIFY_SOCKET, and a scoped setting of that variable.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace brokerd::testing {

// Sets or unsets NOTIFY_SOCKET for one test and restores the previous value.
class ScopedNotifySocket {
 public:
  explicit ScopedNotifySocket(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("NOTIFY_SOCKET")) previous_ = old;
    if (value) {
      setenv("NOTIFY_SOCKET", value->c_str(), 1);
    } else {
      unsetenv("NOTIFY_SOCKET");
    }
  }
  ~ScopedNotifySocket() {
    if (previous_) {
      setenv("NOTIFY_SOCKET", previous_->c_str(), 1);
    } else {
      unsetenv("NOTIFY_SOCKET");
    }
  }

 private:
  std::optional<std::string> previous_;
};

// A bound AF_UNIX datagram socket: a path in a fresh temporary directory, or an abstract
// name (leading NUL) unique to this process.
class NotifyReceiver {
 public:
  static NotifyReceiver at_path() {
    char pattern[] = "/tmp/brokerd-sd-notify-XXXXXX";
    const char* dir = mkdtemp(pattern);
    if (dir == nullptr) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    NotifyReceiver receiver;
    receiver.dir_ = dir;
    receiver.name_ = std::string(dir) + "/notify.sock";
    receiver.bind_name(receiver.name_, false);
    return receiver;
  }
  static NotifyReceiver abstract() {
    NotifyReceiver receiver;
    receiver.name_ = "@brokerd-sd-notify-test-" + std::to_string(getpid());
    receiver.bind_name(receiver.name_, true);
    return receiver;
  }

  NotifyReceiver(NotifyReceiver&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)), dir_(std::move(other.dir_)) {}
  ~NotifyReceiver() {
    if (fd_ >= 0) close(fd_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // $NOTIFY_SOCKET's spelling of this socket.
  const std::string& name() const { return name_; }

  // The next datagram, or nullopt after two seconds.
  std::optional<std::string> receive() const {
    pollfd ready{fd_, POLLIN, 0};
    if (poll(&ready, 1, 2000) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t size = recv(fd_, buffer, sizeof buffer, 0);
    if (size < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(size));
  }

  // True when no datagram is waiting.
  bool empty() const {
    pollfd ready{fd_, POLLIN, 0};
    return poll(&ready, 1, 0) == 0;
  }

 private:
  NotifyReceiver() = default;

  void bind_name(const std::string& name, bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0) << std::strerror(errno);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    ASSERT_LT(name.size(), sizeof address.sun_path);
    std::memcpy(address.sun_path, name.data(), name.size());
    if (abstract) address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (abstract ? 0 : 1));
    ASSERT_EQ(bind(fd_, reinterpret_cast<const sockaddr*>(&address), length), 0) << std::strerror(errno);
  }

  int fd_ = -1;
  std::string name_;
  std::string dir_;
};

}  // namespace brokerd::testing
