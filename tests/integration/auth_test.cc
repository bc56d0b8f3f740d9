// Authentication and roles against a real brokerd started with --auth-tokens-file: the
// handshake refuses missing and unknown tokens, each role can do exactly its part,
// producers read only their own tasks, and tokens never reach the log.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <brokerd/client.h>
#include <brokerd/worker.h>

#include "integration/broker_fixture.h"
#include "integration/command_runner.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAdminToken = "admin-token-0123456789abcdef";
constexpr const char* kProducerToken = "producer-token-0123456789abcdef";
constexpr const char* kOtherProducerToken = "other-producer-token-0123456789";
constexpr const char* kWorkerToken = "worker-token-0123456789abcdef";

class AuthTest : public BrokerFixture {
 protected:
  void SetUp() override {
    tokens_file_ = dir_.file("tokens");
    std::ofstream(tokens_file_) << "# role token name\n"
                                << "admin " << kAdminToken << " ops\n"
                                << "producer " << kProducerToken << " web\n"
                                << "producer " << kOtherProducerToken << " billing\n"
                                << "worker " << kWorkerToken << "\n";
    chmod(tokens_file_.c_str(), 0600);
    start_broker({"--auth-tokens-file", tokens_file_});
  }

  std::optional<v1::Envelope> hello_with_token(RawConnection& connection, const std::string& token) {
    v1::Envelope hello;
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_client_name("raw-auth");
    hello.mutable_hello()->set_auth_token(token);
    return connection.call(1, hello);
  }

  std::unique_ptr<Client> client_with(const std::string& token) {
    ClientOptions options;
    options.server = broker_->address();
    options.security.token = token;
    auto client = Client::connect(options);
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  std::string broker_log() {
    std::ifstream log(broker_->log_path());
    std::stringstream text;
    text << log.rdbuf();
    return text.str();
  }

  std::string tokens_file_;
};

TEST_F(AuthTest, HelloWithoutTokenIsDeniedAndClosed) {
  RawConnection connection(broker_->port());
  auto reply = hello_with_token(connection, "");
  ASSERT_TRUE(reply);
  ASSERT_TRUE(reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::PERMISSION_DENIED);
  EXPECT_TRUE(connection.closed_by_server());
}

TEST_F(AuthTest, UnknownTokenIsDeniedAndClosedAndNotLogged) {
  const std::string guess = "admin-token-0123456789abcdeX";  // one character off
  RawConnection connection(broker_->port());
  auto reply = hello_with_token(connection, guess);
  ASSERT_TRUE(reply);
  ASSERT_TRUE(reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::PERMISSION_DENIED);
  EXPECT_TRUE(connection.closed_by_server());
  ASSERT_TRUE(eventually([&] { return broker_log().find("authentication failed") != std::string::npos; }));
  EXPECT_EQ(broker_log().find(guess), std::string::npos);
}

TEST_F(AuthTest, RequestsBeforeAuthenticatedHelloAreRefused) {
  RawConnection connection(broker_->port());
  auto reply = connection.call(1, enqueue_request("add"));
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::HANDSHAKE_REQUIRED);
  EXPECT_TRUE(connection.closed_by_server());
}

TEST_F(AuthTest, HelloOkReportsTheRole) {
  RawConnection connection(broker_->port());
  auto reply = hello_with_token(connection, kWorkerToken);
  ASSERT_TRUE(reply && reply->has_hello_ok()) << (reply ? reply->DebugString() : "no reply");
  EXPECT_EQ(reply->hello_ok().role(), "worker");
}

TEST_F(AuthTest, ProducerEnqueuesAndReadsItsOwnTasksOnly) {
  auto web = client_with(kProducerToken);
  auto billing = client_with(kOtherProducerToken);
  ASSERT_TRUE(web && billing);
  auto receipt = web->enqueue({.name = "add", .args = {1, 2}});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();

  auto own = web->get_task(receipt->id);
  ASSERT_TRUE(own.ok()) << own.status().to_string();
  EXPECT_EQ(own->name, "add");

  auto foreign = billing->get_task(receipt->id);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), ErrorCode::kPermissionDenied);
  auto foreign_wait = billing->wait(receipt->id, 1s);
  ASSERT_FALSE(foreign_wait.ok());
  EXPECT_EQ(foreign_wait.status().code(), ErrorCode::kPermissionDenied);

  // Outside the role: denied, and the connection stays usable.
  auto purge = web->purge("default");
  ASSERT_FALSE(purge.ok());
  EXPECT_EQ(purge.status().code(), ErrorCode::kPermissionDenied);
  auto stats = web->queue_stats();
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(web->ping().ok());
  EXPECT_TRUE(web->get_task(receipt->id).ok());
}

TEST_F(AuthTest, AnotherProducersTaskIdCanBeNeitherReusedNorProbed) {
  auto web = client_with(kProducerToken);
  auto billing = client_with(kOtherProducerToken);
  ASSERT_TRUE(web && billing);
  TaskRequest invoice{.name = "invoice", .args = {42}};
  invoice.options.id = "invoice-42";
  auto first = billing->enqueue(invoice);
  ASSERT_TRUE(first.ok()) << first.status().to_string();

  auto again = billing->enqueue(invoice);  // idempotent for its owner
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);

  TaskRequest hijack{.name = "evil", .args = {1}};
  hijack.options.id = "invoice-42";
  auto taken = web->enqueue(hijack);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), ErrorCode::kPermissionDenied);
  auto taken_in_batch = web->enqueue_batch({TaskRequest{.name = "fine"}, hijack});
  ASSERT_FALSE(taken_in_batch.ok());
  EXPECT_EQ(taken_in_batch.status().code(), ErrorCode::kPermissionDenied);

  auto admin = client_with(kAdminToken);
  ASSERT_TRUE(admin);
  auto stored = admin->get_task("invoice-42");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->name, "invoice") << "the owner's task must be unchanged";
  auto stats = admin->queue_stats({"default"});
  ASSERT_TRUE(stats.ok() && stats->size() == 1);
  EXPECT_EQ(stats->front().ready, 1u) << "the refused batch must have stored nothing";
}

TEST_F(AuthTest, ProducerMayNotConsume) {
  RawConnection connection(broker_->port());
  ASSERT_TRUE(hello_with_token(connection, kProducerToken));
  auto reply = connection.call(2, consume_request(1));
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::PERMISSION_DENIED);
  v1::Envelope ping;
  ping.mutable_ping();
  auto pong = connection.call(3, ping);
  ASSERT_TRUE(pong && pong->has_pong()) << "the connection must stay open after a denial";
}

TEST_F(AuthTest, WorkerRunsTasksButMayNotEnqueueOrRead) {
  auto producer = client_with(kProducerToken);
  ASSERT_TRUE(producer);
  auto receipt = producer->enqueue({.name = "add", .args = {2, 3}});
  ASSERT_TRUE(receipt.ok());

  WorkerOptions options;
  options.server = broker_->address();
  options.security.token = kWorkerToken;
  Worker worker(options);
  worker.register_task("add", [](TaskContext& task) { return task.args()[0].get<int>() + task.args()[1].get<int>(); });
  ASSERT_TRUE(worker.start().ok());
  auto done = producer->wait(receipt->id, 10s);
  worker.stop();
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->state, TaskState::kSuccess);
  EXPECT_EQ(done->result_json, "5");

  auto as_worker = client_with(kWorkerToken);
  ASSERT_TRUE(as_worker);
  auto enqueue = as_worker->enqueue({.name = "add"});
  ASSERT_FALSE(enqueue.ok());
  EXPECT_EQ(enqueue.status().code(), ErrorCode::kPermissionDenied);
  auto read = as_worker->get_task(receipt->id);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kPermissionDenied);
}

TEST_F(AuthTest, AdminDoesEverythingAndDenialsAreLoggedWithoutTokens) {
  auto producer = client_with(kProducerToken);
  auto admin = client_with(kAdminToken);
  ASSERT_TRUE(producer && admin);
  auto receipt = producer->enqueue({.name = "add"});
  ASSERT_TRUE(receipt.ok());
  auto task = admin->get_task(receipt->id);
  ASSERT_TRUE(task.ok()) << task.status().to_string();
  EXPECT_TRUE(admin->queue_stats().ok());
  EXPECT_TRUE(admin->server_stats().ok());
  auto purged = admin->purge("default");
  ASSERT_TRUE(purged.ok()) << purged.status().to_string();

  ASSERT_FALSE(producer->purge("default").ok());
  ASSERT_TRUE(eventually([&] { return broker_log().find("denied purge to producer 'web'") != std::string::npos; }))
      << broker_log();
  const std::string log = broker_log();
  for (const char* token : {kAdminToken, kProducerToken, kOtherProducerToken, kWorkerToken}) {
    EXPECT_EQ(log.find(token), std::string::npos) << "a token reached the log";
  }
}

TEST_F(AuthTest, BrokerctlReadsItsTokenFromAFileOrTheEnvironment) {
  const std::string token_file = dir_.file("admin.token");
  std::ofstream(token_file) << kAdminToken << '\n';
  const std::string brokerctl = std::string(BROKERCTL_BINARY) + " --server " + broker_->address();

  CommandRun without = run_command("env -u BROKERD_TOKEN -u BROKERD_TOKEN_FILE " + brokerctl + " queues");
  EXPECT_NE(without.exit_code, 0);
  EXPECT_NE(without.err.find("PERMISSION_DENIED"), std::string::npos) << without.err;

  CommandRun with_file = run_command(brokerctl + " --token-file " + token_file + " queues");
  EXPECT_EQ(with_file.exit_code, 0) << with_file.err;

  CommandRun with_env = run_command("env BROKERD_TOKEN_FILE=" + token_file + " " + brokerctl + " stats");
  EXPECT_EQ(with_env.exit_code, 0) << with_env.err;

  CommandRun missing = run_command(brokerctl + " --token-file " + dir_.file("nope") + " queues");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("cannot read token file"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace brokerd::testing
