// What the request handlers need of the connection a request came on. The network layer
// (net/session.h) implements it; handlers see only this, so they never depend on the
// layer above them.
//
// Thread safety: as Session documents for each call — send(), send_when_durable() and
// wait_finished() from any thread, everything else on the connection's strand (where the
// router runs).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/token_store.h"
#include "broker.pb.h"
#include "engine/engine.h"

namespace brokerd::server {

class ClientSession {
 public:
  virtual ~ClientSession() = default;

  // ---- replies ---------------------------------------------------------------------------
  virtual void send(const v1::Envelope& message) = 0;
  // Sends `message` once `ticket` is durable; if the sync fails, an INTERNAL error
  // answers request `message.id()` instead.
  virtual void send_when_durable(uint64_t ticket, const v1::Envelope& message) = 0;
  // Holds a reply until the engine has written this read's changes (one write for all
  // requests of the read), then sends it once `ticket` is durable.
  virtual void reply_after_flush(uint64_t ticket, const v1::Envelope& message) = 0;
  // Sends the error and, for protocol errors, closes after it is written.
  virtual void fail_request(uint64_t request_id, v1::ErrorCode code, const std::string& text) = 0;
  // Sends the error and closes after it is written, whatever the code.
  virtual void reject_and_close(uint64_t request_id, v1::ErrorCode code, const std::string& text) = 0;

  // ---- who is on the other end --------------------------------------------------------------
  virtual bool greeted() const = 0;
  virtual void set_greeted(std::string client_name, std::string host, uint32_t pid, Principal principal) = 0;
  virtual const std::string& client_name() const = 0;
  // Who authenticated (admin "anonymous" when authentication is off). Valid once greeted.
  virtual const Principal& principal() const = 0;
  virtual const std::string& peer() const = 0;
  virtual uint64_t id() const = 0;
  // Counts a PERMISSION_DENIED answer; returns how many this connection has had.
  virtual uint64_t count_denied() = 0;
  virtual ConsumerIdentity identity() const = 0;

  // ---- consuming -----------------------------------------------------------------------------
  virtual ConsumerId consumer_id() const = 0;
  virtual void set_consumer_id(ConsumerId id) = 0;
  // This connection as the engine's delivery sink (for register_consumer).
  virtual std::shared_ptr<DeliverySink> delivery_sink() = 0;

  // ---- waits and events ----------------------------------------------------------------------
  // WaitResult requests of this connection still waiting for their task.
  virtual size_t outstanding_waits() const = 0;
  // Arms a deadline for an engine waiter; on expiry the waiter is cancelled and TIMEOUT
  // answers `request_id`.
  virtual void track_wait(WaiterId waiter, uint64_t request_id, int64_t timeout_ms) = 0;
  // Called (any thread) when a waiter has fired, to drop its deadline.
  virtual void wait_finished(std::shared_ptr<const WaiterId> waiter) = 0;
  // A handle that keeps the connection object alive, for a waiter that outlives the call.
  virtual std::shared_ptr<ClientSession> shared_session() = 0;
  // Turns the connection into an event stream (a second call changes the queues).
  virtual void subscribe_events(std::vector<std::string> queues) = 0;
};

}  // namespace brokerd::server
