// Conversions between the public task structs (brokerd/task.h) and the wire messages.
// Pure functions: no I/O, no state; unit-tested in tests/client/task_conversions_test.cc.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "broker.pb.h"
#include "brokerd/task.h"

namespace brokerd::internal {

// TaskRequest -> TaskSpec. args/kwargs become JSON text (null becomes "", the server's
// default); an ETA wins over the countdown and is sent as Unix ms (at least 1, since 0
// means unset); unset retry fields stay unset so the server's defaults apply.
v1::TaskSpec to_task_spec(const TaskRequest& request);

TaskState from_wire_state(v1::TaskState state);
TaskInfo to_task_info(const v1::TaskRecord& record);
EnqueueReceipt to_receipt(const v1::EnqueueOk& reply);
QueueInfo to_queue_info(const v1::QueueStats& stats);

// JSON text for `value` that never throws: invalid UTF-8 in strings is replaced with
// U+FFFD rather than failing the call.
std::string dump_json(const nlohmann::json& value);

}  // namespace brokerd::internal
