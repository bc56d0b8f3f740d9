#include "task_conversions.h"

#include <algorithm>

namespace brokerd::internal {

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

v1::TaskSpec to_task_spec(const TaskRequest& request) {
  const TaskOptions& options = request.options;
  v1::TaskSpec spec;
  spec.set_id(options.id);
  spec.set_name(request.name);
  spec.set_queue(options.queue);
  // A null args/kwargs (e.g. `.args = nullptr`) means "none": the server fills [] / {}.
  if (!request.args.is_null()) spec.set_args_json(dump_json(request.args));
  if (!request.kwargs.is_null()) spec.set_kwargs_json(dump_json(request.kwargs));
  spec.set_priority(options.priority);
  spec.set_countdown_ms(options.countdown.count());
  if (options.eta.has_value()) {
    const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(
        options.eta->time_since_epoch());
    // eta_ms 0 means "unset" on the wire; an ETA at or before the epoch is simply in the
    // past (due now), and must still win over the countdown.
    spec.set_eta_ms(std::max<int64_t>(1, since_epoch.count()));
  }
  const RetryPolicy& retry = options.retry;
  if (retry.max_retries || retry.backoff_base || retry.backoff_max || retry.jitter) {
    v1::RetryPolicy* wire = spec.mutable_retry();
    if (retry.max_retries) wire->set_max_retries(*retry.max_retries);
    if (retry.backoff_base) wire->set_backoff_base_ms(retry.backoff_base->count());
    if (retry.backoff_max) wire->set_backoff_max_ms(retry.backoff_max->count());
    if (retry.jitter) wire->set_jitter(*retry.jitter);
  }
  spec.set_result_ttl_ms(options.result_ttl.count());
  spec.set_time_limit_ms(options.time_limit.count());
  spec.set_soft_time_limit_ms(options.soft_time_limit.count());
  spec.set_max_deliveries(options.max_deliveries);
  return spec;
}

TaskState from_wire_state(v1::TaskState state) {
  switch (state) {
    case v1::QUEUED: return TaskState::kQueued;
    case v1::SCHEDULED: return TaskState::kScheduled;
    case v1::STARTED: return TaskState::kStarted;
    case v1::RETRY: return TaskState::kRetry;
    case v1::SUCCESS: return TaskState::kSuccess;
    case v1::FAILURE: return TaskState::kFailure;
    case v1::REVOKED: return TaskState::kRevoked;
    default: return TaskState::kUnknown;
  }
}

v1::TaskState to_wire_state(TaskState state) {
  switch (state) {
    case TaskState::kQueued: return v1::QUEUED;
    case TaskState::kScheduled: return v1::SCHEDULED;
    case TaskState::kStarted: return v1::STARTED;
    case TaskState::kRetry: return v1::RETRY;
    case TaskState::kSuccess: return v1::SUCCESS;
    case TaskState::kFailure: return v1::FAILURE;
    case TaskState::kRevoked: return v1::REVOKED;
    case TaskState::kUnknown: break;
  }
  return v1::TASK_STATE_UNSPECIFIED;
}

TaskInfo to_task_info(const v1::TaskRecord& record) {
  TaskInfo info;
  info.id = record.id();
  info.name = record.name();
  info.queue = record.queue();
  info.args_json = record.args_json();
  info.kwargs_json = record.kwargs_json();
  info.priority = record.priority();
  info.state = from_wire_state(record.state());
  info.attempts = record.attempts();
  info.retries = record.retries();
  info.max_retries = record.retry().max_retries();  // unset reads as 0, the server default
  info.lost_leases = record.lost_leases();
  info.max_deliveries = record.max_deliveries();
  info.time_limit_ms = record.time_limit_ms();
  info.soft_time_limit_ms = record.soft_time_limit_ms();
  info.created_ms = record.created_ms();
  info.due_ms = record.due_ms();
  info.started_ms = record.started_ms();
  info.finished_ms = record.finished_ms();
  info.expires_ms = record.expires_ms();
  info.worker = record.worker();
  info.result_json = record.result_json();
  if (record.has_error()) {
    info.error = TaskError{record.error().type(), record.error().message(),
                           record.error().traceback()};
  }
  info.history.reserve(record.history_size());
  for (const v1::Transition& t : record.history()) {
    info.history.push_back(TaskTransition{from_wire_state(t.state()), t.at_ms()});
  }
  return info;
}

EnqueueReceipt to_receipt(const v1::EnqueueOk& reply) {
  return EnqueueReceipt{reply.id(), from_wire_state(reply.state()), reply.created()};
}

QueueInfo to_queue_info(const v1::QueueStats& stats) {
  QueueInfo info;
  info.name = stats.name();
  info.ready = stats.ready();
  info.scheduled = stats.scheduled();
  info.in_flight = stats.in_flight();
  info.retrying = stats.retrying();
  info.consumers = stats.consumers();
  info.succeeded = stats.succeeded();
  info.failed = stats.failed();
  info.dead = stats.dead();
  info.revoked = stats.revoked();
  info.enqueued_per_s = stats.enqueued_per_s();
  info.completed_per_s = stats.completed_per_s();
  info.failed_per_s = stats.failed_per_s();
  return info;
}

WorkerInfo to_worker_info(const v1::WorkerInfo& worker) {
  WorkerInfo info;
  info.session_id = worker.session_id();
  info.name = worker.name();
  info.host = worker.host();
  info.pid = worker.pid();
  info.queues.assign(worker.queues().begin(), worker.queues().end());
  info.prefetch = worker.prefetch();
  info.in_flight = worker.in_flight();
  info.completed = worker.completed();
  info.failed = worker.failed();
  info.connected_ms = worker.connected_ms();
  info.last_seen_ms = worker.last_seen_ms();
  return info;
}

ServerStats to_server_stats(const v1::ServerStats& stats) {
  ServerStats out;
  out.version = stats.version();
  out.started_ms = stats.started_ms();
  out.uptime_ms = stats.uptime_ms();
  out.connections = stats.connections();
  out.consumers = stats.consumers();
  out.queues = stats.queues();
  out.sync = stats.sync();
  out.data_dir = stats.data_dir();
  out.disk_bytes = stats.disk_bytes();
  out.rss_bytes = stats.rss_bytes();
  out.totals = to_queue_info(stats.totals());
  return out;
}

DeadOpOutcome to_dead_op_outcome(const v1::DeadOpOk& reply) {
  DeadOpOutcome out;
  out.count = reply.count();
  out.not_dead_ids.assign(reply.not_dead_ids().begin(), reply.not_dead_ids().end());
  return out;
}

EventKind from_wire_event_kind(v1::EventKind kind) {
  switch (kind) {
    case v1::TASK_ENQUEUED: return EventKind::kTaskEnqueued;
    case v1::TASK_STARTED: return EventKind::kTaskStarted;
    case v1::TASK_SUCCEEDED: return EventKind::kTaskSucceeded;
    case v1::TASK_FAILED: return EventKind::kTaskFailed;
    case v1::TASK_RETRIED: return EventKind::kTaskRetried;
    case v1::TASK_REVOKED: return EventKind::kTaskRevoked;
    case v1::TASK_REQUEUED: return EventKind::kTaskRequeued;
    case v1::WORKER_ONLINE: return EventKind::kWorkerOnline;
    case v1::WORKER_OFFLINE: return EventKind::kWorkerOffline;
    default: return EventKind::kUnknown;
  }
}

Event to_event(const v1::Event& event) {
  Event out;
  out.kind = from_wire_event_kind(event.kind());
  out.at_ms = event.at_ms();
  out.task_id = event.task_id();
  out.task_name = event.task_name();
  out.queue = event.queue();
  out.attempt = event.attempt();
  if (event.has_error()) {
    out.error = TaskError{event.error().type(), event.error().message(), event.error().traceback()};
  }
  out.runtime_ms = event.runtime_ms();
  out.worker = event.worker();
  out.host = event.host();
  out.pid = event.pid();
  return out;
}

}  // namespace brokerd::internal
