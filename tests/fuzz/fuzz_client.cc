#include "fuzz_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace brokerd::fuzz {

FuzzClient::~FuzzClient() {
  if (fd_ < 0) return;
  // Reset instead of FIN: thousands of connections a second would otherwise leave as many
  // TIME_WAIT sockets and run out of local ports.
  const linger reset{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  close(fd_);
}

bool FuzzClient::connect(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK) != 0) return false;
  // Non-blocking connect, then wait for it: libFuzzer's SIGALRM (the -timeout check)
  // interrupts a blocking connect with EINTR while the connection goes on being made.
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return false;
    pollfd fd{fd_, POLLOUT, 0};
    int ready = 0;
    do {
      ready = poll(&fd, 1, 5000);
    } while (ready < 0 && errno == EINTR);
    int error = 0;
    socklen_t length = sizeof error;
    if (ready != 1 || getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
      errno = ready == 1 ? error : ETIMEDOUT;
      return false;
    }
  }
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

void FuzzClient::send_body(const std::string& body) {
  const auto length = static_cast<uint32_t>(body.size());
  const char header[4] = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                          static_cast<char>(length >> 8), static_cast<char>(length)};
  outbound_.append(header, sizeof header);
  outbound_ += body;
}

bool FuzzClient::pump(Clock::time_point deadline, const std::function<bool()>& done) {
  while (!done() && !closed_) {
    write_available();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fd{fd_, POLLIN, 0};
    if (!write_failed_ && written_ < outbound_.size()) fd.events |= POLLOUT;
    const int ready = poll(&fd, 1, static_cast<int>(left < 50 ? left : 50));
    if (ready < 0 && errno != EINTR) {
      perror("request_dispatcher_fuzzer: poll");
      abort();
    }
    if (ready > 0 && (fd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) read_available();
  }
  return true;
}

void FuzzClient::write_available() {
  while (!write_failed_ && written_ < outbound_.size()) {
    const ssize_t n = ::send(fd_, outbound_.data() + written_, outbound_.size() - written_, MSG_NOSIGNAL);
    if (n > 0) {
      written_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    write_failed_ = true;  // EPIPE/ECONNRESET: the server closed; keep reading what it sent
  }
  if (written_ == outbound_.size()) {
    outbound_.clear();
    written_ = 0;
  }
}

void FuzzClient::read_available() {
  char buffer[64 * 1024];
  while (!closed_) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      closed_ = true;  // EOF, or a reset after the server closed with our bytes unread
      break;
    }
    decoder_.append(buffer, static_cast<size_t>(n));
    v1::Envelope message;
    while (true) {
      const wire::DecodeResult result = decoder_.next(&message);
      if (result == wire::DecodeResult::kNeedMore) break;
      if (result != wire::DecodeResult::kFrame) {
        fprintf(stderr, "request_dispatcher_fuzzer: invariant violated: the server sent a frame that does not decode\n");
        abort();
      }
      on_frame_(message);
    }
  }
  // What the server sent before closing must be whole frames.
  if (closed_ && decoder_.buffered_bytes() != 0) {
    fprintf(stderr, "request_dispatcher_fuzzer: invariant violated: connection closed inside a frame (%zu bytes)\n",
            decoder_.buffered_bytes());
    abort();
  }
}

}  // namespace brokerd::fuzz
