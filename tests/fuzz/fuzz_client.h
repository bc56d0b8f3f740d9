// A minimal non-blocking TCP client for the dispatcher fuzzer: queues frames, and pumps
// bytes both ways at once. Reading while writing matters: the server stops reading a
// connection whose replies pile up unread (flow control), so a client that first
// writes everything and then reads can deadlock with it on large pipelines.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "frame_codec.h"

namespace brokerd::fuzz {

class FuzzClient {
 public:
  using Clock = std::chrono::steady_clock;
  using FrameHandler = std::function<void(const v1::Envelope&)>;

  explicit FuzzClient(FrameHandler on_frame) : on_frame_(std::move(on_frame)) {}
  ~FuzzClient();
  FuzzClient(const FuzzClient&) = delete;
  FuzzClient& operator=(const FuzzClient&) = delete;

  // Connects to 127.0.0.1:port. False when the server does not accept.
  bool connect(uint16_t port);
  // Queues one frame body as it is (any bytes) behind a length prefix.
  void send_body(const std::string& body);
  // Moves bytes until done() holds, the server has closed, or the deadline passes. The
  // frame handler runs for every frame received. False only on the deadline.
  bool pump(Clock::time_point deadline, const std::function<bool()>& done);
  // The server closed the connection (or reset it).
  bool closed() const { return closed_; }

 private:
  void read_available();
  void write_available();

  FrameHandler on_frame_;
  int fd_ = -1;
  bool closed_ = false;
  bool write_failed_ = false;  // the peer is gone; what is queued is dropped
  std::string outbound_;
  size_t written_ = 0;
  // Server frames may exceed max_frame_bytes by a payload (docs/protocol.md section 1).
  wire::FrameDecoder decoder_{2 * wire::kDefaultMaxFrameBytes};
};

}  // namespace brokerd::fuzz
