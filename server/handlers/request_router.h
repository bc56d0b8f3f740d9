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

namespace brokerd::server {

class Committer;
class Session;

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

  void handle(Session& session, v1::Envelope& request);

 private:
  using Handler = void (RequestRouter::*)(Session&, v1::Envelope&);

  void on_hello(Session& session, v1::Envelope& request);
  void on_ping(Session& session, v1::Envelope& request);
  void on_enqueue(Session& session, v1::Envelope& request);
  void on_enqueue_batch(Session& session, v1::Envelope& request);
  void on_consume(Session& session, v1::Envelope& request);
  void on_complete(Session& session, v1::Envelope& request);
  void on_heartbeat(Session& session, v1::Envelope& request);
  void on_release(Session& session, v1::Envelope& request);
  void on_get_task(Session& session, v1::Envelope& request);
  void on_wait_result(Session& session, v1::Envelope& request);
  void on_queue_stats(Session& session, v1::Envelope& request);
  // Operators (operator_handlers.cc).
  void on_revoke(Session& session, v1::Envelope& request);
  void on_purge(Session& session, v1::Envelope& request);
  void on_list_dead(Session& session, v1::Envelope& request);
  void on_dead_requeue(Session& session, v1::Envelope& request);
  void on_dead_delete(Session& session, v1::Envelope& request);
  void on_list_tasks(Session& session, v1::Envelope& request);
  void on_get_workers(Session& session, v1::Envelope& request);
  void on_get_server_stats(Session& session, v1::Envelope& request);
  void on_subscribe(Session& session, v1::Envelope& request);
  // A list limit from the wire: 0 means `fallback`, anything above the cap is refused.
  Result<size_t> list_limit(uint32_t requested, size_t fallback) const;

  static void reply_status(Session& session, uint64_t request_id, const Status& status);
  // PERMISSION_DENIED for a request outside the session's role, logged.
  static void deny(Session& session, const v1::Envelope& request, const std::string& why);
  // Producers may only read the tasks they enqueued: their token's name, else empty.
  static std::string_view required_owner(const Session& session);
  // Records who enqueued the task (authentication on) or clears a client-sent owner.
  void stamp_owner(const Session& session, v1::TaskSpec& spec) const;

  Engine& engine_;
  const RouterOptions options_;
  // Indexed by Envelope::BodyCase; null for kinds a client may not send.
  std::array<Handler, 128> table_{};
};

}  // namespace brokerd::server
