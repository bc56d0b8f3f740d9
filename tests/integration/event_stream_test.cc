// The event stream (brokerd/events.h) against a real brokerd: what each task and worker
// transition pushes, the queue filter, and a subscriber that stops reading, which must
// neither slow producers down nor be silently shortchanged (EventsMissed).
#include <unistd.h>

#include <chrono>
#include <thread>
#include <variant>

#include "brokerd/client.h"
#include "brokerd/events.h"
#include "brokerd/worker.h"
#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

class EventStreamTest : public BrokerFixture {
 protected:
  ClientOptions client_options(const std::string& name) {
    ClientOptions options;
    options.server = broker_->address();
    options.client_name = name;
    return options;
  }

  std::unique_ptr<Client> connect() {
    auto client = Client::connect(client_options("event-test-producer"));
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    return client.ok() ? std::move(client.value()) : nullptr;
  }

  std::unique_ptr<EventStream> subscribe(const std::vector<std::string>& queues = {},
                                         size_t local_buffer = EventStream::kDefaultLocalBuffer) {
    auto stream = EventStream::open(client_options("event-test-subscriber"), queues, local_buffer);
    EXPECT_TRUE(stream.ok()) << stream.status().to_string();
    return stream.ok() ? std::move(stream.value()) : nullptr;
  }

  // Reads events until one of `kind` about `who` (a task id, or a worker name for worker
  // events) arrives; every event read on the way is appended to `log`.
  std::optional<Event> await(EventStream& stream, EventKind kind, const std::string& who,
                             std::vector<Event>& log) {
    for (const Event& event : log) {
      if (event.kind == kind && (event.task_id == who || event.worker == who)) return event;
    }
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto item = stream.next(1s);
      if (!item.ok()) {
        if (item.status().code() == ErrorCode::kTimeout) continue;
        ADD_FAILURE() << item.status().to_string();
        return std::nullopt;
      }
      const Event* event = std::get_if<Event>(&*item);
      if (event == nullptr) {
        ADD_FAILURE() << "events missed in a quiet test";
        continue;
      }
      log.push_back(*event);
      if (event->kind == kind && (event->task_id == who || event->worker == who)) return *event;
    }
    ADD_FAILURE() << "no " << event_kind_name(kind) << " event for " << who;
    return std::nullopt;
  }

  // The position of the first event of `kind` about task `id` in `log` (-1 if none).
  static int position(const std::vector<Event>& log, EventKind kind, const std::string& id) {
    for (size_t i = 0; i < log.size(); ++i) {
      if (log[i].kind == kind && log[i].task_id == id) return static_cast<int>(i);
    }
    return -1;
  }
};

TEST_F(EventStreamTest, TaskAndWorkerLifecycle) {
  auto stream = subscribe();
  ASSERT_TRUE(stream);
  EXPECT_GT(stream->server_buffer(), 0u);
  auto client = connect();
  ASSERT_TRUE(client);

  WorkerOptions options;
  options.server = broker_->address();
  options.name = "event-worker";
  options.concurrency = 2;
  auto worker = std::make_unique<Worker>(options);
  worker->register_task("add", [](TaskContext& task) { return task.args()[0].get<int>() + 1; });
  worker->register_task("divide", [](TaskContext&) -> nlohmann::json {
    throw std::domain_error("division by zero");
  });
  worker->register_task("slow", [](TaskContext& task) -> nlohmann::json {
    eventually([&] { return task.revoked(); }, 20s);
    return nullptr;
  });
  ASSERT_TRUE(worker->start().ok());
  std::vector<Event> log;
  auto online = await(*stream, EventKind::kWorkerOnline, "event-worker", log);
  ASSERT_TRUE(online);
  EXPECT_EQ(online->pid, static_cast<uint32_t>(getpid()));
  EXPECT_FALSE(online->host.empty());
  EXPECT_GT(online->at_ms, 0);

  // Success.
  const std::string added = client->enqueue({.name = "add", .args = {1}})->id;
  auto succeeded = await(*stream, EventKind::kTaskSucceeded, added, log);
  ASSERT_TRUE(succeeded);
  EXPECT_EQ(succeeded->task_name, "add");
  EXPECT_EQ(succeeded->queue, "default");
  EXPECT_EQ(succeeded->worker, "event-worker");
  EXPECT_EQ(succeeded->attempt, 1u);
  EXPECT_GE(succeeded->runtime_ms, 0);
  EXPECT_FALSE(succeeded->error.has_value());
  const int enqueued_at = position(log, EventKind::kTaskEnqueued, added);
  const int started_at = position(log, EventKind::kTaskStarted, added);
  ASSERT_GE(enqueued_at, 0);
  ASSERT_GT(started_at, enqueued_at);
  EXPECT_LT(started_at, position(log, EventKind::kTaskSucceeded, added));
  EXPECT_EQ(log[started_at].worker, "event-worker");

  // A retry, then the final failure.
  const std::string divided =
      client->enqueue({.name = "divide",
                       .options = {.retry = {.max_retries = 1, .backoff_base = 10ms, .jitter = false}}})
          ->id;
  auto failed = await(*stream, EventKind::kTaskFailed, divided, log);
  ASSERT_TRUE(failed);
  ASSERT_TRUE(failed->error.has_value());
  EXPECT_EQ(failed->error->message, "division by zero");
  EXPECT_EQ(failed->attempt, 2u);
  const int retried_at = position(log, EventKind::kTaskRetried, divided);
  ASSERT_GE(retried_at, 0);
  ASSERT_TRUE(log[retried_at].error.has_value());
  EXPECT_EQ(log[retried_at].error->message, "division by zero");

  // Revoked while running.
  const std::string slow = client->enqueue({.name = "slow"})->id;
  ASSERT_TRUE(await(*stream, EventKind::kTaskStarted, slow, log));
  ASSERT_TRUE(client->revoke(slow).ok());
  auto revoked = await(*stream, EventKind::kTaskRevoked, slow, log);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->queue, "default");

  worker->stop();
  auto offline = await(*stream, EventKind::kWorkerOffline, "event-worker", log);
  ASSERT_TRUE(offline);
}

TEST_F(EventStreamTest, ALostLeaseIsRequeued) {
  auto stream = subscribe();
  ASSERT_TRUE(stream);
  auto worker = raw("vanishing-worker");
  ASSERT_TRUE(worker->call(1, consume_request(1)));
  auto producer = raw("producer");
  auto enqueued = producer->call(1, enqueue_request("add", "[1]"));
  ASSERT_TRUE(enqueued && enqueued->has_enqueue_ok());
  const std::string id = enqueued->enqueue_ok().id();
  auto delivery = worker->receive();
  ASSERT_TRUE(delivery && delivery->has_delivery());
  worker->close();
  std::vector<Event> log;
  ASSERT_TRUE(await(*stream, EventKind::kTaskRequeued, id, log));
  ASSERT_TRUE(await(*stream, EventKind::kWorkerOffline, "vanishing-worker", log));
}

TEST_F(EventStreamTest, QueueFilterKeepsWorkerEvents) {
  auto stream = subscribe({"wanted"});
  ASSERT_TRUE(stream);
  auto client = connect();
  const std::string unwanted = client->enqueue({.name = "x", .options = {.queue = "unwanted"}})->id;
  const std::string wanted = client->enqueue({.name = "x", .options = {.queue = "wanted"}})->id;
  auto consumer = raw("filtered-worker");
  ASSERT_TRUE(consumer->call(1, consume_request(1, 0, "elsewhere")));

  std::vector<Event> log;
  ASSERT_TRUE(await(*stream, EventKind::kTaskEnqueued, wanted, log));
  ASSERT_TRUE(await(*stream, EventKind::kWorkerOnline, "filtered-worker", log));
  for (const Event& event : log) EXPECT_NE(event.task_id, unwanted);
}

TEST_F(EventStreamTest, CloseWakesAWaitingNext) {
  auto stream = subscribe();
  ASSERT_TRUE(stream);
  std::thread closer([&] { stream->close(); });  // before or while next() waits: both must work
  auto item = stream->next(20s);
  closer.join();
  ASSERT_FALSE(item.ok());
  EXPECT_EQ(item.status().code(), ErrorCode::kUnavailable);
}

TEST_F(EventStreamTest, BrokerGoingAwayEndsTheStream) {
  auto stream = subscribe();
  ASSERT_TRUE(stream);
  broker_->kill_hard();
  auto item = stream->next(20s);
  ASSERT_FALSE(item.ok());
  EXPECT_EQ(item.status().code(), ErrorCode::kUnavailable);
}

// A subscriber that stops reading: producers keep their pace (the broker drops that
// subscriber's events instead of buffering or blocking), and when it reads again it is
// told how many it missed before the next event.
TEST_F(EventStreamTest, ASlowSubscriberMissesEventsButDoesNotSlowProducers) {
  broker_.reset();
  start_broker({"--event-buffer", "64", "--sync", "none"});
  auto stream = subscribe({}, /*local_buffer=*/8);
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->server_buffer(), 64u);
  auto client = connect();
  ASSERT_TRUE(client);

  // How many events end up in socket buffers before the broker has to drop depends on
  // the kernel, so the flood grows until some were dropped.
  uint64_t flooded = 0;
  uint64_t received = 0;
  uint64_t missed = 0;
  uint64_t ticks = 0;
  for (size_t round_size = 20000; missed == 0 && round_size <= 160000; round_size *= 2) {
    const auto started = std::chrono::steady_clock::now();
    std::vector<TaskRequest> batch(1000, TaskRequest{.name = "flood", .options = {.queue = "flood"}});
    for (size_t sent = 0; sent < round_size; sent += batch.size()) {
      auto receipts = client->enqueue_batch(batch);
      ASSERT_TRUE(receipts.ok()) << receipts.status().to_string();
    }
    flooded += round_size;
    // Not a benchmark: only a producer stuck behind the subscriber would take this long.
    EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);

    // Read again. The notice comes before the next event, so a "tick" task makes sure
    // there is a next event after everything buffered has been read.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (missed == 0 && received < flooded && std::chrono::steady_clock::now() < deadline) {
      auto item = stream->next(100ms);
      if (!item.ok()) {
        ASSERT_EQ(item.status().code(), ErrorCode::kTimeout) << item.status().to_string();
        ASSERT_TRUE(client->enqueue({.name = "tick", .options = {.queue = "ticks"}}).ok());
        ++ticks;
        continue;
      }
      if (const auto* gap = std::get_if<EventsMissed>(&*item)) {
        missed += gap->count;
      } else if (std::get<Event>(*item).queue == "flood") {
        ++received;
      }
    }
  }
  ASSERT_GT(missed, 0u) << "flooded " << flooded << ", received all of them";
  EXPECT_LE(received + missed, flooded + ticks);

  // After the gap the stream carries on normally.
  const std::string after = client->enqueue({.name = "after", .options = {.queue = "after"}})->id;
  bool seen = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    auto item = stream->next(1s);
    if (!item.ok()) continue;
    if (const auto* event = std::get_if<Event>(&*item)) seen = event->task_id == after;
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace brokerd::testing
