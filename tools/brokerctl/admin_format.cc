#include "admin_format.h"

#include <cstdio>

#include "queue_format.h"
#include "table.h"
#include "task_format.h"

namespace brokerctl {
namespace {

nlohmann::ordered_json string_or_null(const std::string& text) {
  return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text);
}

void print_field(std::ostream& out, const std::string& key, const std::string& value) {
  constexpr size_t kKeyWidth = 14;  // fits "completed/s:" so values line up
  std::string label = key + ":";
  if (label.size() < kKeyWidth) label.resize(kKeyWidth, ' ');
  out << label << ' ' << value << '\n';
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// Error messages can hold newlines and run long; a table cell gets the first line, cut.
std::string one_line(const std::string& text, size_t max_chars) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max_chars) line = line.substr(0, max_chars - 3) + "...";
  return line;
}

}  // namespace

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

std::string format_duration_ms(int64_t ms) {
  if (ms < 0) ms = 0;
  const int64_t total = ms / 1000;
  const int64_t days = total / 86400;
  const int64_t hours = total / 3600 % 24;
  const int64_t minutes = total / 60 % 60;
  const int64_t seconds = total % 60;
  char text[64];
  if (days > 0) {
    std::snprintf(text, sizeof text, "%lldd %02lldh %02lldm", static_cast<long long>(days),
                  static_cast<long long>(hours), static_cast<long long>(minutes));
  } else if (hours > 0) {
    std::snprintf(text, sizeof text, "%lldh %02lldm %02llds", static_cast<long long>(hours),
                  static_cast<long long>(minutes), static_cast<long long>(seconds));
  } else if (minutes > 0) {
    std::snprintf(text, sizeof text, "%lldm %02llds", static_cast<long long>(minutes),
                  static_cast<long long>(seconds));
  } else {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(seconds));
  }
  return text;
}

nlohmann::ordered_json server_stats_to_json(const brokerd::ServerStats& stats) {
  return {{"version", stats.version},
          {"started_ms", stats.started_ms},
          {"uptime_ms", stats.uptime_ms},
          {"connections", stats.connections},
          {"consumers", stats.consumers},
          {"queues", stats.queues},
          {"sync", stats.sync},
          {"data_dir", stats.data_dir},
          {"disk_bytes", stats.disk_bytes},
          {"rss_bytes", stats.rss_bytes},
          {"totals", queue_counts_to_json(stats.totals)}};
}

void print_server_stats(std::ostream& out, const brokerd::ServerStats& stats) {
  const brokerd::QueueInfo& totals = stats.totals;
  print_field(out, "version", stats.version);
  print_field(out, "uptime", format_duration_ms(stats.uptime_ms) + " (since " +
                                 format_timestamp(stats.started_ms) + ")");
  print_field(out, "sync", stats.sync);
  print_field(out, "data dir", stats.data_dir);
  print_field(out, "disk", format_bytes(stats.disk_bytes));
  print_field(out, "memory (RSS)", format_bytes(stats.rss_bytes));
  print_field(out, "connections", std::to_string(stats.connections));
  print_field(out, "consumers", std::to_string(stats.consumers));
  print_field(out, "queues", std::to_string(stats.queues));
  print_field(out, "ready", std::to_string(totals.ready));
  print_field(out, "scheduled", std::to_string(totals.scheduled));
  print_field(out, "in flight", std::to_string(totals.in_flight));
  print_field(out, "retrying", std::to_string(totals.retrying));
  print_field(out, "dead", std::to_string(totals.dead));
  print_field(out, "succeeded", std::to_string(totals.succeeded));
  print_field(out, "failed", std::to_string(totals.failed));
  print_field(out, "revoked", std::to_string(totals.revoked));
  print_field(out, "enqueued/s", format_rate(totals.enqueued_per_s));
  print_field(out, "completed/s", format_rate(totals.completed_per_s));
  print_field(out, "failed/s", format_rate(totals.failed_per_s));
}

nlohmann::ordered_json workers_to_json(const std::vector<brokerd::WorkerInfo>& workers) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& worker : workers) {
    list.push_back({{"session_id", worker.session_id},
                    {"name", worker.name},
                    {"host", worker.host},
                    {"pid", worker.pid},
                    {"queues", worker.queues},
                    {"prefetch", worker.prefetch},
                    {"in_flight", worker.in_flight},
                    {"completed", worker.completed},
                    {"failed", worker.failed},
                    {"connected_ms", worker.connected_ms},
                    {"last_seen_ms", worker.last_seen_ms}});
  }
  return {{"workers", list}};
}

void print_workers_table(std::ostream& out, const std::vector<brokerd::WorkerInfo>& workers,
                         int64_t now_ms) {
  std::vector<TableRow> rows;
  for (const auto& worker : workers) {
    rows.push_back({worker.name, worker.host.empty() ? "-" : worker.host,
                    std::to_string(worker.pid), join(worker.queues, ","),
                    std::to_string(worker.prefetch), std::to_string(worker.in_flight),
                    std::to_string(worker.completed), std::to_string(worker.failed),
                    worker.connected_ms == 0 ? "-" : format_duration_ms(now_ms - worker.connected_ms),
                    worker.last_seen_ms == 0 ? "-"
                                             : format_duration_ms(now_ms - worker.last_seen_ms) + " ago"});
  }
  print_table(out,
              {"NAME", "HOST", "PID", "QUEUES", "PREFETCH", "IN_FLIGHT", "COMPLETED", "FAILED",
               "CONNECTED", "LAST_SEEN"},
              rows, "lllrrrrrrr");
}

void print_task_table(std::ostream& out, const std::vector<brokerd::TaskInfo>& tasks) {
  std::vector<TableRow> rows;
  for (const auto& task : tasks) {
    rows.push_back({task.id, task.name, brokerd::task_state_name(task.state),
                    std::to_string(task.attempts), format_timestamp(task.created_ms),
                    task.worker.empty() ? "-" : task.worker});
  }
  print_table(out, {"ID", "NAME", "STATE", "ATTEMPTS", "CREATED", "WORKER"}, rows, "lllrll");
}

void print_dead_table(std::ostream& out, const std::vector<brokerd::TaskInfo>& tasks) {
  std::vector<TableRow> rows;
  for (const auto& task : tasks) {
    rows.push_back({task.id, task.name, task.queue, format_timestamp(task.finished_ms),
                    std::to_string(task.attempts),
                    task.error ? one_line(error_summary(*task.error), 60) : "-"});
  }
  print_table(out, {"ID", "NAME", "QUEUE", "FAILED", "ATTEMPTS", "ERROR"}, rows, "llllrl");
}

nlohmann::ordered_json event_to_json(const brokerd::Event& event) {
  nlohmann::ordered_json error = nullptr;
  if (event.error) {
    error = {{"type", event.error->type},
             {"message", event.error->message},
             {"traceback", event.error->traceback}};
  }
  return {{"kind", brokerd::event_kind_name(event.kind)},
          {"at_ms", event.at_ms},
          {"task_id", string_or_null(event.task_id)},
          {"task_name", string_or_null(event.task_name)},
          {"queue", string_or_null(event.queue)},
          {"attempt", event.attempt},
          {"worker", string_or_null(event.worker)},
          {"runtime_ms", event.runtime_ms},
          {"error", error},
          {"host", string_or_null(event.host)},
          {"pid", event.pid}};
}

nlohmann::ordered_json events_missed_to_json(const brokerd::EventsMissed& missed) {
  return {{"kind", "EVENTS_MISSED"}, {"count", missed.count}};
}

std::string event_line(const brokerd::Event& event) {
  using brokerd::EventKind;
  char kind[24];
  std::snprintf(kind, sizeof kind, "%-14s", brokerd::event_kind_name(event.kind));
  std::string line = format_timestamp(event.at_ms) + "  " + kind;
  const bool worker_event =
      event.kind == EventKind::kWorkerOnline || event.kind == EventKind::kWorkerOffline;
  if (worker_event) {
    line += "  " + (event.worker.empty() ? std::string("-") : event.worker);
    if (!event.host.empty()) line += " host=" + event.host;
    if (event.pid != 0) line += " pid=" + std::to_string(event.pid);
    return line;
  }
  line += "  " + (event.queue.empty() ? std::string("-") : event.queue) + "  " + event.task_name +
          "  " + event.task_id;
  if (event.attempt != 0) line += " attempt=" + std::to_string(event.attempt);
  if (!event.worker.empty()) line += " worker=" + event.worker;
  const bool outcome = event.kind == EventKind::kTaskSucceeded ||
                       event.kind == EventKind::kTaskFailed || event.kind == EventKind::kTaskRetried;
  if (outcome) line += " runtime=" + std::to_string(event.runtime_ms) + "ms";
  if (event.error) line += " error=\"" + one_line(error_summary(*event.error), 200) + "\"";
  return line;
}

std::string events_missed_line(const brokerd::EventsMissed& missed) {
  return "... " + std::to_string(missed.count) + " events missed";
}

}  // namespace brokerctl
