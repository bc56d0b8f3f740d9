// brokerd: the durable background-task broker. Runs in the foreground; SIGINT/SIGTERM
// stop it cleanly (connections closed, their leased tasks queued again, WAL synced).
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commit/committer.h"
#include "config/settings.h"
#include "engine/engine.h"
#include "handlers/request_router.h"
#include "net/broker_server.h"
#include "storage/rocks_storage.h"

using namespace brokerd::server;

namespace {

bool setup_logging(const Settings& settings) {
  try {
    std::shared_ptr<spdlog::logger> logger;
    if (settings.log_file.empty()) {
      logger = spdlog::stderr_color_mt("brokerd");
    } else {
      logger = spdlog::basic_logger_mt("brokerd", settings.log_file);
    }
    logger->set_level(spdlog::level::from_str(settings.log_level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    return true;
  } catch (const spdlog::spdlog_ex& error) {
    fprintf(stderr, "brokerd: cannot set up logging: %s\n", error.what());
    return false;
  }
}

int fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  CLI::App app{"brokerd " BROKERD_VERSION " - durable background-task broker (task queue and result store)"};
  add_setting_flags(app, settings);
  app.set_version_flag("--version", BROKERD_VERSION);
  CLI11_PARSE(app, argc, argv);
  if (Status s = validate_settings(settings); !s.ok()) {
    fprintf(stderr, "brokerd: invalid setting %s\n", s.message().c_str());
    return 2;
  }
  if (!setup_logging(settings)) return 2;
  SyncPolicy policy = SyncPolicy::kAlways;
  parse_sync_policy(settings.sync, policy);

  std::error_code fs_error;
  std::filesystem::create_directories(settings.data_dir, fs_error);
  if (fs_error) return fail("cannot create data dir " + settings.data_dir + ": " + fs_error.message());
  RocksStorageOptions storage_options;
  storage_options.path = settings.data_dir;
  storage_options.block_cache_bytes = static_cast<uint64_t>(settings.block_cache_mb) << 20;
  storage_options.write_buffer_bytes = static_cast<uint64_t>(settings.write_buffer_mb) << 20;
  storage_options.memtable_budget_bytes = static_cast<uint64_t>(settings.memtable_budget_mb) << 20;
  storage_options.defer_wal_writes = policy == SyncPolicy::kAlways;
  auto storage = RocksStorage::open(storage_options);
  if (!storage.ok()) return fail(storage.status().message());

  SystemClock clock;
  EngineOptions engine_options;
  engine_options.limits.max_payload_bytes = static_cast<size_t>(settings.max_payload_bytes);
  engine_options.limits.default_result_ttl_ms = settings.result_ttl_s * 1000;
  engine_options.default_lease_ms = settings.lease_ms;
  engine_options.ready_window = static_cast<size_t>(settings.queue_window);
  Engine engine(*storage.value(), clock, engine_options);
  if (Status s = engine.open(); !s.ok()) return fail("recovery failed: " + s.message());

  Committer committer(*storage.value(), policy, settings.sync_interval_ms);
  committer.start();
  RouterOptions router_options;
  router_options.server_version = BROKERD_VERSION;
  router_options.max_frame_bytes = static_cast<uint32_t>(settings.max_frame_bytes);
  RequestRouter router(engine, router_options);
  SessionLimits limits;
  limits.max_frame_bytes = static_cast<uint32_t>(settings.max_frame_bytes);
  SessionContext context{engine, committer, router, limits};

  asio::io_context io;
  BrokerServer server(io, context, settings.stats_log_interval_s * 1000);
  if (Status s = server.listen(settings.listen); !s.ok()) return fail(s.message());
  const auto endpoint = server.local_endpoint();
  if (!settings.port_file.empty()) {
    // Written to a temporary name and renamed, so a reader never sees a partial file.
    const std::string temporary = settings.port_file + ".tmp";
    std::ofstream(temporary) << endpoint.port() << '\n';
    std::filesystem::rename(temporary, settings.port_file, fs_error);
    if (fs_error) return fail("cannot write port file " + settings.port_file + ": " + fs_error.message());
  }
  server.start();
  spdlog::info("brokerd {} listening on {}:{} data_dir={} sync={}", BROKERD_VERSION,
               endpoint.address().to_string(), endpoint.port(), settings.data_dir, settings.sync);
  spdlog::debug("effective settings:\n{}", describe_settings(settings));

  std::promise<int> stop_signal;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& error, int number) {
    if (!error) stop_signal.set_value(number);
  });
  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int64_t i = 0; i < settings.io_threads; ++i) threads.emplace_back([&io] { io.run(); });

  const int signal_number = stop_signal.get_future().get();
  spdlog::info("signal {} received: closing connections and syncing", signal_number);
  server.stop();
  work.reset();
  // Sessions finish closing on the io threads; a stuck handler must not hold the exit.
  std::promise<void> drained;
  std::thread watchdog([&io, done = drained.get_future()]() mutable {
    if (done.wait_for(std::chrono::seconds(10)) == std::future_status::timeout) {
      spdlog::warn("shutdown did not drain within 10 s; stopping the network loop");
      io.stop();
    }
  });
  for (auto& thread : threads) thread.join();
  drained.set_value();
  watchdog.join();
  if (Status s = engine.flush(); !s.ok()) spdlog::error("final write failed: {}", s.message());
  committer.stop();
  committer.log_stats_since_last_call();
  spdlog::info("brokerd stopped");
  return 0;
}
