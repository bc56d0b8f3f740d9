#include "connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace beanstalk_load {

namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Compact the buffers only when the consumed prefix is large, so that steady pipelining
// does not move bytes on every call.
constexpr size_t kCompactAt = 64 * 1024;

}  // namespace

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, int timeout_ms, std::string& error) {
  const int fd = ::socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return nullptr;
  }
  // Commands are small and pipelined; Nagle would hold them back waiting for replies.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length) != 0) {
    if (errno != EINPROGRESS) {
      error = errno_text(("connect to " + endpoint.text).c_str());
      ::close(fd);
      return nullptr;
    }
    pollfd waiting{fd, POLLOUT, 0};
    int socket_error = 0;
    socklen_t length = sizeof(socket_error);
    if (::poll(&waiting, 1, timeout_ms) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0 ||
        socket_error != 0) {
      error = "connect to " + endpoint.text + ": " + (socket_error != 0 ? std::strerror(socket_error) : "timed out");
      ::close(fd);
      return nullptr;
    }
  }
  return std::unique_ptr<Connection>(new Connection(fd));
}

Connection::~Connection() { ::close(fd_); }

bool Connection::pump(int timeout_ms) {
  bool progressed = false;
  if (!write_some(progressed) || !read_some(progressed)) return false;
  if (progressed) return true;
  pollfd waiting{fd_, static_cast<short>(POLLIN | (outbound_offset_ < outbound_.size() ? POLLOUT : 0)), 0};
  if (::poll(&waiting, 1, timeout_ms) < 0 && errno != EINTR) {
    error_ = errno_text("poll");
    return false;
  }
  return write_some(progressed) && read_some(progressed);
}

bool Connection::write_some(bool& progressed) {
  while (outbound_offset_ < outbound_.size()) {
    const ssize_t written = ::send(fd_, outbound_.data() + outbound_offset_, outbound_.size() - outbound_offset_,
                                   MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      error_ = errno_text("send");
      return false;
    }
    outbound_offset_ += static_cast<size_t>(written);
    progressed = true;
  }
  if (outbound_offset_ == outbound_.size()) {
    outbound_.clear();
    outbound_offset_ = 0;
  } else if (outbound_offset_ >= kCompactAt) {
    outbound_.erase(0, outbound_offset_);
    outbound_offset_ = 0;
  }
  return true;
}

bool Connection::read_some(bool& progressed) {
  if (inbound_offset_ >= kCompactAt || inbound_offset_ == inbound_.size()) {
    inbound_.erase(0, inbound_offset_);
    inbound_offset_ = 0;
  }
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got > 0) {
      inbound_.append(chunk, static_cast<size_t>(got));
      progressed = true;
      if (static_cast<size_t>(got) < sizeof(chunk)) return true;
      continue;
    }
    if (got == 0) {
      error_ = "the server closed the connection";
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (errno == EINTR) continue;
    error_ = errno_text("recv");
    return false;
  }
}

ParseResult Connection::next_reply(Reply& reply) {
  size_t consumed = 0;
  const ParseResult result =
      parse_reply(std::string_view(inbound_).substr(inbound_offset_), reply, consumed);
  if (result == ParseResult::kReply) inbound_offset_ += consumed;
  if (result == ParseResult::kCorrupt) error_ = "the server sent a reply this tool cannot parse";
  return result;
}

}  // namespace beanstalk_load
