// Conversions between the public task structs (brokerd/task.h) and the wire messages.
// Pure functions: no I/O, no state; unit-tested in tests/client/task_conversions_test.cc.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "broker.pb.h"
#include "brokerd/admin.h"
#include "brokerd/events.h"
#include "brokerd/task.h"

namespace brokerd::internal {

// TaskRequest -> TaskSpec. args/kwargs become JSON text (null becomes "", the server's
// default); an ETA wins over the countdown and is sent as Unix ms (at least 1, since 0
// means unset); unset retry fields stay unset so the server's defaults apply.
v1::TaskSpec to_task_spec(const TaskRequest& request);

TaskState from_wire_state(v1::TaskState state);
// kUnknown -> TASK_STATE_UNSPECIFIED.
v1::TaskState to_wire_state(TaskState state);
TaskInfo to_task_info(const v1::TaskRecord& record);
EnqueueReceipt to_receipt(const v1::EnqueueOk& reply);
QueueInfo to_queue_info(const v1::QueueStats& stats);
WorkerInfo to_worker_info(const v1::WorkerInfo& worker);
ServerStats to_server_stats(const v1::ServerStats& stats);
DeadOpOutcome to_dead_op_outcome(const v1::DeadOpOk& reply);
EventKind from_wire_event_kind(v1::EventKind kind);
Event to_event(const v1::Event& event);

// JSON text for `value` that never throws: invalid UTF-8 in strings is replaced with
// U+FFFD rather than failing the call.
std::string dump_json(const nlohmann::json& value);

}  // namespace brokerd::internal
