// What GET /metrics says about this broker: every figure operators scrape, gathered from
// the engine, the committer and the process into one Prometheus text exposition.
#pragma once

#include <cstdint>
#include <string>

#include "commit/committer.h"
#include "engine/engine.h"

namespace brokerd::server {

struct ServerGauges {
  uint32_t connections = 0;
  uint64_t disk_bytes = 0;
  uint64_t resident_bytes = 0;
  double uptime_seconds = 0;
  std::string version;
  std::string sync;
};

std::string render_broker_metrics(const EngineSnapshot& engine, const CommitMetrics& commit,
                                  const ServerGauges& server);

}  // namespace brokerd::server
