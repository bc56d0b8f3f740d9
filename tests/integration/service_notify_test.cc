// brokerd under a stand-in for systemd's Type=notify: READY=1 only once it has recovered
// and listens, STOPPING=1 when SIGTERM starts the shutdown.
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "support/broker_process.h"
#include "support/notify_receiver.h"
#include "support/raw_connection.h"

namespace brokerd::testing {
namespace {

class ServiceNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/brokerd-notify-data-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    data_dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(data_dir_); }

  std::string data_dir_;
};

TEST_F(ServiceNotifyTest, ReadyWhenListeningAndStoppingOnSigterm) {
  NotifyReceiver receiver = NotifyReceiver::at_path();
  ScopedNotifySocket env(receiver.name());  // inherited by the forked brokerd
  BrokerProcess broker(data_dir_);
  broker.start();

  EXPECT_EQ(receiver.receive(), "READY=1");
  // Ready means a client is served at once.
  RawConnection connection(broker.port());
  ASSERT_TRUE(connection.connected());
  const auto welcome = connection.hello();
  ASSERT_TRUE(welcome.has_value());
  connection.close();
  EXPECT_TRUE(receiver.empty());

  EXPECT_EQ(broker.stop(), 0);
  EXPECT_EQ(receiver.receive(), "STOPPING=1");
  EXPECT_TRUE(receiver.empty());
}

TEST_F(ServiceNotifyTest, ReadyAfterRecoveryOnRestart) {
  NotifyReceiver receiver = NotifyReceiver::at_path();
  ScopedNotifySocket env(receiver.name());
  BrokerProcess broker(data_dir_);
  broker.start();
  EXPECT_EQ(receiver.receive(), "READY=1");
  broker.kill_hard();  // no STOPPING=1 from a crash
  EXPECT_TRUE(receiver.empty());

  broker.restart_on_same_port();
  EXPECT_EQ(receiver.receive(), "READY=1");
  EXPECT_EQ(broker.stop(), 0);
  EXPECT_EQ(receiver.receive(), "STOPPING=1");
}

TEST_F(ServiceNotifyTest, RunsNormallyWithoutNotifySocket) {
  ScopedNotifySocket unset(std::nullopt);
  BrokerProcess broker(data_dir_);
  broker.start();
  RawConnection connection(broker.port());
  ASSERT_TRUE(connection.connected());
  EXPECT_TRUE(connection.hello().has_value());
  connection.close();
  EXPECT_EQ(broker.stop(), 0);
}

}  // namespace
}  // namespace brokerd::testing
