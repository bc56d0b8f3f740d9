// Operating a real brokerd: --print-config, --config files and BROKERD_* variables, invalid
// settings refused at start, JSON log lines, SIGHUP reopening the log file, and SIGTERM
// exiting 0.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/broker_process.h"
#include "support/raw_connection.h"
#include "support/temp_dir.h"

extern char** environ;

namespace brokerd::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Env = std::map<std::string, std::string>;

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

// Forks brokerd with `args`, stdout and stderr to files, and an environment without the
// caller's BROKERD_* variables but with `env`.
pid_t spawn(const std::vector<std::string>& args, const Env& env, const std::string& out_path,
            const std::string& err_path) {
  std::vector<std::string> argv_storage = {BROKERD_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<std::string> inherited;
  for (char** var = environ; *var != nullptr; ++var) {
    const std::string entry(*var);
    if (entry.rfind("BROKERD_", 0) == 0) inherited.push_back(entry.substr(0, entry.find('=')));
  }
  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (out < 0 || err < 0) _exit(126);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  for (const std::string& name : inherited) unsetenv(name.c_str());
  for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

// Waits (up to 20 s) for `pid` to exit; its exit status, or -1 (killed when it did not exit).
int wait_exit(pid_t pid) {
  int status = 0;
  if (!eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(20))) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class OperationsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (HasFailure()) std::cerr << "brokerd stderr:\n" << read_file(dir_.file("stderr")) << '\n';
  }

  // Runs brokerd to completion (options that print and exit, or refuse to start).
  RunResult run(const std::vector<std::string>& args, const Env& env = {}) {
    RunResult result;
    const pid_t pid = spawn(args, env, dir_.file("run.out"), dir_.file("run.err"));
    result.exit_code = wait_exit(pid);
    result.out = read_file(dir_.file("run.out"));
    result.err = read_file(dir_.file("run.err"));
    std::filesystem::remove(dir_.file("run.err"));
    return result;
  }

  // Starts a serving brokerd on 127.0.0.1:0 with a data dir in the test's directory and
  // waits for its port file.
  void start(std::vector<std::string> args, const Env& env = {}) {
    const std::string port_file = args_port_file_.empty() ? dir_.file("port") : args_port_file_;
    std::vector<std::string> all = {"--listen", "127.0.0.1:0", "--data-dir", dir_.file("data"), "--port-file",
                                    port_file};
    all.insert(all.end(), args.begin(), args.end());
    pid_ = spawn(all, env, dir_.file("stdout"), dir_.file("stderr"));
    ASSERT_GT(pid_, 0);
    bool exited = false;
    ASSERT_TRUE(eventually(
        [&] {
          std::ifstream in(port_file);
          unsigned port = 0;
          if (in >> port && port > 0) {
            port_ = static_cast<uint16_t>(port);
            return true;
          }
          exited = waitpid(pid_, nullptr, WNOHANG) == pid_;
          return exited;
        },
        std::chrono::seconds(20)));
    if (exited) pid_ = -1;
    ASSERT_FALSE(exited) << "brokerd exited at start";
  }

  // SIGTERM; the exit status.
  int stop() {
    kill(pid_, SIGTERM);
    const int code = wait_exit(pid_);
    pid_ = -1;
    return code;
  }

  void expect_alive() {
    RawConnection connection(port_);
    ASSERT_TRUE(connection.connected());
    auto reply = connection.hello("operations-test");
    EXPECT_TRUE(reply && reply->has_hello_ok());
  }

  TempDir dir_;
  std::string args_port_file_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

TEST_F(OperationsTest, PrintConfigPrintsTomlThatLoadsBack) {
  RunResult defaults = run({"--print-config"});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  EXPECT_THAT(defaults.out, AllOf(HasSubstr("\nlease_ms = 30000\n"), HasSubstr("\ndata_dir = \"./brokerd-data\"\n"),
                                  HasSubstr("\nlog_format = \"text\"\n")));

  // Every source at once, then the printed result fed back alone gives the same.
  const std::string config = dir_.file("brokerd.toml");
  std::ofstream(config) << "lease_ms = 3000\nqueue_window = 100\ndata_dir = \"/srv/brokerd\"\n";
  RunResult combined = run({"--config", config, "--queue-window", "200", "--print-config"},
                     {{"BROKERD_LEASE_MS", "2000"}, {"BROKERD_RESULT_TTL_S", "77"}, {"BROKERD_SERVER", "x:1"}});
  ASSERT_EQ(combined.exit_code, 0) << combined.err;
  EXPECT_THAT(combined.out, AllOf(HasSubstr("\nlease_ms = 3000\n"), HasSubstr("\nresult_ttl_s = 77\n"),
                                  HasSubstr("\nqueue_window = 200\n"), HasSubstr("\ndata_dir = \"/srv/brokerd\"\n")));
  const std::string printed = dir_.file("printed.toml");
  std::ofstream(printed) << combined.out;
  RunResult reloaded = run({"--config", printed, "--print-config"});
  ASSERT_EQ(reloaded.exit_code, 0) << reloaded.err;
  EXPECT_EQ(reloaded.out, combined.out);
}

TEST_F(OperationsTest, PrintConfigReferenceIsDocsConfigurationMd) {
  RunResult reference = run({"--print-config-reference"});
  ASSERT_EQ(reference.exit_code, 0);
  EXPECT_TRUE(reference.out == read_file(std::string(BROKERD_SOURCE_DIR) + "/docs/configuration.md"))
      << "regenerate docs/configuration.md with brokerd --print-config-reference";
}

TEST_F(OperationsTest, InvalidSettingsStopTheStartNamingSettingAndSource) {
  const std::string config = dir_.file("bad.toml");
  std::ofstream(config) << "sync = \"none\"\nlease_ms = \"soon\"\n";
  RunResult bad_file = run({"--config", config, "--data-dir", dir_.file("data")});
  EXPECT_EQ(bad_file.exit_code, 2);
  EXPECT_THAT(bad_file.err, AllOf(HasSubstr(config + " line 2"), HasSubstr("lease_ms must be an integer")));

  std::ofstream(config) << "lease_ms = 5000\nleasems = 5000\n";
  RunResult unknown_key = run({"--config", config});
  EXPECT_EQ(unknown_key.exit_code, 2);
  EXPECT_THAT(unknown_key.err, AllOf(HasSubstr(config), HasSubstr("unknown setting 'leasems'")));

  RunResult bad_env = run({"--data-dir", dir_.file("data")}, {{"BROKERD_IO_THREADS", "0"}});
  EXPECT_EQ(bad_env.exit_code, 2);
  EXPECT_THAT(bad_env.err, AllOf(HasSubstr("BROKERD_IO_THREADS"), HasSubstr("io_threads = 0 is outside 1..64")));

  RunResult bad_flag = run({"--sync", "sometimes"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_THAT(bad_flag.err, AllOf(HasSubstr("flag --sync"), HasSubstr("'sometimes'")));

  RunResult missing = run({"--config", dir_.file("absent.toml")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr(dir_.file("absent.toml")));

  EXPECT_EQ(run({"--no-such-flag"}).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("data"))) << "nothing may be created before the settings check";
}

TEST_F(OperationsTest, ConfigFileAndEnvironmentReachTheRunningBroker) {
  const std::string config = dir_.file("brokerd.toml");
  std::ofstream(config) << "sync = \"none\"\nlog_level = \"debug\"\n";
  ASSERT_NO_FATAL_FAILURE(start({"--config", config}, {{"BROKERD_LOG_FORMAT", "json"}, {"BROKERD_LEASE_MS", "4321"}}));
  expect_alive();
  EXPECT_EQ(stop(), 0);
  bool saw_start = false;
  for (const std::string& line : lines_of(read_file(dir_.file("stderr")))) {
    const auto record = nlohmann::json::parse(line);  // BROKERD_LOG_FORMAT=json applied
    const std::string msg = record["msg"];
    if (msg.find("listening on") != std::string::npos) {
      saw_start = true;
      EXPECT_THAT(msg, AllOf(HasSubstr("brokerd " BROKERD_VERSION " listening on 127.0.0.1:" + std::to_string(port_)),
                             HasSubstr("data_dir=" + dir_.file("data")), HasSubstr("sync=none")));
    }
    if (msg.find("effective settings") != std::string::npos) {
      EXPECT_THAT(msg, HasSubstr("\nlease_ms = 4321\n"));
    }
  }
  EXPECT_TRUE(saw_start);
}

TEST_F(OperationsTest, JsonLogLinesAlwaysParse) {
  // The port file's name puts a quote and a backslash into the (multi-line) debug record of
  // the effective settings.
  args_port_file_ = dir_.file("port \"quoted\" \\ file");
  ASSERT_NO_FATAL_FAILURE(start({"--log-format", "json", "--log-level", "debug"}));
  expect_alive();
  kill(pid_, SIGHUP);  // logging to stderr: nothing to reopen, and brokerd stays up
  expect_alive();
  EXPECT_EQ(stop(), 0);
  const auto lines = lines_of(read_file(dir_.file("stderr")));
  ASSERT_GE(lines.size(), 3u);
  bool saw_escaped = false;
  for (const std::string& line : lines) {
    nlohmann::json record;
    ASSERT_NO_THROW(record = nlohmann::json::parse(line)) << line;
    ASSERT_TRUE(record["ts"].is_string()) << line;
    ASSERT_TRUE(record["level"].is_string()) << line;
    ASSERT_TRUE(record["msg"].is_string()) << line;
    const std::string msg = record["msg"];
    if (msg.find("port_file = " + args_port_file_ + "\n") != std::string::npos) saw_escaped = true;
  }
  EXPECT_TRUE(saw_escaped);
  EXPECT_EQ(nlohmann::json::parse(lines.back())["msg"], "brokerd stopped");
}

TEST_F(OperationsTest, SighupReopensTheLogFileAfterItWasMoved) {
  const std::string log = dir_.file("logs/brokerd.log");
  ASSERT_NO_FATAL_FAILURE(start({"--log-file", log}));
  ASSERT_TRUE(eventually([&] { return read_file(log).find("listening on") != std::string::npos; }));
  std::filesystem::rename(log, log + ".1");  // what logrotate does before its postrotate HUP
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  ASSERT_TRUE(eventually([&] { return read_file(log).find("reopened") != std::string::npos; }))
      << "no new log file after SIGHUP";
  expect_alive();
  EXPECT_EQ(stop(), 0);
  const std::string moved = read_file(log + ".1");
  const std::string fresh = read_file(log);
  EXPECT_THAT(moved, AllOf(HasSubstr("listening on"), HasSubstr("reopening log file " + log)));
  EXPECT_THAT(moved, Not(HasSubstr("brokerd stopped")));
  EXPECT_THAT(fresh, AllOf(HasSubstr("log file " + log + " reopened"), HasSubstr("brokerd stopped")));
  EXPECT_THAT(fresh, Not(HasSubstr("listening on")));
  EXPECT_EQ(read_file(dir_.file("stderr")), "") << "with --log-file nothing goes to stderr";
}

}  // namespace
}  // namespace brokerd::testing
