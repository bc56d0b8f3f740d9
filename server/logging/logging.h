// brokerd's logging: the default spdlog logger ("brokerd") writing text or JSON lines to
// stderr or to a size-rotated file that SIGHUP reopens. Code logs with spdlog::info(...)
// etc. as usual; this module only sets the logger up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include "common/status.h"

namespace brokerd::server {

struct Settings;

struct LogOptions {
  std::string level = "info";   // spdlog level name: trace debug info warn error critical off
  std::string format = "text";  // text | json
  std::string file;             // empty: stderr
  uint64_t max_size_bytes = 0;  // file only; 0 = never rotate
  size_t max_files = 0;         // file only; rotated files kept
};

LogOptions log_options_from(const Settings& settings);

// Replaces the default logger. Fails (and leaves the previous logger) when the file cannot
// be opened or an option is invalid.
Status setup_logging(const LogOptions& options);

// Reopens the log file at its path (SIGHUP); does nothing when logging to stderr. Logs one
// line to the old file before and one to the new file after.
Status reopen_log_file();

// One JSON object per record: {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"...",
// "thread":123}\n. The message is escaped as JSON requires; invalid UTF-8 becomes U+FFFD.
std::unique_ptr<spdlog::formatter> make_json_formatter();
// The text format: "2024-05-01T12:00:00.123 info message" (local time).
std::unique_ptr<spdlog::formatter> make_text_formatter();

}  // namespace brokerd::server
