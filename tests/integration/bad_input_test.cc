// Bad input against a real brokerd (docs/protocol.md §1, §3, §6, §12).
//
// One test, one server, in order: confirm a known set of tasks and results; send every
// kind of bad input, each on its own connection, and check its typed error (and that the
// four protocol errors close the connection while the others leave it open); then prove
// that a fresh client is served normally and every confirmed task and result is intact,
// also after kill -9 and a restart. It is one test because the point is the sequence:
// gtest_discover_tests runs every TEST in its own process, so separate tests could not
// share the server that took the abuse.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <random>

#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr uint32_t kMaxFrameBytes = wire::kDefaultMaxFrameBytes;
constexpr char kKnownQueue[] = "bad-input.known";
constexpr char kHeldQueue[] = "bad-input.held";

std::string frame_header(uint32_t length) {
  const char bytes[4] = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                         static_cast<char>(length >> 8), static_cast<char>(length)};
  return std::string(bytes, 4);
}

std::string frame_of(const std::string& body) { return frame_header(static_cast<uint32_t>(body.size())) + body; }

uint32_t declared_length(const std::string& bytes) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])); };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

bool closes_connection(v1::ErrorCode code) {
  return code == v1::BAD_FRAME || code == v1::FRAME_TOO_LARGE || code == v1::UNSUPPORTED_VERSION ||
         code == v1::HANDSHAKE_REQUIRED;
}

std::string describe(const std::optional<v1::Envelope>& reply) {
  return reply ? reply->ShortDebugString() : std::string("<no frame: closed or timed out>");
}

v1::Envelope ping_request(const std::string& payload) {
  v1::Envelope request;
  request.mutable_ping()->set_payload(payload);
  return request;
}

v1::Envelope enqueue_spec(const v1::TaskSpec& spec) {
  v1::Envelope request;
  *request.mutable_enqueue()->mutable_task() = spec;
  return request;
}

v1::TaskSpec spec_with_id(const std::string& id, const std::string& queue = "bad-input.rejects") {
  v1::TaskSpec spec;
  spec.set_id(id);
  spec.set_name("bad_input.task");
  spec.set_queue(queue);
  return spec;
}

v1::Envelope complete_request(const std::string& task_id, uint64_t lease_id) {
  v1::Envelope request;
  request.mutable_complete()->set_task_id(task_id);
  request.mutable_complete()->set_lease_id(lease_id);
  return request;
}

// What the test knows was confirmed, to be found again later.
struct Expected {
  v1::TaskState state = v1::TASK_STATE_UNSPECIFIED;
  std::string queue;
  std::string args_json = "[]";
  std::string kwargs_json = "{}";
  uint32_t priority = 0;
  std::string result_json;  // SUCCESS
  std::string error_type;   // FAILURE, RETRY
};

class BadInputTest : public BrokerFixture {
 protected:
  // ---- expectations -------------------------------------------------------------------

  // A protocol error: the typed code with `id`, then the server closes the connection.
  void expect_closing_error(RawConnection& connection, const std::optional<v1::Envelope>& reply,
                            v1::ErrorCode code, uint64_t id) {
    ASSERT_TRUE(reply && reply->has_error()) << "expected " << v1::ErrorCode_Name(code) << ", got "
                                             << describe(reply);
    EXPECT_EQ(reply->error().code(), code) << reply->error().message();
    EXPECT_EQ(reply->id(), id);
    EXPECT_TRUE(connection.closed_by_server()) << v1::ErrorCode_Name(code) << " must close the connection";
  }

  // A request error: the typed code with the request's id; the connection stays usable.
  void expect_request_error(RawConnection& connection, const std::optional<v1::Envelope>& reply,
                            v1::ErrorCode code, uint64_t id, const std::string& message_part = "") {
    ASSERT_TRUE(reply && reply->has_error()) << "expected " << v1::ErrorCode_Name(code) << ", got "
                                             << describe(reply);
    EXPECT_EQ(reply->error().code(), code) << reply->error().message();
    EXPECT_EQ(reply->id(), id);
    if (!message_part.empty()) {
      EXPECT_NE(reply->error().message().find(message_part), std::string::npos)
          << "the message should name " << message_part << ": " << reply->error().message();
    }
    expect_still_open(connection);
  }

  void expect_still_open(RawConnection& connection) {
    auto pong = connection.call(++request_id_, ping_request("still open?"));
    EXPECT_TRUE(pong && pong->has_pong()) << "connection should stay open: " << describe(pong);
  }

  void expect_not_found(const std::string& task_id) {
    auto connection = raw("not-found-check");
    auto reply = connection->call(1, get_task_request(task_id));
    ASSERT_TRUE(reply && reply->has_error()) << task_id << " should not exist: " << describe(reply);
    EXPECT_EQ(reply->error().code(), v1::NOT_FOUND) << task_id;
  }

  v1::TaskRecord get_task(RawConnection& connection, const std::string& task_id) {
    auto reply = connection.call(++request_id_, get_task_request(task_id));
    EXPECT_TRUE(reply && reply->has_task_info()) << task_id << ": " << describe(reply);
    return reply && reply->has_task_info() ? reply->task_info().task() : v1::TaskRecord{};
  }

  v1::Delivery next_delivery(RawConnection& connection) {
    auto frame = connection.receive();
    EXPECT_TRUE(frame && frame->has_delivery()) << describe(frame);
    return frame && frame->has_delivery() ? frame->delivery() : v1::Delivery{};
  }

  uint32_t open_connections(RawConnection& connection) {
    v1::Envelope request;
    request.mutable_get_server_stats();
    auto reply = connection.call(++request_id_, request);
    return reply && reply->has_server_stats() ? reply->server_stats().connections() : 0;
  }

  // ---- the known data -----------------------------------------------------------------

  void confirm_enqueue(RawConnection& connection, const v1::TaskSpec& spec, v1::TaskState state) {
    auto reply = connection.call(++request_id_, enqueue_spec(spec));
    ASSERT_TRUE(reply && reply->has_enqueue_ok()) << spec.id() << ": " << describe(reply);
    ASSERT_TRUE(reply->enqueue_ok().created()) << spec.id();
    ASSERT_EQ(reply->enqueue_ok().state(), state) << spec.id();
    Expected& expected = known_[spec.id()];
    expected.state = state;
    expected.queue = spec.queue();
    if (!spec.args_json().empty()) expected.args_json = spec.args_json();
    if (!spec.kwargs_json().empty()) expected.kwargs_json = spec.kwargs_json();
    expected.priority = spec.priority();
  }

  // Six ready tasks and one scheduled; three of them run: two succeed, one fails for good.
  void seed_known_tasks() {
    auto producer = raw("seed-producer");
    for (int i = 0; i < 6; ++i) {
      v1::TaskSpec spec = spec_with_id("known-" + std::to_string(i), kKnownQueue);
      spec.set_args_json("[" + std::to_string(i) + ", \"x\"]");
      spec.set_kwargs_json("{\"i\": " + std::to_string(i) + "}");
      spec.set_priority(static_cast<uint32_t>(i));
      ASSERT_NO_FATAL_FAILURE(confirm_enqueue(*producer, spec, v1::QUEUED));
    }
    v1::TaskSpec later = spec_with_id("known-later", kKnownQueue);
    later.set_countdown_ms(3'600'000);
    ASSERT_NO_FATAL_FAILURE(confirm_enqueue(*producer, later, v1::SCHEDULED));

    auto worker = raw("seed-worker");
    ASSERT_TRUE(worker->call(++request_id_, consume_request(3, 0, kKnownQueue)));
    std::vector<v1::Delivery> deliveries;
    for (int i = 0; i < 3; ++i) deliveries.push_back(next_delivery(*worker));
    // Pause before completing, so freed credit brings no further deliveries.
    ASSERT_TRUE(worker->call(++request_id_, consume_request(0, 0, kKnownQueue)));
    const std::string results[2] = {"{\"sum\": 42}", "[1, 2, 3]"};
    for (int i = 0; i < 2; ++i) {
      auto done = worker->call(++request_id_, success_request(deliveries[i], results[i]));
      ASSERT_TRUE(done && done->has_complete_ok()) << describe(done);
      ASSERT_EQ(done->complete_ok().state(), v1::SUCCESS);
      known_[deliveries[i].task_id()].state = v1::SUCCESS;
      known_[deliveries[i].task_id()].result_json = results[i];
    }
    v1::Envelope failure = complete_request(deliveries[2].task_id(), deliveries[2].lease_id());
    failure.mutable_complete()->mutable_failure()->mutable_error()->set_type("ValueError");
    failure.mutable_complete()->mutable_failure()->mutable_error()->set_message("bad value");
    auto failed = worker->call(++request_id_, failure);
    ASSERT_TRUE(failed && failed->has_complete_ok()) << describe(failed);
    ASSERT_EQ(failed->complete_ok().state(), v1::FAILURE);  // no retry policy: final
    known_[deliveries[2].task_id()].state = v1::FAILURE;
    known_[deliveries[2].task_id()].error_type = "ValueError";
  }

  // Every confirmed task reads back as confirmed; every refused one does not exist.
  void expect_known_data_intact(const std::string& when) {
    SCOPED_TRACE("known data " + when);
    auto reader = raw("reader");
    for (const auto& [id, expected] : known_) {
      const v1::TaskRecord task = get_task(*reader, id);
      EXPECT_EQ(task.state(), expected.state) << id;
      EXPECT_EQ(task.queue(), expected.queue) << id;
      EXPECT_EQ(task.args_json(), expected.args_json) << id;
      EXPECT_EQ(task.kwargs_json(), expected.kwargs_json) << id;
      EXPECT_EQ(task.priority(), expected.priority) << id;
      if (expected.state == v1::SUCCESS) {
        EXPECT_EQ(task.result_json(), expected.result_json) << id;
      }
      if (!expected.error_type.empty()) {
        EXPECT_EQ(task.error().type(), expected.error_type) << id;
      }
    }
    v1::Envelope stats_request;
    stats_request.mutable_get_queue_stats()->add_queues(kKnownQueue);
    auto stats = reader->call(++request_id_, stats_request);
    ASSERT_TRUE(stats && stats->has_queue_stats() && stats->queue_stats().queues_size() == 1) << describe(stats);
    const v1::QueueStats& queue = stats->queue_stats().queues(0);
    EXPECT_EQ(queue.ready(), 3u);
    EXPECT_EQ(queue.scheduled(), 1u);
    EXPECT_EQ(queue.in_flight(), 0u);
    EXPECT_EQ(queue.succeeded(), 2u);
    EXPECT_EQ(queue.failed(), 1u);
    EXPECT_EQ(queue.dead(), 1u);
    reader.reset();
    for (const std::string& id : refused_ids_) expect_not_found(id);
  }

  // A fresh client does the whole normal cycle: handshake, enqueue, consume, complete.
  void expect_normal_client_served(const std::string& when) {
    SCOPED_TRACE("normal client " + when);
    const std::string queue = "bad-input.normal-" + when;
    auto client = raw("normal-" + when);
    v1::TaskSpec spec = spec_with_id("normal-" + when, queue);
    spec.set_args_json("[\"" + when + "\"]");
    ASSERT_NO_FATAL_FAILURE(confirm_enqueue(*client, spec, v1::QUEUED));
    ASSERT_TRUE(client->call(++request_id_, consume_request(1, 0, queue)));
    const v1::Delivery delivery = next_delivery(*client);
    ASSERT_EQ(delivery.task_id(), spec.id());
    EXPECT_EQ(delivery.args_json(), spec.args_json());
    auto done = client->call(++request_id_, success_request(delivery, "\"ok\""));
    ASSERT_TRUE(done && done->has_complete_ok()) << describe(done);
    EXPECT_EQ(done->complete_ok().state(), v1::SUCCESS);
    known_[spec.id()].state = v1::SUCCESS;
    known_[spec.id()].result_json = "\"ok\"";
    EXPECT_EQ(get_task(*client, spec.id()).result_json(), "\"ok\"");
  }

  // ---- bad frames (connection-level) --------------------------------------------------

  void oversized_length_prefixes() {
    for (const uint32_t length : {0xffffffffu, kMaxFrameBytes + 1}) {
      SCOPED_TRACE("length prefix " + std::to_string(length));
      {  // before the handshake: the header alone decides
        RawConnection connection(broker_->port());
        connection.send_bytes(frame_header(length));
        expect_closing_error(connection, connection.receive(), v1::FRAME_TOO_LARGE, 0);
      }
      {  // after it, with a few body bytes following that the server must never read
        auto connection = raw();
        connection->send_bytes(frame_header(length) + "abc");
        expect_closing_error(*connection, connection->receive(), v1::FRAME_TOO_LARGE, 0);
      }
    }
  }

  void garbage_bodies() {
    const std::string bodies[] = {
        std::string("\xff\xff\xff\xff", 4),          // wire type 7 does not exist
        std::string("\x08", 1),                      // a varint field with no value
        std::string("\x6a\x10\x0a\x02hi", 6),        // ping whose length runs past the frame
        std::string("\x00\x01", 2),                  // field number 0
        std::string("\x52\x04\x12\x02\xc3\x28", 6),  // hello.client_name not UTF-8
    };
    for (const std::string& body : bodies) {
      SCOPED_TRACE("body " + ::testing::PrintToString(body));
      auto connection = raw();
      connection->send_bytes(frame_of(body));
      expect_closing_error(*connection, connection->receive(), v1::BAD_FRAME, 0);
    }
  }

  void unknown_message_kinds() {
    {  // an empty frame: an Envelope with no body
      auto connection = raw();
      connection->send_bytes(frame_header(0));
      expect_request_error(*connection, connection->receive(), v1::UNKNOWN_REQUEST, 0);
    }
    {  // a body kind this server does not know (field 99, from a newer client)
      auto connection = raw();
      v1::Envelope envelope;
      envelope.set_id(7);
      connection->send_bytes(frame_of(envelope.SerializeAsString() + std::string("\x9a\x06\x01z", 4)));
      expect_request_error(*connection, connection->receive(), v1::UNKNOWN_REQUEST, 7);
    }
    // Kinds only the server sends.
    std::vector<v1::Envelope> server_kinds(4);
    server_kinds[0].mutable_delivery()->set_task_id("known-0");
    server_kinds[1].mutable_hello_ok()->set_protocol_version(1);
    server_kinds[2].mutable_complete_ok()->set_state(v1::SUCCESS);
    server_kinds[3].mutable_error()->set_code(v1::INTERNAL);
    for (const v1::Envelope& request : server_kinds) {
      SCOPED_TRACE(request.ShortDebugString());
      auto connection = raw();
      const uint64_t id = ++request_id_;
      expect_request_error(*connection, connection->call(id, request), v1::UNKNOWN_REQUEST, id);
    }
  }

  void handshake_violations() {
    {  // a request before the handshake, one that would change data
      RawConnection connection(broker_->port());
      const v1::TaskSpec spec = spec_with_id("before-hello");
      refused_ids_.push_back(spec.id());
      expect_closing_error(connection, connection.call(3, enqueue_spec(spec)), v1::HANDSHAKE_REQUIRED, 3);
    }
    {
      RawConnection connection(broker_->port());
      expect_closing_error(connection, connection.call(4, ping_request("x")), v1::HANDSHAKE_REQUIRED, 4);
    }
    for (const uint32_t version : {0u, 2u, 0xffffffffu}) {
      SCOPED_TRACE("protocol version " + std::to_string(version));
      RawConnection connection(broker_->port());
      auto reply = connection.hello("wrong-version", version);
      expect_closing_error(connection, reply, v1::UNSUPPORTED_VERSION, 1'000'000);
      if (reply && reply->has_error()) {
        EXPECT_NE(reply->error().message().find("version 1"), std::string::npos);
      }
    }
    {
      auto connection = raw();
      expect_closing_error(*connection, connection->hello("again"), v1::HANDSHAKE_REQUIRED, 1'000'000);
    }
  }

  // A frame cut short, then the client goes away: nothing is answered, nothing applied.
  void truncated_frames_and_trickle() {
    v1::Envelope enqueue = enqueue_spec(spec_with_id("truncated-1"));
    enqueue.set_id(9);
    const std::string frame = wire::encode_frame(enqueue);
    refused_ids_.push_back("truncated-1");
    for (const size_t cut : {size_t{2}, size_t{4}, frame.size() / 2, frame.size() - 1}) {
      auto connection = raw();
      connection->send_bytes(frame.substr(0, cut));
      connection->close();
    }
    {  // a frame announcing more than will ever come
      auto connection = raw();
      connection->send_bytes(frame_header(100) + std::string(10, 'x'));
      connection->close();
    }
    {  // a whole handshake and request one byte at a time are still understood
      RawConnection connection(broker_->port());
      v1::Envelope hello;
      hello.set_id(1);
      hello.mutable_hello()->set_protocol_version(1);
      hello.mutable_hello()->set_client_name("trickle");
      v1::Envelope ping = ping_request("drip");
      ping.set_id(2);
      for (const char byte : wire::encode_frame(hello) + wire::encode_frame(ping)) {
        connection.send_bytes(std::string(1, byte));
      }
      auto greeted = connection.receive();
      ASSERT_TRUE(greeted && greeted->has_hello_ok()) << describe(greeted);
      auto pong = connection.receive();
      ASSERT_TRUE(pong && pong->has_pong()) << describe(pong);
      EXPECT_EQ(pong->pong().payload(), "drip");
      // ... and an enqueue trickled in but never finished is never applied.
      v1::Envelope trickled = enqueue_spec(spec_with_id("trickled-1"));
      refused_ids_.push_back("trickled-1");
      trickled.set_id(3);
      const std::string partial = wire::encode_frame(trickled);
      for (size_t i = 0; i + 1 < partial.size(); ++i) connection.send_bytes(partial.substr(i, 1));
      connection.close();
    }
  }

  // ---- bad requests (INVALID_ARGUMENT and friends; the connection stays open) ---------

  void invalid_enqueues() {
    struct Case {
      std::string what;
      std::function<void(v1::TaskSpec&)> mutate;
      std::string field;  // the error message must name it
    };
    const std::vector<Case> cases = {
        {"queue too long", [](v1::TaskSpec& s) { s.set_queue(std::string(129, 'q')); }, "queue"},
        {"queue with SOH", [](v1::TaskSpec& s) { s.set_queue(std::string("a\x01", 2)); }, "queue"},
        {"queue with NUL", [](v1::TaskSpec& s) { s.set_queue(std::string("a\0b", 3)); }, "queue"},
        {"queue with tab", [](v1::TaskSpec& s) { s.set_queue("a\tb"); }, "queue"},
        {"queue with newline", [](v1::TaskSpec& s) { s.set_queue("a\nb"); }, "queue"},
        {"queue with DEL", [](v1::TaskSpec& s) { s.set_queue("a\x7f"); }, "queue"},
        {"queue with space", [](v1::TaskSpec& s) { s.set_queue("a b"); }, "queue"},
        {"queue not ASCII", [](v1::TaskSpec& s) { s.set_queue("caf\xc3\xa9"); }, "queue"},
        {"name empty", [](v1::TaskSpec& s) { s.set_name(""); }, "name"},
        {"name with ESC", [](v1::TaskSpec& s) { s.set_name("a\x1b[0m"); }, "name"},
        {"name too long", [](v1::TaskSpec& s) { s.set_name(std::string(201, 'n')); }, "name"},
        {"args cut short", [](v1::TaskSpec& s) { s.set_args_json("[1,"); }, "args_json"},
        {"args an object", [](v1::TaskSpec& s) { s.set_args_json("{\"a\": 1}"); }, "args_json"},
        {"args a number", [](v1::TaskSpec& s) { s.set_args_json("1"); }, "args_json"},
        {"args two values", [](v1::TaskSpec& s) { s.set_args_json("[1] [2]"); }, "args_json"},
        {"args NaN", [](v1::TaskSpec& s) { s.set_args_json("[NaN]"); }, "args_json"},
        {"args single quotes", [](v1::TaskSpec& s) { s.set_args_json("['a']"); }, "args_json"},
        {"args then NUL", [](v1::TaskSpec& s) { s.set_args_json(std::string("[1]\0[2]", 7)); }, "args_json"},
        {"kwargs an array", [](v1::TaskSpec& s) { s.set_kwargs_json("[]"); }, "kwargs_json"},
        {"kwargs cut short", [](v1::TaskSpec& s) { s.set_kwargs_json("{\"a\":"); }, "kwargs_json"},
        {"kwargs then NUL", [](v1::TaskSpec& s) { s.set_kwargs_json(std::string("{}\0x", 4)); }, "kwargs_json"},
        {"countdown -1", [](v1::TaskSpec& s) { s.set_countdown_ms(-1); }, "countdown_ms"},
        {"countdown min", [](v1::TaskSpec& s) { s.set_countdown_ms(std::numeric_limits<int64_t>::min()); },
         "countdown_ms"},
        {"eta negative", [](v1::TaskSpec& s) { s.set_eta_ms(-1); }, "eta_ms"},
        {"ttl negative", [](v1::TaskSpec& s) { s.set_result_ttl_ms(-1); }, "result_ttl_ms"},
        {"priority 10", [](v1::TaskSpec& s) { s.set_priority(10); }, "priority"},
        {"priority max", [](v1::TaskSpec& s) { s.set_priority(0xffffffffu); }, "priority"},
        {"max_retries 1001", [](v1::TaskSpec& s) { s.mutable_retry()->set_max_retries(1001); }, "max_retries"},
        {"backoff base 0", [](v1::TaskSpec& s) { s.mutable_retry()->set_backoff_base_ms(0); }, "backoff_base_ms"},
        {"id with space", [](v1::TaskSpec& s) { s.set_id("has space"); }, "id"},
        {"id too long", [](v1::TaskSpec& s) { s.set_id(std::string(129, 'i')); }, "id"},
    };
    int n = 0;
    for (const Case& c : cases) {
      SCOPED_TRACE(c.what);
      v1::TaskSpec spec = spec_with_id("rejected-" + std::to_string(n++));
      c.mutate(spec);
      if (c.field != "id") refused_ids_.push_back(spec.id());
      auto connection = raw();
      const uint64_t id = ++request_id_;
      expect_request_error(*connection, connection->call(id, enqueue_spec(spec)), v1::INVALID_ARGUMENT, id,
                           c.field);
    }
    {  // a batch is all or nothing: the valid first task is not enqueued either
      auto connection = raw();
      v1::Envelope batch;
      *batch.mutable_enqueue_batch()->add_tasks() = spec_with_id("batch-good");
      v1::TaskSpec bad = spec_with_id("batch-bad");
      bad.set_priority(1000);
      *batch.mutable_enqueue_batch()->add_tasks() = bad;
      refused_ids_.insert(refused_ids_.end(), {"batch-good", "batch-bad"});
      const uint64_t id = ++request_id_;
      expect_request_error(*connection, connection->call(id, batch), v1::INVALID_ARGUMENT, id, "tasks[1]");
      v1::Envelope empty;
      empty.mutable_enqueue_batch();
      const uint64_t empty_id = ++request_id_;
      expect_request_error(*connection, connection->call(empty_id, empty), v1::INVALID_ARGUMENT, empty_id);
    }
  }

  void invalid_consumes() {
    const std::vector<std::pair<std::string, v1::Envelope>> cases = {
        {"empty queue name", consume_request(1, 0, "")},  // an empty list means default; "" is no name
        {"queue too long", consume_request(1, 0, std::string(129, 'q'))},
        {"queue with control character", consume_request(1, 0, "q\x02")},
        {"lease 1 ms", consume_request(1, 1, "q")},
        {"lease negative", consume_request(1, -5, "q")},
        {"lease above 1 h", consume_request(1, 3'600'001, "q")},
    };
    for (auto [what, request] : cases) {
      SCOPED_TRACE(what);
      if (what == "empty queue name") request.mutable_consume()->add_queues("");
      auto connection = raw();
      const uint64_t id = ++request_id_;
      expect_request_error(*connection, connection->call(id, request), v1::INVALID_ARGUMENT, id);
    }
    auto connection = raw();
    v1::Envelope heartbeat;
    heartbeat.mutable_heartbeat();
    const uint64_t id = ++request_id_;
    expect_request_error(*connection, connection->call(id, heartbeat), v1::INVALID_ARGUMENT, id, "consume");
  }

  // Completions for leases this connection does not hold, and bad outcomes on one it does.
  void foreign_and_bad_completions() {
    auto producer = raw("held-producer");
    v1::TaskSpec held = spec_with_id("held-1", kHeldQueue);
    held.set_result_ttl_ms(kInt64Max);  // finished + ttl used to wrap: expired at once
    ASSERT_NO_FATAL_FAILURE(confirm_enqueue(*producer, held, v1::QUEUED));
    auto holder = raw("holder");
    ASSERT_TRUE(holder->call(++request_id_, consume_request(1, 0, kHeldQueue)));
    const v1::Delivery delivery = next_delivery(*holder);
    ASSERT_EQ(delivery.task_id(), "held-1");

    const std::string succeeded = [&] {
      for (const auto& [id, expected] : known_)
        if (expected.state == v1::SUCCESS) return id;
      return std::string();
    }();
    struct Foreign {
      std::string what;
      std::string task_id;
      uint64_t lease_id;
      v1::ErrorCode code;
    };
    const std::vector<Foreign> foreign = {
        {"another connection's lease", delivery.task_id(), delivery.lease_id(), v1::STALE_LEASE},
        {"a queued task never delivered", "known-0", 12345, v1::STALE_LEASE},
        {"a finished task", succeeded, 1, v1::STALE_LEASE},
        {"a task that does not exist", "no-such-task", 1, v1::NOT_FOUND},
    };
    for (const Foreign& f : foreign) {
      SCOPED_TRACE(f.what);
      auto intruder = raw("intruder");
      v1::Envelope request = complete_request(f.task_id, f.lease_id);
      request.mutable_complete()->mutable_success()->set_result_json("\"stolen\"");
      const uint64_t id = ++request_id_;
      expect_request_error(*intruder, intruder->call(id, request), f.code, id);
    }

    // Bad outcomes from the holder leave its lease in place.
    v1::Envelope no_outcome = complete_request(delivery.task_id(), delivery.lease_id());
    const uint64_t no_outcome_id = ++request_id_;
    expect_request_error(*holder, holder->call(no_outcome_id, no_outcome), v1::INVALID_ARGUMENT, no_outcome_id,
                         "outcome");
    for (const std::string& result : {std::string("{"), std::string("[1] 2"), std::string("[1]\0x", 5)}) {
      SCOPED_TRACE("result_json " + ::testing::PrintToString(result));
      const uint64_t id = ++request_id_;
      expect_request_error(*holder, holder->call(id, success_request(delivery, result)), v1::INVALID_ARGUMENT, id,
                           "result_json");
    }
    auto done = holder->call(++request_id_, success_request(delivery, "\"held-done\""));
    ASSERT_TRUE(done && done->has_complete_ok()) << describe(done);
    EXPECT_EQ(done->complete_ok().state(), v1::SUCCESS);
    known_["held-1"].state = v1::SUCCESS;
    known_["held-1"].result_json = "\"held-done\"";
    const v1::TaskRecord record = get_task(*producer, "held-1");
    EXPECT_EQ(record.worker(), "holder");  // not "intruder"
    EXPECT_GE(record.expires_ms(), record.finished_ms()) << "a huge result_ttl_ms must not wrap into the past";
  }

  // Durations near the int64 limit are accepted and clamp; they must not wrap into the past.
  void huge_durations() {
    auto producer = raw("huge-producer");
    v1::TaskSpec countdown = spec_with_id("huge-countdown", "bad-input.huge");
    countdown.set_countdown_ms(kInt64Max);  // now + countdown used to wrap: delivered at once
    ASSERT_NO_FATAL_FAILURE(confirm_enqueue(*producer, countdown, v1::SCHEDULED));
    EXPECT_EQ(get_task(*producer, "huge-countdown").due_ms(), kInt64Max);

    v1::TaskSpec retried = spec_with_id("huge-retry", kHeldQueue);
    retried.mutable_retry()->set_max_retries(1);
    ASSERT_NO_FATAL_FAILURE(confirm_enqueue(*producer, retried, v1::QUEUED));
    auto worker = raw("retry-worker");
    ASSERT_TRUE(worker->call(++request_id_, consume_request(1, 0, kHeldQueue)));
    const v1::Delivery delivery = next_delivery(*worker);
    ASSERT_EQ(delivery.task_id(), "huge-retry");
    v1::Envelope retry = complete_request(delivery.task_id(), delivery.lease_id());
    retry.mutable_complete()->mutable_retry()->set_countdown_ms(kInt64Max);
    retry.mutable_complete()->mutable_retry()->mutable_reason()->set_type("Later");
    auto reply = worker->call(++request_id_, retry);
    ASSERT_TRUE(reply && reply->has_complete_ok()) << describe(reply);
    EXPECT_EQ(reply->complete_ok().state(), v1::RETRY);
    known_["huge-retry"].state = v1::RETRY;
    known_["huge-retry"].error_type = "Later";
    EXPECT_EQ(get_task(*producer, "huge-retry").due_ms(), kInt64Max);
  }

  // ---- random bytes -------------------------------------------------------------------

  // One round of random bytes on a new connection (after a handshake when `greeted`). The
  // server may answer with a protocol error (then close), close silently, or, when the
  // bytes happen to form a request, answer it; it must never hang on a complete frame, and
  // it must keep serving everyone else.
  void random_round(std::mt19937_64& random, bool greeted, int kind, std::map<std::string, int>& tally) {
    std::uniform_int_distribution<int> byte(0, 255);
    std::string bytes;
    if (kind == 1) {  // a valid length, so the body reaches the protobuf parser
      std::string body(std::uniform_int_distribution<size_t>(1, 64)(random), '\0');
      for (char& c : body) c = static_cast<char>(byte(random));
      bytes = frame_of(body);
    } else if (kind == 2) {  // a valid request with a few bytes of its body replaced
      v1::Envelope request = ping_request("payload");
      if (random() % 3 == 1) request = enqueue_spec(spec_with_id("mutant", "bad-input.mutants"));
      if (random() % 3 == 2) request = get_task_request("known-0");
      request.set_id(5);
      std::string body = request.SerializeAsString();
      for (int flips = 1 + static_cast<int>(random() % 3); flips > 0; --flips) {
        body[random() % body.size()] = static_cast<char>(byte(random));
      }
      bytes = frame_of(body);
    } else {
      bytes.resize(std::uniform_int_distribution<size_t>(1, 300)(random));
      for (char& c : bytes) c = static_cast<char>(byte(random));
    }
    SCOPED_TRACE("bytes " + ::testing::PrintToString(bytes));
    std::unique_ptr<RawConnection> connection =
        greeted ? raw("random") : std::make_unique<RawConnection>(broker_->port());
    connection->send_bytes(bytes);
    const bool whole_header = bytes.size() >= 4;
    const uint32_t length = whole_header ? declared_length(bytes) : 0;
    if (!whole_header || (length <= kMaxFrameBytes && bytes.size() < 4 + size_t{length})) {
      // Too few bytes for a frame: the server waits for more; the client gives up.
      ++tally["incomplete, client closed"];
      return;
    }
    auto reply = connection->receive();
    if (length > kMaxFrameBytes) {  // decided on the header alone
      ++tally["FRAME_TOO_LARGE"];
      return expect_closing_error(*connection, reply, v1::FRAME_TOO_LARGE, 0);
    }
    if (!reply) {
      ++tally["closed without error"];
      EXPECT_TRUE(connection->closed_by_server(0ms)) << "no answer to a complete frame";
      return;
    }
    if (!reply->has_error()) {
      const auto* kind_field = v1::Envelope::descriptor()->FindFieldByNumber(reply->body_case());
      ++tally["answered with " + (kind_field ? kind_field->name() : std::string("?"))];
      EXPECT_TRUE(greeted || reply->has_hello_ok()) << describe(reply);
      return;
    }
    const v1::ErrorCode code = reply->error().code();
    ++tally[v1::ErrorCode_Name(code)];
    if (!greeted) {
      // Anything but a Hello is refused before the handshake; a Hello by chance has a
      // version other than 1.
      EXPECT_TRUE(code == v1::BAD_FRAME || code == v1::HANDSHAKE_REQUIRED || code == v1::UNSUPPORTED_VERSION)
          << v1::ErrorCode_Name(code);
    } else {
      // UNKNOWN_REQUEST: parsed, but no known request kind. The others answer a request
      // that the bytes happened to spell.
      EXPECT_TRUE(code == v1::BAD_FRAME || code == v1::UNKNOWN_REQUEST || code == v1::HANDSHAKE_REQUIRED ||
                  code == v1::INVALID_ARGUMENT || code == v1::NOT_FOUND || code == v1::STALE_LEASE)
          << v1::ErrorCode_Name(code);
    }
    if (code == v1::BAD_FRAME) {
      EXPECT_EQ(reply->id(), 0u);
    }
    if (closes_connection(code)) {
      EXPECT_TRUE(connection->closed_by_server()) << v1::ErrorCode_Name(code) << " must close the connection";
    }
  }

  void random_bytes() {
    uint64_t seed = 0x5eed'bad1'0000'0001;
    if (const char* text = std::getenv("BROKERD_BAD_INPUT_SEED")) seed = std::strtoull(text, nullptr, 0);
    SCOPED_TRACE("random seed " + std::to_string(seed) + " (rerun with BROKERD_BAD_INPUT_SEED=" +
                 std::to_string(seed) + ")");
    std::mt19937_64 random(seed);
    auto observer = raw("observer");
    std::map<std::string, int> tally;
    constexpr int kRounds = 120;
    for (int round = 0; round < kRounds; ++round) {
      SCOPED_TRACE("round " + std::to_string(round));
      // Kinds: 0 raw bytes, 1 a frame of random bytes, 2 a valid request mutated; each
      // before and after a handshake.
      const int kind = round % 3;
      const bool greeted = (round / 3) % 2 == 1;
      ASSERT_NO_FATAL_FAILURE(random_round(random, greeted, kind, tally));
      auto pong = observer->call(++request_id_, ping_request("alive"));
      ASSERT_TRUE(pong && pong->has_pong()) << "the server stopped serving after round " << round;
    }
    std::cout << "random bytes, seed " << seed << ", " << kRounds << " rounds:\n";
    for (const auto& [outcome, count] : tally) std::cout << "  " << count << "  " << outcome << '\n';
  }

  std::map<std::string, Expected> known_;
  std::vector<std::string> refused_ids_;  // never confirmed: must not exist
  uint64_t request_id_ = 100;
};

TEST_F(BadInputTest, EveryBadInputGetsItsTypedErrorAndNothingConfirmedIsLost) {
  ASSERT_NO_FATAL_FAILURE(seed_known_tasks());

  {
    SCOPED_TRACE("oversized length prefixes");
    oversized_length_prefixes();
  }
  {
    SCOPED_TRACE("garbage bodies");
    garbage_bodies();
  }
  {
    SCOPED_TRACE("unknown message kinds");
    unknown_message_kinds();
  }
  {
    SCOPED_TRACE("handshake violations");
    handshake_violations();
  }
  {
    SCOPED_TRACE("truncated frames and trickle");
    truncated_frames_and_trickle();
  }
  {
    SCOPED_TRACE("invalid enqueues");
    invalid_enqueues();
  }
  {
    SCOPED_TRACE("invalid consumes");
    invalid_consumes();
  }
  {
    SCOPED_TRACE("foreign and bad completions");
    foreign_and_bad_completions();
  }
  {
    SCOPED_TRACE("huge durations");
    huge_durations();
  }
  {
    SCOPED_TRACE("random bytes");
    random_bytes();
  }

  // Every abused connection is gone on the server too (truncated ones included): only
  // the one asking remains.
  {
    auto checker = raw("connection-count");
    uint32_t open = 0;
    EXPECT_TRUE(eventually([&] { return (open = open_connections(*checker)) == 1; }))
        << open << " connections still open on the server";
  }
  expect_normal_client_served("after-bad-input");
  expect_known_data_intact("after bad input");

  broker_->kill_hard();
  ASSERT_NO_FATAL_FAILURE(broker_->restart_on_same_port());
  expect_known_data_intact("after kill -9 and restart");
  expect_normal_client_served("after-restart");
  expect_known_data_intact("at the end");
}

}  // namespace
}  // namespace brokerd::testing
