#include "net/session.h"

#include <spdlog/spdlog.h>

#include "commit/committer.h"
#include "handlers/error_mapping.h"
#include "handlers/request_router.h"
#include "logging/log_throttle.h"

namespace brokerd::server {

namespace {
// Largest single write_some of a session; after each, write progress is noted.
constexpr size_t kWriteChunkBytes = 256 * 1024;
}  // namespace

Session::Session(wire::Transport transport, SessionContext& context, uint64_t session_id)
    : transport_(std::move(transport)),
      strand_(asio::make_strand(transport_.socket().get_executor())),
      context_(context),
      session_id_(session_id),
      peer_(transport_.peer()),
      deadline_timer_(strand_),
      decoder_(context.limits.max_frame_bytes) {
  context_.open_connections.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() { context_.open_connections.fetch_sub(1, std::memory_order_relaxed); }

void Session::start() {
  asio::post(strand_, [self = shared_from_this()] {
    const auto now = SteadyClock::now();
    self->handshake_deadline_ = now + std::chrono::milliseconds(self->context_.limits.handshake_timeout_ms);
    self->last_frame_at_ = now;
    self->arm_deadline_timer();
    self->transport_.async_handshake(asio::ssl::stream_base::server, asio::bind_executor(self->strand_, [self](const asio::error_code& error) {
      if (error) {
        static LogThrottle failures;
        if (failures.should_log()) {
          spdlog::info("session {} from {}: TLS handshake failed: {} ({} failures so far)", self->session_id_,
                       self->peer_, error.message(), failures.count());
        }
        self->shutdown();
        return;
      }
      self->read_more();
    }));
  });
}

void Session::set_greeted(std::string client_name, std::string host, uint32_t pid, Principal principal) {
  greeted_ = true;
  client_name_ = std::move(client_name);
  client_host_ = std::move(host);
  client_pid_ = pid;
  principal_ = std::move(principal);
  arm_deadline_timer();  // from the handshake deadline to the idle one
}

void Session::close() {
  asio::post(strand_, [self = shared_from_this()] { self->shutdown(); });
}

void Session::arm_deadline_timer() {
  if (closed_) return;
  const auto now = SteadyClock::now();
  const SessionLimits& limits = context_.limits;
  // Write stalls are checked on every tick, so a tick comes at least every half stall
  // timeout: a stalled write is noticed within 1.5 times the timeout without touching
  // the timer on every write.
  auto due = now + std::chrono::milliseconds(std::max<int64_t>(limits.write_stall_timeout_ms / 2, 1));
  if (!greeted_) {
    due = std::min(due, handshake_deadline_);
  } else if (limits.idle_timeout_ms > 0 && !read_paused_) {
    // (While reading is paused, idleness is not the peer's doing: no idle deadline.)
    due = std::min(due, last_frame_at_ + std::chrono::milliseconds(limits.idle_timeout_ms));
  }
  deadline_timer_.expires_at(due);
  deadline_timer_.async_wait([self = shared_from_this()](const asio::error_code& error) {
    if (!error) self->on_deadline_timer();
  });
}

void Session::on_deadline_timer() {
  if (closed_) return;
  const auto now = SteadyClock::now();
  const SessionLimits& limits = context_.limits;
  if (!greeted_ && now >= handshake_deadline_) {
    spdlog::info("session {} from {}: no hello within handshake_timeout_ms ({} ms); closing", session_id_, peer_,
                 limits.handshake_timeout_ms);
    return shutdown();
  }
  // A connection we stopped reading (its replies are not being taken) is judged by the
  // write stall below, not by idleness.
  if (greeted_ && limits.idle_timeout_ms > 0 && !read_paused_ &&
      now - last_frame_at_ >= std::chrono::milliseconds(limits.idle_timeout_ms)) {
    spdlog::info("session {} ({}) from {}: no frame for idle_timeout ({} ms); closing", session_id_, client_name_,
                 peer_, limits.idle_timeout_ms);
    return shutdown();
  }
  bool stalled = false;
  {
    std::lock_guard lock(outbound_mutex_);
    stalled = write_in_flight_ && now - write_progress_at_ >= std::chrono::milliseconds(limits.write_stall_timeout_ms);
  }
  if (stalled) {
    spdlog::warn("session {} ({}) from {}: peer took nothing for write_stall_timeout ({} ms); dropping",
                 session_id_, client_name_, peer_, limits.write_stall_timeout_ms);
    return shutdown();
  }
  arm_deadline_timer();
}

void Session::drop(const std::string& reason) {
  asio::post(strand_, [self = shared_from_this(), reason] {
    if (self->closed_) return;
    spdlog::warn("session {} ({}) from {}: dropping: {}", self->session_id_, self->client_name_, self->peer_, reason);
    self->shutdown();
  });
}

void Session::read_more() {
  if (reading_ || closing_ || closed_) return;
  reading_ = true;
  transport_.async_read_some(asio::buffer(read_buffer_),
                          asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& error,
                                                                                   size_t bytes) {
                            self->on_read(error, bytes);
                          }));
}

void Session::on_read(const asio::error_code& error, size_t bytes) {
  reading_ = false;
  if (error) {
    if (error != asio::error::eof && error != asio::error::operation_aborted) {
      spdlog::debug("session {}: read failed: {}", session_id_, error.message());
    }
    shutdown();
    return;
  }
  decoder_.append(read_buffer_.data(), bytes);
  v1::Envelope message;
  while (!closing_ && !closed_) {
    const wire::DecodeResult result = decoder_.next(&message);
    if (result == wire::DecodeResult::kNeedMore) break;
    if (result == wire::DecodeResult::kTooLarge) {
      fail_request(0, v1::FRAME_TOO_LARGE,
                   "frame length " + std::to_string(decoder_.rejected_length()) + " exceeds max_frame_bytes " +
                       std::to_string(context_.limits.max_frame_bytes));
      break;
    }
    if (result == wire::DecodeResult::kBadFrame) {
      fail_request(0, v1::BAD_FRAME, "frame body is not a valid brokerd.v1.Envelope");
      break;
    }
    last_frame_at_ = SteadyClock::now();
    context_.router.handle(*this, message);
  }
  release_held_replies();
  if (closing_ || closed_) return;
  size_t waiting = 0;
  {
    std::lock_guard lock(outbound_mutex_);
    waiting = pending_.size() + writing_.size();
  }
  if (waiting > context_.limits.outbound_high_watermark) {
    read_paused_ = true;  // resumed by on_write once the peer has read enough
  } else {
    read_more();
  }
}

void Session::append_outbound(const std::string& frame) {
  bool schedule = false;
  {
    std::lock_guard lock(outbound_mutex_);
    schedule = append_locked(frame);
  }
  if (schedule) schedule_write();
}

bool Session::append_locked(const std::string& frame) {
  if (outbound_closed_) return false;
  if (pending_.size() + writing_.size() + frame.size() > context_.limits.max_outbound_bytes) {
    // A peer that does not read: stop buffering for it at once, close it on the strand.
    outbound_closed_ = true;
    pending_.clear();
    drop("more than max_outbound_mb (" + std::to_string(context_.limits.max_outbound_bytes >> 20) +
         " MiB) waiting to be written");
    return false;
  }
  pending_ += frame;
  if (pending_.size() + writing_.size() > context_.limits.outbound_high_watermark) {
    deliveries_paused_.store(true, std::memory_order_relaxed);
  }
  if (write_scheduled_ || write_in_flight_) return false;
  write_scheduled_ = true;
  return true;
}

void Session::schedule_write() {
  asio::post(strand_, [self = shared_from_this()] { self->start_write(); });
}

void Session::subscribe_events(std::vector<std::string> queues) {
  if (subscription_ != 0) context_.engine.events().unsubscribe(subscription_);
  subscription_ = context_.engine.events().subscribe(
      std::static_pointer_cast<EventSubscriber>(shared_from_this()), std::move(queues));
}

std::string Session::missed_events_frame_locked() {
  v1::Envelope notice;
  notice.mutable_events_missed()->set_count(events_missed_);
  events_missed_ = 0;
  return wire::encode_frame(notice);
}

void Session::offer(const v1::Event& event) {
  bool schedule = false;
  {
    std::lock_guard lock(outbound_mutex_);
    if (outbound_closed_) return;
    // A subscriber that does not keep up loses events here, never slowing the broker.
    if (events_pending_ + events_writing_ >= context_.limits.event_buffer) {
      ++events_missed_;
      return;
    }
    if (events_missed_ > 0) {
      schedule = append_locked(missed_events_frame_locked()) || schedule;
    }
    v1::Envelope push;
    *push.mutable_event() = event;
    schedule = append_locked(wire::encode_frame(push)) || schedule;
    ++events_pending_;
  }
  if (schedule) schedule_write();
}

void Session::send(const v1::Envelope& message) { append_outbound(wire::encode_frame(message)); }

void Session::send_when_durable(uint64_t ticket, const v1::Envelope& message) {
  send_frame_when_durable(ticket, message.id(), wire::encode_frame(message));
}

void Session::send_frame_when_durable(uint64_t ticket, uint64_t request_id, std::string frame) {
  context_.committer.when_durable(
      ticket, [self = shared_from_this(), frame = std::move(frame), request_id](const Status& status) {
        if (status.ok()) {
          self->append_outbound(frame);
        } else {
          self->send_error(request_id, to_wire_error(status.code()),
                           "the write could not be made durable: " + status.message());
        }
      });
}

void Session::reply_after_flush(uint64_t ticket, const v1::Envelope& message) {
  held_replies_.push_back({ticket, message.id(), wire::encode_frame(message)});
}

void Session::release_held_replies() {
  // One write for everything this read changed (and whatever else is pending).
  const Status flushed = context_.engine.flush();
  for (HeldReply& reply : held_replies_) {
    if (flushed.ok()) {
      send_frame_when_durable(reply.ticket, reply.request_id, std::move(reply.frame));
    } else {
      send_error(reply.request_id, to_wire_error(flushed.code()), "the write failed: " + flushed.message());
    }
  }
  held_replies_.clear();
}

void Session::send_error(uint64_t request_id, v1::ErrorCode code, const std::string& text) {
  v1::Envelope reply;
  reply.set_id(request_id);
  reply.mutable_error()->set_code(code);
  reply.mutable_error()->set_message(text);
  send(reply);
}

void Session::deliver(v1::Delivery delivery) {
  v1::Envelope push;
  *push.mutable_delivery() = std::move(delivery);
  send(push);
}

void Session::revoked(const std::string& task_id, uint64_t lease_id) {
  v1::Envelope push;
  push.mutable_revoke_notice()->set_task_id(task_id);
  push.mutable_revoke_notice()->set_lease_id(lease_id);
  send(push);
}

void Session::fail_request(uint64_t request_id, v1::ErrorCode code, const std::string& text) {
  if (closes_connection(code)) return reject_and_close(request_id, code, text);
  send_error(request_id, code, text);
}

void Session::reject_and_close(uint64_t request_id, v1::ErrorCode code, const std::string& text) {
  send_error(request_id, code, text);
  spdlog::info("session {} ({}) from {}: closing after {}: {}", session_id_, client_name_, peer_,
               v1::ErrorCode_Name(code), text);
  close_after_flush();
}

void Session::start_write() {
  {
    std::lock_guard lock(outbound_mutex_);
    write_scheduled_ = false;
    if (write_in_flight_ || pending_.empty() || closed_) return;
    writing_.swap(pending_);
    pending_.clear();
    events_writing_ = events_pending_;
    events_pending_ = 0;
    write_in_flight_ = true;
    write_progress_at_ = SteadyClock::now();
  }
  // The completion condition runs after every partial write: a peer that reads slowly
  // but steadily makes progress and is never taken for a stalled one.
  auto note_progress = [self = shared_from_this()](const asio::error_code& error, size_t) -> size_t {
    {
      std::lock_guard lock(self->outbound_mutex_);
      self->write_progress_at_ = SteadyClock::now();
    }
    return error ? 0 : kWriteChunkBytes;
  };
  transport_.async_write(asio::buffer(writing_), note_progress,
                    asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& error, size_t) {
                      self->on_write(error);
                    }));
}

void Session::on_write(const asio::error_code& error) {
  size_t waiting = 0;
  {
    std::lock_guard lock(outbound_mutex_);
    write_in_flight_ = false;
    writing_.clear();
    events_writing_ = 0;
    // A subscriber that caught up hears what it missed without waiting for a new event.
    if (events_missed_ > 0 && pending_.empty() && !outbound_closed_) pending_ += missed_events_frame_locked();
    waiting = pending_.size();
  }
  if (error) {
    shutdown();
    return;
  }
  if (waiting > 0) {
    start_write();
  } else if (closing_) {
    shutdown();
    return;
  }
  if (waiting < context_.limits.outbound_low_watermark) {
    if (read_paused_) {
      read_paused_ = false;
      last_frame_at_ = SteadyClock::now();  // the idle clock was stopped while paused
      read_more();
    }
    resume_deliveries_if_paused();
  }
}

void Session::resume_deliveries_if_paused() {
  bool was_paused = false;
  {
    std::lock_guard lock(outbound_mutex_);
    was_paused = deliveries_paused_.exchange(false, std::memory_order_relaxed);
  }
  if (was_paused && consumer_id_ != 0) context_.engine.resume_deliveries(consumer_id_);
}

void Session::close_after_flush() {
  closing_ = true;
  std::lock_guard lock(outbound_mutex_);
  if (!write_in_flight_ && pending_.empty()) {
    asio::post(strand_, [self = shared_from_this()] { self->shutdown(); });
  }
}

void Session::track_wait(WaiterId waiter, uint64_t request_id, int64_t timeout_ms) {
  auto timer = std::make_unique<asio::steady_timer>(strand_, std::chrono::milliseconds(timeout_ms));
  timer->async_wait([self = shared_from_this(), waiter, request_id](const asio::error_code& error) {
    if (error) return;  // cancelled: the result arrived or the session closed
    self->waits_.erase(waiter);
    // If the engine no longer has the waiter, the result is already on its way.
    if (self->context_.engine.cancel_wait(waiter)) {
      self->send_error(request_id, v1::TIMEOUT, "task did not finish within the wait timeout");
    }
  });
  waits_.emplace(waiter, std::move(timer));
}

void Session::wait_finished(std::shared_ptr<const WaiterId> waiter) {
  asio::post(strand_, [self = shared_from_this(), waiter] {
    if (auto it = self->waits_.find(*waiter); it != self->waits_.end()) {
      it->second->cancel();
      self->waits_.erase(it);
    }
  });
}

void Session::shutdown() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  {
    std::lock_guard lock(outbound_mutex_);
    outbound_closed_ = true;
    pending_.clear();
  }
  // The engine holds this session as a delivery sink until it is unregistered; doing so
  // queues every task this connection held again at once.
  if (consumer_id_ != 0) context_.engine.unregister_consumer(consumer_id_);
  if (subscription_ != 0) context_.engine.events().unsubscribe(subscription_);
  for (auto& [waiter, timer] : waits_) {
    context_.engine.cancel_wait(waiter);
    timer->cancel();
  }
  waits_.clear();
  deadline_timer_.cancel();
  transport_.close();
  spdlog::debug("session {} ({}) closed", session_id_, client_name_);
}

}  // namespace brokerd::server
