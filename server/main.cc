// brokerd: the durable background-task broker. Runs in the foreground; SIGINT/SIGTERM
// stop it cleanly (connections closed, their leased tasks queued again, WAL synced) within
// shutdown_timeout_s; SIGHUP reopens the log file. Settings: docs/configuration.md.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <spdlog/spdlog.h>

#include "auth/token_store.h"
#include "commit/committer.h"
#include "config/settings.h"
#include "engine/engine.h"
#include "common/process_stats.h"
#include "handlers/request_router.h"
#include "metrics/http_listener.h"
#include "observe/broker_metrics.h"
#include "logging/logging.h"
#include "logging/shutdown_watchdog.h"
#include "net/broker_server.h"
#include "net/tls_context.h"
#include "service/sd_notify.h"
#include "storage/rocks_storage.h"

using namespace brokerd::server;

namespace {

int fail(const std::string& message) {
  spdlog::critical("{}", message);
  return 1;
}

// A token file others can read gives their holders away; say so, but do not refuse (a
// container may mount it with loose modes).
void warn_if_readable_by_others(const std::string& path) {
  std::error_code error;
  const auto mode = std::filesystem::status(path, error).permissions();
  if (error) return;
  using std::filesystem::perms;
  if ((mode & (perms::group_read | perms::others_read)) != perms::none) {
    spdlog::warn("auth_tokens_file {} is readable by group or others; chmod 600 it", path);
  }
}

int serve(const Settings& settings, ShutdownWatchdog& shutdown_watchdog);

}  // namespace

int main(int argc, char** argv) {
  // Declared first so that it is destroyed last: every later destructor runs under it too.
  ShutdownWatchdog shutdown_watchdog;
  CLI::App app{"brokerd " BROKERD_VERSION " - durable background-task broker (task queue and result store)\n"
               "Settings: flag > --config FILE (TOML) > BROKERD_<NAME> environment variable > default"};
  SettingsCommandLine command_line(app);
  app.set_version_flag("--version", BROKERD_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;  // --help is an exit 0 "error"
  }
  if (command_line.print_reference()) {
    fputs(configuration_reference_markdown().c_str(), stdout);
    return 0;
  }
  Settings settings;
  if (Status s = command_line.resolve(process_environment(), settings); !s.ok()) {
    fprintf(stderr, "brokerd: invalid setting: %s\n", s.message().c_str());
    return 2;
  }
  if (command_line.print_config()) {
    fputs(settings_to_toml(settings).c_str(), stdout);
    return 0;
  }
  if (Status s = setup_logging(log_options_from(settings)); !s.ok()) {
    fprintf(stderr, "brokerd: %s\n", s.message().c_str());
    return 1;
  }
  const int status = serve(settings, shutdown_watchdog);
  // After serve() has destroyed the storage, so that this is the last line of the log.
  if (status == 0) spdlog::info("brokerd stopped");
  return status;
}

namespace {

int serve(const Settings& settings, ShutdownWatchdog& shutdown_watchdog) {
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
  engine_options.max_queue_length = static_cast<uint64_t>(settings.max_queue_length);
  engine_options.max_prefetch = static_cast<uint32_t>(settings.max_prefetch);
  engine_options.max_consume_queues = static_cast<size_t>(settings.max_consume_queues);
  engine_options.max_deliveries = static_cast<uint32_t>(settings.max_deliveries);
  engine_options.idle_queue_ttl_ms = settings.idle_queue_ttl_s * 1000;
  Engine engine(*storage.value(), clock, engine_options);
  if (Status s = engine.open(); !s.ok()) return fail("recovery failed: " + s.message());

  Committer committer(*storage.value(), policy, settings.sync_interval_ms);
  committer.start();
  std::atomic<uint32_t> open_connections{0};
  const int64_t started_ms = clock.now_ms();
  RouterOptions router_options;
  router_options.server_version = BROKERD_VERSION;
  router_options.max_frame_bytes = static_cast<uint32_t>(settings.max_frame_bytes);
  router_options.event_buffer = static_cast<size_t>(settings.event_buffer);
  router_options.fill_server_stats = [&](brokerd::v1::ServerStats& stats) {
    stats.set_started_ms(started_ms);
    stats.set_uptime_ms(clock.now_ms() - started_ms);
    stats.set_connections(open_connections.load());
    stats.set_sync(settings.sync);
    stats.set_data_dir(settings.data_dir);
    stats.set_disk_bytes(storage.value()->disk_bytes());
    stats.set_rss_bytes(resident_bytes());
  };
  router_options.idle_timeout_ms = settings.idle_timeout_s * 1000;
  router_options.max_waits_per_connection = static_cast<size_t>(settings.max_waits_per_connection);
  router_options.max_subscribe_queues = static_cast<size_t>(settings.max_consume_queues);
  if (!settings.auth_tokens_file.empty()) {
    Result<TokenStore> tokens = TokenStore::load_file(settings.auth_tokens_file);
    if (!tokens.ok()) return fail(tokens.status().message());
    warn_if_readable_by_others(settings.auth_tokens_file);
    router_options.tokens = std::move(tokens.value());
    spdlog::info("authentication on: {} tokens from {}", router_options.tokens.size(), settings.auth_tokens_file);
  }
  const bool authenticated = !router_options.tokens.empty();
  RequestRouter router(engine, router_options);
  SessionLimits limits;
  limits.max_frame_bytes = static_cast<uint32_t>(settings.max_frame_bytes);
  limits.event_buffer = static_cast<size_t>(settings.event_buffer);
  limits.max_outbound_bytes = static_cast<size_t>(settings.max_outbound_mb) << 20;
  // Reading and deliveries pause well before the drop limit, so only a peer that stops
  // reading altogether reaches it.
  limits.outbound_high_watermark = std::min<size_t>(8u << 20, limits.max_outbound_bytes / 4);
  limits.outbound_low_watermark = limits.outbound_high_watermark / 8;
  limits.handshake_timeout_ms = settings.handshake_timeout_ms;
  limits.idle_timeout_ms = settings.idle_timeout_s * 1000;
  limits.write_stall_timeout_ms = settings.write_stall_timeout_s * 1000;
  SessionContext context{engine, committer, router, limits, open_connections};
  context.max_connections = static_cast<uint32_t>(settings.max_connections);
  std::unique_ptr<asio::ssl::context> tls;
  if (!settings.tls_cert_file.empty()) {
    auto made = make_server_tls_context({settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file});
    if (!made.ok()) return fail(made.status().message());
    tls = std::move(made.value());
    context.tls = tls.get();
  }

  asio::io_context io;
  // Signals are caught from here on (before the port file tells anyone we are up). One set
  // for all, so exactly one wait is pending at a time and none once the stop signal came.
  std::promise<int> stop_signal;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.add(SIGHUP);
  std::function<void(const asio::error_code&, int)> on_signal = [&](const asio::error_code& error, int number) {
    if (error) return;
    if (number != SIGHUP) {
      stop_signal.set_value(number);
      return;
    }
    (void)reopen_log_file();  // logs what happened; a failure keeps the old file
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
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
  std::atomic<bool> ready{true};
  metrics::MetricsHttpServer http(
      [&] {
        ServerGauges gauges;
        gauges.connections = open_connections.load();
        gauges.disk_bytes = storage.value()->disk_bytes();
        gauges.resident_bytes = resident_bytes();
        gauges.uptime_seconds = static_cast<double>(clock.now_ms() - started_ms) / 1000.0;
        gauges.version = BROKERD_VERSION;
        gauges.sync = settings.sync;
        return render_broker_metrics(engine.snapshot(), committer.metrics(), gauges);
      },
      // Not ready while draining, or after a storage read error in the last minute.
      [&] { return ready.load() && engine.read_health().ok(); });
  if (!settings.http.empty()) {
    std::string http_host;
    uint16_t http_port = 0;
    if (!split_host_port(settings.http, http_host, http_port)) return fail("http: expected HOST:PORT, got " + settings.http);
    if (Status s = http.start(http_host, http_port); !s.ok()) return fail(s.message());
    spdlog::info("metrics on http://{}:{}/metrics", http_host, http.port());
    if (!settings.port_file.empty()) {
      // Beside the broker port file, for scripts and tests that let the OS pick (port 0).
      const std::string http_port_file = settings.port_file + ".http";
      std::ofstream(http_port_file + ".tmp") << http.port() << '\n';
      std::filesystem::rename(http_port_file + ".tmp", http_port_file, fs_error);
      if (fs_error) return fail("cannot write " + http_port_file + ": " + fs_error.message());
    }
  }
  spdlog::info("brokerd {} listening on {}:{} ({}) data_dir={} sync={}", BROKERD_VERSION,
               endpoint.address().to_string(), endpoint.port(), tls ? "TLS" : "plain TCP", settings.data_dir,
               settings.sync);
  if (!endpoint.address().is_loopback() && !authenticated) {
    spdlog::warn("listening on {}, which is not a loopback address, WITHOUT authentication: anyone who can reach "
                 "this port can enqueue, read results and purge queues. Set auth_tokens_file (docs/security.md).",
                 endpoint.address().to_string());
  }
  if (!endpoint.address().is_loopback() && !tls) {
    spdlog::warn("listening on {} without TLS: tokens and task data cross the network in clear text "
                 "(set tls_cert_file and tls_key_file)",
                 endpoint.address().to_string());
  }
  spdlog::debug("effective settings:\n{}", describe_settings(settings));

  auto work = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int64_t i = 0; i < settings.io_threads; ++i) threads.emplace_back([&io] { io.run(); });

  notify_service_manager("READY=1");  // systemd Type=notify: recovered and listening
  const int signal_number = stop_signal.get_future().get();
  notify_service_manager("STOPPING=1");
  ready = false;  // /readyz: take this instance out of rotation while it drains
  spdlog::info("signal {} received: closing connections and syncing", signal_number);
  shutdown_watchdog.arm(std::chrono::seconds(settings.shutdown_timeout_s));
  engine.begin_shutdown();  // leases out now are simply queued again at the next start
  server.stop();
  work.reset();
  // Sessions finish closing on the io threads; after half the shutdown timeout the loop is
  // stopped so that the final sync still happens (the watchdog bounds the whole).
  std::promise<void> drained;
  const auto drain_timeout = std::chrono::milliseconds(settings.shutdown_timeout_s * 500);
  std::thread watchdog([&io, drain_timeout, done = drained.get_future()]() mutable {
    if (done.wait_for(drain_timeout) == std::future_status::timeout) {
      spdlog::warn("connections did not close within {} ms; stopping the network loop", drain_timeout.count());
      io.stop();
    }
  });
  for (auto& thread : threads) thread.join();
  drained.set_value();
  watchdog.join();
  http.stop();
  if (Status s = engine.flush(); !s.ok()) spdlog::error("final write failed: {}", s.message());
  committer.stop();
  committer.log_stats_since_last_call();
  return 0;
}

}  // namespace
