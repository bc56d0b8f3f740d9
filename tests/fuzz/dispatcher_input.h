// The input format of request_dispatcher_fuzzer, shared with make_seeds.
//
// An input is a sequence of records: [flags: 1 byte][length: 2 bytes, big-endian][body].
// A truncated last record is used as far as it goes. Each body is meant to be one
// serialized Envelope; the flags say how the fuzzer sends it:
//
//   kRaw          send the body as a frame exactly as it is, even when it does not parse
//                 (without it, bodies that do not parse are skipped), so BAD_FRAME and
//                 the close after it are reached too.
//   kKeepId       keep the envelope's id; otherwise the fuzzer numbers requests itself,
//                 so it can check that each is answered exactly once.
//   kUseLiveTask  before sending, wait briefly for a task id (and lease) the server has
//                 handed out on this connection and put it into the request. Without
//                 this, Complete/Heartbeat/Release would only ever meet unknown
//                 leases.
//
// A length prefix of its own (rather than libFuzzer's raw bytes as one stream) keeps
// mutations inside one envelope from shifting every later one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace brokerd::fuzz {

inline constexpr uint8_t kRaw = 0x01;
inline constexpr uint8_t kKeepId = 0x02;
inline constexpr uint8_t kUseLiveTask = 0x04;

struct Record {
  uint8_t flags = 0;
  std::string_view body;
};

inline std::vector<Record> split_records(const uint8_t* data, size_t size) {
  std::vector<Record> records;
  size_t at = 0;
  while (at + 3 <= size) {
    const uint8_t flags = data[at];
    const size_t length = (size_t{data[at + 1]} << 8) | data[at + 2];
    at += 3;
    const size_t take = length < size - at ? length : size - at;
    records.push_back({flags, std::string_view(reinterpret_cast<const char*>(data) + at, take)});
    at += take;
  }
  return records;
}

inline void append_record(std::string& out, uint8_t flags, const std::string& body) {
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>((body.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(body.size() & 0xff));
  out += body;
}

}  // namespace brokerd::fuzz
