#include "frame_codec.h"

namespace brokerd::wire {
namespace {

uint32_t read_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

}  // namespace

void append_frame(const v1::Envelope& message, std::string& out) {
  const size_t body = message.ByteSizeLong();
  const size_t start = out.size();
  out.resize(start + kFrameHeaderBytes + body);
  char* p = out.data() + start;
  p[0] = static_cast<char>((body >> 24) & 0xff);
  p[1] = static_cast<char>((body >> 16) & 0xff);
  p[2] = static_cast<char>((body >> 8) & 0xff);
  p[3] = static_cast<char>(body & 0xff);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p + kFrameHeaderBytes));
}

std::string encode_frame(const v1::Envelope& message) {
  std::string out;
  append_frame(message, out);
  return out;
}

FrameDecoder::FrameDecoder(uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

void FrameDecoder::append(const char* data, size_t size) {
  // Drop consumed bytes first so the buffer holds at most one partial frame plus one read.
  if (read_offset_ > 0 && read_offset_ == buffer_.size()) {
    buffer_.clear();
    read_offset_ = 0;
  } else if (read_offset_ > 64 * 1024 && read_offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, read_offset_);
    read_offset_ = 0;
  }
  buffer_.append(data, size);
}

DecodeResult FrameDecoder::next(v1::Envelope* out) {
  if (failed_) return DecodeResult::kBadFrame;
  const size_t available = buffer_.size() - read_offset_;
  if (available < kFrameHeaderBytes) return DecodeResult::kNeedMore;
  const uint32_t length = read_be32(buffer_.data() + read_offset_);
  if (length > max_frame_bytes_) {
    failed_ = true;
    rejected_length_ = length;
    return DecodeResult::kTooLarge;
  }
  if (available - kFrameHeaderBytes < length) return DecodeResult::kNeedMore;
  const char* body = buffer_.data() + read_offset_ + kFrameHeaderBytes;
  if (!out->ParseFromArray(body, static_cast<int>(length))) {
    failed_ = true;
    return DecodeResult::kBadFrame;
  }
  read_offset_ += kFrameHeaderBytes + length;
  return DecodeResult::kFrame;
}

}  // namespace brokerd::wire
