#include "task_format.h"

#include <cctype>
#include <ctime>
#include <cstdio>
#include <sstream>
#include <string_view>

namespace brokerctl {
namespace {

// Stored JSON text back into a value. The broker validates args and kwargs, but a record
// is shown even if something unexpected is stored: fall back to the raw string.
nlohmann::json parse_stored_json(const std::string& text, nlohmann::json if_empty) {
  if (text.empty()) return if_empty;
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return text;
  return parsed;
}

nlohmann::json timestamp_or_null(int64_t unix_ms) {
  return unix_ms == 0 ? nlohmann::json(nullptr) : nlohmann::json(unix_ms);
}

std::string dump_compact(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void print_field(std::ostream& out, std::string_view key, std::string_view value) {
  constexpr size_t kKeyWidth = 11;  // fits "traceback:" so values line up
  std::string label = std::string(key) + ":";
  if (label.size() < kKeyWidth) label.resize(kKeyWidth, ' ');
  out << label << ' ' << value << '\n';
}

}  // namespace

nlohmann::ordered_json task_to_json(const brokerd::TaskInfo& task) {
  // ordered_json keeps the fields in this order (id first), which people reading --json
  // output expect; scripts do not care.
  nlohmann::ordered_json error = nullptr;
  if (task.error) {
    error = {{"type", task.error->type},
             {"message", task.error->message},
             {"traceback", task.error->traceback}};
  }
  nlohmann::ordered_json history = nlohmann::ordered_json::array();
  for (const auto& transition : task.history) {
    history.push_back(
        {{"state", brokerd::task_state_name(transition.state)}, {"at_ms", transition.at_ms}});
  }
  return {
      {"id", task.id},
      {"name", task.name},
      {"queue", task.queue},
      {"state", brokerd::task_state_name(task.state)},
      {"result", task.state == brokerd::TaskState::kSuccess ? task.result() : nullptr},
      {"error", error},
      {"attempts", task.attempts},
      {"retries", task.retries},
      {"max_retries", task.max_retries},
      {"lost_leases", task.lost_leases},
      {"max_deliveries", task.max_deliveries == 0 ? nlohmann::ordered_json(nullptr)
                                                  : nlohmann::ordered_json(task.max_deliveries)},
      {"time_limit_ms", task.time_limit_ms == 0 ? nlohmann::ordered_json(nullptr)
                                                : nlohmann::ordered_json(task.time_limit_ms)},
      {"soft_time_limit_ms", task.soft_time_limit_ms == 0 ? nlohmann::ordered_json(nullptr)
                                                          : nlohmann::ordered_json(task.soft_time_limit_ms)},
      {"priority", task.priority},
      {"worker", task.worker.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(task.worker)},
      {"created_ms", timestamp_or_null(task.created_ms)},
      {"due_ms", timestamp_or_null(task.due_ms)},
      {"started_ms", timestamp_or_null(task.started_ms)},
      {"finished_ms", timestamp_or_null(task.finished_ms)},
      {"expires_ms", timestamp_or_null(task.expires_ms)},
      {"args", parse_stored_json(task.args_json, nlohmann::json::array())},
      {"kwargs", parse_stored_json(task.kwargs_json, nlohmann::json::object())},
      {"history", history},
  };
}

void print_json(std::ostream& out, const nlohmann::ordered_json& json) {
  out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

void print_task_human(std::ostream& out, const brokerd::TaskInfo& task) {
  using brokerd::TaskState;
  print_field(out, "id", task.id);
  print_field(out, "name", task.name);
  print_field(out, "queue", task.queue);
  print_field(out, "state", brokerd::task_state_name(task.state));
  print_field(out, "priority", std::to_string(task.priority));
  print_field(out, "attempts", std::to_string(task.attempts));
  print_field(out, "retries",
              std::to_string(task.retries) + " of " + std::to_string(task.max_retries));
  if (task.lost_leases > 0 || task.max_deliveries > 0) {
    print_field(out, "lost",
                std::to_string(task.lost_leases) + " leases of " +
                    (task.max_deliveries > 0 ? std::to_string(task.max_deliveries) : "the broker's max_deliveries"));
  }
  if (task.time_limit_ms > 0 || task.soft_time_limit_ms > 0) {
    print_field(out, "time limit",
                (task.time_limit_ms > 0 ? std::to_string(task.time_limit_ms) + " ms" : "-") + " (soft " +
                    (task.soft_time_limit_ms > 0 ? std::to_string(task.soft_time_limit_ms) + " ms" : "-") + ")");
  }
  print_field(out, "worker", task.worker.empty() ? "-" : task.worker);
  print_field(out, "created", format_timestamp(task.created_ms));
  // Only a waiting task has a meaningful due time; on others it is history.
  if (task.state == TaskState::kScheduled || task.state == TaskState::kRetry) {
    print_field(out, "due", format_timestamp(task.due_ms));
  }
  print_field(out, "started", format_timestamp(task.started_ms));
  print_field(out, "finished", format_timestamp(task.finished_ms));
  if (task.expires_ms != 0) print_field(out, "expires", format_timestamp(task.expires_ms));
  print_field(out, "args", dump_compact(parse_stored_json(task.args_json, nlohmann::json::array())));
  print_field(out, "kwargs",
              dump_compact(parse_stored_json(task.kwargs_json, nlohmann::json::object())));
  if (task.state == TaskState::kSuccess) print_field(out, "result", dump_compact(task.result()));
  if (task.error) {
    print_field(out, "error", error_summary(*task.error));
    if (!task.error->traceback.empty()) {
      print_field(out, "traceback", "");
      std::istringstream lines(task.error->traceback);
      for (std::string line; std::getline(lines, line);) out << "  " << line << '\n';
    }
  }
}

std::string error_summary(const brokerd::TaskError& error) {
  if (error.type.empty()) return error.message;
  if (error.message.empty()) return error.type;
  return error.type + ": " + error.message;
}

std::string format_timestamp(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  int millis = static_cast<int>(unix_ms % 1000);
  if (millis < 0) {  // before 1970: keep the milliseconds positive
    millis += 1000;
    seconds -= 1;
  }
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &utc);
  char text[48];
  std::snprintf(text, sizeof text, "%s.%03d UTC", date, millis);
  return text;
}

std::optional<brokerd::TaskState> parse_task_state(const std::string& text) {
  using brokerd::TaskState;
  for (TaskState state : {TaskState::kQueued, TaskState::kScheduled, TaskState::kStarted,
                          TaskState::kRetry, TaskState::kSuccess, TaskState::kFailure,
                          TaskState::kRevoked}) {
    const std::string name = brokerd::task_state_name(state);
    if (name.size() != text.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = name[i] == std::toupper(static_cast<unsigned char>(text[i]));
    }
    if (same) return state;
  }
  return std::nullopt;
}

}  // namespace brokerctl
