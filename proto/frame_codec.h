// Frame codec shared by the server and the client library.
//
// A frame is a 4-byte big-endian length followed by that many bytes of one serialized
// brokerd.v1.Envelope. The decoder does no I/O: feed it whatever bytes arrived (split or
// coalesced frames alike) and pull complete envelopes out. It checks a frame's length
// against the configured maximum before buffering the body, so a hostile length prefix
// never causes an allocation.
//
// Thread safety: none; one decoder belongs to one connection's reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "broker.pb.h"

namespace brokerd::wire {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr uint32_t kFrameHeaderBytes = 4;
inline constexpr uint32_t kDefaultMaxFrameBytes = 16 * 1024 * 1024;

// Appends one frame (header + body) holding `message` to `out`.
void append_frame(const v1::Envelope& message, std::string& out);

// Returns a new string holding one frame for `message`.
std::string encode_frame(const v1::Envelope& message);

enum class DecodeResult {
  kFrame,     // *out holds the next envelope
  kNeedMore,  // no complete frame buffered yet
  kTooLarge,  // length prefix is above the maximum: the stream cannot be trusted
  kBadFrame,  // the body is not a valid Envelope: the stream cannot be trusted
};

class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Buffers bytes read from the stream. Never call again after next() reported an error.
  void append(const char* data, size_t size);

  // Extracts the next complete frame, if any. After kTooLarge or kBadFrame the decoder
  // stays failed; the caller reports the error and closes the connection.
  DecodeResult next(v1::Envelope* out);

  // The length prefix that caused kTooLarge.
  uint32_t rejected_length() const { return rejected_length_; }
  // Bytes buffered but not yet returned as frames.
  size_t buffered_bytes() const { return buffer_.size() - read_offset_; }

 private:
  uint32_t max_frame_bytes_;
  std::string buffer_;
  size_t read_offset_ = 0;
  uint32_t rejected_length_ = 0;
  bool failed_ = false;
};

}  // namespace brokerd::wire
