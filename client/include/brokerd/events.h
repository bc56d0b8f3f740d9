// brokerd client library: the event stream, what happens to tasks and workers as it
// happens.
//
//   auto stream = brokerd::EventStream::open({.server = "127.0.0.1:7411"}, {"default"});
//   if (!stream.ok()) { ... stream.status().to_string() ... }
//   for (;;) {
//     auto item = (*stream)->next(std::chrono::seconds(1));
//     if (!item.ok()) {
//       if (item.status().code() == brokerd::ErrorCode::kTimeout) continue;  // quiet second
//       break;  // connection lost or closed
//     }
//     if (auto* event = std::get_if<brokerd::Event>(&*item)) use(*event);
//     else handle_gap(std::get<brokerd::EventsMissed>(*item).count);
//   }
//
// An EventStream owns a connection of its own, subscribed with the broker: the broker
// pushes every event as it happens. Events are not stored: a stream sees only what
// happens while it is open. A subscriber that falls behind loses events rather than
// slowing the broker down: events past the broker's per-subscriber buffer are dropped,
// and the stream reports how many (EventsMissed) before the next event it delivers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "brokerd/client.h"
#include "brokerd/status.h"
#include "brokerd/task.h"

namespace brokerd {

enum class EventKind {
  kUnknown = 0,    // sent by a newer broker; this client does not know it
  kTaskEnqueued,
  kTaskStarted,    // delivered to a worker
  kTaskSucceeded,
  kTaskFailed,     // FAILURE: retries exhausted, now in the dead-letter set
  kTaskRetried,    // failed (or asked to retry) with retries left
  kTaskRevoked,
  kTaskRequeued,   // its lease was lost (connection closed or lease expired)
  kWorkerOnline,   // a connection started consuming
  kWorkerOffline,  // a consuming connection closed
};

// "TASK_ENQUEUED", "WORKER_ONLINE", ... as on the wire and in `brokerctl watch`.
const char* event_kind_name(EventKind kind);

struct Event {
  EventKind kind = EventKind::kUnknown;
  int64_t at_ms = 0;             // Unix ms
  // Task events.
  std::string task_id{};
  std::string task_name{};
  std::string queue{};
  uint32_t attempt = 0;
  std::optional<TaskError> error{};  // TASK_FAILED, TASK_RETRIED
  int64_t runtime_ms = 0;        // outcomes: finished - started
  // The worker: for task started and outcome events, and worker events.
  std::string worker{};
  std::string host{};            // worker events
  uint32_t pid = 0;              // worker events
};

// The broker dropped `count` events for this subscriber before the next one it delivers.
struct EventsMissed {
  uint64_t count = 0;
};

using EventOrMissed = std::variant<Event, EventsMissed>;

class EventStream {
 public:
  // Events received but not yet taken by next() that the stream holds at most: past
  // this it stops reading from the broker, whose own buffer then fills and drops.
  static constexpr size_t kDefaultLocalBuffer = 1000;

  // Connects (as options.client_name) and subscribes to the events of `queues` (every
  // queue when empty; worker events are always sent). Events start with this call.
  static Result<std::unique_ptr<EventStream>> open(const ClientOptions& options,
                                                   const std::vector<std::string>& queues = {},
                                                   size_t local_buffer = kDefaultLocalBuffer);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // The next event (or missed-events notice), waiting up to `timeout` for one: kTimeout
  // if none came. Once the connection is lost, what was already received is still
  // returned, then kUnavailable; after close(), kUnavailable at once. Call from one
  // thread at a time.
  Result<EventOrMissed> next(std::chrono::milliseconds timeout);

  // Closes the connection; a next() waiting in another thread returns kUnavailable.
  // Thread-safe; also done by the destructor.
  void close();

  // How many events the broker buffers for this subscriber before dropping.
  uint32_t server_buffer() const;

  class Impl;

 private:
  explicit EventStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace brokerd
