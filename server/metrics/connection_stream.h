// One accepted metrics connection as an httplib::Stream, with every limit a hostile client
// could otherwise push past. cpp-httplib 0.11 reads a request head with no total bound: one
// client streaming small headers grew the process by 4 GB for 300 MB sent (its only caps
// apply per line, after the line has been read). Here httplib sees a request through
// read(), which stops at a byte budget and a deadline, and wakes up when the server stops.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <string>

#include <httplib.h>

namespace brokerd::server::metrics {

class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  // `stop_fd` becomes readable when the server stops (an eventfd that stays signalled).
  ConnectionStream(int sock, int stop_fd) : sock_(sock), stop_fd_(stop_fd) {}

  // Waits up to `idle` for the next request: true once a byte is there (or already
  // buffered: pipelined requests), false on timeout, when the peer is gone, or stopping.
  bool wait_for_request(std::chrono::milliseconds idle);
  // Limits for the request about to be read: at most `max_head_bytes` read, all within
  // `read_time`; its response then written within `write_time` of its first byte.
  void begin_request(size_t max_head_bytes, std::chrono::milliseconds read_time,
                     std::chrono::milliseconds write_time);
  // False once a limit was hit, the peer closed, the server is stopping or the socket
  // failed: the connection must not serve another request.
  bool reusable() const { return !read_closed_ && !write_failed_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return sock_; }  // httplib's socket_t on POSIX

 private:
  enum class Ready { kYes, kTimeout, kStopping, kError };
  // poll() for `events` on the socket until `deadline`; with `stoppable`, also wakes on stop.
  Ready wait(short events, Clock::time_point deadline, bool stoppable) const;
  bool stopping() const;

  const int sock_;
  const int stop_fd_;
  // What recv() returned and httplib has not read yet (it reads a byte at a time).
  std::array<char, 4096> buffer_{};
  size_t buffer_begin_ = 0;
  size_t buffer_end_ = 0;
  size_t read_budget_ = 0;
  Clock::time_point read_deadline_{};
  std::chrono::milliseconds write_time_{0};
  bool writing_ = false;  // the response's first byte went out; write_deadline_ is set
  Clock::time_point write_deadline_{};
  bool read_closed_ = false;  // read() returns no more data: the request is cut short
  bool write_failed_ = false;
};

}  // namespace brokerd::server::metrics
