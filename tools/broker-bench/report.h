// broker-bench: what a scenario found, and how it is printed: one JSON object (--json)
// or a human summary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "latency_histogram.h"
#include "spawned_server.h"

namespace broker_bench {

struct Report {
  std::string scenario;
  bool completed = true;         // false: cut short by --max-seconds, an interrupt or an error
  uint64_t tasks = 0;            // the headline count (confirmed enqueues, completions, ...)
  uint64_t tasks_requested = 0;
  double seconds = 0;            // the headline wall time
  LatencyHistogram latency;
  std::string latency_measure;   // what one latency sample spans
  uint64_t errors = 0;           // requests answered with an Error, and lost connections
  std::string first_error;
  // Scenario-specific members, merged into the top level of the JSON object.
  nlohmann::json details = nlohmann::json::object();
  // Scenario-specific lines of the human summary.
  std::vector<std::string> human_lines;
  // Set by a scenario that had to read the spawned server before stopping it itself.
  std::optional<ProcReading> server_reading;
};

double per_second(uint64_t count, double seconds);
// `value` rounded to `decimals` places, so that JSON shows 12.3, not 12.300000000000001.
double round_to(double value, int decimals);

// {"p50", "p90", "p99", "p999", "max", "min", "mean", "count"}: microseconds, 0.1 µs.
nlohmann::json latency_json(const LatencyHistogram& histogram);
// "p50 1.23 ms  p90 ...  max ..."
std::string latency_text(const LatencyHistogram& histogram);
// "12.3 MiB"
std::string format_bytes(uint64_t bytes);
// "123 µs", "1.23 ms", "1.23 s"
std::string format_ns(int64_t nanoseconds);

// The JSON object of the whole run: the report plus `run` (config, server, ...).
nlohmann::json report_json(const Report& report, const nlohmann::json& run);
// The human summary of the same.
std::string report_text(const Report& report, const nlohmann::json& run);

}  // namespace broker_bench
