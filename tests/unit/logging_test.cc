// brokerd's logging: JSON lines that always parse, the reopenable and size-rotated file
// sink, reopening the log file the way SIGHUP does, and the shutdown watchdog.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "logging/logging.h"
#include "logging/reopenable_file_sink.h"
#include "logging/shutdown_watchdog.h"
#include "support/temp_dir.h"

namespace brokerd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string format_json(spdlog::level::level_enum level, std::string_view payload) {
  spdlog::details::log_msg msg("brokerd", level, spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  make_json_formatter()->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(JsonLogFormat, EveryMessageBecomesOneParseableLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain", "plain"},
      {"quote \" backslash \\ slash /", "quote \" backslash \\ slash /"},
      {"new\nline\ttab\r\x01\x1f", "new\nline\ttab\r\x01\x1f"},
      {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"},           // UTF-8 is kept
      {"bad \xff\xfe byte", "bad \xef\xbf\xbd\xef\xbf\xbd byte"},          // invalid: U+FFFD
      {"truncated \xc3", "truncated \xef\xbf\xbd"},
      {std::string("nul \0 inside", 12), std::string("nul \0 inside", 12)},
      {"{\"already\":\"json\"}", "{\"already\":\"json\"}"},
  };
  for (const auto& [payload, expected] : cases) {
    const std::string line = format_json(spdlog::level::warn, payload);
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1) << line;  // one line, whatever the message
    const auto record = nlohmann::json::parse(line);
    EXPECT_EQ(record["msg"], expected) << line;
    EXPECT_EQ(record["level"], "warning");
    EXPECT_TRUE(std::regex_match(record["ts"].get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << record["ts"];
    EXPECT_TRUE(record["thread"].is_number_unsigned());
  }
}

TEST(ReopenableFileSink, ReopenFollowsAMovedFile) {
  brokerd::testing::TempDir dir;
  const std::string path = dir.file("brokerd.log");
  auto sink = std::make_shared<ReopenableFileSink>(path, 0, 0);
  spdlog::logger logger("test", sink);
  logger.info("before the move");
  logger.flush();
  std::filesystem::rename(path, path + ".moved");
  logger.info("still to the moved file");
  logger.flush();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(sink->reopen(), "");
  logger.info("after the reopen");
  logger.flush();
  const std::string moved = read_file(path + ".moved");
  EXPECT_THAT(moved, HasSubstr("before the move"));
  EXPECT_THAT(moved, HasSubstr("still to the moved file"));
  EXPECT_THAT(moved, Not(HasSubstr("after the reopen")));
  EXPECT_THAT(read_file(path), HasSubstr("after the reopen"));
}

TEST(ReopenableFileSink, AppendsToAnExistingFile) {
  brokerd::testing::TempDir dir;
  const std::string path = dir.file("brokerd.log");
  std::ofstream(path) << "earlier run\n";
  {
    spdlog::logger logger("test", std::make_shared<ReopenableFileSink>(path, 0, 0));
    logger.info("this run");
  }
  EXPECT_THAT(read_file(path), HasSubstr("earlier run\n"));
  EXPECT_THAT(read_file(path), HasSubstr("this run"));
}

TEST(ReopenableFileSink, FailedReopenKeepsTheOldFile) {
  brokerd::testing::TempDir dir;
  const std::string path = dir.file("sub/brokerd.log");
  auto sink = std::make_shared<ReopenableFileSink>(path, 0, 0);
  spdlog::logger logger("test", sink);
  std::filesystem::rename(dir.file("sub"), dir.file("moved"));
  std::ofstream(dir.file("sub")) << "a file where the directory was\n";
  EXPECT_NE(sink->reopen(), "");
  logger.info("still logging");
  logger.flush();
  EXPECT_THAT(read_file(dir.file("moved/brokerd.log")), HasSubstr("still logging"));
}

TEST(ReopenableFileSink, RotatesBySizeKeepingMaxFiles) {
  brokerd::testing::TempDir dir;
  const std::string path = dir.file("brokerd.log");
  {
    auto sink = std::make_shared<ReopenableFileSink>(path, 200, 2);
    sink->set_pattern("%v");
    spdlog::logger logger("test", sink);
    for (int i = 0; i < 40; ++i) logger.info("record {:02} with some padding", i);  // 28 bytes: 7 a file
  }
  ASSERT_TRUE(std::filesystem::exists(path + ".1"));
  ASSERT_TRUE(std::filesystem::exists(path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
  for (const std::string& file : {path, path + ".1", path + ".2"}) {
    EXPECT_LE(std::filesystem::file_size(file), 200u) << file;
  }
  // Newest in FILE, the one before in FILE.1, oldest kept in FILE.2; records are whole.
  const auto current = lines_of(read_file(path));
  const auto previous = lines_of(read_file(path + ".1"));
  const auto oldest = lines_of(read_file(path + ".2"));
  ASSERT_FALSE(current.empty());
  ASSERT_EQ(previous.size(), 7u);
  ASSERT_EQ(oldest.size(), 7u);
  EXPECT_EQ(current.back(), "record 39 with some padding");
  EXPECT_EQ(previous.back(), "record " + std::to_string(39 - current.size()) + " with some padding");
  EXPECT_EQ(oldest.back().substr(0, 9), "record " + std::to_string(39 - current.size() - 7));
}

TEST(ReopenableFileSink, MaxFilesZeroTruncatesInPlace) {
  brokerd::testing::TempDir dir;
  const std::string path = dir.file("brokerd.log");
  {
    auto sink = std::make_shared<ReopenableFileSink>(path, 100, 0);
    sink->set_pattern("%v");
    spdlog::logger logger("test", sink);
    for (int i = 0; i < 10; ++i) logger.info("record {:02} with some padding", i);
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".1"));
  EXPECT_LE(std::filesystem::file_size(path), 100u);
  EXPECT_THAT(read_file(path), HasSubstr("record 09"));
}

TEST(Logging, ReopenLogFileMovesTheDefaultLoggerToTheNewFile) {
  brokerd::testing::TempDir dir;
  const std::string path = dir.file("brokerd.log");
  LogOptions options;
  options.file = path;
  options.format = "json";
  ASSERT_TRUE(setup_logging(options).ok());
  spdlog::info("first");
  std::filesystem::rename(path, path + ".1");
  ASSERT_TRUE(reopen_log_file().ok());
  spdlog::info("second");
  spdlog::default_logger()->flush();
  const auto old_lines = lines_of(read_file(path + ".1"));
  const auto new_lines = lines_of(read_file(path));
  ASSERT_EQ(old_lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(old_lines[0])["msg"], "first");
  EXPECT_EQ(nlohmann::json::parse(old_lines[1])["msg"], "reopening log file " + path);
  ASSERT_EQ(new_lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(new_lines[0])["msg"], "log file " + path + " reopened");
  EXPECT_EQ(nlohmann::json::parse(new_lines[1])["msg"], "second");
  ASSERT_TRUE(setup_logging(LogOptions{}).ok());  // back to stderr before the directory goes
  EXPECT_TRUE(reopen_log_file().ok());            // nothing to reopen
}

TEST(Logging, BadOptionsAreRefused) {
  LogOptions options;
  options.level = "loud";
  EXPECT_THAT(setup_logging(options).message(), HasSubstr("log_level"));
  options = {};
  options.format = "xml";
  EXPECT_THAT(setup_logging(options).message(), HasSubstr("log_format"));
  options = {};
  options.file = "/proc/no/such/dir/brokerd.log";
  EXPECT_THAT(setup_logging(options).message(), HasSubstr("cannot open log file /proc/no/such/dir/brokerd.log"));
}

TEST(ShutdownWatchdog, DisarmedInTimeLetsTheProcessGoOn) {
  ShutdownWatchdog watchdog;
  watchdog.arm(std::chrono::seconds(30));
  watchdog.disarm();  // returns at once, joining the watchdog thread
  watchdog.arm(std::chrono::milliseconds(1));  // after disarm: does nothing
  SUCCEED();
}

TEST(ShutdownWatchdogDeathTest, ExitsWithTheGivenStatusWhenShutdownHangs) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (!setup_logging(LogOptions{}).ok()) _exit(99);  // to stderr, where the test looks
        ShutdownWatchdog watchdog;
        watchdog.arm(std::chrono::milliseconds(20), 3);
        while (true) pause();  // a shutdown that never finishes
      },
      ::testing::ExitedWithCode(3), "shutdown did not finish within 20 ms");
}

}  // namespace
}  // namespace brokerd::server
