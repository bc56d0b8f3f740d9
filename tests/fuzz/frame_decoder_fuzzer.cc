// libFuzzer target: wire::FrameDecoder against a model of the framing rules
// (docs/protocol.md section 1).
//
// Input: [limit selector][chunking byte][stream bytes...]. The selector picks
// max_frame_bytes (tiny limits make kTooLarge reachable from short inputs); the chunking
// byte seeds the chunk sizes the stream is appended in, because the server's reads split
// and coalesce frames arbitrarily. With its top bit set the stream is repeated, so that
// inputs of a few KB still reach the buffer compaction done past 64 KiB.
//
// After every next() the decoder must agree with the model: same result, same bytes
// consumed, a frame never above the limit, errors terminal, every decoded Envelope
// re-encoding to a frame a fresh decoder returns unchanged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "frame_codec.h"

namespace {

using brokerd::v1::Envelope;
using brokerd::wire::DecodeResult;
using brokerd::wire::FrameDecoder;
using brokerd::wire::kFrameHeaderBytes;

constexpr uint32_t kLimits[] = {0, 1, 8, 64, 1024, 65536, brokerd::wire::kDefaultMaxFrameBytes, UINT32_MAX};
constexpr size_t kMaxStreamBytes = 1u << 20;

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "frame_decoder_fuzzer: invariant violated: %s\n", what);
  abort();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

uint32_t be32(const std::string& s, size_t at) {
  const auto* u = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

// What the decoder must report for the stream bytes [offset, fed).
DecodeResult model(const std::string& stream, size_t offset, size_t fed, uint32_t limit, Envelope* out) {
  const size_t available = fed - offset;
  if (available < kFrameHeaderBytes) return DecodeResult::kNeedMore;
  const uint32_t length = be32(stream, offset);
  if (length > limit) return DecodeResult::kTooLarge;
  if (available - kFrameHeaderBytes < length) return DecodeResult::kNeedMore;
  const bool parsed = out->ParseFromArray(stream.data() + offset + kFrameHeaderBytes, static_cast<int>(length));
  return parsed ? DecodeResult::kFrame : DecodeResult::kBadFrame;
}

// A decoded envelope must survive the trip the server makes with it: encode, decode.
void check_round_trip(const Envelope& message) {
  const std::string frame = brokerd::wire::encode_frame(message);
  check(frame.size() >= kFrameHeaderBytes && be32(frame, 0) == frame.size() - kFrameHeaderBytes,
        "encode_frame header does not match its body");
  FrameDecoder decoder;
  decoder.append(frame.data(), frame.size());
  Envelope again;
  check(decoder.next(&again) == DecodeResult::kFrame, "re-encoded envelope is not accepted");
  check(decoder.buffered_bytes() == 0, "re-encoded frame not consumed exactly");
  check(again.SerializeAsString() == message.SerializeAsString(), "re-decoded envelope differs");
  check(decoder.next(&again) == DecodeResult::kNeedMore, "decoder invents a frame after the last one");
}

// Next chunk size: small xorshift state seeded by the input, sizes 0..2^k mixed so both
// byte-by-byte feeding and large coalesced reads occur.
size_t next_chunk(uint32_t& state) {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  switch (state & 3) {
    case 0: return (state >> 8) % 2;            // 0 or 1 byte
    case 1: return (state >> 8) % 8;
    case 2: return (state >> 8) % 4096;
    default: return (state >> 8) % (64 * 1024);  // the server reads up to 64 KiB at once
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // "invalid UTF-8" for every mutated string field
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t limit = kLimits[data[0] % std::size(kLimits)];
  uint32_t chunk_state = 0x9e3779b9u ^ (uint32_t{data[1]} * 0x01000193u);
  const std::string once(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string stream = once;
  if ((data[1] & 0x80) != 0 && !once.empty()) {
    while (stream.size() + once.size() <= kMaxStreamBytes && stream.size() < 128 * 1024) stream += once;
  }

  FrameDecoder decoder(limit);
  size_t fed = 0;       // stream bytes appended so far
  size_t consumed = 0;  // stream bytes returned as frames
  Envelope actual;
  Envelope expected;
  while (true) {
    const size_t chunk = std::min(next_chunk(chunk_state), stream.size() - fed);
    decoder.append(stream.data() + fed, chunk);
    fed += chunk;
    DecodeResult result;
    do {
      check(decoder.buffered_bytes() == fed - consumed, "buffered_bytes does not match the bytes fed");
      const DecodeResult want = model(stream, consumed, fed, limit, &expected);
      result = decoder.next(&actual);
      check(result == want, "decoder result differs from the framing rules");
      if (result == DecodeResult::kFrame) {
        const uint32_t length = be32(stream, consumed);
        check(length <= limit, "frame above max_frame_bytes accepted");
        consumed += kFrameHeaderBytes + length;
        check(actual.SerializeAsString() == expected.SerializeAsString(), "decoded envelope differs from the body");
        check_round_trip(actual);
      }
    } while (result == DecodeResult::kFrame);
    if (result == DecodeResult::kTooLarge || result == DecodeResult::kBadFrame) {
      if (result == DecodeResult::kTooLarge) {
        check(decoder.rejected_length() == be32(stream, consumed), "rejected_length is not the prefix");
        check(decoder.rejected_length() > limit, "kTooLarge for a length within the limit");
      }
      // Terminal: the decoder must keep failing and never hand out another frame.
      for (int i = 0; i < 3; ++i) {
        const DecodeResult again = decoder.next(&actual);
        check(again == DecodeResult::kTooLarge || again == DecodeResult::kBadFrame, "decoder recovered from an error");
      }
      return 0;
    }
    if (fed == stream.size()) break;
  }
  // Whatever is left is an incomplete frame, and must stay buffered.
  check(decoder.buffered_bytes() == stream.size() - consumed, "bytes lost at end of stream");
  return 0;
}
