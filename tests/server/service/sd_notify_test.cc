// notify_service_manager() against a unix datagram socket standing in for systemd's.
#include "service/sd_notify.h"

#include <sys/un.h>

#include <cstdlib>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "support/notify_receiver.h"

namespace brokerd::server {
namespace {

using brokerd::testing::NotifyReceiver;
using brokerd::testing::ScopedNotifySocket;

TEST(SdNotify, SendsReadyToASocketPath) {
  NotifyReceiver receiver = NotifyReceiver::at_path();
  ScopedNotifySocket env(receiver.name());
  EXPECT_EQ(notify_service_manager("READY=1"), NotifyResult::kSent);
  EXPECT_EQ(receiver.receive(), "READY=1");
}

TEST(SdNotify, SendsEachStateAsOneDatagram) {
  NotifyReceiver receiver = NotifyReceiver::at_path();
  ScopedNotifySocket env(receiver.name());
  EXPECT_EQ(notify_service_manager("READY=1\nSTATUS=listening"), NotifyResult::kSent);
  EXPECT_EQ(notify_service_manager("STOPPING=1"), NotifyResult::kSent);
  EXPECT_EQ(receiver.receive(), "READY=1\nSTATUS=listening");
  EXPECT_EQ(receiver.receive(), "STOPPING=1");
  EXPECT_TRUE(receiver.empty());
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  NotifyReceiver receiver = NotifyReceiver::abstract();
  ASSERT_EQ(receiver.name().front(), '@');
  ScopedNotifySocket env(receiver.name());
  EXPECT_EQ(notify_service_manager("READY=1"), NotifyResult::kSent);
  EXPECT_EQ(receiver.receive(), "READY=1");
}

TEST(SdNotify, DoesNothingWithoutNotifySocket) {
  ScopedNotifySocket unset(std::nullopt);
  EXPECT_EQ(notify_service_manager("READY=1"), NotifyResult::kNotExpected);
  ScopedNotifySocket empty(std::string{});
  EXPECT_EQ(notify_service_manager("READY=1"), NotifyResult::kNotExpected);
}

TEST(SdNotify, ReportsAnUnusableSocket) {
  {
    ScopedNotifySocket relative(std::string("notify.sock"));
    EXPECT_EQ(notify_service_manager("READY=1"), NotifyResult::kFailed);
  }
  {
    ScopedNotifySocket missing(std::string("/nonexistent-brokerd-dir/notify.sock"));
    EXPECT_EQ(notify_service_manager("READY=1"), NotifyResult::kFailed);
  }
  {
    ScopedNotifySocket too_long("/" + std::string(sizeof(sockaddr_un::sun_path), 'x'));
    EXPECT_EQ(notify_service_manager("READY=1"), NotifyResult::kFailed);
  }
}

TEST(SdNotify, LeavesTheEnvironmentAlone) {
  NotifyReceiver receiver = NotifyReceiver::at_path();
  ScopedNotifySocket env(receiver.name());
  ASSERT_EQ(notify_service_manager("READY=1"), NotifyResult::kSent);
  ASSERT_NE(std::getenv("NOTIFY_SOCKET"), nullptr);
  EXPECT_EQ(std::string(std::getenv("NOTIFY_SOCKET")), receiver.name());
}

}  // namespace
}  // namespace brokerd::server
