#include "storage/key_layout.h"

#include <cassert>

namespace brokerd::server {

const char* family_name(Family family) {
  switch (family) {
    case Family::kTasks: return "tasks";
    case Family::kReady: return "ready";
    case Family::kDelayed: return "delayed";
    case Family::kLeases: return "leases";
    case Family::kExpiry: return "expiry";
    case Family::kDead: return "dead";
    case Family::kMeta: return "meta";
  }
  return "unknown";
}

namespace keys {

std::string encode_be64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

uint64_t decode_be64(std::string_view bytes) {
  assert(bytes.size() >= 8);
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::string ready_prefix(std::string_view queue) {
  std::string out(queue);
  out.push_back('\0');
  return out;
}

std::string ready_end(std::string_view queue) {
  std::string out(queue);
  out.push_back('\1');
  return out;
}

std::string ready_key_queue(std::string_view key) { return std::string(key.substr(0, key.find('\0'))); }

std::string ready_key(std::string_view queue, uint32_t priority, uint64_t index_seq) {
  std::string out = ready_prefix(queue);
  // Higher priority must sort first, so store its complement.
  out.push_back(static_cast<char>(9 - (priority > 9 ? 9 : priority)));
  out += encode_be64(index_seq);
  return out;
}

// Times are non-negative Unix milliseconds; negative values clamp to 0 so order holds.
static uint64_t time_bits(int64_t ms) { return ms < 0 ? 0 : static_cast<uint64_t>(ms); }

std::string delayed_key(int64_t due_ms, uint64_t index_seq) {
  return encode_be64(time_bits(due_ms)) + encode_be64(index_seq);
}

int64_t delayed_key_due(std::string_view key) { return static_cast<int64_t>(decode_be64(key)); }

std::string expiry_key(int64_t expires_ms, std::string_view task_id) {
  std::string out = encode_be64(time_bits(expires_ms));
  out += task_id;
  return out;
}

int64_t expiry_key_time(std::string_view key) { return static_cast<int64_t>(decode_be64(key)); }

std::string_view expiry_key_task(std::string_view key) { return key.substr(8); }

std::string dead_key(std::string_view queue, uint64_t index_seq) {
  return ready_prefix(queue) + encode_be64(index_seq);
}

std::string queue_counters_key(std::string_view queue) {
  std::string out(kQueueCountersPrefix);
  out += queue;
  return out;
}

std::string successor(std::string_view key) {
  std::string out(key);
  out.push_back('\0');
  return out;
}

}  // namespace keys
}  // namespace brokerd::server
