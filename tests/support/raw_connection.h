// A bare protocol connection for tests that need to control every frame: the handshake,
// malformed input, a consumer that holds a lease and then vanishes. Blocking I/O with
// deadlines; not thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "broker.pb.h"
#include "frame_codec.h"

namespace brokerd::testing {

class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();

  bool connected() const { return fd_ >= 0; }
  // Sends Hello (version 1) and returns the reply.
  std::optional<v1::Envelope> hello(const std::string& client_name = "raw-test", uint32_t version = 1);
  void send(const v1::Envelope& message);
  void send_bytes(const std::string& bytes);
  // The next frame, or nullopt when the deadline passes or the server closed the stream.
  std::optional<v1::Envelope> receive(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends `request` with `id` and returns the next frame carrying that id (pushes with
  // other ids that arrive first are kept for receive()).
  std::optional<v1::Envelope> call(uint64_t id, v1::Envelope request,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True once the server has closed the connection (reads EOF within the timeout).
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void close();

 private:
  int fd_ = -1;
  wire::FrameDecoder decoder_;
  std::vector<v1::Envelope> held_;
  bool eof_ = false;
};

}  // namespace brokerd::testing
