// How brokerctl shows a task: a JSON object for scripts (--json) and a key: value block for
// people. Both read a brokerd::TaskInfo and do no I/O beyond the stream they are given.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include <brokerd/task.h>

namespace brokerctl {

// The --json shape of a task: id, name, queue, state ("SUCCESS"...), result (parsed JSON or
// null), error (null or {type, message, traceback}), attempts, retries, max_retries,
// priority, worker, created_ms/due_ms/started_ms/finished_ms/expires_ms (Unix ms, null
// when unset), args, kwargs (parsed JSON) and history [{state, at_ms}].
nlohmann::ordered_json task_to_json(const brokerd::TaskInfo& task);

// `json` on one pretty-printed object, newline-terminated; invalid UTF-8 is replaced
// rather than throwing, since worker names and errors come from other programs.
void print_json(std::ostream& out, const nlohmann::ordered_json& json);

// The human view: one "key: value" line per field that has a value.
void print_task_human(std::ostream& out, const brokerd::TaskInfo& task);

// The error as "Type: message" (or just one of them when the other is empty).
std::string error_summary(const brokerd::TaskError& error);

// "QUEUED", "queued", ... -> the state; nullopt for anything else.
std::optional<brokerd::TaskState> parse_task_state(const std::string& text);

// Unix ms as "2024-05-01 12:00:00.123 UTC"; "-" for 0 (unset).
std::string format_timestamp(int64_t unix_ms);

}  // namespace brokerctl
