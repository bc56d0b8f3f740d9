// Engine: task and worker events for subscribers, and the debug log of each transition.
#include <spdlog/spdlog.h>

#include "engine/engine.h"

namespace brokerd::server {

void Engine::emit_task_event(v1::EventKind kind, const v1::TaskRecord& task, const std::string& worker) {
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("task {} {} ({} on queue {}, attempt {})", task.id(), v1::TaskState_Name(task.state()), task.name(),
                  task.queue(), task.attempts());
  }
  if (!events_.active()) return;
  v1::Event event;
  event.set_kind(kind);
  event.set_at_ms(clock_.now_ms());
  event.set_task_id(task.id());
  event.set_task_name(task.name());
  event.set_queue(task.queue());
  event.set_worker(worker.empty() ? task.worker() : worker);
  event.set_attempt(task.attempts());
  if (kind == v1::TASK_FAILED || kind == v1::TASK_RETRIED) *event.mutable_error() = task.error();
  if (task.started_ms() > 0 && (kind == v1::TASK_SUCCEEDED || kind == v1::TASK_FAILED || kind == v1::TASK_RETRIED)) {
    event.set_runtime_ms(event.at_ms() - task.started_ms());
  }
  events_.publish(event);
}

void Engine::emit_worker_event(v1::EventKind kind, const Consumer& consumer) {
  spdlog::debug("worker {} (host {}, pid {}) {}", consumer.identity.name, consumer.identity.host, consumer.identity.pid,
                kind == v1::WORKER_ONLINE ? "online" : "offline");
  if (!events_.active()) return;
  v1::Event event;
  event.set_kind(kind);
  event.set_at_ms(clock_.now_ms());
  event.set_worker(consumer.identity.name);
  event.set_host(consumer.identity.host);
  event.set_pid(consumer.identity.pid);
  events_.publish(event);
}

}  // namespace brokerd::server
