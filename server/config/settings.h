// Every brokerd setting, declared once: name, type, default, bounds and meaning. The
// command-line flags, the environment variables, the keys of the TOML config file,
// `--print-config` and docs/configuration.md are all generated from this table, so a
// setting cannot exist in one place and not another.
//
// Where a value comes from, highest precedence first:
//   1. the flag            --lease-ms 5000
//   2. the config file     --config FILE, a flat TOML table: lease_ms = 5000
//   3. the environment     BROKERD_LEASE_MS=5000
//   4. the default         (Settings' member initializers)
// Every source is checked as it is read: an unknown key, a wrong type or a value out of
// bounds is an error whose message names the setting and the source (file path and line,
// environment variable, or flag).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace brokerd::server {

struct Settings {
  std::string listen = "127.0.0.1:7411";
  std::string data_dir = "./brokerd-data";
  std::string sync = "always";
  int64_t sync_interval_ms = 100;
  std::string log_level = "info";
  std::string log_file;
  std::string log_format = "text";
  int64_t log_max_size_mb = 100;
  int64_t log_max_files = 5;
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
  std::string http;  // metrics listener, off when empty
  int64_t event_buffer = 10'000;
  int64_t stats_log_interval_s = 60;
  int64_t shutdown_timeout_s = 10;
  // Security (docs/security.md).
  std::string auth_tokens_file;  // "ROLE TOKEN [NAME]" lines; empty = no authentication
  std::string tls_cert_file;     // PEM certificate chain; set together with tls_key_file = TLS on
  std::string tls_key_file;
  std::string tls_client_ca_file;  // when set, clients must present a certificate signed by it
  // Limits (docs/reliability.md).
  int64_t max_connections = 4096;
  int64_t max_queue_length = 50'000'000;
  int64_t handshake_timeout_ms = 10'000;
  int64_t idle_timeout_s = 300;
  int64_t max_outbound_mb = 64;
  int64_t write_stall_timeout_s = 60;
  int64_t max_waits_per_connection = 10'000;
  int64_t max_prefetch = 10'000;
  int64_t max_consume_queues = 100;
  int64_t max_deliveries = 20;
  int64_t idle_queue_ttl_s = 300;
};

struct SettingDecl {
  const char* name;  // TOML key; the flag is --NAME with '_' written as '-'; env BROKERD_NAME
  const char* help;
  std::variant<std::string Settings::*, int64_t Settings::*> field;
  int64_t min = 0;  // integers only
  int64_t max = 0;
  std::vector<std::string> choices = {};  // strings only; empty = free text

  bool is_integer() const { return std::holds_alternative<int64_t Settings::*>(field); }
  std::string flag() const;     // "--data-dir"
  std::string env_var() const;  // "BROKERD_DATA_DIR"
};

const std::vector<SettingDecl>& setting_table();
// nullptr when `name` is not a setting.
const SettingDecl* find_setting(std::string_view name);

// Parses `text` as the value of `decl` and stores it in `settings`, after checking the type,
// bounds and choices. `source` names where the text came from ("environment variable
// BROKERD_LEASE_MS", "flag --lease-ms") and starts the error message.
Status set_setting(Settings& settings, const SettingDecl& decl, std::string_view text, const std::string& source);

// Looks up one environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// Applies every BROKERD_<NAME> variable that `env` has. Other variables, including other
// BROKERD_* ones (brokerctl reads BROKERD_SERVER), are ignored.
Status apply_environment(Settings& settings, const EnvLookup& env);

// Applies a flat TOML document: every key must be a setting, every value of its type and
// within its bounds. `source_name` (the file path) is used in error messages.
Status apply_toml(Settings& settings, std::string_view toml_text, const std::string& source_name);
Status apply_toml_file(Settings& settings, const std::string& path);

// Checks bounds, choices and rules across settings; the message names the offending setting.
Status validate_settings(const Settings& settings);

// The effective configuration as a TOML document that apply_toml() reads back unchanged.
std::string settings_to_toml(const Settings& settings);

// "name = value" lines, for the start-up log.
std::string describe_settings(const Settings& settings);

// The whole of docs/configuration.md, generated from setting_table().
std::string configuration_reference_markdown();

// The command line of brokerd: one flag per setting, plus --config FILE, --print-config and
// --print-config-reference. Options are bound to members, so it stays where it was made.
class SettingsCommandLine {
 public:
  explicit SettingsCommandLine(CLI::App& app);
  SettingsCommandLine(const SettingsCommandLine&) = delete;
  SettingsCommandLine& operator=(const SettingsCommandLine&) = delete;

  // After app.parse(): defaults, then the environment, then the config file, then the flags
  // given; then validate_settings(). `settings` is only complete when this returns Ok.
  Status resolve(const EnvLookup& env, Settings& settings) const;

  const std::string& config_path() const { return config_path_; }
  bool print_config() const { return print_config_; }
  bool print_reference() const { return print_reference_; }

 private:
  std::string config_path_;
  bool print_config_ = false;
  bool print_reference_ = false;
  std::vector<std::string> flag_values_;  // one per setting_table() entry, sized once
  std::vector<CLI::Option*> flag_options_;
};

}  // namespace brokerd::server
