// HOST:PORT parsing (client/src/address.h) and default_server_address().

#include "address.h"

#include <stdlib.h>

#include <gtest/gtest.h>

#include "brokerd/client.h"

namespace brokerd::internal {
namespace {

TEST(SplitHostPortTest, AcceptsNamesV4AndBracketedV6) {
  Result<HostPort> a = split_host_port("localhost:7411");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, "7411");
  Result<HostPort> b = split_host_port("10.0.0.1:1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "10.0.0.1");
  Result<HostPort> c = split_host_port("[::1]:65535");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, "65535");
}

TEST(SplitHostPortTest, RejectsMalformed) {
  for (const char* bad : {"", "localhost", ":7411", "host:", "host:0", "host:65536", "host:12a",
                          "host:-1", "[]:80"}) {
    Result<HostPort> r = split_host_port(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(DefaultServerAddressTest, ReadsEnvironment) {
  unsetenv("BROKERD_SERVER");
  EXPECT_EQ(default_server_address(), "127.0.0.1:7411");
  setenv("BROKERD_SERVER", "broker:9000", 1);
  EXPECT_EQ(default_server_address(), "broker:9000");
  setenv("BROKERD_SERVER", "", 1);
  EXPECT_EQ(default_server_address(), "127.0.0.1:7411");
  unsetenv("BROKERD_SERVER");
}

}  // namespace
}  // namespace brokerd::internal
