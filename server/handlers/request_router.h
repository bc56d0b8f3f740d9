// Routes each request frame to its handler through one dispatch table, and enforces the
// handshake. Handlers translate between wire messages and Engine calls; the rules live
// in the engine.
//
// Threading: handle() runs on the calling session's strand.
#pragma once

#include <array>
#include <functional>
#include <string>

#include "auth/token_store.h"
#include "broker.pb.h"
#include "engine/engine.h"
#include "handlers/client_session.h"

namespace brokerd::server {

class Committer;

struct RouterOptions {
  std::string server_version;
  uint32_t max_frame_bytes = 0;
  int64_t max_wait_ms = 3'600'000;
  size_t max_batch_tasks = 10'000;
  size_t max_list_limit = 10'000;  // ListTasks, ListDead, Purge and dead-letter bulk calls
  size_t event_buffer = 10'000;    // reported to subscribers
  int64_t idle_timeout_ms = 0;     // advertised in HelloOk so that clients ping in time
  size_t max_waits_per_connection = 10'000;  // WaitResult requests pending at once
  size_t max_subscribe_queues = 100;         // queue filter of one Subscribe (max_consume_queues)
  // Non-empty: every hello must carry one of these tokens, and each request is checked
  // against its role. Empty: no authentication, every connection is admin.
  TokenStore tokens;
  // Fills the server-wide part of ServerStats (uptime, connections, disk, memory...).
  std::function<void(v1::ServerStats&)> fill_server_stats;
};

class RequestRouter {
 public:
  RequestRouter(Engine& engine, RouterOptions options);

  void handle(ClientSession& session, v1::Envelope& request);

 private:
  using Handler = void (RequestRouter::*)(ClientSession&, v1::Envelope&);

  void on_hello(ClientSession& session, v1::Envelope& request);
  void on_ping(ClientSession& session, v1::Envelope& request);
  void on_enqueue(ClientSession& session, v1::Envelope& request);
  void on_enqueue_batch(ClientSession& session, v1::Envelope& request);
  void on_consume(ClientSession& session, v1::Envelope& request);
  void on_complete(ClientSession& session, v1::Envelope& request);
  void on_heartbeat(ClientSession& session, v1::Envelope& request);
  void on_release(ClientSession& session, v1::Envelope& request);
  void on_get_task(ClientSession& session, v1::Envelope& request);
  void on_wait_result(ClientSession& session, v1::Envelope& request);
  void on_queue_stats(ClientSession& session, v1::Envelope& request);
  // Operators (operator_handlers.cc).
  void on_revoke(ClientSession& session, v1::Envelope& request);
  void on_purge(ClientSession& session, v1::Envelope& request);
  void on_list_dead(ClientSession& session, v1::Envelope& request);
  void on_dead_requeue(ClientSession& session, v1::Envelope& request);
  void on_dead_delete(ClientSession& session, v1::Envelope& request);
  void on_list_tasks(ClientSession& session, v1::Envelope& request);
  void on_get_workers(ClientSession& session, v1::Envelope& request);
  void on_get_server_stats(ClientSession& session, v1::Envelope& request);
  void on_subscribe(ClientSession& session, v1::Envelope& request);
  // A list limit from the wire: 0 means `fallback`, anything above the cap is refused.
  Result<size_t> list_limit(uint32_t requested, size_t fallback) const;

  static void reply_status(ClientSession& session, uint64_t request_id, const Status& status);
  // PERMISSION_DENIED for a request outside the session's role, logged.
  static void deny(ClientSession& session, const v1::Envelope& request, const std::string& why);
  // Producers may only read the tasks they enqueued: their token's name, else empty.
  static std::string_view required_owner(const ClientSession& session);
  // Records who enqueued the task (authentication on) or clears a client-sent owner.
  void stamp_owner(const ClientSession& session, v1::TaskSpec& spec) const;

  Engine& engine_;
  const RouterOptions options_;
  // Indexed by Envelope::BodyCase; null for kinds a client may not send.
  std::array<Handler, 128> table_{};
};

}  // namespace brokerd::server
