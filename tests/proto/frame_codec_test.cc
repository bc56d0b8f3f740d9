#include "frame_codec.h"

#include <gtest/gtest.h>

namespace brokerd::wire {
namespace {

v1::Envelope ping(uint64_t id, const std::string& payload) {
  v1::Envelope message;
  message.set_id(id);
  message.mutable_ping()->set_payload(payload);
  return message;
}

TEST(FrameCodec, RoundTripsOneFrame) {
  FrameDecoder decoder;
  const std::string frame = encode_frame(ping(7, "hello"));
  ASSERT_EQ(frame.size(), kFrameHeaderBytes + ping(7, "hello").ByteSizeLong());
  decoder.append(frame.data(), frame.size());
  v1::Envelope out;
  ASSERT_EQ(decoder.next(&out), DecodeResult::kFrame);
  EXPECT_EQ(out.id(), 7u);
  EXPECT_EQ(out.ping().payload(), "hello");
  EXPECT_EQ(decoder.next(&out), DecodeResult::kNeedMore);
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
}

TEST(FrameCodec, HeaderIsBigEndianLength) {
  const std::string frame = encode_frame(ping(1, std::string(300, 'x')));
  const uint32_t body = static_cast<uint32_t>(frame.size() - 4);
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), (body >> 24) & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(frame[1]), (body >> 16) & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(frame[2]), (body >> 8) & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(frame[3]), body & 0xff);
}

TEST(FrameCodec, ReassemblesFramesSplitAtEveryByte) {
  std::string stream;
  for (uint64_t id = 1; id <= 3; ++id) append_frame(ping(id, std::string(id * 10, 'a')), stream);
  FrameDecoder decoder;
  std::vector<uint64_t> ids;
  v1::Envelope out;
  for (char byte : stream) {
    decoder.append(&byte, 1);
    while (decoder.next(&out) == DecodeResult::kFrame) ids.push_back(out.id());
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3}));
}

TEST(FrameCodec, SplitsCoalescedFrames) {
  std::string stream;
  for (uint64_t id = 1; id <= 100; ++id) append_frame(ping(id, "p"), stream);
  FrameDecoder decoder;
  decoder.append(stream.data(), stream.size());
  v1::Envelope out;
  uint64_t expected = 1;
  while (decoder.next(&out) == DecodeResult::kFrame) EXPECT_EQ(out.id(), expected++);
  EXPECT_EQ(expected, 101u);
}

TEST(FrameCodec, RejectsOversizeLengthBeforeBufferingBody) {
  FrameDecoder decoder(1024);
  const char header[4] = {0x7f, 0x00, 0x00, 0x00};  // ~2 GiB
  decoder.append(header, sizeof header);
  v1::Envelope out;
  EXPECT_EQ(decoder.next(&out), DecodeResult::kTooLarge);
  EXPECT_EQ(decoder.rejected_length(), 0x7f000000u);
  EXPECT_EQ(decoder.buffered_bytes(), 4u);  // nothing was reserved for the body
  EXPECT_NE(decoder.next(&out), DecodeResult::kFrame);  // stays failed
}

TEST(FrameCodec, AcceptsFrameExactlyAtTheLimit) {
  v1::Envelope message = ping(1, "");
  const size_t overhead = message.ByteSizeLong();
  message.mutable_ping()->set_payload(std::string(200, 'z'));
  const std::string frame = encode_frame(message);
  FrameDecoder decoder(static_cast<uint32_t>(frame.size() - 4));
  decoder.append(frame.data(), frame.size());
  v1::Envelope out;
  EXPECT_EQ(decoder.next(&out), DecodeResult::kFrame);
  EXPECT_GT(frame.size(), overhead);
}

TEST(FrameCodec, ReportsGarbageBody) {
  const char frame[] = {0, 0, 0, 3, '\xff', '\xff', '\xff'};
  FrameDecoder decoder;
  decoder.append(frame, sizeof frame);
  v1::Envelope out;
  EXPECT_EQ(decoder.next(&out), DecodeResult::kBadFrame);
}

TEST(FrameCodec, ZeroLengthIsAnEmptyEnvelope) {
  const char frame[] = {0, 0, 0, 0};
  FrameDecoder decoder;
  decoder.append(frame, sizeof frame);
  v1::Envelope out;
  ASSERT_EQ(decoder.next(&out), DecodeResult::kFrame);
  EXPECT_EQ(out.body_case(), v1::Envelope::BODY_NOT_SET);
}

}  // namespace
}  // namespace brokerd::wire
