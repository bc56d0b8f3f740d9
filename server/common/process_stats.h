// Facts about this process for `brokerctl stats` and /metrics.
#pragma once

#include <cstdint>

namespace brokerd::server {

// Resident set size in bytes (0 when /proc is unavailable).
uint64_t resident_bytes();

}  // namespace brokerd::server
