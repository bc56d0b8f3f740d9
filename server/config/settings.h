// Every brokerd setting, declared once: name, default, bounds and meaning. Command-line
// flags are generated from this table (and docs/configuration.md documents it), so a
// setting cannot exist in one place and not another.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
}

namespace brokerd::server {

struct Settings {
  std::string listen = "127.0.0.1:7411";
  std::string data_dir = "./brokerd-data";
  std::string sync = "always";
  int64_t sync_interval_ms = 100;
  std::string log_level = "info";
  std::string log_file;
  int64_t max_frame_bytes = 16 << 20;
  int64_t max_payload_bytes = 1 << 20;
  int64_t io_threads = 2;
  int64_t lease_ms = 30'000;
  int64_t result_ttl_s = 86'400;
  int64_t queue_window = 4096;
  int64_t block_cache_mb = 64;
  int64_t write_buffer_mb = 16;
  int64_t memtable_budget_mb = 64;
  std::string port_file;
  int64_t stats_log_interval_s = 60;
};

struct SettingDecl {
  const char* name;  // flag is --NAME with '_' written as '-'
  const char* help;
  std::variant<std::string Settings::*, int64_t Settings::*> field;
  int64_t min = 0;  // integers only
  int64_t max = 0;
  std::vector<std::string> choices = {};  // strings only; empty = free text
};

const std::vector<SettingDecl>& setting_table();

// Adds one flag per setting, bound to `settings`.
void add_setting_flags(CLI::App& app, Settings& settings);

// Checks bounds and choices; the message names the offending setting.
Status validate_settings(const Settings& settings);

// "name = value" lines, for the start-up log.
std::string describe_settings(const Settings& settings);

}  // namespace brokerd::server
