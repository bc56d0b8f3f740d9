#include "config/settings.h"

#include <algorithm>

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
      {"log_file", "append logs to this file instead of stderr", &Settings::log_file},
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
      {"port_file", "after binding, write the listening port to this file (for scripts and tests)",
       &Settings::port_file},
      {"stats_log_interval_s", "log group-commit batch sizes and fsync latency this often (0 = never)",
       &Settings::stats_log_interval_s, 0, 86'400},
  };
  return table;
}

static std::string flag_name(const char* name) {
  std::string flag = std::string("--") + name;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

void add_setting_flags(CLI::App& app, Settings& settings) {
  for (const SettingDecl& decl : setting_table()) {
    if (auto* text = std::get_if<std::string Settings::*>(&decl.field)) {
      CLI::Option* option = app.add_option(flag_name(decl.name), settings.*(*text), decl.help);
      option->capture_default_str();
      if (!decl.choices.empty()) option->check(CLI::IsMember(decl.choices));
    } else {
      auto number = std::get<int64_t Settings::*>(decl.field);
      app.add_option(flag_name(decl.name), settings.*number, decl.help)
          ->capture_default_str()
          ->check(CLI::Range(decl.min, decl.max));
    }
  }
}

Status validate_settings(const Settings& settings) {
  for (const SettingDecl& decl : setting_table()) {
    if (auto* text = std::get_if<std::string Settings::*>(&decl.field)) {
      const std::string& value = settings.*(*text);
      if (!decl.choices.empty() && std::find(decl.choices.begin(), decl.choices.end(), value) == decl.choices.end()) {
        return Status::InvalidArgument(std::string(decl.name) + ": '" + value + "' is not one of the allowed values");
      }
    } else {
      const int64_t value = settings.*std::get<int64_t Settings::*>(decl.field);
      if (value < decl.min || value > decl.max) {
        return Status::InvalidArgument(std::string(decl.name) + ": " + std::to_string(value) + " is outside " +
                                       std::to_string(decl.min) + ".." + std::to_string(decl.max));
      }
    }
  }
  if (settings.data_dir.empty()) return Status::InvalidArgument("data_dir: must not be empty");
  return Status::Ok();
}

std::string describe_settings(const Settings& settings) {
  std::string out;
  for (const SettingDecl& decl : setting_table()) {
    out += decl.name;
    out += " = ";
    if (auto* text = std::get_if<std::string Settings::*>(&decl.field)) {
      out += settings.*(*text);
    } else {
      out += std::to_string(settings.*std::get<int64_t Settings::*>(decl.field));
    }
    out += '\n';
  }
  return out;
}

}  // namespace brokerd::server
