// The task rules that need no state: validating what producers send, building the
// initial record, retry backoff, recording transitions and counting them. Pure
// functions, unit-tested alone.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

#include "broker.pb.h"
#include "common/status.h"

namespace brokerd::server {

inline constexpr std::string_view kDefaultQueue = "default";
inline constexpr size_t kMaxNameBytes = 200;
inline constexpr size_t kMaxQueueNameBytes = 128;
inline constexpr size_t kMaxTaskIdBytes = 128;
inline constexpr uint32_t kMaxPriority = 9;
inline constexpr uint32_t kMaxRetriesLimit = 1000;
inline constexpr uint32_t kMaxDeliveriesLimit = 1000;
inline constexpr int64_t kMaxTimeLimitMs = 7LL * 86'400'000;  // a week
inline constexpr int64_t kDefaultBackoffBaseMs = 1000;
inline constexpr int64_t kDefaultBackoffMaxMs = 600'000;
inline constexpr int kMaxHistoryEntries = 64;

struct TaskLimits {
  size_t max_payload_bytes = 1 << 20;
  int64_t default_result_ttl_ms = 86'400'000;
};

Status validate_queue_name(std::string_view queue);
Status validate_task_id(std::string_view id);
// True when `text` is exactly one JSON value. A raw NUL byte is never valid JSON (inside
// strings it must be escaped), and nlohmann's parser takes it as end of input, so
// "[1]\0garbage" would otherwise pass and be handed to workers that reject it.
bool is_valid_json(std::string_view text);

// `time_ms` + `duration_ms`, clamped to the int64 range. Due and expiry times are built
// from client durations (countdown_ms, result_ttl_ms, RetryLater.countdown_ms); wrapping
// would put them in the past or, as negative index keys, where the timer scans never
// look. INT64_MAX reads as "never".
int64_t saturating_add(int64_t time_ms, int64_t duration_ms);

// Checks `spec` and builds the record it describes: name, queue (defaulted), args,
// kwargs, priority, retry policy, ttl, created_ms and due_ms (0 when due now). Id, state,
// sequences and history are left for the engine.
Result<v1::TaskRecord> build_record(const v1::TaskSpec& spec, const TaskLimits& limits, int64_t now_ms);

uint32_t max_retries(const v1::TaskRecord& task);
// Delay before retry number `retry_number` (1-based) under `policy`.
int64_t retry_delay_ms(const v1::RetryPolicy& policy, uint32_t retry_number, std::mt19937_64& random);

// Sets the state and appends it to the history (keeping the first entry and the newest).
void record_transition(v1::TaskRecord& task, v1::TaskState state, int64_t now_ms);

bool is_terminal(v1::TaskState state);

// Moves one task's weight in the per-queue counters from `from` to `to`. Gauges (ready,
// scheduled, in flight, retrying) go down and up; succeeded and failed only count up.
void count_transition(v1::QueueCounters& counters, v1::TaskState from, v1::TaskState to);

}  // namespace brokerd::server
