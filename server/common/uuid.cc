#include "common/uuid.h"

#include <random>

namespace brokerd::server {

std::string make_uuid_v7(int64_t unix_ms) {
  // Per-thread state: no lock on the enqueue path.
  thread_local std::mt19937_64 generator{std::random_device{}()};
  thread_local uint64_t last_ms = 0;
  thread_local uint64_t counter = 0;
  uint64_t ms = unix_ms < 0 ? 0 : static_cast<uint64_t>(unix_ms);
  if (ms <= last_ms) {
    // Same millisecond (or the clock stepped back): count on from the last id. When the
    // 12-bit counter runs out, borrow the next millisecond rather than repeat an id.
    ms = last_ms;
    if (++counter > 0xfff) {
      ++ms;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  last_ms = ms;
  const uint64_t high = ((ms & 0xffffffffffffULL) << 16) | 0x7000ULL | counter;  // version 7
  const uint64_t low = (generator() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t value, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      out[pos++] = kHex[(value >> (i * 4)) & 0xf];
    }
  };
  put(high, 16);
  put(low, 16);
  return out;
}

}  // namespace brokerd::server
