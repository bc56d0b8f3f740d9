// beanstalk-load: one connection to beanstalkd carrying pipelined commands.
//
// The socket is non-blocking. append() only adds bytes to the outbound buffer; pump()
// writes what the socket takes and reads what has arrived, waiting up to a timeout when
// neither side can move. It reads while output is pending, so a deep pipeline never
// deadlocks with a server that stops reading until its replies are taken.
//
// Thread safety: none; one connection belongs to one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "endpoint.h"
#include "reply_parser.h"

namespace beanstalk_load {

class Connection {
 public:
  // Connects (up to `timeout_ms`). Returns null with `error` set on failure.
  static std::unique_ptr<Connection> open(const Endpoint& endpoint, int timeout_ms, std::string& error);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void append(std::string_view bytes) { outbound_.append(bytes); }

  // Sends pending output and reads what arrived; waits up to `timeout_ms` if nothing can
  // be done at once. Returns false when the connection is lost (see error()).
  bool pump(int timeout_ms);

  // Takes the next complete reply from what pump() read.
  ParseResult next_reply(Reply& reply);

  const std::string& error() const { return error_; }

 private:
  explicit Connection(int fd) : fd_(fd) {}
  bool write_some(bool& progressed);
  bool read_some(bool& progressed);

  int fd_;
  std::string outbound_;
  size_t outbound_offset_ = 0;
  std::string inbound_;
  size_t inbound_offset_ = 0;
  std::string error_;
};

}  // namespace beanstalk_load
