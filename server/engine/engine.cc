// Engine: producers' and readers' operations, completions, releases and heartbeats.
#include "engine/engine.h"

#include "common/uuid.h"

namespace brokerd::server {

Engine::Engine(Storage& storage, const Clock& clock, EngineOptions options)
    : storage_(storage),
      clock_(clock),
      options_(std::move(options)),
      random_(std::random_device{}()),
      batch_(storage.new_write_set()) {}

Engine::~Engine() = default;

void Engine::set_wakeup_hook(std::function<void(int64_t)> hook) {
  std::lock_guard lock(mutex_);
  wakeup_hook_ = std::move(hook);
}

Result<EnqueueOutcome> Engine::enqueue_locked(const v1::TaskSpec& spec, bool dispatch) {
  const int64_t now = clock_.now_ms();
  Result<v1::TaskRecord> built = build_record(spec, options_.limits, now);
  if (!built.ok()) return built.status();
  v1::TaskRecord& task = built.value();
  if (task.id().empty()) {
    task.set_id(make_uuid_v7(now));
  } else {
    // Idempotent by id: an existing task (also one earlier in the same batch, through
    // the operation's record cache) is reported, never duplicated or changed.
    // With authentication, an id is only idempotent for the producer that owns it: no
    // one may learn another producer's task state or take its id first.
    Result<v1::TaskRecord> existing = load_owned_task(task.id(), spec.owner());
    if (existing.ok()) return EnqueueOutcome{task.id(), existing->state(), false};
    if (existing.status().code() == StatusCode::kPermissionDenied) {
      return Status::PermissionDenied("task id " + task.id() + " is taken by another producer");
    }
    if (!existing.status().is_not_found()) return existing.status();
  }
  if (Status s = check_queue_room(task.queue(), 1); !s.ok()) return s;
  QueueState& queue = queue_state(task.queue());
  task.set_arrival_seq(take_seq());
  queue.enqueued.add(now);
  ++totals_.enqueued_total;
  if (task.due_ms() > 0) {
    make_delayed(task, v1::SCHEDULED, task.due_ms());
    emit_task_event(v1::TASK_ENQUEUED, task);
  } else {
    make_ready(task, task.arrival_seq());
    emit_task_event(v1::TASK_ENQUEUED, task);
    if (dispatch) dispatch_queue(queue);
  }
  return EnqueueOutcome{task.id(), task.state(), true};
}

Status Engine::check_queue_room(const std::string& queue, uint64_t adding) const {
  uint64_t unfinished = 0;
  if (auto it = queues_.find(queue); it != queues_.end()) {
    const v1::QueueCounters& c = it->second->counters;
    unfinished = c.ready() + c.scheduled() + c.in_flight() + c.retrying();
  }
  if (unfinished + adding <= options_.max_queue_length) return Status::Ok();
  return Status::ResourceExhausted("queue '" + queue + "' holds " + std::to_string(unfinished) +
                                   " unfinished tasks and its max_queue_length is " +
                                   std::to_string(options_.max_queue_length) + "; retry later");
}

Result<EnqueueOutcome> Engine::enqueue(const v1::TaskSpec& spec, uint64_t& ticket) {
  std::lock_guard lock(mutex_);
  if (Status s = check_writable(); !s.ok()) return s;
  Result<EnqueueOutcome> outcome = enqueue_locked(spec);
  ticket = pending_ticket();
  return outcome;
}

Result<std::vector<EnqueueOutcome>> Engine::enqueue_batch(const std::vector<const v1::TaskSpec*>& specs,
                                                          uint64_t& ticket) {
  std::lock_guard lock(mutex_);
  if (Status s = check_writable(); !s.ok()) return s;
  // Validate everything first so a bad task leaves the whole batch unapplied.
  const int64_t now = clock_.now_ms();
  std::unordered_map<std::string, uint64_t> adding;  // queue -> tasks of this batch
  for (size_t i = 0; i < specs.size(); ++i) {
    Result<v1::TaskRecord> built = build_record(*specs[i], options_.limits, now);
    if (!built.ok()) {
      return Status::InvalidArgument("tasks[" + std::to_string(i) + "]: " + built.status().message());
    }
    ++adding[built->queue()];
    if (!specs[i]->id().empty()) {
      // The one other way a task can be refused once validated: caught here, before
      // anything is applied, so the batch stays all or nothing.
      Result<v1::TaskRecord> existing = load_owned_task(specs[i]->id(), specs[i]->owner());
      if (existing.status().code() == StatusCode::kPermissionDenied) {
        return Status::PermissionDenied("tasks[" + std::to_string(i) + "]: task id " + specs[i]->id() +
                                        " is taken by another producer");
      }
    }
  }
  // Also before applying anything: a full queue refuses the whole batch. Tasks that
  // turn out to exist already are counted too, which errs on the side of refusing.
  for (const auto& [name, count] : adding) {
    if (Status s = check_queue_room(name, count); !s.ok()) return s;
  }
  std::vector<EnqueueOutcome> outcomes;
  outcomes.reserve(specs.size());
  // Nothing is delivered until every task is in the pending batch: a delivery may have
  // to write (a ready-window refill reads storage, a new lease id block is synced), and
  // the batch must reach storage as one write, all or nothing.
  for (const v1::TaskSpec* spec : specs) {
    Result<EnqueueOutcome> outcome = enqueue_locked(*spec, /*dispatch=*/false);
    if (!outcome.ok()) {
      // Only a storage read can fail after validation, and memory already holds the
      // earlier tasks of this batch: refuse writes until memory is rebuilt from disk.
      enter_degraded(outcome.status());
      return outcome.status();
    }
    outcomes.push_back(std::move(outcome.value()));
  }
  ticket = pending_ticket();
  for (const auto& [name, count] : adding) dispatch_queue(queue_state(name));
  return outcomes;
}

Status Engine::check_lease_held(ConsumerId consumer, const std::string& task_id, uint64_t lease_id) {
  auto lease = leases_.find(task_id);
  if (lease != leases_.end() && lease->second.consumer == consumer && lease->second.lease_id == lease_id) {
    return Status::Ok();
  }
  // A late report on a lease that expired (an outcome or a release) frees the credit it
  // was still using.
  if (auto holder = consumers_.find(consumer);
      holder != consumers_.end() && holder->second.expired_leases.erase(lease_id) > 0) {
    dispatch_consumer(holder->second);
  }
  Result<v1::TaskRecord> task = load_task(task_id);
  if (!task.ok()) return task.status();
  return Status::StaleLease("lease " + std::to_string(lease_id) + " of task " + task_id +
                            " is not held by this connection (task is " + v1::TaskState_Name(task->state()) + ")");
}

Result<v1::TaskState> Engine::complete(ConsumerId consumer, const v1::Complete& request, uint64_t& ticket) {
  std::lock_guard lock(mutex_);
  if (Status s = check_writable(); !s.ok()) return s;
  if (Status s = check_lease_held(consumer, request.task_id(), request.lease_id()); !s.ok()) return s;
  std::string result_json;
  switch (request.outcome_case()) {
    case v1::Complete::kSuccess:
      result_json = request.success().result_json().empty() ? "null" : request.success().result_json();
      if (result_json.size() > options_.limits.max_payload_bytes) {
        return Status::InvalidArgument("result_json exceeds max_payload_bytes");
      }
      if (!is_valid_json(result_json)) return Status::InvalidArgument("result_json is not valid JSON");
      break;
    case v1::Complete::kFailure:
    case v1::Complete::kRetry:
      break;
    default:
      return Status::InvalidArgument("complete needs an outcome: success, failure or retry");
  }
  Result<v1::TaskRecord> loaded = load_task(request.task_id());  // STARTED, from its lease
  if (!loaded.ok()) return loaded.status();
  v1::TaskRecord& task = loaded.value();
  // The ready key stayed on disk through the lease; it goes in the same write as the outcome.
  batch_->erase(Family::kReady, release_lease(task.id()));
  Consumer& holder = consumers_.at(consumer);
  const int64_t now = clock_.now_ms();
  holder.last_seen_ms = now;
  run_time_.observe(static_cast<double>(now - task.started_ms()) / 1000.0);
  task.set_lost_leases(0);  // an outcome ends the run of lost deliveries
  QueueState& queue = queue_state(task.queue());

  if (request.outcome_case() == v1::Complete::kSuccess) {
    task.set_result_json(result_json);
    task.clear_error();
    make_terminal(task, v1::SUCCESS);
    ++holder.completed;
    ++totals_.succeeded_total;
    queue.completed.add(now);
    emit_task_event(v1::TASK_SUCCEEDED, task, holder.identity.name);
  } else {
    ++holder.failed;
    const bool asked = request.outcome_case() == v1::Complete::kRetry;
    const v1::TaskError& error = asked ? request.retry().reason() : request.failure().error();
    *task.mutable_error() = error;
    // A final failure skips the policy: the client retries only chosen errors.
    const bool final = !asked && request.failure().final();
    // The worker may bring its own retry limit for this task (bounded like the policy's).
    uint32_t limit = max_retries(task);
    if (asked ? request.retry().has_max_retries() : request.failure().has_max_retries()) {
      limit = std::min(asked ? request.retry().max_retries() : request.failure().max_retries(), kMaxRetriesLimit);
    }
    if (!final && task.retries() < limit) {
      task.set_retries(task.retries() + 1);
      int64_t delay = asked ? request.retry().countdown_ms() : 0;
      if (delay <= 0) delay = retry_delay_ms(task.retry(), task.retries(), random_);
      make_delayed(task, v1::RETRY, saturating_add(now, delay));
      ++totals_.retried_total;
      emit_task_event(v1::TASK_RETRIED, task, holder.identity.name);
    } else {
      make_terminal(task, v1::FAILURE);
      ++totals_.failed_total;
      queue.failed.add(now);
      emit_task_event(v1::TASK_FAILED, task, holder.identity.name);
    }
  }
  const v1::TaskState new_state = task.state();
  dispatch_consumer(holder);  // the completion freed a prefetch credit
  ticket = pending_ticket();
  return new_state;
}

Result<v1::TaskState> Engine::release(ConsumerId consumer, const v1::Release& request, uint64_t& ticket) {
  std::lock_guard lock(mutex_);
  auto found = consumers_.find(consumer);
  if (found == consumers_.end()) return Status::InvalidArgument("release before consume");
  if (Status s = check_writable(); !s.ok()) return s;  // a recovery there keeps every consumer
  Consumer& holder = found->second;
  if (Status s = check_lease_held(consumer, request.task_id(), request.lease_id()); !s.ok()) return s;
  holder.last_seen_ms = clock_.now_ms();
  // Back to its place, the delivery counted as an attempt and a lost lease (one write),
  // TASK_REQUEUED; FAILURE instead once it has been lost max_deliveries times in a row.
  const std::optional<std::string> queue = lose_lease(request.task_id(), LeaseLoss::kReleased);
  ticket = pending_ticket();
  Result<v1::TaskRecord> task = load_task(request.task_id());
  const v1::TaskState state = task.ok() ? task->state() : v1::QUEUED;
  // Another consumer with credit gets it first: the releasing worker said it cannot run
  // it. Then the credit it freed pulls whatever is ready for it, this task included.
  if (queue) dispatch_queue(queue_state(*queue), consumer);
  dispatch_consumer(holder);
  return state;
}

Result<HeartbeatOutcome> Engine::heartbeat(ConsumerId consumer, const std::vector<std::string>& task_ids) {
  std::lock_guard lock(mutex_);
  auto found = consumers_.find(consumer);
  if (found == consumers_.end()) return Status::InvalidArgument("heartbeat before consume");
  Consumer& holder = found->second;
  holder.last_seen_ms = clock_.now_ms();
  const int64_t deadline = clock_.steady_ms() + holder.lease_ms;
  HeartbeatOutcome outcome;
  outcome.lease_deadline_ms = wall_of(deadline);
  auto extend = [&](const std::string& id) {
    Lease& lease = leases_.at(id);
    lease_deadlines_.erase({lease.deadline, id});
    lease.deadline = std::min(deadline, lease.hard_deadline);  // never past the time limit
    lease_deadlines_.insert({lease.deadline, id});
  };
  if (task_ids.empty()) {
    for (const std::string& id : holder.leased) extend(id);
    return outcome;
  }
  bool freed = false;
  for (const std::string& id : task_ids) {
    if (holder.leased.count(id)) {
      extend(id);
      continue;
    }
    outcome.lost_task_ids.push_back(id);
    // The worker now knows it lost this task and drops its outcome: the credit an
    // expired lease on it still used is free (protocol.md §7).
    freed |= std::erase_if(holder.expired_leases, [&](const auto& entry) { return entry.second == id; }) > 0;
  }
  if (freed) {
    dispatch_consumer(holder);
    if (Status s = write_pending(); !s.ok()) return s;
  }
  return outcome;
}

Result<v1::TaskRecord> Engine::load_owned_task(const std::string& id, std::string_view required_owner) {
  Result<v1::TaskRecord> task = load_task(id);
  if (task.ok() && !required_owner.empty() && task->owner() != required_owner) {
    return Status::PermissionDenied("task " + id + " was enqueued by another producer");
  }
  return task;
}

Result<v1::TaskRecord> Engine::get_task(const std::string& id, uint64_t& ticket, std::string_view required_owner) {
  std::lock_guard lock(mutex_);
  ticket = read_ticket();  // the answer may show changes not yet written
  Result<v1::TaskRecord> task = load_owned_task(id, required_owner);
  if (!task.ok() && !task.status().is_not_found() && task.status().code() != StatusCode::kPermissionDenied) {
    note_read_error("task " + id, task.status());
  }
  return task;
}

Result<std::optional<v1::TaskRecord>> Engine::wait_result(const std::string& id, ResultWaiter waiter,
                                                          WaiterId& waiter_id, uint64_t& ticket,
                                                          std::string_view required_owner) {
  std::lock_guard lock(mutex_);
  ticket = read_ticket();
  Result<v1::TaskRecord> task = load_owned_task(id, required_owner);
  if (!task.ok()) return task.status();
  if (is_terminal(task->state())) return std::optional<v1::TaskRecord>(std::move(task.value()));
  waiter_id = next_waiter_id_++;
  waiters_[id].emplace_back(waiter_id, std::move(waiter));
  waiter_tasks_[waiter_id] = id;
  return std::optional<v1::TaskRecord>();
}

bool Engine::cancel_wait(WaiterId waiter_id) {
  std::lock_guard lock(mutex_);
  auto task = waiter_tasks_.find(waiter_id);
  if (task == waiter_tasks_.end()) return false;
  auto list = waiters_.find(task->second);
  if (list != waiters_.end()) {
    std::erase_if(list->second, [&](const auto& entry) { return entry.first == waiter_id; });
    if (list->second.empty()) waiters_.erase(list);
  }
  waiter_tasks_.erase(task);
  return true;
}

}  // namespace brokerd::server
