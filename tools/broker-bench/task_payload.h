// broker-bench: the args of a benchmark task. args_json is a JSON array whose first
// element is the bench's monotonic clock when the enqueue request was sent (now_ns()),
// padded with a string to the requested payload size:
//
//   [812345678901234,"xxxxxxxxxxxxxxxx..."]
//
// Workers read the timestamp back to measure enqueue -> completion per task without any
// shared table. A payload too small for the padding is just [timestamp].
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace broker_bench {

// The task name every benchmark task carries.
inline constexpr const char* kBenchTaskName = "bench.noop";
// What workers report as the result: small, valid JSON.
inline constexpr const char* kBenchResultJson = "true";

// Writes args_json of `payload_bytes` bytes (at least the timestamp) into `out`.
void make_args_json(int64_t sent_ns, size_t payload_bytes, std::string& out);

// The timestamp make_args_json() wrote, or -1 when `args_json` does not start with one.
int64_t args_sent_ns(const std::string& args_json);

}  // namespace broker_bench
