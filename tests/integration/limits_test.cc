// The connection and queue limits against a real brokerd: each one refuses or closes
// with its documented behaviour, and the broker goes on serving everyone else.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include <brokerd/client.h>

#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

class LimitsTest : public BrokerFixture {
 protected:
  void SetUp() override {}  // each test starts brokerd with its own limits

  v1::Envelope ping() {
    v1::Envelope request;
    request.mutable_ping();
    return request;
  }

  uint32_t open_connections() {
    auto connection = raw("counter");
    v1::Envelope request;
    request.mutable_get_server_stats();
    auto reply = connection->call(9, request);
    return reply && reply->has_server_stats() ? reply->server_stats().connections() - 1 : 0;
  }
};

TEST_F(LimitsTest, ConnectionsBeyondMaxConnectionsAreRefusedCleanly) {
  start_broker({"--max-connections", "3"});
  auto first = raw("one");
  auto second = raw("two");
  auto third = raw("three");
  RawConnection refused(broker_->port());
  auto reply = refused.receive(5s);
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(refused.closed_by_server());
  EXPECT_TRUE(first->call(2, ping()));  // the open ones are untouched

  third->close();
  ASSERT_TRUE(eventually([&] {
    RawConnection again(broker_->port());
    auto hello = again.hello("again");
    return hello && hello->has_hello_ok();
  }));
}

TEST_F(LimitsTest, SilentAndTricklingConnectionsAreClosedAtTheHandshakeDeadline) {
  start_broker({"--handshake-timeout-ms", "300"});
  RawConnection silent(broker_->port());
  EXPECT_TRUE(silent.closed_by_server(5s));

  // A valid hello, one byte every 50 ms: it would take far longer than the deadline.
  v1::Envelope hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_client_name("trickle-trickle-trickle");
  const std::string frame = wire::encode_frame(hello);
  RawConnection trickler(broker_->port());
  const auto started = std::chrono::steady_clock::now();
  bool closed = false;
  for (char byte : frame) {
    trickler.send_bytes(std::string(1, byte));
    if (trickler.closed_by_server(50ms)) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed || trickler.closed_by_server(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);

  auto normal = raw("normal");  // greeted in time: served
  EXPECT_TRUE(normal->call(2, ping()));
}

TEST_F(LimitsTest, IdleConnectionsAreClosedButClientsKeepAlive) {
  start_broker({"--idle-timeout-s", "1"});
  auto idle = raw("idle");
  EXPECT_TRUE(idle->closed_by_server(5s));

  // The client library pings at a third of the advertised timeout: after three idle
  // timeouts of doing nothing, its connection still works.
  ClientOptions options;
  options.server = broker_->address();
  auto client = Client::connect(options);
  ASSERT_TRUE(client.ok());
  std::this_thread::sleep_for(3s);  // the time passing is what is tested
  EXPECT_TRUE(client.value()->ping().ok());
}

TEST_F(LimitsTest, FullQueueRefusesEnqueuesUntilTasksFinish) {
  start_broker({"--max-queue-length", "3"});
  auto producer = raw("producer");
  for (uint64_t id = 2; id < 5; ++id) {
    auto reply = producer->call(id, enqueue_request("add"));
    ASSERT_TRUE(reply && reply->has_enqueue_ok());
  }
  auto refused = producer->call(5, enqueue_request("add", "[]", "refused-task"));
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused->error().message().find("max_queue_length"), std::string::npos);

  v1::Envelope batch;
  batch.mutable_enqueue_batch()->add_tasks()->set_name("add");
  batch.mutable_enqueue_batch()->add_tasks()->set_name("add");
  auto batch_reply = producer->call(6, batch);
  ASSERT_TRUE(batch_reply && batch_reply->has_error());
  EXPECT_EQ(batch_reply->error().code(), v1::RESOURCE_EXHAUSTED);

  auto other_queue = enqueue_request("add");
  other_queue.mutable_enqueue()->mutable_task()->set_queue("other");
  auto other = producer->call(7, other_queue);
  ASSERT_TRUE(other && other->has_enqueue_ok()) << "the limit is per queue";

  auto lookup = producer->call(8, get_task_request("refused-task"));
  ASSERT_TRUE(lookup && lookup->has_error());
  EXPECT_EQ(lookup->error().code(), v1::NOT_FOUND);

  auto worker = raw("worker");
  ASSERT_TRUE(worker->call(2, consume_request(1)));
  auto delivery = worker->receive();
  ASSERT_TRUE(delivery && delivery->has_delivery());
  auto completed = worker->call(3, success_request(delivery->delivery(), "1"));
  ASSERT_TRUE(completed && completed->has_complete_ok());
  auto accepted = producer->call(9, enqueue_request("add"));
  ASSERT_TRUE(accepted && accepted->has_enqueue_ok()) << "room again once a task finished";
}

TEST_F(LimitsTest, WaitsPerConnectionAreBounded) {
  start_broker({"--max-waits-per-connection", "2"});
  auto connection = raw("waiter");
  auto enqueued = connection->call(2, enqueue_request("slow"));
  ASSERT_TRUE(enqueued && enqueued->has_enqueue_ok());
  v1::Envelope wait;
  wait.mutable_wait_result()->set_id(enqueued->enqueue_ok().id());
  wait.mutable_wait_result()->set_timeout_ms(60'000);
  for (uint64_t id : {3, 4}) {
    wait.set_id(id);
    connection->send(wait);
  }
  auto refused = connection->call(5, wait);
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused->error().message().find("max_waits_per_connection"), std::string::npos);
  EXPECT_TRUE(connection->call(6, ping())) << "the connection stays usable";
}

// A consumer that takes deliveries and stops reading is paused (the rest of the queue
// goes to a consumer that reads), then dropped when its write makes no progress for
// write_stall_timeout_s; the tasks it held are delivered again.
TEST_F(LimitsTest, ConsumerThatStopsReadingIsPausedThenDropped) {
  start_broker({"--write-stall-timeout-s", "2"});
  auto producer = raw("producer");
  const std::string payload = "[\"" + std::string(60 * 1024, 'x') + "\"]";
  constexpr int kTasks = 500;  // 30 MB: far more than the socket buffers of both ends hold
  for (int i = 0; i < kTasks; ++i) {
    auto reply = producer->call(static_cast<uint64_t>(i + 2), enqueue_request("blob", payload));
    ASSERT_TRUE(reply && reply->has_enqueue_ok());
  }
  auto stats = [&] {
    v1::Envelope request;
    request.mutable_get_queue_stats()->add_queues("default");
    auto reply = producer->call(1000, request);
    return reply && reply->has_queue_stats() && reply->queue_stats().queues_size() == 1 ? reply->queue_stats().queues(0)
                                                                                         : v1::QueueStats();
  };
  RawConnection stuck(broker_->port());
  ASSERT_TRUE(stuck.hello("stuck"));
  v1::Envelope consume = consume_request(kTasks);
  consume.set_id(2);
  stuck.send(consume);  // and never read again

  // Paused: it holds some tasks, the rest stay ready for others, while it is connected.
  ASSERT_TRUE(eventually([&] { return stats().in_flight() > 0; }));
  const v1::QueueStats paused = stats();
  EXPECT_GT(paused.ready(), 0u) << "deliveries to a consumer that does not read should pause";
  EXPECT_EQ(open_connections(), 2u);

  // Dropped once its write stalls; what it held is ready again.
  ASSERT_TRUE(eventually([&] { return open_connections() == 1; }, 20s)) << "the stuck consumer was not dropped";
  ASSERT_TRUE(eventually([&] { return stats().ready() == static_cast<uint64_t>(kTasks); }));
}

// A subscriber that never reads, under more events than it may buffer: it loses events
// (counted for EventsMissed), and once even its unwritten bytes pass max_outbound_mb it
// is dropped.
TEST_F(LimitsTest, SubscriberThatNeverReadsIsDroppedAtMaxOutbound) {
  start_broker({"--max-outbound-mb", "1", "--event-buffer", "1000000", "--write-stall-timeout-s", "3600"});
  RawConnection watcher(broker_->port());
  ASSERT_TRUE(watcher.hello("watcher"));
  v1::Envelope subscribe;
  subscribe.set_id(2);
  subscribe.mutable_subscribe();
  watcher.send(subscribe);  // never read

  auto producer = raw("producer");
  uint64_t request_id = 1;
  ASSERT_TRUE(eventually(
      [&] {
        v1::Envelope batch;
        for (int i = 0; i < 1000; ++i) batch.mutable_enqueue_batch()->add_tasks()->set_name("event-source");
        producer->call(++request_id, batch);
        return open_connections() == 1;
      },
      60s))
      << "the watcher was not dropped after " << (request_id - 1) * 1000 << " enqueues";
}

TEST_F(LimitsTest, ConsumeBoundsItsPrefetchAndItsQueues) {
  start_broker();  // the default limits: max_prefetch 10,000, max_consume_queues 100
  auto worker = raw("worker");
  auto refused = worker->call(1, consume_request(UINT32_MAX));
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::INVALID_ARGUMENT);
  EXPECT_NE(refused->error().message().find("max_prefetch"), std::string::npos) << refused->error().message();

  v1::Envelope many = consume_request(1);
  for (int i = 0; i < 100'000; ++i) many.mutable_consume()->add_queues("q" + std::to_string(i));
  refused = worker->call(2, many);
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::INVALID_ARGUMENT);
  EXPECT_NE(refused->error().message().find("max_consume_queues"), std::string::npos);

  // Nothing of the refused names stays, and the connection still works.
  v1::Envelope stats;
  stats.mutable_get_server_stats();
  auto reply = worker->call(3, stats);
  ASSERT_TRUE(reply && reply->has_server_stats());
  EXPECT_EQ(reply->server_stats().queues(), 0u);
  auto accepted = worker->call(4, consume_request(10'000));
  ASSERT_TRUE(accepted && accepted->has_consume_ok());

  // An event filter is held for the connection's life too.
  auto watcher = raw("watcher");
  v1::Envelope subscribe;
  for (int i = 0; i < 101; ++i) subscribe.mutable_subscribe()->add_queues("q" + std::to_string(i));
  refused = watcher->call(5, subscribe);
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_NE(refused->error().message().find("max_consume_queues"), std::string::npos);
}

}  // namespace
}  // namespace brokerd::testing
