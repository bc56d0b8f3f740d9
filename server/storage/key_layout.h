// The on-disk layout of brokerd: every column family and every key encoding, in one place.
//
//   family   key                                          value
//   -------  -------------------------------------------  -----------------------------
//   tasks    task id                                      TaskRecord (protobuf)
//   ready    queue \0 (9 - priority):u8 index_seq:be64    task id
//   delayed  due_ms:be64 index_seq:be64                   task id   (SCHEDULED and RETRY)
//   leases   task id                                      lease id:be64 (written by format-1 data dirs only; leases now live in memory)
//   expiry   expires_ms:be64 task id                      ""        (terminal tasks)
//   dead     queue \0 index_seq:be64                      task id   (FAILURE tasks)
//   meta     "format_version"                             decimal text
//            "next_seq"                                   be64 bound above every sequence
//                                                         number handed out
//            "queue/" name                                QueueCounters (protobuf)
//
// Big-endian integers make byte order equal numeric order, so iteration yields the ready
// index by priority then arrival, and the delayed and expiry indexes by time. Queue names
// never contain \0 (validated at the edge), so "queue \0" is an exact per-queue prefix.
//
// Changing any of this changes the stored format: bump kStorageFormatVersion and ship a
// migration in RocksStorage::open.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace brokerd::server {

inline constexpr int kStorageFormatVersion = 1;

enum class Family : int { kTasks = 0, kReady, kDelayed, kLeases, kExpiry, kDead, kMeta };
inline constexpr int kFamilyCount = 7;
// RocksDB column family name of each Family, in enum order.
const char* family_name(Family family);

namespace keys {

inline constexpr std::string_view kFormatVersion = "format_version";
inline constexpr std::string_view kNextSeq = "next_seq";

std::string encode_be64(uint64_t value);
uint64_t decode_be64(std::string_view bytes);  // first 8 bytes

// ready: the whole queue's range is [ready_prefix(q), ready_end(q)).
std::string ready_key(std::string_view queue, uint32_t priority, uint64_t index_seq);
std::string ready_prefix(std::string_view queue);
std::string ready_end(std::string_view queue);
// The queue a ready key belongs to.
std::string ready_key_queue(std::string_view key);

std::string delayed_key(int64_t due_ms, uint64_t index_seq);
int64_t delayed_key_due(std::string_view key);

std::string expiry_key(int64_t expires_ms, std::string_view task_id);
int64_t expiry_key_time(std::string_view key);
std::string_view expiry_key_task(std::string_view key);

std::string dead_key(std::string_view queue, uint64_t index_seq);

std::string queue_counters_key(std::string_view queue);
inline constexpr std::string_view kQueueCountersPrefix = "queue/";

// The smallest key that sorts after `key`: an exclusive lower bound made inclusive.
std::string successor(std::string_view key);

}  // namespace keys
}  // namespace brokerd::server
