#include "logging/logging.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "config/settings.h"
#include "logging/reopenable_file_sink.h"

namespace brokerd::server {

namespace {

std::mutex g_file_sink_mutex;
std::shared_ptr<ReopenableFileSink> g_file_sink;  // the current log file, if any

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const int millis =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char ts[48];
    const int ts_length = std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                                        utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
    // dump() escapes quotes, backslashes and control characters; `replace` turns bytes that
    // are not UTF-8 into U+FFFD instead of throwing.
    const std::string text = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const auto level = spdlog::level::to_string_view(msg.level);

    append(dest, "{\"ts\":\"");
    dest.append(ts, ts + ts_length);
    append(dest, "\",\"level\":\"");
    dest.append(level.data(), level.data() + level.size());
    append(dest, "\",\"msg\":");
    append(dest, text);
    append(dest, ",\"thread\":");
    append(dest, std::to_string(msg.thread_id));
    append(dest, "}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }

 private:
  static void append(spdlog::memory_buf_t& dest, std::string_view text) {
    dest.append(text.data(), text.data() + text.size());
  }
};

}  // namespace

LogOptions log_options_from(const Settings& settings) {
  LogOptions options;
  options.level = settings.log_level;
  options.format = settings.log_format;
  options.file = settings.log_file;
  options.max_size_bytes = static_cast<uint64_t>(settings.log_max_size_mb) << 20;
  options.max_files = static_cast<size_t>(settings.log_max_files);
  return options;
}

std::unique_ptr<spdlog::formatter> make_json_formatter() { return std::make_unique<JsonFormatter>(); }

std::unique_ptr<spdlog::formatter> make_text_formatter() {
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

Status setup_logging(const LogOptions& options) {
  const spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return Status::InvalidArgument("log_level: unknown level '" + options.level + "'");
  }
  std::unique_ptr<spdlog::formatter> formatter;
  if (options.format == "json") {
    formatter = make_json_formatter();
  } else if (options.format == "text") {
    formatter = make_text_formatter();
  } else {
    return Status::InvalidArgument("log_format: unknown format '" + options.format + "'");
  }
  std::shared_ptr<ReopenableFileSink> file_sink;
  std::shared_ptr<spdlog::sinks::sink> sink;
  try {
    if (!options.file.empty()) {
      file_sink = std::make_shared<ReopenableFileSink>(options.file, options.max_size_bytes, options.max_files);
      sink = file_sink;
    } else if (options.format == "json") {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
      sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    }
  } catch (const spdlog::spdlog_ex& error) {
    return Status::Internal("cannot open log file " + options.file + ": " + error.what());
  }
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<spdlog::logger>("brokerd", std::move(sink));
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  spdlog::flush_every(std::chrono::seconds(1));  // debug lines reach the file within a second
  std::lock_guard<std::mutex> lock(g_file_sink_mutex);
  g_file_sink = std::move(file_sink);
  return Status::Ok();
}

Status reopen_log_file() {
  std::shared_ptr<ReopenableFileSink> sink;
  {
    std::lock_guard<std::mutex> lock(g_file_sink_mutex);
    sink = g_file_sink;
  }
  if (!sink) return Status::Ok();
  spdlog::info("reopening log file {}", sink->path());
  if (std::string error = sink->reopen(); !error.empty()) {
    spdlog::error("cannot reopen log file {}: {}; still writing to the old one", sink->path(), error);
    return Status::Internal("cannot reopen log file " + sink->path() + ": " + error);
  }
  spdlog::info("log file {} reopened", sink->path());
  return Status::Ok();
}

}  // namespace brokerd::server
