#include "handlers/request_router.h"

#include <spdlog/spdlog.h>

#include "frame_codec.h"
#include "handlers/error_mapping.h"
#include "logging/log_throttle.h"

namespace brokerd::server {

RequestRouter::RequestRouter(Engine& engine, RouterOptions options) : engine_(engine), options_(std::move(options)) {
  table_[v1::Envelope::kHello] = &RequestRouter::on_hello;
  table_[v1::Envelope::kPing] = &RequestRouter::on_ping;
  table_[v1::Envelope::kEnqueue] = &RequestRouter::on_enqueue;
  table_[v1::Envelope::kEnqueueBatch] = &RequestRouter::on_enqueue_batch;
  table_[v1::Envelope::kConsume] = &RequestRouter::on_consume;
  table_[v1::Envelope::kComplete] = &RequestRouter::on_complete;
  table_[v1::Envelope::kHeartbeat] = &RequestRouter::on_heartbeat;
  table_[v1::Envelope::kRelease] = &RequestRouter::on_release;
  table_[v1::Envelope::kGetTask] = &RequestRouter::on_get_task;
  table_[v1::Envelope::kWaitResult] = &RequestRouter::on_wait_result;
  table_[v1::Envelope::kGetQueueStats] = &RequestRouter::on_queue_stats;
  table_[v1::Envelope::kRevoke] = &RequestRouter::on_revoke;
  table_[v1::Envelope::kPurge] = &RequestRouter::on_purge;
  table_[v1::Envelope::kListDead] = &RequestRouter::on_list_dead;
  table_[v1::Envelope::kDeadRequeue] = &RequestRouter::on_dead_requeue;
  table_[v1::Envelope::kDeadDelete] = &RequestRouter::on_dead_delete;
  table_[v1::Envelope::kListTasks] = &RequestRouter::on_list_tasks;
  table_[v1::Envelope::kGetWorkers] = &RequestRouter::on_get_workers;
  table_[v1::Envelope::kGetServerStats] = &RequestRouter::on_get_server_stats;
  table_[v1::Envelope::kSubscribe] = &RequestRouter::on_subscribe;
}

void RequestRouter::handle(ClientSession& session, v1::Envelope& request) {
  const auto kind = static_cast<size_t>(request.body_case());
  const bool is_hello = request.body_case() == v1::Envelope::kHello;
  if (!session.greeted() && !is_hello) {
    session.fail_request(request.id(), v1::HANDSHAKE_REQUIRED, "the first frame must be hello");
    return;
  }
  if (session.greeted() && is_hello) {
    session.fail_request(request.id(), v1::HANDSHAKE_REQUIRED, "hello was already sent on this connection");
    return;
  }
  if (!is_hello && !role_allows(session.principal().role, request.body_case())) {
    return deny(session, request, std::string("role ") + role_name(session.principal().role) + " may not send it");
  }
  Handler handler = kind < table_.size() ? table_[kind] : nullptr;
  if (handler == nullptr) {
    session.fail_request(request.id(), v1::UNKNOWN_REQUEST,
                         request.body_case() == v1::Envelope::BODY_NOT_SET
                             ? "envelope has no body"
                             : "message kind " + std::to_string(kind) + " is not a request");
    return;
  }
  (this->*handler)(session, request);
}

void RequestRouter::reply_status(ClientSession& session, uint64_t request_id, const Status& status) {
  session.fail_request(request_id, to_wire_error(status.code()), status.message());
}

void RequestRouter::deny(ClientSession& session, const v1::Envelope& request, const std::string& why) {
  const std::string kind = v1::Envelope::descriptor()->FindFieldByNumber(request.body_case()) != nullptr
                               ? v1::Envelope::descriptor()->FindFieldByNumber(request.body_case())->name()
                               : std::to_string(request.body_case());
  // A client looping on denied requests must not flood the log: the first few are
  // logged, then every 1000th.
  const uint64_t count = session.count_denied();
  if (count <= 10 || count % 1000 == 0) {
    spdlog::warn("session {} ({}) from {}: denied {} to {} '{}' (denial {} on this connection): {}", session.id(),
                 session.client_name(), session.peer(), kind, role_name(session.principal().role),
                 session.principal().name, count, why);
  }
  session.fail_request(request.id(), v1::PERMISSION_DENIED, kind + " denied: " + why);
}

std::string_view RequestRouter::required_owner(const ClientSession& session) {
  return session.principal().role == Role::kProducer ? std::string_view(session.principal().name)
                                                     : std::string_view();
}

void RequestRouter::on_hello(ClientSession& session, v1::Envelope& request) {
  const v1::Hello& hello = request.hello();
  Principal principal{"anonymous", Role::kAdmin};
  if (!options_.tokens.empty()) {
    std::optional<Principal> known = options_.tokens.authenticate(hello.auth_token());
    if (!known) {
      // Never log the token itself, not even a prefix; and not every failure of a peer
      // that loops on them.
      static LogThrottle failures;
      if (failures.should_log()) {
        spdlog::warn("session {} from {}: authentication failed ({}; {} failures so far)", session.id(),
                     session.peer(), hello.auth_token().empty() ? "no token" : "unknown token", failures.count());
      }
      session.reject_and_close(request.id(), v1::PERMISSION_DENIED,
                               hello.auth_token().empty() ? "this broker requires an auth token in hello"
                                                          : "the auth token is not valid");
      return;
    }
    principal = std::move(*known);
  }
  if (hello.protocol_version() != wire::kProtocolVersion) {
    session.fail_request(request.id(), v1::UNSUPPORTED_VERSION,
                         "protocol version " + std::to_string(hello.protocol_version()) +
                             " is not supported; this server speaks version " +
                             std::to_string(wire::kProtocolVersion));
    return;
  }
  std::string name = hello.client_name().substr(0, 200);
  if (name.empty()) name = "anonymous";
  spdlog::debug("session {}: hello from {} (host {}, pid {}) as {} '{}'", session.id(), name, hello.hostname(),
                hello.pid(), role_name(principal.role), principal.name);
  const Role role = principal.role;
  session.set_greeted(name, hello.hostname().substr(0, 200), hello.pid(), std::move(principal));
  v1::Envelope reply;
  reply.set_id(request.id());
  auto* ok = reply.mutable_hello_ok();
  ok->set_protocol_version(wire::kProtocolVersion);
  ok->set_server_version(options_.server_version);
  ok->set_session_id(std::to_string(session.id()));
  ok->set_max_frame_bytes(options_.max_frame_bytes);
  ok->set_idle_timeout_ms(options_.idle_timeout_ms);
  ok->set_role(role_name(role));
  session.send(reply);
}

void RequestRouter::on_ping(ClientSession& session, v1::Envelope& request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  reply.mutable_pong()->set_payload(request.ping().payload());
  session.send(reply);
}

void RequestRouter::stamp_owner(const ClientSession& session, v1::TaskSpec& spec) const {
  if (options_.tokens.empty()) {
    spec.clear_owner();
  } else {
    spec.set_owner(session.principal().name);
  }
}

void RequestRouter::on_enqueue(ClientSession& session, v1::Envelope& request) {
  stamp_owner(session, *request.mutable_enqueue()->mutable_task());
  uint64_t ticket = 0;
  Result<EnqueueOutcome> outcome = engine_.enqueue(request.enqueue().task(), ticket);
  if (!outcome.ok()) return reply_status(session, request.id(), outcome.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  auto* ok = reply.mutable_enqueue_ok();
  ok->set_id(outcome->id);
  ok->set_state(outcome->state);
  ok->set_created(outcome->created);
  session.reply_after_flush(ticket, reply);
}

void RequestRouter::on_enqueue_batch(ClientSession& session, v1::Envelope& request) {
  const auto& tasks = request.enqueue_batch().tasks();
  if (tasks.empty() || static_cast<size_t>(tasks.size()) > options_.max_batch_tasks) {
    return reply_status(session, request.id(),
                        Status::InvalidArgument("enqueue_batch takes 1.." + std::to_string(options_.max_batch_tasks) +
                                                " tasks"));
  }
  std::vector<const v1::TaskSpec*> specs;
  specs.reserve(tasks.size());
  for (v1::TaskSpec& spec : *request.mutable_enqueue_batch()->mutable_tasks()) {
    stamp_owner(session, spec);
    specs.push_back(&spec);
  }
  uint64_t ticket = 0;
  Result<std::vector<EnqueueOutcome>> outcomes = engine_.enqueue_batch(specs, ticket);
  if (!outcomes.ok()) return reply_status(session, request.id(), outcomes.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  auto* ok = reply.mutable_enqueue_batch_ok();
  for (const EnqueueOutcome& outcome : outcomes.value()) {
    auto* item = ok->add_tasks();
    item->set_id(outcome.id);
    item->set_state(outcome.state);
    item->set_created(outcome.created);
  }
  session.reply_after_flush(ticket, reply);
}

void RequestRouter::on_consume(ClientSession& session, v1::Envelope& request) {
  const v1::Consume& consume = request.consume();
  if (session.consumer_id() == 0) {
    session.set_consumer_id(
        engine_.register_consumer(session.delivery_sink(),
                                  session.identity()));
  }
  std::vector<std::string> queues(consume.queues().begin(), consume.queues().end());
  Result<int64_t> lease_ms = engine_.consume(session.consumer_id(), queues, consume.prefetch(), consume.lease_ms());
  if (!lease_ms.ok()) return reply_status(session, request.id(), lease_ms.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  reply.mutable_consume_ok()->set_lease_ms(lease_ms.value());
  session.send(reply);
}

void RequestRouter::on_complete(ClientSession& session, v1::Envelope& request) {
  uint64_t ticket = 0;
  Result<v1::TaskState> state = engine_.complete(session.consumer_id(), request.complete(), ticket);
  if (!state.ok()) return reply_status(session, request.id(), state.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  reply.mutable_complete_ok()->set_state(state.value());
  session.reply_after_flush(ticket, reply);
}

void RequestRouter::on_release(ClientSession& session, v1::Envelope& request) {
  uint64_t ticket = 0;
  Result<v1::TaskState> state = engine_.release(session.consumer_id(), request.release(), ticket);
  if (!state.ok()) return reply_status(session, request.id(), state.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  reply.mutable_release_ok()->set_state(state.value());
  session.reply_after_flush(ticket, reply);
}

void RequestRouter::on_heartbeat(ClientSession& session, v1::Envelope& request) {
  const auto& ids = request.heartbeat().task_ids();
  Result<HeartbeatOutcome> outcome =
      engine_.heartbeat(session.consumer_id(), std::vector<std::string>(ids.begin(), ids.end()));
  if (!outcome.ok()) return reply_status(session, request.id(), outcome.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  auto* ok = reply.mutable_heartbeat_ok();
  ok->set_lease_deadline_ms(outcome->lease_deadline_ms);
  for (const std::string& id : outcome->lost_task_ids) ok->add_lost_task_ids(id);
  session.send(reply);
}

void RequestRouter::on_get_task(ClientSession& session, v1::Envelope& request) {
  uint64_t ticket = 0;
  Result<v1::TaskRecord> task = engine_.get_task(request.get_task().id(), ticket, required_owner(session));
  if (!task.ok()) return reply_status(session, request.id(), task.status());
  v1::Envelope reply;
  reply.set_id(request.id());
  *reply.mutable_task_info()->mutable_task() = std::move(task.value());
  session.reply_after_flush(ticket, reply);
}

void RequestRouter::on_wait_result(ClientSession& session, v1::Envelope& request) {
  const uint64_t request_id = request.id();
  if (session.outstanding_waits() >= options_.max_waits_per_connection) {
    return reply_status(session, request_id,
                        Status::ResourceExhausted("this connection already waits for " +
                                                  std::to_string(options_.max_waits_per_connection) +
                                                  " results (max_waits_per_connection)"));
  }
  int64_t timeout_ms = request.wait_result().timeout_ms();
  if (timeout_ms <= 0 || timeout_ms > options_.max_wait_ms) timeout_ms = options_.max_wait_ms;
  std::shared_ptr<ClientSession> self = session.shared_session();
  WaiterId waiter_id = 0;
  uint64_t ticket = 0;
  // The waiter may fire on another thread before wait_result() returns its id, so the id
  // is shared and read on this session's strand, after it has been filled in below.
  auto shared_waiter_id = std::make_shared<WaiterId>(0);
  Result<std::optional<v1::TaskRecord>> outcome = engine_.wait_result(
      request.wait_result().id(),
      [self, request_id, shared_waiter_id](const v1::TaskRecord& task, uint64_t done_ticket) {
        // Runs under the engine lock: only queue the reply.
        v1::Envelope reply;
        reply.set_id(request_id);
        *reply.mutable_task_info()->mutable_task() = task;
        self->send_when_durable(done_ticket, reply);
        self->wait_finished(shared_waiter_id);
      },
      waiter_id, ticket, required_owner(session));
  if (!outcome.ok()) return reply_status(session, request_id, outcome.status());
  if (outcome->has_value()) {
    v1::Envelope reply;
    reply.set_id(request_id);
    *reply.mutable_task_info()->mutable_task() = std::move(*outcome.value());
    session.reply_after_flush(ticket, reply);
    return;
  }
  *shared_waiter_id = waiter_id;
  session.track_wait(waiter_id, request_id, timeout_ms);
}

void RequestRouter::on_queue_stats(ClientSession& session, v1::Envelope& request) {
  const auto& names = request.get_queue_stats().queues();
  v1::Envelope reply;
  reply.set_id(request.id());
  v1::QueueStatsReply* queues = reply.mutable_queue_stats();  // set even when no queue exists
  for (v1::QueueStats& stats : engine_.queue_stats(std::vector<std::string>(names.begin(), names.end()))) {
    *queues->add_queues() = std::move(stats);
  }
  session.send(reply);
}

}  // namespace brokerd::server
