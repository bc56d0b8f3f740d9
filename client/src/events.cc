// EventStream: one subscribed Connection and a bounded local queue of what it pushed.
//
// The I/O thread appends Event / EventsMissed pushes to `items_`; next() takes them on
// the caller's thread. When `items_` reaches the local bound the connection stops
// reading (Connection::pause_reading), so a caller that does not keep up makes the
// broker's per-subscriber buffer fill and the broker drop events and say how many
// (EventsMissed), instead of this process buffering without limit. Reading resumes
// once next() has taken the queue down to half the bound.

#include "brokerd/events.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

#include "connection.h"
#include "log.h"
#include "task_conversions.h"
#include "wire_errors.h"

namespace brokerd {

using internal::Connection;

const char* event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kUnknown: return "UNKNOWN";
    case EventKind::kTaskEnqueued: return "TASK_ENQUEUED";
    case EventKind::kTaskStarted: return "TASK_STARTED";
    case EventKind::kTaskSucceeded: return "TASK_SUCCEEDED";
    case EventKind::kTaskFailed: return "TASK_FAILED";
    case EventKind::kTaskRetried: return "TASK_RETRIED";
    case EventKind::kTaskRevoked: return "TASK_REVOKED";
    case EventKind::kTaskRequeued: return "TASK_REQUEUED";
    case EventKind::kWorkerOnline: return "WORKER_ONLINE";
    case EventKind::kWorkerOffline: return "WORKER_OFFLINE";
  }
  return "UNKNOWN";
}

class EventStream::Impl {
 public:
  explicit Impl(size_t local_buffer) : bound_(std::max<size_t>(1, local_buffer)) {}
  // The connection's I/O thread uses the members below: stop it before they go.
  ~Impl() {
    if (connection_) connection_->close();
  }

  // Opens the connection with handlers that feed this Impl, then subscribes.
  Status open(const ClientOptions& options, const std::vector<std::string>& queues) {
    const internal::ConnectionOptions connection_options = internal::connection_options_for(options);
    Connection::Handlers handlers;
    handlers.on_push = [this](v1::Envelope push) { on_push(std::move(push)); };
    handlers.on_loss = [this](const Status& status) { on_loss(status); };
    Result<std::unique_ptr<Connection>> opened = Connection::open(connection_options, std::move(handlers));
    if (!opened.ok()) return opened.status();
    connection_ = std::move(opened).value();

    v1::Envelope envelope;
    v1::Subscribe* subscribe = envelope.mutable_subscribe();
    for (const std::string& queue : queues) subscribe->add_queues(queue);
    Result<v1::Envelope> reply = internal::expect_body(connection_->call(std::move(envelope)),
                                                       v1::Envelope::kSubscribeOk, "Subscribe");
    if (!reply.ok()) return reply.status();
    server_buffer_ = reply->subscribe_ok().buffer_events();
    return Status::Ok();
  }

  Result<EventOrMissed> next(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty() || !loss_.ok(); });
    if (closed_) return Status(ErrorCode::kUnavailable, "event stream closed");
    if (items_.empty()) {
      if (!loss_.ok()) return loss_;
      return Status(ErrorCode::kTimeout, "no event within " + std::to_string(timeout.count()) + " ms");
    }
    EventOrMissed item = std::move(items_.front());
    items_.pop_front();
    if (paused_ && items_.size() <= bound_ / 2) {
      paused_ = false;
      connection_->resume_reading();
    }
    return item;
  }

  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      items_.clear();
    }
    cv_.notify_all();
    // The Connection joins its I/O thread, which takes mu_ in on_push: not under mu_.
    if (connection_) connection_->close();
  }

  uint32_t server_buffer() const { return server_buffer_; }

 private:
  // I/O thread.
  void on_push(v1::Envelope push) {
    std::optional<EventOrMissed> item;
    if (push.has_event()) {
      item = internal::to_event(push.event());
    } else if (push.has_events_missed()) {
      item = EventsMissed{push.events_missed().count()};
    } else {
      internal::log_warning("event stream: ignoring an unexpected push frame (body field " +
                            std::to_string(static_cast<int>(push.body_case())) + ")");
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      items_.push_back(std::move(*item));
      if (items_.size() >= bound_ && !paused_) {
        paused_ = true;
        connection_->pause_reading();
      }
    }
    cv_.notify_one();
  }

  void on_loss(const Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      loss_ = status;
    }
    cv_.notify_all();
  }

  const size_t bound_;
  std::unique_ptr<Connection> connection_;  // set once in open(), before any push
  uint32_t server_buffer_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EventOrMissed> items_;  // GUARDED_BY(mu_)
  bool paused_ = false;              // GUARDED_BY(mu_): reading paused by the bound
  bool closed_ = false;              // GUARDED_BY(mu_)
  Status loss_;                      // GUARDED_BY(mu_): why the connection ended, once it has
};

Result<std::unique_ptr<EventStream>> EventStream::open(const ClientOptions& options,
                                                       const std::vector<std::string>& queues,
                                                       size_t local_buffer) {
  auto impl = std::make_unique<Impl>(local_buffer);
  if (Status s = impl->open(options, queues); !s.ok()) return s;
  return std::unique_ptr<EventStream>(new EventStream(std::move(impl)));
}

EventStream::EventStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStream::~EventStream() { impl_->close(); }

Result<EventOrMissed> EventStream::next(std::chrono::milliseconds timeout) { return impl_->next(timeout); }

void EventStream::close() { impl_->close(); }

uint32_t EventStream::server_buffer() const { return impl_->server_buffer(); }

}  // namespace brokerd
