// The wire protocol against a real brokerd, frame by frame (docs/protocol.md).
#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

class ProtocolTest : public BrokerFixture {};

TEST_F(ProtocolTest, HandshakeReportsVersionAndLimits) {
  RawConnection connection(broker_->port());
  auto reply = connection.hello("w1");
  ASSERT_TRUE(reply);
  ASSERT_TRUE(reply->has_hello_ok());
  EXPECT_EQ(reply->hello_ok().protocol_version(), 1u);
  EXPECT_EQ(reply->hello_ok().max_frame_bytes(), 16u << 20);
  EXPECT_FALSE(reply->hello_ok().server_version().empty());
}

TEST_F(ProtocolTest, WrongVersionGetsTypedErrorThenClose) {
  RawConnection connection(broker_->port());
  auto reply = connection.hello("old", 99);
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::UNSUPPORTED_VERSION);
  EXPECT_NE(reply->error().message().find("version 1"), std::string::npos);
  EXPECT_TRUE(connection.closed_by_server());
}

TEST_F(ProtocolTest, RequestBeforeHandshakeIsRefused) {
  RawConnection connection(broker_->port());
  auto reply = connection.call(5, get_task_request("x"));
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::HANDSHAKE_REQUIRED);
  EXPECT_TRUE(connection.closed_by_server());
}

TEST_F(ProtocolTest, SecondHelloIsRefused) {
  auto connection = raw();
  auto reply = connection->hello("again");
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::HANDSHAKE_REQUIRED);
}

TEST_F(ProtocolTest, OversizeLengthIsRefusedAndServerKeepsServing) {
  auto connection = raw();
  connection->send_bytes(std::string("\xff\xff\xff\xff", 4));  // a 4 GiB frame
  auto reply = connection->receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::FRAME_TOO_LARGE);
  EXPECT_TRUE(connection->closed_by_server());
  auto other = raw();
  auto pong = other->call(2, [] { v1::Envelope e; e.mutable_ping()->set_payload("still here"); return e; }());
  ASSERT_TRUE(pong && pong->has_pong());
  EXPECT_EQ(pong->pong().payload(), "still here");
}

TEST_F(ProtocolTest, GarbageBodyIsBadFrame) {
  auto connection = raw();
  connection->send_bytes(std::string("\x00\x00\x00\x04\xff\xff\xff\xff", 8));
  auto reply = connection->receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::BAD_FRAME);
  EXPECT_TRUE(connection->closed_by_server());
}

TEST_F(ProtocolTest, EmptyEnvelopeIsUnknownRequestAndConnectionStays) {
  auto connection = raw();
  connection->send_bytes(std::string("\x00\x00\x00\x00", 4));
  auto reply = connection->receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::UNKNOWN_REQUEST);
  v1::Envelope not_a_request;
  not_a_request.mutable_delivery()->set_task_id("x");
  auto refused = connection->call(3, not_a_request);
  ASSERT_TRUE(refused && refused->has_error());
  EXPECT_EQ(refused->error().code(), v1::UNKNOWN_REQUEST);
  auto ok = connection->call(4, enqueue_request("t"));
  ASSERT_TRUE(ok && ok->has_enqueue_ok());
}

TEST_F(ProtocolTest, PipelinedRequestsAreAllAnswered) {
  auto connection = raw();
  std::string burst;
  for (uint64_t id = 1; id <= 200; ++id) {
    v1::Envelope request = enqueue_request("t", "[" + std::to_string(id) + "]");
    request.set_id(id);
    wire::append_frame(request, burst);
  }
  connection->send_bytes(burst);
  std::set<uint64_t> answered;
  while (answered.size() < 200) {
    auto reply = connection->receive();
    ASSERT_TRUE(reply) << "only " << answered.size() << " replies";
    ASSERT_TRUE(reply->has_enqueue_ok());
    answered.insert(reply->id());
  }
  EXPECT_EQ(*answered.begin(), 1u);
  EXPECT_EQ(*answered.rbegin(), 200u);
}

TEST_F(ProtocolTest, InvalidInputGetsInvalidArgument) {
  auto connection = raw();
  auto bad_args = connection->call(1, enqueue_request("t", "{\"not\": \"an array\"}"));
  ASSERT_TRUE(bad_args && bad_args->has_error());
  EXPECT_EQ(bad_args->error().code(), v1::INVALID_ARGUMENT);
  v1::Envelope bad_queue = enqueue_request("t");
  bad_queue.mutable_enqueue()->mutable_task()->set_queue(std::string("a\x01", 2));
  auto queue_reply = connection->call(2, bad_queue);
  ASSERT_TRUE(queue_reply && queue_reply->has_error());
  EXPECT_EQ(queue_reply->error().code(), v1::INVALID_ARGUMENT);
  v1::Envelope bad_countdown = enqueue_request("t");
  bad_countdown.mutable_enqueue()->mutable_task()->set_countdown_ms(-5);
  auto countdown_reply = connection->call(3, bad_countdown);
  ASSERT_TRUE(countdown_reply && countdown_reply->has_error());
  EXPECT_EQ(countdown_reply->error().code(), v1::INVALID_ARGUMENT);
}

TEST_F(ProtocolTest, UnknownIdIsNotFound) {
  auto connection = raw();
  auto reply = connection->call(1, get_task_request("00000000-0000-4000-8000-000000000000"));
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::NOT_FOUND);
}

TEST_F(ProtocolTest, CompletionForATaskNotHeldIsStale) {
  auto producer = raw();
  auto enqueued = producer->call(1, enqueue_request("t"));
  ASSERT_TRUE(enqueued && enqueued->has_enqueue_ok());
  v1::Delivery fake;
  fake.set_task_id(enqueued->enqueue_ok().id());
  fake.set_lease_id(12345);
  auto reply = producer->call(2, success_request(fake, "1"));
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::STALE_LEASE);
}

TEST_F(ProtocolTest, DroppedConsumerTaskIsDeliveredToAnother) {
  auto producer = raw();
  auto enqueued = producer->call(1, enqueue_request("t"));
  ASSERT_TRUE(enqueued);
  auto first = raw("first-worker");
  ASSERT_TRUE(first->call(1, consume_request(1)));
  auto delivery = first->receive();
  ASSERT_TRUE(delivery && delivery->has_delivery());
  EXPECT_EQ(delivery->delivery().attempt(), 1u);
  first->close();  // the worker dies holding the lease
  auto second = raw("second-worker");
  ASSERT_TRUE(second->call(1, consume_request(1)));
  auto again = second->receive();
  ASSERT_TRUE(again && again->has_delivery());
  EXPECT_EQ(again->delivery().task_id(), enqueued->enqueue_ok().id());
  EXPECT_EQ(again->delivery().attempt(), 2u);
}

TEST_F(ProtocolTest, ReleasedTaskIsDeliveredToAnotherWorkerAtOnce) {
  auto producer = raw();
  auto enqueued = producer->call(1, enqueue_request("t"));
  ASSERT_TRUE(enqueued && enqueued->has_enqueue_ok());
  const std::string id = enqueued->enqueue_ok().id();
  auto first = raw("first-worker");
  v1::Delivery not_yet;
  not_yet.set_task_id(id);
  not_yet.set_lease_id(1);
  auto early = first->call(1, release_request(not_yet));  // before any Consume
  ASSERT_TRUE(early && early->has_error());
  EXPECT_EQ(early->error().code(), v1::INVALID_ARGUMENT);
  ASSERT_TRUE(first->call(2, consume_request(1)));
  auto delivery = first->receive();
  ASSERT_TRUE(delivery && delivery->has_delivery());
  auto second = raw("second-worker");
  ASSERT_TRUE(second->call(1, consume_request(1)));

  // The process running the task died: the worker gives it back without an outcome.
  auto released = first->call(3, release_request(delivery->delivery()));
  ASSERT_TRUE(released && released->has_release_ok()) << (released ? released->ShortDebugString() : "no reply");
  EXPECT_EQ(released->release_ok().state(), v1::QUEUED);
  auto again = second->receive();
  ASSERT_TRUE(again && again->has_delivery());
  EXPECT_EQ(again->delivery().task_id(), id);
  EXPECT_EQ(again->delivery().attempt(), 2u);
  EXPECT_NE(again->delivery().lease_id(), delivery->delivery().lease_id());

  auto twice = first->call(4, release_request(delivery->delivery()));
  ASSERT_TRUE(twice && twice->has_error());
  EXPECT_EQ(twice->error().code(), v1::STALE_LEASE);
  v1::Delivery unknown = delivery->delivery();
  unknown.set_task_id("no-such-task");
  auto missing = first->call(5, release_request(unknown));
  ASSERT_TRUE(missing && missing->has_error());
  EXPECT_EQ(missing->error().code(), v1::NOT_FOUND);
  auto late = first->call(6, success_request(delivery->delivery(), "1"));
  ASSERT_TRUE(late && late->has_error());
  EXPECT_EQ(late->error().code(), v1::STALE_LEASE);

  auto done = second->call(2, success_request(again->delivery(), "2"));
  ASSERT_TRUE(done && done->has_complete_ok());
  auto record = producer->call(2, get_task_request(id));
  ASSERT_TRUE(record && record->has_task_info());
  EXPECT_EQ(record->task_info().task().state(), v1::SUCCESS);
  EXPECT_EQ(record->task_info().task().attempts(), 2u);
  EXPECT_EQ(record->task_info().task().retries(), 0u);
  EXPECT_EQ(record->task_info().task().worker(), "second-worker");
}

TEST_F(ProtocolTest, ExpiredLeaseIsRedeliveredAndLateCompletionRefused) {
  auto producer = raw();
  auto enqueued = producer->call(1, enqueue_request("t"));
  ASSERT_TRUE(enqueued);
  auto hung = raw("hung-worker");
  ASSERT_TRUE(hung->call(1, consume_request(1, /*lease_ms=*/1000)));
  auto delivery = hung->receive();
  ASSERT_TRUE(delivery && delivery->has_delivery());
  auto healthy = raw("healthy-worker");
  ASSERT_TRUE(healthy->call(1, consume_request(1)));
  // No heartbeat from the hung worker: after its 1 s lease the task moves on.
  auto redelivered = healthy->receive(std::chrono::seconds(10));
  ASSERT_TRUE(redelivered && redelivered->has_delivery());
  EXPECT_EQ(redelivered->delivery().task_id(), delivery->delivery().task_id());
  auto late = hung->call(2, success_request(delivery->delivery(), "\"late\""));
  ASSERT_TRUE(late && late->has_error());
  EXPECT_EQ(late->error().code(), v1::STALE_LEASE);
  auto done = healthy->call(2, success_request(redelivered->delivery(), "\"fresh\""));
  ASSERT_TRUE(done && done->has_complete_ok());
  auto record = producer->call(2, get_task_request(enqueued->enqueue_ok().id()));
  ASSERT_TRUE(record && record->has_task_info());
  EXPECT_EQ(record->task_info().task().result_json(), "\"fresh\"");
  EXPECT_EQ(record->task_info().task().worker(), "healthy-worker");
}

TEST_F(ProtocolTest, WaitResultIsPushedWhenTheTaskFinishes) {
  auto producer = raw();
  auto enqueued = producer->call(1, enqueue_request("t"));
  ASSERT_TRUE(enqueued);
  v1::Envelope wait;
  wait.set_id(7);
  wait.mutable_wait_result()->set_id(enqueued->enqueue_ok().id());
  wait.mutable_wait_result()->set_timeout_ms(30'000);
  producer->send(wait);
  auto worker = raw();
  ASSERT_TRUE(worker->call(1, consume_request(1)));
  auto delivery = worker->receive();
  ASSERT_TRUE(delivery && delivery->has_delivery());
  ASSERT_TRUE(worker->call(2, success_request(delivery->delivery(), "42")));
  auto pushed = producer->receive();
  ASSERT_TRUE(pushed && pushed->has_task_info());
  EXPECT_EQ(pushed->id(), 7u);
  EXPECT_EQ(pushed->task_info().task().state(), v1::SUCCESS);
  EXPECT_EQ(pushed->task_info().task().result_json(), "42");
}

TEST_F(ProtocolTest, WaitResultTimesOut) {
  auto producer = raw();
  auto enqueued = producer->call(1, enqueue_request("t"));
  ASSERT_TRUE(enqueued);
  v1::Envelope wait;
  wait.mutable_wait_result()->set_id(enqueued->enqueue_ok().id());
  wait.mutable_wait_result()->set_timeout_ms(200);
  auto reply = producer->call(2, wait);
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::TIMEOUT);
}

}  // namespace
}  // namespace brokerd::testing
