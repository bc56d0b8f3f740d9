// RequestRouter: the operator requests (revoke, purge, dead letters, listings, workers,
// server statistics) and event subscriptions.
#include "handlers/error_mapping.h"
#include "handlers/request_router.h"

namespace brokerd::server {

namespace {
constexpr size_t kDefaultListLimit = 100;
constexpr size_t kDefaultBulkLimit = 1000;

std::vector<std::string> to_vector(const google::protobuf::RepeatedPtrField<std::string>& items) {
  return {items.begin(), items.end()};
}
}  // namespace

Result<size_t> RequestRouter::list_limit(uint32_t requested, size_t fallback) const {
  if (requested == 0) return fallback;
  if (requested > options_.max_list_limit) {
    return Status::InvalidArgument("limit must be 1.." + std::to_string(options_.max_list_limit));
  }
  return static_cast<size_t>(requested);
}

void RequestRouter::on_revoke(ClientSession& session, v1::Envelope& request) {
  uint64_t ticket = 0;
  Result<RevokeOutcome> outcome = engine_.revoke(request.revoke().id(), ticket);
  if (!outcome.ok()) return reply_status(session, request.id(), outcome.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  reply.mutable_revoke_ok()->set_state(outcome->state);
  reply.mutable_revoke_ok()->set_was_started(outcome->was_started);
  session.reply_after_flush(ticket, reply);
}

void RequestRouter::on_purge(ClientSession& session, v1::Envelope& request) {
  Result<size_t> limit = list_limit(request.purge().limit(), kDefaultBulkLimit);
  if (!limit.ok()) return reply_status(session, request.id(), limit.status());
  uint64_t ticket = 0;
  Result<PurgeOutcome> outcome = engine_.purge(request.purge().queue(), limit.value(), ticket);
  if (!outcome.ok()) return reply_status(session, request.id(), outcome.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  reply.mutable_purge_ok()->set_removed(outcome->removed);
  reply.mutable_purge_ok()->set_remaining(outcome->remaining);
  session.reply_after_flush(ticket, reply);
}

void RequestRouter::on_list_dead(ClientSession& session, v1::Envelope& request) {
  Result<size_t> limit = list_limit(request.list_dead().limit(), kDefaultListLimit);
  if (!limit.ok()) return reply_status(session, request.id(), limit.status());
  uint64_t ticket = 0;
  Result<std::vector<v1::TaskRecord>> tasks = engine_.dead_list(request.list_dead().queue(), limit.value(), ticket);
  if (!tasks.ok()) return reply_status(session, request.id(), tasks.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  v1::TaskList* list = reply.mutable_task_list();  // set even when empty: it is the reply's kind
  for (v1::TaskRecord& task : tasks.value()) *list->add_tasks() = std::move(task);
  session.reply_after_flush(ticket, reply);  // never a state a crash could take back
}

namespace {
template <typename Request, typename Operation>
void dead_operation(ClientSession& session, uint64_t request_id, const Request& body, Result<size_t> limit,
                    Operation operation) {
  auto fail = [&](const Status& status) { session.fail_request(request_id, to_wire_error(status.code()), status.message()); };
  if (!limit.ok()) return fail(limit.status());
  if (body.all() == (body.ids_size() > 0)) {
    return fail(Status::InvalidArgument("name task ids or set `all`, not both or neither"));
  }
  uint64_t ticket = 0;
  Result<DeadOpOutcome> outcome = operation(to_vector(body.ids()), body.queue(), limit.value(), ticket);
  if (!outcome.ok()) return fail(outcome.status());
  v1::Envelope reply;
  reply.set_id(request_id);
  reply.mutable_dead_op_ok()->set_count(outcome->count);
  for (const std::string& id : outcome->not_dead_ids) reply.mutable_dead_op_ok()->add_not_dead_ids(id);
  session.reply_after_flush(ticket, reply);
}
}  // namespace

void RequestRouter::on_dead_requeue(ClientSession& session, v1::Envelope& request) {
  const v1::DeadRequeue& body = request.dead_requeue();
  dead_operation(session, request.id(), body, list_limit(body.limit(), kDefaultBulkLimit),
                 [this](auto&&... args) { return engine_.dead_requeue(args...); });
}

void RequestRouter::on_dead_delete(ClientSession& session, v1::Envelope& request) {
  const v1::DeadDelete& body = request.dead_delete();
  dead_operation(session, request.id(), body, list_limit(body.limit(), kDefaultBulkLimit),
                 [this](auto&&... args) { return engine_.dead_delete(args...); });
}

void RequestRouter::on_list_tasks(ClientSession& session, v1::Envelope& request) {
  const v1::ListTasks& body = request.list_tasks();
  Result<size_t> limit = list_limit(body.limit(), kDefaultListLimit);
  if (!limit.ok()) return reply_status(session, request.id(), limit.status());
  if (!v1::TaskState_IsValid(body.state())) {
    return reply_status(session, request.id(), Status::InvalidArgument("unknown task state"));
  }
  uint64_t ticket = 0;
  Result<TaskListing> listing = engine_.list_tasks(body.queue(), body.state(), limit.value(), ticket);
  if (!listing.ok()) return reply_status(session, request.id(), listing.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  v1::TaskList* list = reply.mutable_task_list();
  for (v1::TaskRecord& task : listing->tasks) *list->add_tasks() = std::move(task);
  list->set_truncated(listing->truncated);
  session.reply_after_flush(ticket, reply);  // never a state a crash could take back
}

void RequestRouter::on_get_workers(ClientSession& session, v1::Envelope& request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  v1::WorkersReply* workers = reply.mutable_workers();  // set even when nobody consumes
  for (v1::WorkerInfo& worker : engine_.workers()) *workers->add_workers() = std::move(worker);
  session.send(reply);
}

void RequestRouter::on_get_server_stats(ClientSession& session, v1::Envelope& request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  v1::ServerStats* stats = reply.mutable_server_stats();
  stats->set_version(options_.server_version);
  const EngineSnapshot snapshot = engine_.snapshot();
  v1::QueueStats* totals = stats->mutable_totals();
  for (const v1::QueueStats& queue : snapshot.queues) {
    totals->set_ready(totals->ready() + queue.ready());
    totals->set_scheduled(totals->scheduled() + queue.scheduled());
    totals->set_in_flight(totals->in_flight() + queue.in_flight());
    totals->set_retrying(totals->retrying() + queue.retrying());
    totals->set_succeeded(totals->succeeded() + queue.succeeded());
    totals->set_failed(totals->failed() + queue.failed());
    totals->set_dead(totals->dead() + queue.dead());
    totals->set_revoked(totals->revoked() + queue.revoked());
    totals->set_consumers(totals->consumers() + queue.consumers());
    totals->set_enqueued_per_s(totals->enqueued_per_s() + queue.enqueued_per_s());
    totals->set_completed_per_s(totals->completed_per_s() + queue.completed_per_s());
    totals->set_failed_per_s(totals->failed_per_s() + queue.failed_per_s());
  }
  stats->set_queues(static_cast<uint32_t>(snapshot.queues.size()));
  stats->set_consumers(static_cast<uint32_t>(snapshot.consumers));
  if (options_.fill_server_stats) options_.fill_server_stats(*stats);
  session.send(reply);
}

void RequestRouter::on_subscribe(ClientSession& session, v1::Envelope& request) {
  // The filter is held for the connection's life: bounded like a Consume's queues.
  if (static_cast<size_t>(request.subscribe().queues_size()) > options_.max_subscribe_queues) {
    return reply_status(session, request.id(),
                        Status::InvalidArgument("a subscribe may name at most " +
                                                std::to_string(options_.max_subscribe_queues) +
                                                " queues (max_consume_queues)"));
  }
  for (const std::string& queue : request.subscribe().queues()) {
    if (Status s = validate_queue_name(queue); !s.ok()) return reply_status(session, request.id(), s);
  }
  v1::Envelope reply;
  reply.set_id(request.id());
  reply.mutable_subscribe_ok()->set_buffer_events(static_cast<uint32_t>(options_.event_buffer));
  // The reply goes out before any event: both use the same outbound buffer, in order.
  session.send(reply);
  session.subscribe_events(to_vector(request.subscribe().queues()));
}

}  // namespace brokerd::server
