// libFuzzer target: the real request dispatcher (RequestRouter behind a Session) with a
// real Engine on RocksDB, fed arbitrary envelopes over TCP.
//
// LLVMFuzzerInitialize starts one in-process broker for the whole run, wired like
// server/main.cc (storage, engine, committer, router, BrokerServer on 127.0.0.1:0, io
// threads). The wiring is duplicated here on purpose: main() does not expose it, and
// server code is not changed for the fuzzer. Going through a socket keeps the Session's
// handshake, decoding, held-reply and close paths in play, which the router depends on.
//
// Per input: connect, Hello, the input's envelopes (format: dispatcher_input.h), a Ping
// sentinel; then read until the sentinel's Pong or the server's close. Invariants:
//   - the server accepts the connection and answers Hello with HelloOk (so every earlier
//     input left it serving);
//   - every frame it sends decodes, has a server->client kind, pushes carry id 0, and a
//     reply carries the id of a request that was sent, with a kind that answers it;
//   - no request is answered twice; on a connection that stays open every request but
//     WaitResult is answered (after the Pong, within the deadline);
//   - no INTERNAL error (nothing here should be a storage fault);
//   - after an error that closes the connection no Pong arrives and the close comes;
//   - Pong or close within the deadline: a hang is a finding.
// The broker's state (tasks, queues, dead letters) carries over between inputs, as it
// would between a real server's clients, so a crash may need the inputs before it to
// reproduce; libFuzzer's crash file is still the first thing to try.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include "commit/committer.h"
#include "dispatcher_input.h"
#include "engine/engine.h"
#include "fuzz_client.h"
#include "handlers/request_router.h"
#include "net/broker_server.h"
#include "storage/rocks_storage.h"

using namespace brokerd;
using namespace brokerd::server;

namespace {

constexpr uint64_t kHelloId = 1;
constexpr uint64_t kSentinelId = UINT64_MAX;
constexpr uint64_t kFirstRequestId = uint64_t{1} << 62;  // away from ids the inputs pick
constexpr std::chrono::seconds kDeadline{20};
constexpr std::chrono::milliseconds kLiveTaskWait{100};
const char kSentinelPayload[] = "brokerd-fuzz-sentinel";

// The in-process broker. Never destroyed: the io threads run until exit, and tearing the
// objects down in static-destructor order would race them. stop_broker() quiesces it.
struct Broker {
  std::string data_dir;
  std::unique_ptr<RocksStorage> storage;
  SystemClock clock;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Committer> committer;
  std::unique_ptr<RequestRouter> router;
  std::atomic<uint32_t> open_connections{0};
  std::unique_ptr<SessionContext> context;
  asio::io_context io;
  std::unique_ptr<BrokerServer> server;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  uint16_t port = 0;
};
Broker* broker = nullptr;
// BROKERD_FUZZ_TRACE=1 prints every frame sent and received, to see what an input does.
bool trace = false;

[[noreturn]] void fail(const std::string& what) {
  fprintf(stderr, "request_dispatcher_fuzzer: invariant violated: %s\n", what.c_str());
  abort();
}

void stop_broker() {
  broker->server->stop();
  broker->work.reset();
  broker->io.stop();
  for (auto& thread : broker->threads) thread.join();
  (void)broker->engine->flush();
  broker->committer->stop();
  std::error_code ignored;
  std::filesystem::remove_all(broker->data_dir, ignored);
}

void start_broker() {
  broker = new Broker;
  // tmpfs when there is one: fsync is then free and the run measures the broker, not the disk.
  std::string pattern = std::filesystem::is_directory("/dev/shm") ? "/dev/shm/brokerd-fuzz-XXXXXX"
                                                                  : "/tmp/brokerd-fuzz-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) fail("mkdtemp failed");
  broker->data_dir = pattern;
  RocksStorageOptions storage_options;
  storage_options.path = broker->data_dir;
  storage_options.block_cache_bytes = 8ull << 20;
  storage_options.defer_wal_writes = true;  // as main.cc does for the default sync policy
  auto storage = RocksStorage::open(storage_options);
  if (!storage.ok()) fail("cannot open storage: " + storage.status().message());
  broker->storage = std::move(storage.value());
  broker->engine = std::make_unique<Engine>(*broker->storage, broker->clock, EngineOptions{});
  if (Status s = broker->engine->open(); !s.ok()) fail("engine open: " + s.message());
  broker->committer = std::make_unique<Committer>(*broker->storage, SyncPolicy::kAlways, 100);
  broker->committer->start();
  RouterOptions router_options;
  router_options.server_version = "fuzz";
  router_options.max_frame_bytes = wire::kDefaultMaxFrameBytes;
  router_options.fill_server_stats = [](v1::ServerStats& stats) {
    stats.set_connections(broker->open_connections.load());
    stats.set_sync("always");
    stats.set_data_dir(broker->data_dir);
    stats.set_disk_bytes(broker->storage->disk_bytes());
  };
  broker->router = std::make_unique<RequestRouter>(*broker->engine, router_options);
  broker->context = std::make_unique<SessionContext>(
      SessionContext{*broker->engine, *broker->committer, *broker->router, SessionLimits{}, broker->open_connections});
  broker->server = std::make_unique<BrokerServer>(broker->io, *broker->context);
  if (Status s = broker->server->listen("127.0.0.1:0"); !s.ok()) fail("listen: " + s.message());
  broker->port = broker->server->local_endpoint().port();
  broker->server->start();
  broker->work.emplace(asio::make_work_guard(broker->io));
  for (int i = 0; i < 2; ++i) broker->threads.emplace_back([] { broker->io.run(); });
  atexit(stop_broker);
}

bool is_push(v1::Envelope::BodyCase kind) {
  return kind == v1::Envelope::kDelivery || kind == v1::Envelope::kRevokeNotice || kind == v1::Envelope::kEvent ||
         kind == v1::Envelope::kEventsMissed;
}

// The success reply to a request kind; BODY_NOT_SET for kinds that are not requests.
v1::Envelope::BodyCase reply_kind(v1::Envelope::BodyCase request) {
  switch (request) {
    case v1::Envelope::kHello: return v1::Envelope::kHelloOk;
    case v1::Envelope::kPing: return v1::Envelope::kPong;
    case v1::Envelope::kEnqueue: return v1::Envelope::kEnqueueOk;
    case v1::Envelope::kEnqueueBatch: return v1::Envelope::kEnqueueBatchOk;
    case v1::Envelope::kConsume: return v1::Envelope::kConsumeOk;
    case v1::Envelope::kComplete: return v1::Envelope::kCompleteOk;
    case v1::Envelope::kHeartbeat: return v1::Envelope::kHeartbeatOk;
    case v1::Envelope::kRelease: return v1::Envelope::kReleaseOk;
    case v1::Envelope::kGetTask:
    case v1::Envelope::kWaitResult: return v1::Envelope::kTaskInfo;
    case v1::Envelope::kGetQueueStats: return v1::Envelope::kQueueStats;
    case v1::Envelope::kRevoke: return v1::Envelope::kRevokeOk;
    case v1::Envelope::kPurge: return v1::Envelope::kPurgeOk;
    case v1::Envelope::kListDead:
    case v1::Envelope::kListTasks: return v1::Envelope::kTaskList;
    case v1::Envelope::kDeadRequeue:
    case v1::Envelope::kDeadDelete: return v1::Envelope::kDeadOpOk;
    case v1::Envelope::kGetWorkers: return v1::Envelope::kWorkers;
    case v1::Envelope::kGetServerStats: return v1::Envelope::kServerStats;
    case v1::Envelope::kSubscribe: return v1::Envelope::kSubscribeOk;
    default: return v1::Envelope::BODY_NOT_SET;
  }
}

bool closes_connection(v1::ErrorCode code) {
  return code == v1::BAD_FRAME || code == v1::FRAME_TOO_LARGE || code == v1::UNSUPPORTED_VERSION ||
         code == v1::HANDSHAKE_REQUIRED;
}

// What one connection sent and got back.
struct Exchange {
  struct Sent {
    int requests = 0;
    int waits = 0;  // WaitResult: may stay unanswered while the connection is open
    int replies = 0;
    std::multiset<v1::Envelope::BodyCase> kinds;
  };
  std::map<uint64_t, Sent> by_id;
  bool hello_answered = false;
  bool pong = false;
  bool closing_error = false;
  std::string live_task_id;  // from the last Delivery, EnqueueOk or EnqueueBatchOk
  uint64_t live_lease_id = 0;
  bool have_lease = false;
  bool consumed = false;  // a Consume was sent: a Delivery may come
  bool enqueued = false;  // an Enqueue or Consume was sent: a task id may come

  void request(const v1::Envelope& message) {
    consumed = consumed || message.body_case() == v1::Envelope::kConsume;
    enqueued = enqueued || message.body_case() == v1::Envelope::kEnqueue ||
               message.body_case() == v1::Envelope::kEnqueueBatch || consumed;
    Sent& sent = by_id[message.id()];
    ++sent.requests;
    if (message.body_case() == v1::Envelope::kWaitResult) ++sent.waits;
    sent.kinds.insert(message.body_case());
  }

  void on_frame(const v1::Envelope& frame) {
    if (trace) fprintf(stderr, "<- %s\n", frame.ShortDebugString().c_str());
    const auto kind = frame.body_case();
    if (!hello_answered) {
      if (kind != v1::Envelope::kHelloOk || frame.id() != kHelloId) fail("first frame is not HelloOk for the Hello");
      hello_answered = true;
    }
    if (is_push(kind)) {
      if (frame.id() != 0) fail("push with a non-zero id");
      if (kind == v1::Envelope::kDelivery) {
        live_task_id = frame.delivery().task_id();
        live_lease_id = frame.delivery().lease_id();
        have_lease = true;
      }
      return;
    }
    if (kind == v1::Envelope::kError) {
      const v1::ErrorCode code = frame.error().code();
      if (!v1::ErrorCode_IsValid(code) || code == v1::ERROR_CODE_UNSPECIFIED) fail("error without a valid code");
      if (code == v1::INTERNAL) fail("INTERNAL error: " + frame.error().message());
      if (closes_connection(code)) closing_error = true;
      // Connection-level errors answer no request.
      if (frame.id() == 0 && (code == v1::BAD_FRAME || code == v1::FRAME_TOO_LARGE)) return;
    }
    if (kind == v1::Envelope::kPong && frame.id() == kSentinelId && frame.pong().payload() == kSentinelPayload) {
      if (closing_error) fail("sentinel answered after an error that closes the connection");
      pong = true;
      return;
    }
    auto it = by_id.find(frame.id());
    if (it == by_id.end()) fail("reply for id " + std::to_string(frame.id()) + ", which no request carried");
    Sent& sent = it->second;
    if (++sent.replies > sent.requests) fail("request id " + std::to_string(frame.id()) + " answered twice");
    if (kind != v1::Envelope::kError) {
      bool answers = false;
      for (auto request : sent.kinds) answers = answers || reply_kind(request) == kind;
      if (!answers) fail("reply kind " + std::to_string(kind) + " answers no request with its id");
    }
    if (kind == v1::Envelope::kEnqueueOk) live_task_id = frame.enqueue_ok().id();
    if (kind == v1::Envelope::kEnqueueBatchOk && frame.enqueue_batch_ok().tasks_size() > 0) {
      live_task_id = frame.enqueue_batch_ok().tasks(0).id();
    }
  }

  // Every request but WaitResult answered (only meaningful while the connection is open).
  bool all_answered() const {
    for (const auto& [id, sent] : by_id) {
      if (sent.replies < sent.requests - sent.waits) return false;
    }
    return true;
  }
};

// Puts the live task id (and for lease-holding requests the live lease) into `message`.
void use_live_task(v1::Envelope& message, const Exchange& exchange) {
  const std::string& id = exchange.live_task_id;
  switch (message.body_case()) {
    case v1::Envelope::kComplete:
      message.mutable_complete()->set_task_id(id);
      message.mutable_complete()->set_lease_id(exchange.live_lease_id);
      break;
    case v1::Envelope::kRelease:
      message.mutable_release()->set_task_id(id);
      message.mutable_release()->set_lease_id(exchange.live_lease_id);
      break;
    case v1::Envelope::kHeartbeat:
      if (message.heartbeat().task_ids_size() == 0) message.mutable_heartbeat()->add_task_ids();
      message.mutable_heartbeat()->set_task_ids(0, id);
      break;
    case v1::Envelope::kEnqueue: message.mutable_enqueue()->mutable_task()->set_id(id); break;
    case v1::Envelope::kGetTask: message.mutable_get_task()->set_id(id); break;
    case v1::Envelope::kWaitResult: message.mutable_wait_result()->set_id(id); break;
    case v1::Envelope::kRevoke: message.mutable_revoke()->set_id(id); break;
    case v1::Envelope::kDeadRequeue:
      if (message.dead_requeue().ids_size() == 0) message.mutable_dead_requeue()->add_ids();
      message.mutable_dead_requeue()->set_ids(0, id);
      message.mutable_dead_requeue()->set_all(false);  // ids and `all` exclude each other
      break;
    case v1::Envelope::kDeadDelete:
      if (message.dead_delete().ids_size() == 0) message.mutable_dead_delete()->add_ids();
      message.mutable_dead_delete()->set_ids(0, id);
      message.mutable_dead_delete()->set_all(false);
      break;
    default: break;
  }
}

bool needs_lease(const v1::Envelope& message) {
  return message.body_case() == v1::Envelope::kComplete || message.body_case() == v1::Envelope::kHeartbeat ||
         message.body_case() == v1::Envelope::kRelease;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Protocol errors are the point of this fuzzer; their info lines would flood the output.
  spdlog::set_level(spdlog::level::err);
  google::protobuf::SetLogHandler(nullptr);  // "invalid UTF-8" for every mutated string field
  trace = getenv("BROKERD_FUZZ_TRACE") != nullptr;
  start_broker();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto deadline = fuzz::FuzzClient::Clock::now() + kDeadline;
  Exchange exchange;
  fuzz::FuzzClient client([&exchange](const v1::Envelope& frame) { exchange.on_frame(frame); });
  if (!client.connect(broker->port)) fail(std::string("the server no longer accepts connections: ") + strerror(errno));

  v1::Envelope hello;
  hello.set_id(kHelloId);
  hello.mutable_hello()->set_protocol_version(wire::kProtocolVersion);
  hello.mutable_hello()->set_client_name("fuzz");
  exchange.request(hello);
  client.send_body(hello.SerializeAsString());

  uint64_t next_id = kFirstRequestId;
  for (const fuzz::Record& record : fuzz::split_records(data, size)) {
    if (client.closed()) break;
    v1::Envelope message;
    const bool parsed = message.ParseFromArray(record.body.data(), static_cast<int>(record.body.size()));
    if (!parsed) {
      if ((record.flags & fuzz::kRaw) == 0) continue;
      client.send_body(std::string(record.body));  // BAD_FRAME, then close: nothing after it is read
      break;
    }
    std::string body(record.body);
    if ((record.flags & fuzz::kRaw) == 0) {
      if ((record.flags & fuzz::kKeepId) == 0) message.set_id(next_id++);
      const bool lease = needs_lease(message);
      // Wait only when something sent on this connection can produce the id; otherwise
      // every input with the flag would stall for the full wait.
      if ((record.flags & fuzz::kUseLiveTask) != 0 && (lease ? exchange.consumed : exchange.enqueued)) {
        const auto wait_until = std::min(deadline, fuzz::FuzzClient::Clock::now() + kLiveTaskWait);
        client.pump(wait_until, [&] { return lease ? exchange.have_lease : !exchange.live_task_id.empty(); });
        if (lease ? exchange.have_lease : !exchange.live_task_id.empty()) use_live_task(message, exchange);
      }
      body = message.SerializeAsString();
    }
    if (trace) fprintf(stderr, "-> %s\n", message.ShortDebugString().c_str());
    exchange.request(message);
    client.send_body(body);
    client.pump(fuzz::FuzzClient::Clock::now(), [] { return false; });  // keep both directions moving
  }

  v1::Envelope ping;
  ping.set_id(kSentinelId);
  ping.mutable_ping()->set_payload(kSentinelPayload);
  client.send_body(ping.SerializeAsString());
  if (!client.pump(deadline, [&] { return exchange.pong; })) fail("neither the sentinel Pong nor a close within 20 s");
  if (exchange.closing_error && !client.closed()) {
    if (!client.pump(deadline, [] { return false; })) fail("no close after an error that closes the connection");
  }
  if (!client.closed()) {
    if (!client.pump(deadline, [&] { return exchange.all_answered(); })) fail("a request was never answered");
  } else if (!exchange.hello_answered) {
    fail("connection closed before HelloOk");
  }
  return 0;
}
