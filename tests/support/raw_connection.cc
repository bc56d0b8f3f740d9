#include "support/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace brokerd::testing {

RawConnection::RawConnection(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::optional<v1::Envelope> RawConnection::hello(const std::string& client_name, uint32_t version) {
  v1::Envelope request;
  request.mutable_hello()->set_protocol_version(version);
  request.mutable_hello()->set_client_name(client_name);
  return call(1'000'000, request);
}

void RawConnection::send_bytes(const std::string& bytes) {
  size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

void RawConnection::send(const v1::Envelope& message) { send_bytes(wire::encode_frame(message)); }

std::optional<v1::Envelope> RawConnection::receive(std::chrono::milliseconds timeout) {
  if (!held_.empty()) {
    v1::Envelope first = std::move(held_.front());
    held_.erase(held_.begin());
    return first;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::Envelope message;
  while (true) {
    if (decoder_.next(&message) == wire::DecodeResult::kFrame) return message;
    if (fd_ < 0 || eof_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd poll_fd{fd_, POLLIN, 0};
    if (poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      eof_ = true;
      return std::nullopt;
    }
    decoder_.append(buffer, static_cast<size_t>(n));
  }
}

std::optional<v1::Envelope> RawConnection::call(uint64_t id, v1::Envelope request,
                                                std::chrono::milliseconds timeout) {
  request.set_id(id);
  send(request);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<v1::Envelope> others;
  std::optional<v1::Envelope> found;
  while (!found) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    std::optional<v1::Envelope> next = receive(left);
    if (!next) break;
    if (next->id() == id) {
      found = std::move(next);
    } else {
      others.push_back(std::move(*next));
    }
  }
  held_.insert(held_.end(), others.begin(), others.end());
  return found;
}

bool RawConnection::closed_by_server(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!receive(left) && !eof_) return false;
  }
  return true;
}

}  // namespace brokerd::testing
