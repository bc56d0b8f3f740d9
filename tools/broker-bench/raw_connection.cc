#include "raw_connection.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace broker_bench {

namespace {

// Server frames may exceed max_frame_bytes by up to max_payload_bytes (protocol.md §1);
// the bench reads only small replies, so a generous fixed limit is enough.
constexpr uint32_t kMaxInboundFrame = 64u << 20;
constexpr size_t kReadChunk = 256 * 1024;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

RawConnection::RawConnection(int fd) : fd_(fd), decoder_(kMaxInboundFrame) {}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<RawConnection> RawConnection::open(const Endpoint& endpoint, const std::string& client_name,
                                                   int timeout_ms, std::string& error) {
  const int fd = ::socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return nullptr;
  }
  std::unique_ptr<RawConnection> connection(new RawConnection(fd));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.address_length) != 0) {
    if (errno != EINPROGRESS) {
      error = "connect to " + endpoint.text + ": " + std::strerror(errno);
      return nullptr;
    }
    pollfd waiting{fd, POLLOUT, 0};
    if (::poll(&waiting, 1, timeout_ms) <= 0) {
      error = "connect to " + endpoint.text + ": timed out";
      return nullptr;
    }
    int so_error = 0;
    socklen_t length = sizeof(so_error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length);
    if (so_error != 0) {
      error = "connect to " + endpoint.text + ": " + std::strerror(so_error);
      return nullptr;
    }
  }
  v1::Envelope hello;
  auto* body = hello.mutable_hello();
  body->set_protocol_version(brokerd::wire::kProtocolVersion);
  body->set_client_name(client_name);
  body->set_pid(static_cast<uint32_t>(getpid()));
  v1::Envelope reply;
  if (!connection->call(hello, reply, timeout_ms)) {
    error = "handshake with " + endpoint.text + ": " + connection->error();
    return nullptr;
  }
  if (!reply.has_hello_ok()) {
    error = "handshake with " + endpoint.text + " refused: " + reply.error().message();
    return nullptr;
  }
  return connection;
}

bool RawConnection::call(v1::Envelope& request, v1::Envelope& reply, int timeout_ms) {
  const uint64_t id = next_id();
  request.set_id(id);
  queue(request);
  const int64_t deadline = now_ms() + timeout_ms;
  bool answered = false;
  while (!answered) {
    const int64_t left = deadline - now_ms();
    if (left <= 0) {
      error_ = "no reply within " + std::to_string(timeout_ms) + " ms";
      return false;
    }
    const bool alive = pump(static_cast<int>(left), [&](v1::Envelope& frame) {
      if (frame.id() == id && !answered) {
        reply.Swap(&frame);
        answered = true;
      } else if (frame.id() == 0 && frame.has_error()) {
        error_ = "connection error: " + frame.error().message();
      }
    });
    if (!alive && !answered) return false;
  }
  return true;
}

bool RawConnection::write_some(bool& progressed) {
  while (pending_output() > 0) {
    const ssize_t sent = ::send(fd_, outbound_.data() + outbound_offset_, pending_output(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      error_ = errno_text("send");
      return false;
    }
    outbound_offset_ += static_cast<size_t>(sent);
    progressed = true;
  }
  if (outbound_offset_ == outbound_.size()) {
    outbound_.clear();
    outbound_offset_ = 0;
  } else if (outbound_offset_ > (1u << 20)) {
    outbound_.erase(0, outbound_offset_);
    outbound_offset_ = 0;
  }
  return true;
}

bool RawConnection::read_some(bool& progressed) {
  char buffer[kReadChunk];
  for (;;) {
    const ssize_t got = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (got > 0) {
      decoder_.append(buffer, static_cast<size_t>(got));
      progressed = true;
      if (static_cast<size_t>(got) < sizeof(buffer)) return true;
      continue;
    }
    if (got == 0) {
      error_ = "the server closed the connection";
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    error_ = errno_text("recv");
    return false;
  }
}

bool RawConnection::pump_io(int timeout_ms) {
  bool progressed = false;
  if (!write_some(progressed) || !read_some(progressed)) return false;
  if (progressed || timeout_ms <= 0) return true;
  pollfd waiting{fd_, static_cast<short>(POLLIN | (pending_output() > 0 ? POLLOUT : 0)), 0};
  const int ready = ::poll(&waiting, 1, timeout_ms);
  if (ready < 0 && errno != EINTR) {
    error_ = errno_text("poll");
    return false;
  }
  if (ready <= 0) return true;
  return write_some(progressed) && read_some(progressed);
}

}  // namespace broker_bench
