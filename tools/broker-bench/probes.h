// broker-bench: one-off requests on a short-lived connection, for the set-up and the
// reporting around the measured load.
#pragma once

#include <optional>
#include <string>

#include "broker.pb.h"
#include "endpoint.h"

namespace broker_bench {

// Connects, handshakes and does one Ping round trip. False (with `error`) on failure.
bool ping_once(const Endpoint& endpoint, int timeout_ms, std::string& error);

// The GetQueueStats entry of `queue`, or nothing (with `error`) on failure.
std::optional<brokerd::v1::QueueStats> queue_stats(const Endpoint& endpoint, const std::string& queue,
                                                   std::string& error);

}  // namespace broker_bench
