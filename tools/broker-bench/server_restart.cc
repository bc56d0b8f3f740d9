#include "server_restart.h"

#include <chrono>
#include <thread>

#include "endpoint.h"
#include "probes.h"
#include "spawned_server.h"

namespace broker_bench {

RestartTiming restart_spawned_server(BenchContext& ctx, Report& report, double stop_timeout_seconds,
                                     double start_timeout_seconds) {
  SpawnedServer& server = *ctx.server;
  report.server_reading = read_proc(server.pid());
  RestartTiming timing;
  timing.details = nlohmann::json::object();
  const int64_t stop_start = now_ns();
  timing.clean = server.stop(stop_timeout_seconds, timing.error);
  timing.stop_seconds = seconds_between(stop_start, now_ns());
  timing.details["stop_seconds"] = round_to(timing.stop_seconds, 4);
  timing.details["clean_exit"] = timing.clean;
  if (!timing.clean) timing.details["stop_error"] = timing.error;

  const int64_t start = now_ns();
  if (!server.start(start_timeout_seconds, timing.error)) {
    timing.details["error"] = timing.error;
    report.human_lines.push_back("restart: FAILED: " + timing.error);
    ++report.errors;
    return timing;
  }
  timing.listening_seconds = seconds_between(start, now_ns());
  ctx.endpoint = loopback_endpoint(server.port());
  const int64_t give_up = start + static_cast<int64_t>(start_timeout_seconds * 1e9);
  while (now_ns() < give_up) {
    if (ping_once(ctx.endpoint, 1000, timing.error)) {
      timing.serving = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  timing.ready_seconds = seconds_between(start, now_ns());
  timing.details["listening_seconds"] = round_to(timing.listening_seconds, 4);
  timing.details["serving"] = timing.serving;
  timing.details["ready_seconds"] = round_to(timing.ready_seconds, 4);
  if (!timing.serving) {
    timing.details["error"] = timing.error;
    ++report.errors;
  }
  return timing;
}

}  // namespace broker_bench
