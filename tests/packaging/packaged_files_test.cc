// The files `cmake --install` ships for running brokerd as a service: the packaged
// config must be one brokerd accepts, and the unit must agree with it.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "config/settings.h"

namespace brokerd::server {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PackagedFiles, ConfigIsAcceptedByBrokerd) {
  Settings settings;
  const Status read = apply_toml_file(settings, BROKERD_PACKAGED_CONFIG);
  ASSERT_TRUE(read.ok()) << read.message();
  const Status valid = validate_settings(settings);
  ASSERT_TRUE(valid.ok()) << valid.message();
  // The directories the unit creates (StateDirectory=, LogsDirectory=).
  EXPECT_EQ(settings.data_dir, "/var/lib/brokerd");
  EXPECT_EQ(settings.log_file.rfind("/var/log/brokerd/", 0), 0u) << settings.log_file;
  EXPECT_EQ(settings.listen, "127.0.0.1:7411");
  EXPECT_EQ(settings.sync, "always");
}

TEST(PackagedFiles, UnitMatchesTheConfig) {
  const std::string unit = read_file(BROKERD_UNIT_TEMPLATE);
  EXPECT_NE(unit.find("\nType=notify\n"), std::string::npos);
  EXPECT_NE(unit.find("\nExecStart=@BROKERD_FULL_BINDIR@/brokerd --config "
                      "@BROKERD_FULL_SYSCONFDIR@/brokerd/brokerd.toml\n"),
            std::string::npos);
  EXPECT_NE(unit.find("\nStateDirectory=brokerd\n"), std::string::npos);
  EXPECT_NE(unit.find("\nLogsDirectory=brokerd\n"), std::string::npos);
  EXPECT_NE(unit.find("\nExecReload=/bin/kill -HUP $MAINPID\n"), std::string::npos);
}

}  // namespace
}  // namespace brokerd::server
