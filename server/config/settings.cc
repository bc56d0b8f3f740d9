#include "config/settings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include <CLI/CLI.hpp>

namespace brokerd::server {

const std::vector<SettingDecl>& setting_table() {
  static const std::vector<SettingDecl> table = {
      {"listen", "HOST:PORT to accept clients on (port 0 picks a free port)", &Settings::listen},
      {"data_dir", "directory of the RocksDB database (created if missing)", &Settings::data_dir},
      {"sync", "durability: always = fsync (group commit) before any confirmation; interval = fsync every "
               "sync_interval_ms; none = leave it to the OS",
       &Settings::sync, 0, 0, {"always", "interval", "none"}},
      {"sync_interval_ms", "fsync period under --sync interval", &Settings::sync_interval_ms, 1, 60'000},
      {"log_level", "least severe log level written", &Settings::log_level, 0, 0,
       {"trace", "debug", "info", "warn", "error", "critical", "off"}},
      {"log_file", "append logs to this file instead of stderr; SIGHUP reopens it (for logrotate)",
       &Settings::log_file},
      {"log_format", "text: one readable line per record; json: one JSON object per line (ts, level, msg, thread)",
       &Settings::log_format, 0, 0, {"text", "json"}},
      {"log_max_size_mb", "with log_file: rotate the file when it would grow past this size (0 = never rotate)",
       &Settings::log_max_size_mb, 0, 1 << 20},
      {"log_max_files", "with log_file: rotated files kept as FILE.1 (newest) .. FILE.N (0 = truncate in place)",
       &Settings::log_max_files, 0, 1000},
      {"max_frame_bytes", "largest frame accepted; a larger length prefix closes the connection",
       &Settings::max_frame_bytes, 1024, 256 << 20},
      {"max_payload_bytes", "largest args+kwargs (and result) of one task", &Settings::max_payload_bytes, 64,
       64 << 20},
      {"io_threads", "network threads", &Settings::io_threads, 1, 64},
      {"lease_ms", "default lease a consumer holds a task for without a heartbeat", &Settings::lease_ms, 1000,
       3'600'000},
      {"result_ttl_s", "default time a finished task and its result are kept", &Settings::result_ttl_s, 1,
       10LL * 365 * 86'400},
      {"queue_window", "ready tasks of each queue's head kept in memory", &Settings::queue_window, 16, 1 << 20},
      {"block_cache_mb", "RocksDB block cache size", &Settings::block_cache_mb, 1, 1 << 20},
      {"write_buffer_mb", "RocksDB memtable size per column family", &Settings::write_buffer_mb, 1, 4096},
      {"memtable_budget_mb", "RocksDB memtables of all column families together (bounds write memory)",
       &Settings::memtable_budget_mb, 4, 65'536},
      {"http", "HOST:PORT of the HTTP listener for /metrics (Prometheus), /healthz and /readyz (empty = off); "
       "with port_file, its port is also written to PORT_FILE.http",
       &Settings::http},
      {"event_buffer", "events queued for one subscriber (brokerctl watch) before it starts losing them",
       &Settings::event_buffer, 16, 1 << 20},
      {"port_file", "after binding, write the listening port to this file (for scripts and tests)",
       &Settings::port_file},
      {"stats_log_interval_s", "log group-commit batch sizes and fsync latency this often (0 = never)",
       &Settings::stats_log_interval_s, 0, 86'400},
      {"shutdown_timeout_s",
       "after SIGTERM/SIGINT, exit with status 1 if closing connections and syncing takes longer than this",
       &Settings::shutdown_timeout_s, 1, 3600},
      {"auth_tokens_file",
       "file of access tokens, one 'ROLE TOKEN [NAME]' per line (ROLE: producer, worker or admin); when set, "
       "every connection must authenticate in its hello. Empty = no authentication (every client is admin)",
       &Settings::auth_tokens_file},
      {"tls_cert_file", "PEM certificate chain of the broker port; with tls_key_file, clients must use TLS",
       &Settings::tls_cert_file},
      {"tls_key_file", "PEM private key of tls_cert_file", &Settings::tls_key_file},
      {"tls_client_ca_file",
       "PEM CA bundle: when set (with TLS), every client must present a certificate it signed",
       &Settings::tls_client_ca_file},
      {"max_connections", "open client connections; a connection beyond it gets RESOURCE_EXHAUSTED and is closed",
       &Settings::max_connections, 1, 1'000'000},
      {"max_queue_length",
       "unfinished tasks (queued, scheduled, running) one queue may hold; an enqueue beyond it gets "
       "RESOURCE_EXHAUSTED",
       &Settings::max_queue_length, 1, 1LL << 40},
      {"handshake_timeout_ms", "a connection that has not completed TLS and hello within this is closed",
       &Settings::handshake_timeout_ms, 100, 600'000},
      {"idle_timeout_s",
       "a connection that completes no frame for this long is closed (clients ping at a third of it; "
       "0 = never)",
       &Settings::idle_timeout_s, 0, 86'400},
      {"max_outbound_mb",
       "bytes waiting to be written to one connection; past it the connection (a peer that does not read) is "
       "dropped",
       &Settings::max_outbound_mb, 1, 4096},
      {"write_stall_timeout_s", "a connection whose pending write makes no progress for this long is dropped",
       &Settings::write_stall_timeout_s, 1, 3600},
      {"max_waits_per_connection",
       "WaitResult requests one connection may have waiting at once; more get RESOURCE_EXHAUSTED",
       &Settings::max_waits_per_connection, 1, 10'000'000},
      {"max_prefetch", "largest Consume.prefetch (unfinished deliveries one connection may hold); more is refused",
       &Settings::max_prefetch, 1, 1'000'000},
      {"max_consume_queues", "queues one Consume or Subscribe (and so one connection) may name; more is refused",
       &Settings::max_consume_queues, 1, 100'000},
      {"max_deliveries",
       "deliveries without an outcome (lost leases) after which a task ends FAILURE DeliveryLimitExceeded, "
       "unless the task sets its own",
       &Settings::max_deliveries, 1, 1000},
      {"idle_queue_ttl_s",
       "a queue with no tasks, no dead letters and no consumers for this long is forgotten with its counters",
       &Settings::idle_queue_ttl_s, 0, 30 * 86'400},
  };
  return table;
}

std::string SettingDecl::flag() const {
  std::string flag = std::string("--") + name;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string SettingDecl::env_var() const {
  std::string var = std::string("BROKERD_") + name;
  for (char& c : var) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return var;
}

const SettingDecl* find_setting(std::string_view name) {
  for (const SettingDecl& decl : setting_table()) {
    if (name == decl.name) return &decl;
  }
  return nullptr;
}

namespace {

std::string join_choices(const std::vector<std::string>& choices) {
  std::string out;
  for (const std::string& choice : choices) {
    if (!out.empty()) out += ", ";
    out += choice;
  }
  return out;
}

// The checks shared by every source; `prefix` is "SOURCE: " or empty.
Status check_integer(const SettingDecl& decl, int64_t value, const std::string& prefix) {
  if (value < decl.min || value > decl.max) {
    return Status::InvalidArgument(prefix + decl.name + " = " + std::to_string(value) + " is outside " +
                                   std::to_string(decl.min) + ".." + std::to_string(decl.max));
  }
  return Status::Ok();
}

Status check_string(const SettingDecl& decl, const std::string& value, const std::string& prefix) {
  if (!decl.choices.empty() && std::find(decl.choices.begin(), decl.choices.end(), value) == decl.choices.end()) {
    return Status::InvalidArgument(prefix + decl.name + " = '" + value + "' is not one of " +
                                   join_choices(decl.choices));
  }
  return Status::Ok();
}

}  // namespace

Status set_setting(Settings& settings, const SettingDecl& decl, std::string_view text, const std::string& source) {
  const std::string prefix = source + ": ";
  if (auto* member = std::get_if<std::string Settings::*>(&decl.field)) {
    std::string value(text);
    if (Status s = check_string(decl, value, prefix); !s.ok()) return s;
    settings.*(*member) = std::move(value);
    return Status::Ok();
  }
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end) {
    return Status::InvalidArgument(prefix + decl.name + " must be an integer, not '" + std::string(text) + "'");
  }
  if (Status s = check_integer(decl, value, prefix); !s.ok()) return s;
  settings.*std::get<int64_t Settings::*>(decl.field) = value;
  return Status::Ok();
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Status apply_environment(Settings& settings, const EnvLookup& env) {
  for (const SettingDecl& decl : setting_table()) {
    const std::string var = decl.env_var();
    if (std::optional<std::string> value = env(var)) {
      if (Status s = set_setting(settings, decl, *value, "environment variable " + var); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status validate_settings(const Settings& settings) {
  for (const SettingDecl& decl : setting_table()) {
    if (auto* member = std::get_if<std::string Settings::*>(&decl.field)) {
      if (Status s = check_string(decl, settings.*(*member), ""); !s.ok()) return s;
    } else {
      if (Status s = check_integer(decl, settings.*std::get<int64_t Settings::*>(decl.field), ""); !s.ok()) return s;
    }
  }
  if (settings.data_dir.empty()) return Status::InvalidArgument("data_dir must not be empty");
  if (settings.listen.empty()) return Status::InvalidArgument("listen must not be empty");
  if (settings.tls_cert_file.empty() != settings.tls_key_file.empty()) {
    return Status::InvalidArgument("tls_cert_file and tls_key_file must be set together");
  }
  if (!settings.tls_client_ca_file.empty() && settings.tls_cert_file.empty()) {
    return Status::InvalidArgument("tls_client_ca_file needs tls_cert_file and tls_key_file (TLS on)");
  }
  if (settings.max_frame_bytes < settings.max_payload_bytes) {
    return Status::InvalidArgument("max_frame_bytes must be at least max_payload_bytes");
  }
  return Status::Ok();
}

std::string describe_settings(const Settings& settings) {
  std::string out;
  for (const SettingDecl& decl : setting_table()) {
    out += decl.name;
    out += " = ";
    if (auto* member = std::get_if<std::string Settings::*>(&decl.field)) {
      out += settings.*(*member);
    } else {
      out += std::to_string(settings.*std::get<int64_t Settings::*>(decl.field));
    }
    out += '\n';
  }
  return out;
}

SettingsCommandLine::SettingsCommandLine(CLI::App& app) {
  app.add_option("--config", config_path_,
                 "read settings from this TOML file: a flat table whose keys are the setting names "
                 "(flags override it; it overrides BROKERD_* environment variables)")
      ->type_name("FILE");
  app.add_flag("--print-config", print_config_,
               "print the effective configuration as TOML (loadable with --config) and exit");
  app.add_flag("--print-config-reference", print_reference_,
               "print the reference of every setting as Markdown (docs/configuration.md) and exit");

  const Settings defaults;
  const auto& table = setting_table();
  flag_values_.resize(table.size());  // never resized again: the options point into it
  for (size_t i = 0; i < table.size(); ++i) {
    const SettingDecl& decl = table[i];
    CLI::Option* option =
        app.add_option(decl.flag(), flag_values_[i], std::string(decl.help) + " [env " + decl.env_var() + "]");
    if (auto* member = std::get_if<std::string Settings::*>(&decl.field)) {
      option->type_name(decl.choices.empty() ? "TEXT" : "{" + join_choices(decl.choices) + "}");
      option->default_str(defaults.*(*member));
    } else {
      option->type_name("INT in " + std::to_string(decl.min) + ".." + std::to_string(decl.max));
      option->default_str(std::to_string(defaults.*std::get<int64_t Settings::*>(decl.field)));
    }
    flag_options_.push_back(option);
  }
}

Status SettingsCommandLine::resolve(const EnvLookup& env, Settings& settings) const {
  settings = Settings{};
  if (Status s = apply_environment(settings, env); !s.ok()) return s;
  if (!config_path_.empty()) {
    if (Status s = apply_toml_file(settings, config_path_); !s.ok()) return s;
  }
  const auto& table = setting_table();
  for (size_t i = 0; i < table.size(); ++i) {
    if (flag_options_[i]->count() == 0) continue;
    if (Status s = set_setting(settings, table[i], flag_values_[i], "flag " + table[i].flag()); !s.ok()) return s;
  }
  return validate_settings(settings);
}

}  // namespace brokerd::server
