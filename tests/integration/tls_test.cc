// TLS on the broker port against a real brokerd, with certificates made at test time:
// the client library, a worker and brokerctl connect and verify the broker; plain
// clients, untrusted or misnamed certificates and (with client verification) clients
// without a certificate are refused, and the broker keeps serving.
#include <gtest/gtest.h>

#include <brokerd/client.h>
#include <brokerd/worker.h>

#include "integration/broker_fixture.h"
#include "integration/command_runner.h"
#include "support/test_pki.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

class TlsTest : public BrokerFixture {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.file("pki"));
    auto pki = make_test_pki(dir_.file("pki"));
    ASSERT_TRUE(pki) << "openssl could not generate the test certificates";
    pki_ = *pki;
  }

  void start_tls_broker(bool verify_clients) {
    std::vector<std::string> args = {"--tls-cert-file", pki_.server_cert, "--tls-key-file", pki_.server_key};
    if (verify_clients) {
      args.push_back("--tls-client-ca-file");
      args.push_back(pki_.ca_cert);
    }
    start_broker(args);
  }

  ClientOptions tls_options() const {
    ClientOptions options;
    options.server = broker_->address();
    options.connect_timeout = 5s;
    options.security.tls.enabled = true;
    options.security.tls.ca_file = pki_.ca_cert;
    return options;
  }

  // The broker still serves a correctly configured client.
  void expect_serving() {
    auto client = Client::connect(tls_options());
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    EXPECT_TRUE(client.value()->ping().ok());
  }

  TestPki pki_;
};

TEST_F(TlsTest, ClientVerifiesTheBrokerAndRoundTripsTasks) {
  start_tls_broker(false);
  auto client = Client::connect(tls_options());
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  auto receipt = client.value()->enqueue({.name = "mul", .args = {6, 7}});
  ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();

  WorkerOptions worker_options;
  worker_options.server = broker_->address();
  worker_options.security.tls = tls_options().security.tls;
  Worker worker(worker_options);
  worker.register_task("mul", [](TaskContext& task) { return task.args()[0].get<int>() * task.args()[1].get<int>(); });
  ASSERT_TRUE(worker.start().ok());
  auto done = client.value()->wait(receipt->id, 10s);
  worker.stop();
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->result_json, "42");
}

TEST_F(TlsTest, PlainTcpClientIsRefusedAndTheBrokerKeepsServing) {
  start_tls_broker(false);
  ClientOptions plain = tls_options();
  plain.security.tls = TlsOptions{};  // any TLS field would turn TLS on
  plain.connect_timeout = 2s;
  auto client = Client::connect(plain);
  EXPECT_FALSE(client.ok());
  expect_serving();
}

TEST_F(TlsTest, ACaFileAloneTurnsTlsOn) {
  start_tls_broker(false);
  ClientOptions options = tls_options();
  options.security.tls.enabled = false;  // forgotten: the CA file must still mean TLS
  auto client = Client::connect(options);
  ASSERT_TRUE(client.ok()) << client.status().to_string();
}

TEST_F(TlsTest, UntrustedCertificateIsRejectedByTheClient) {
  start_tls_broker(false);
  ClientOptions options = tls_options();
  options.security.tls.ca_file = pki_.rogue_ca_cert;
  auto client = Client::connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.status().message().find("TLS handshake"), std::string::npos) << client.status().to_string();
  expect_serving();
}

TEST_F(TlsTest, CertificateForAnotherNameIsRejected) {
  start_tls_broker(false);
  ClientOptions options = tls_options();
  options.security.tls.server_name = "broker.example.org";
  EXPECT_FALSE(Client::connect(options).ok());
  options.security.tls.server_name = "localhost";  // in the certificate's names
  EXPECT_TRUE(Client::connect(options).ok());
}

TEST_F(TlsTest, ClientCertificateIsRequiredWhenConfigured) {
  start_tls_broker(true);
  auto anonymous = Client::connect(tls_options());
  EXPECT_FALSE(anonymous.ok());

  ClientOptions options = tls_options();
  options.security.tls.cert_file = pki_.client_cert;
  options.security.tls.key_file = pki_.client_key;
  auto client = Client::connect(options);
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  EXPECT_TRUE(client.value()->ping().ok());
}

TEST_F(TlsTest, BrokerctlConnectsWithTls) {
  start_tls_broker(false);
  const std::string brokerctl = std::string(BROKERCTL_BINARY) + " --server " + broker_->address();
  CommandRun ok = run_command(brokerctl + " --tls-ca " + pki_.ca_cert + " enqueue add --args '[1,2]'");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  CommandRun untrusted = run_command(brokerctl + " --tls-ca " + pki_.rogue_ca_cert + " queues");
  EXPECT_NE(untrusted.exit_code, 0);
  CommandRun from_env = run_command("env BROKERD_TLS_CA=" + pki_.ca_cert + " " + brokerctl + " queues");
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
}

}  // namespace
}  // namespace brokerd::testing
