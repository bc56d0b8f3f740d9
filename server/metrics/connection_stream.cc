#include "metrics/connection_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace brokerd::server::metrics {
namespace {

void format_address(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text));
    port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
    port = ntohs(v6.sin6_port);
  }
  ip = text;
}

}  // namespace

bool ConnectionStream::wait_for_request(std::chrono::milliseconds idle) {
  if (!reusable() || stopping()) return false;
  if (buffer_begin_ < buffer_end_) return true;
  return wait(POLLIN, Clock::now() + idle, true) == Ready::kYes;
}

void ConnectionStream::begin_request(size_t max_head_bytes, std::chrono::milliseconds read_time,
                                     std::chrono::milliseconds write_time) {
  read_budget_ = max_head_bytes;
  read_deadline_ = Clock::now() + read_time;
  write_time_ = write_time;
  writing_ = false;
}

bool ConnectionStream::is_readable() const {
  return buffer_begin_ < buffer_end_ || wait(POLLIN, read_deadline_, true) == Ready::kYes;
}

bool ConnectionStream::is_writable() const {
  return wait(POLLOUT, writing_ ? write_deadline_ : Clock::now() + write_time_, false) == Ready::kYes;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (read_closed_) return -1;
  if (read_budget_ == 0) {
    // httplib answers 400 to a head cut short; the connection then closes.
    read_closed_ = true;
    return -1;
  }
  if (buffer_begin_ == buffer_end_) {
    if (wait(POLLIN, read_deadline_, true) != Ready::kYes) {
      read_closed_ = true;
      return -1;
    }
    ssize_t n;
    do {
      n = ::recv(sock_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      read_closed_ = true;
      return n == 0 ? 0 : -1;  // 0: the peer closed, an ordinary end
    }
    buffer_begin_ = 0;
    buffer_end_ = static_cast<size_t>(n);
  }
  const size_t count = std::min({size, buffer_end_ - buffer_begin_, read_budget_});
  std::copy_n(buffer_.data() + buffer_begin_, count, ptr);
  buffer_begin_ += count;
  read_budget_ -= count;
  return static_cast<ssize_t>(count);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (write_failed_) return -1;
  // Stopping does not cut a response short: a request already read gets its answer,
  // within the write time. Only reading stops.
  if (!writing_) {
    writing_ = true;
    write_deadline_ = Clock::now() + write_time_;
  }
  size_t written = 0;
  while (written < size) {
    if (wait(POLLOUT, write_deadline_, false) != Ready::kYes) {
      write_failed_ = true;
      return -1;
    }
    const ssize_t n = ::send(sock_, ptr + written, size - written, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      write_failed_ = true;
      return -1;
    }
    written += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(written);
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&address), &length) == 0) format_address(address, ip, port);
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&address), &length) == 0) format_address(address, ip, port);
}

ConnectionStream::Ready ConnectionStream::wait(short events, Clock::time_point deadline, bool stoppable) const {
  pollfd fds[2] = {{sock_, events, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Ready::kTimeout;
    const int n = ::poll(fds, stoppable ? 2 : 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Ready::kError;
    if (n == 0) continue;  // re-checks the deadline
    if (stoppable && fds[1].revents != 0) return Ready::kStopping;
    // POLLHUP/POLLERR count as ready: the recv() or send() that follows reports them.
    return Ready::kYes;
  }
}

bool ConnectionStream::stopping() const {
  pollfd fd{stop_fd_, POLLIN, 0};
  return ::poll(&fd, 1, 0) > 0;
}

}  // namespace brokerd::server::metrics
