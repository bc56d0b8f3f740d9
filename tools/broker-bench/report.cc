#include "report.h"

#include <cmath>
#include <cstdio>

#include "progress.h"

namespace broker_bench {

namespace {


double micros(int64_t nanoseconds) { return round_to(static_cast<double>(nanoseconds) / 1000.0, 1); }

std::string printf_string(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

}  // namespace

double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

double per_second(uint64_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

nlohmann::json latency_json(const LatencyHistogram& histogram) {
  return {
      {"p50", micros(histogram.quantile(0.50))},   {"p90", micros(histogram.quantile(0.90))},
      {"p99", micros(histogram.quantile(0.99))},   {"p999", micros(histogram.quantile(0.999))},
      {"max", micros(histogram.max())},            {"min", micros(histogram.min())},
      {"mean", round_to(histogram.mean() / 1000.0, 1)}, {"count", histogram.count()},
  };
}

std::string format_ns(int64_t nanoseconds) {
  const double value = static_cast<double>(nanoseconds);
  if (value < 1e6) return printf_string("%.0f us", value / 1e3);
  if (value < 1e9) return printf_string("%.2f ms", value / 1e6);
  return printf_string("%.2f s", value / 1e9);
}

std::string latency_text(const LatencyHistogram& histogram) {
  if (histogram.count() == 0) return "no samples";
  return "p50 " + format_ns(histogram.quantile(0.50)) + "  p90 " + format_ns(histogram.quantile(0.90)) +
         "  p99 " + format_ns(histogram.quantile(0.99)) + "  p99.9 " + format_ns(histogram.quantile(0.999)) +
         "  max " + format_ns(histogram.max()) + "  (" + with_commas(histogram.count()) + " samples)";
}

std::string format_bytes(uint64_t bytes) {
  const double value = static_cast<double>(bytes);
  if (value < 1024.0 * 1024) return printf_string("%.1f KiB", value / 1024);
  if (value < 1024.0 * 1024 * 1024) return printf_string("%.1f MiB", value / (1024.0 * 1024));
  return printf_string("%.2f GiB", value / (1024.0 * 1024 * 1024));
}

nlohmann::json report_json(const Report& report, const nlohmann::json& run) {
  nlohmann::json out = {
      {"scenario", report.scenario},
      {"completed", report.completed},
      {"tasks", report.tasks},
      {"tasks_requested", report.tasks_requested},
      {"seconds", round_to(report.seconds, 4)},
      {"tasks_per_s", std::round(per_second(report.tasks, report.seconds))},
      {"latency_us", latency_json(report.latency)},
      {"latency_measure", report.latency_measure},
      {"errors", report.errors},
  };
  if (!report.first_error.empty()) out["first_error"] = report.first_error;
  for (const auto& [key, value] : report.details.items()) out[key] = value;
  for (const auto& [key, value] : run.items()) out[key] = value;
  return out;
}

std::string report_text(const Report& report, const nlohmann::json& run) {
  std::string out;
  out += "broker-bench " + report.scenario + ": " + with_commas(report.tasks) + " tasks in " +
         printf_string("%.3f", report.seconds) + " s = " +
         with_commas(static_cast<uint64_t>(std::round(per_second(report.tasks, report.seconds)))) + " tasks/s";
  out += report.completed ? "\n" : "  (NOT COMPLETED: " + with_commas(report.tasks_requested) + " requested)\n";
  out += "  latency: " + latency_text(report.latency) + "\n";
  out += "           (" + report.latency_measure + ")\n";
  for (const std::string& line : report.human_lines) out += "  " + line + "\n";
  if (report.errors > 0 || !report.first_error.empty()) {
    out += "  errors: " + with_commas(report.errors) + (report.first_error.empty() ? "" : "; first: " + report.first_error) +
           "\n";
  }
  if (run.contains("config")) {
    const auto& config = run["config"];
    out += "  config: " + config.dump() + "\n";
  }
  if (run.contains("server")) {
    const auto& server = run["server"];
    if (server.value("spawned", false) && server.contains("cpu_seconds")) {
      out += "  server: spawned brokerd pid " + std::to_string(server.value("pid", 0)) + ", sync " +
             server.value("sync", std::string("?")) + ": cpu " +
             printf_string("%.2f", server.value("cpu_seconds", 0.0)) + " s (user " +
             printf_string("%.2f", server.value("cpu_user_seconds", 0.0)) + ", sys " +
             printf_string("%.2f", server.value("cpu_system_seconds", 0.0)) + "), peak RSS " +
             format_bytes(server.value("peak_rss_bytes", uint64_t{0})) + "\n";
    } else {
      out += "  server: " + server.value("address", std::string("?")) + "\n";
    }
  }
  if (run.contains("bench_cpu_seconds")) {
    out += "  bench cpu: " + printf_string("%.2f", run.value("bench_cpu_seconds", 0.0)) + " s\n";
  }
  return out;
}

}  // namespace broker_bench
