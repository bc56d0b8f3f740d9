// One client connection: reads frames, hands each to the RequestRouter, and writes
// replies and pushes through one outbound buffer with at most one write in flight.
//
// Threading: reads, writes and all per-connection protocol state run on the session's
// strand. send()/send_when_durable() may be called from any thread (the engine pushes
// deliveries and results from whichever thread changed the task); they only append to
// the outbound buffer under its mutex and schedule a write on the strand.
//
// Flow control: when more than the high watermark of bytes wait to be written, the
// session stops reading until the peer has taken them, so a client that does not read
// cannot grow the server's memory with pipelined requests. Events for a subscribed
// connection are bounded separately (SessionLimits::event_buffer): past it they are
// dropped and counted, and the subscriber is sent EventsMissed before its next event.
// Deliveries are bounded by the consumer's prefetch. Whatever the cause, a connection
// with more than max_outbound_bytes unwritten, or whose write makes no progress for
// write_stall_timeout_ms, is dropped (its leased tasks go back to their queues).
//
// Deadlines: TLS and hello must complete within handshake_timeout_ms; after that a
// connection that completes no frame for idle_timeout_ms is closed. Both count whole
// frames, so a peer that trickles bytes is closed like one that sends nothing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio.hpp>

#include "auth/token_store.h"
#include "engine/engine.h"
#include "events/event_hub.h"
#include "handlers/client_session.h"
#include "frame_codec.h"
#include "stream_transport.h"

namespace brokerd::server {

class Committer;
class RequestRouter;

struct SessionLimits {
  uint32_t max_frame_bytes = wire::kDefaultMaxFrameBytes;
  size_t outbound_high_watermark = 8u << 20;
  size_t outbound_low_watermark = 1u << 20;
  size_t event_buffer = 10'000;  // events queued for a subscriber before it loses some
  size_t max_outbound_bytes = 64u << 20;
  int64_t handshake_timeout_ms = 10'000;
  int64_t idle_timeout_ms = 300'000;  // 0 = never
  int64_t write_stall_timeout_ms = 60'000;
};

struct SessionContext {
  Engine& engine;
  Committer& committer;
  RequestRouter& router;
  SessionLimits limits;
  std::atomic<uint32_t>& open_connections;
  uint32_t max_connections = 4096;
  asio::ssl::context* tls = nullptr;  // set: every connection speaks TLS
};

class Session final : public std::enable_shared_from_this<Session>,
                      public ClientSession,
                      public DeliverySink,
                      public EventSubscriber {
 public:
  Session(wire::Transport transport, SessionContext& context, uint64_t session_id);
  ~Session() override;

  void start();
  // Closes the connection now (server shutdown). Thread-safe.
  void close();

  // ---- any thread ---------------------------------------------------------------------
  void send(const v1::Envelope& message) override;
  // Sends `message` once `ticket` is durable; if the sync fails, an INTERNAL error
  // answers request `message.id()` instead.
  void send_when_durable(uint64_t ticket, const v1::Envelope& message) override;
  void send_error(uint64_t request_id, v1::ErrorCode code, const std::string& text);
  void deliver(v1::Delivery delivery) override;
  void revoked(const std::string& task_id, uint64_t lease_id) override;
  void offer(const v1::Event& event) override;
  bool accepting() const override { return !deliveries_paused_.load(std::memory_order_relaxed); }

  // ---- strand only (the router) ---------------------------------------------------
  // Holds a reply until the engine has written this read's changes (one write for all
  // requests of the read), then sends it once `ticket` is durable.
  void reply_after_flush(uint64_t ticket, const v1::Envelope& message) override;
  // Sends the error and, for protocol errors, closes after it is written.
  void fail_request(uint64_t request_id, v1::ErrorCode code, const std::string& text) override;
  // Sends the error and closes after it is written, whatever the code.
  void reject_and_close(uint64_t request_id, v1::ErrorCode code, const std::string& text) override;
  bool greeted() const override { return greeted_; }
  void set_greeted(std::string client_name, std::string host, uint32_t pid, Principal principal) override;
  const std::string& client_name() const override { return client_name_; }
  // Who authenticated (admin "anonymous" when authentication is off). Valid once greeted.
  const Principal& principal() const override { return principal_; }
  const std::string& peer() const override { return peer_; }
  // WaitResult requests of this connection still waiting for their task.
  size_t outstanding_waits() const override { return waits_.size(); }
  // Counts a PERMISSION_DENIED answer; returns how many this connection has had.
  uint64_t count_denied() override { return ++denied_requests_; }
  ConsumerIdentity identity() const override { return {client_name_, client_host_, client_pid_, std::to_string(session_id_)}; }
  // Turns the connection into an event stream (a second call changes the queues).
  void subscribe_events(std::vector<std::string> queues) override;
  uint64_t id() const override { return session_id_; }
  ConsumerId consumer_id() const override { return consumer_id_; }
  void set_consumer_id(ConsumerId id) override { consumer_id_ = id; }
  std::shared_ptr<DeliverySink> delivery_sink() override { return shared_from_this(); }
  std::shared_ptr<ClientSession> shared_session() override { return shared_from_this(); }
  // Arms a deadline for an engine waiter; on expiry the waiter is cancelled and
  // TIMEOUT answers `request_id`.
  void track_wait(WaiterId waiter, uint64_t request_id, int64_t timeout_ms) override;
  // Called (any thread) when a waiter has fired, to drop its deadline. The id is read on
  // the strand, where the router has stored it by then.
  void wait_finished(std::shared_ptr<const WaiterId> waiter) override;

 private:
  void read_more();
  void release_held_replies();
  void send_frame_when_durable(uint64_t ticket, uint64_t request_id, std::string frame);
  void on_read(const asio::error_code& error, size_t bytes);
  void append_outbound(const std::string& frame);
  // With outbound_mutex_ held; returns whether a write must be scheduled.
  bool append_locked(const std::string& frame);
  void schedule_write();
  std::string missed_events_frame_locked();
  void start_write();
  void on_write(const asio::error_code& error);
  void close_after_flush();
  // Below the low watermark again: lets the engine deliver to this consumer again.
  void resume_deliveries_if_paused();
  void shutdown();
  // Closes the connection from any thread (outbound overflow), logging why once.
  void drop(const std::string& reason);
  // The handshake, idle and write-stall deadlines share one timer, armed for the
  // earliest of them.
  void arm_deadline_timer();
  void on_deadline_timer();

  using SteadyClock = std::chrono::steady_clock;

  wire::Transport transport_;
  asio::strand<asio::any_io_executor> strand_;
  SessionContext& context_;
  const uint64_t session_id_;
  const std::string peer_;
  asio::steady_timer deadline_timer_;
  SteadyClock::time_point handshake_deadline_;
  SteadyClock::time_point last_frame_at_;    // strand-only: the last complete frame read
  SteadyClock::time_point write_progress_at_;  // GUARDED_BY(outbound_mutex_): last bytes the peer took

  // Strand-only state.
  wire::FrameDecoder decoder_;
  std::array<char, 64 * 1024> read_buffer_{};
  bool reading_ = false;
  bool read_paused_ = false;
  bool closing_ = false;  // no more reads; close once the outbound buffer is written
  bool closed_ = false;
  bool greeted_ = false;
  std::string client_name_;
  std::string client_host_;
  uint32_t client_pid_ = 0;
  Principal principal_;
  uint64_t denied_requests_ = 0;
  ConsumerId consumer_id_ = 0;
  EventHub::SubscriptionId subscription_ = 0;
  std::unordered_map<WaiterId, std::unique_ptr<asio::steady_timer>> waits_;
  struct HeldReply {
    uint64_t ticket;
    uint64_t request_id;
    std::string frame;
  };
  std::vector<HeldReply> held_replies_;  // replies of the read being handled

  // Outbound buffer, shared with other threads.
  std::mutex outbound_mutex_;
  std::string pending_;           // GUARDED_BY(outbound_mutex_)
  bool write_scheduled_ = false;  // GUARDED_BY(outbound_mutex_): a start_write is posted
  bool write_in_flight_ = false;  // GUARDED_BY(outbound_mutex_)
  bool outbound_closed_ = false;  // GUARDED_BY(outbound_mutex_)
  std::string writing_;           // strand-only: the buffer of the write in flight
  size_t events_pending_ = 0;     // GUARDED_BY(outbound_mutex_): event frames in pending_
  size_t events_writing_ = 0;     // GUARDED_BY(outbound_mutex_): event frames in writing_
  uint64_t events_missed_ = 0;    // GUARDED_BY(outbound_mutex_): dropped, not yet reported
  // Set with outbound_mutex_ held when the unwritten bytes pass the high watermark,
  // cleared below the low one; read by the engine without the mutex.
  std::atomic<bool> deliveries_paused_{false};
};

}  // namespace brokerd::server
