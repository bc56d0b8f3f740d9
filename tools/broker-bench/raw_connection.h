// broker-bench: one connection speaking the raw wire protocol (docs/protocol.md), for
// load generation. It does not use the client library: the bench needs many requests in
// flight per connection, one thread per connection and no per-request allocation of
// futures, so that the figures are the broker's and not the client's.
//
// The socket is non-blocking. queue() only appends a frame to the outbound buffer;
// pump() writes what the socket takes, reads what has arrived and hands each complete
// frame to a callback, waiting up to a timeout when neither side can make progress. It
// keeps reading while output is pending, so a server that stops reading until its
// replies are taken (flow control) never deadlocks with the bench.
//
// Thread safety: none; one connection belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker.pb.h"
#include "endpoint.h"
#include "frame_codec.h"

namespace broker_bench {

namespace v1 = brokerd::v1;

class RawConnection {
 public:
  // Connects (blocking, up to `timeout_ms`) and performs the Hello handshake. Returns
  // null with `error` set on failure.
  static std::unique_ptr<RawConnection> open(const Endpoint& endpoint, const std::string& client_name,
                                             int timeout_ms, std::string& error);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // A fresh request id (1, 2, ...).
  uint64_t next_id() { return ++last_id_; }

  // Appends one frame to the outbound buffer; pump() sends it.
  void queue(const v1::Envelope& message) { brokerd::wire::append_frame(message, outbound_); }
  size_t pending_output() const { return outbound_.size() - outbound_offset_; }

  // Sends pending output and reads what arrived, calling `on_frame(v1::Envelope&)` for
  // every complete frame. Waits up to `timeout_ms` if nothing can be done at once.
  // Returns false when the connection is lost or the stream is corrupt (see error()).
  template <typename OnFrame>
  bool pump(int timeout_ms, OnFrame&& on_frame) {
    // Frames that arrived before a close are still handed over (e.g. an Error).
    const bool alive = pump_io(timeout_ms);
    for (;;) {
      switch (decoder_.next(&frame_)) {
        case brokerd::wire::DecodeResult::kFrame:
          on_frame(frame_);
          break;
        case brokerd::wire::DecodeResult::kNeedMore:
          return alive;
        default:
          error_ = "the server sent a frame this bench cannot decode";
          return false;
      }
    }
  }

  // Sends `request` (its id is set here) and waits up to `timeout_ms` for the reply with
  // the same id; other frames are dropped. For set-up calls (Ping, GetQueueStats), not
  // for the measured load.
  bool call(v1::Envelope& request, v1::Envelope& reply, int timeout_ms);

  const std::string& error() const { return error_; }

 private:
  explicit RawConnection(int fd);
  // Writes and reads without blocking; polls up to `timeout_ms` when neither progressed.
  bool pump_io(int timeout_ms);
  // Returns false on a socket error; sets `progressed` when bytes moved.
  bool write_some(bool& progressed);
  bool read_some(bool& progressed);

  int fd_;
  uint64_t last_id_ = 0;
  std::string outbound_;
  size_t outbound_offset_ = 0;
  brokerd::wire::FrameDecoder decoder_;
  v1::Envelope frame_;
  std::string error_;
};

}  // namespace broker_bench
