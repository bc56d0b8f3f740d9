// brokerctl's stable contract against a real brokerd: output shapes and exit codes.
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

struct CommandRun {
  int exit_code = -1;
  std::string out;
};

class BrokerctlTest : public BrokerFixture {
 protected:
  // Runs brokerctl with `args` (already shell-quoted) and captures stdout.
  CommandRun brokerctl(const std::string& args) {
    const std::string command =
        std::string(BROKERCTL_BINARY) + " --server " + broker_->address() + " " + args + " 2>/dev/null";
    CommandRun run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return run;
    std::array<char, 4096> buffer{};
    size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  // Completes the next delivered task with `result` through a raw worker connection.
  void complete_next(const std::string& result) {
    auto worker = raw("ctl-test-worker");
    ASSERT_TRUE(worker->call(1, consume_request(1)));
    auto delivery = worker->receive();
    ASSERT_TRUE(delivery && delivery->has_delivery());
    auto done = worker->call(2, success_request(delivery->delivery(), result));
    ASSERT_TRUE(done && done->has_complete_ok());
  }
};

TEST_F(BrokerctlTest, EnqueuePrintsTheIdAloneAndTaskShowsIt) {
  CommandRun enqueued = brokerctl("enqueue add --args '[4, 4]' --priority 3 --max-retries 2");
  ASSERT_EQ(enqueued.exit_code, 0);
  ASSERT_EQ(enqueued.out.back(), '\n');
  const std::string id = enqueued.out.substr(0, enqueued.out.size() - 1);
  EXPECT_EQ(id.size(), 36u);
  CommandRun shown = brokerctl("task " + id + " --json");
  ASSERT_EQ(shown.exit_code, 0);
  const auto task = nlohmann::json::parse(shown.out);
  EXPECT_EQ(task["id"], id);
  EXPECT_EQ(task["name"], "add");
  EXPECT_EQ(task["queue"], "default");
  EXPECT_EQ(task["state"], "QUEUED");
  EXPECT_TRUE(task["result"].is_null());
  EXPECT_TRUE(task["error"].is_null());
  EXPECT_EQ(task["attempts"], 0);
  EXPECT_EQ(task["priority"], 3);
}

TEST_F(BrokerctlTest, EnqueueWithIdIsIdempotent) {
  EXPECT_EQ(brokerctl("enqueue add --id job-1").out, "job-1\n");
  EXPECT_EQ(brokerctl("enqueue add --id job-1").out, "job-1\n");
  CommandRun queues = brokerctl("queues --json");
  ASSERT_EQ(queues.exit_code, 0);
  const auto listing = nlohmann::json::parse(queues.out);
  ASSERT_EQ(listing["queues"].size(), 1u);
  EXPECT_EQ(listing["queues"][0]["name"], "default");
  EXPECT_EQ(listing["queues"][0]["ready"], 1);
  EXPECT_EQ(listing["queues"][0]["scheduled"], 0);
  EXPECT_EQ(listing["queues"][0]["in_flight"], 0);
}

TEST_F(BrokerctlTest, CountdownMakesTheTaskScheduled) {
  CommandRun enqueued = brokerctl("enqueue later --countdown 60 --queue emails");
  ASSERT_EQ(enqueued.exit_code, 0);
  const auto listing = nlohmann::json::parse(brokerctl("queues --json").out);
  EXPECT_EQ(listing["queues"][0]["name"], "emails");
  EXPECT_EQ(listing["queues"][0]["scheduled"], 1);
}

TEST_F(BrokerctlTest, ResultExitCodes) {
  const std::string id = brokerctl("enqueue add --args '[1, 2]'").out;
  CommandRun unfinished = brokerctl("result " + id.substr(0, id.size() - 1));
  EXPECT_EQ(unfinished.exit_code, 2);  // not finished yet
  complete_next("3");
  CommandRun success = brokerctl("result " + id.substr(0, id.size() - 1) + " --wait 5");
  EXPECT_EQ(success.exit_code, 0);
  EXPECT_EQ(success.out, "3\n");
  CommandRun missing = brokerctl("result no-such-task");
  EXPECT_EQ(missing.exit_code, 2);
  CommandRun bad_args = brokerctl("enqueue add --args '{\"not\": \"an array\"}'");
  EXPECT_EQ(bad_args.exit_code, 1);
}

TEST_F(BrokerctlTest, ResultOfAFailedTaskExitsOne) {
  const std::string out = brokerctl("enqueue divide --args '[1, 0]'").out;
  const std::string id = out.substr(0, out.size() - 1);
  auto worker = raw("failing-worker");
  ASSERT_TRUE(worker->call(1, consume_request(1)));
  auto delivery = worker->receive();
  ASSERT_TRUE(delivery && delivery->has_delivery());
  v1::Envelope failure;
  failure.mutable_complete()->set_task_id(id);
  failure.mutable_complete()->set_lease_id(delivery->delivery().lease_id());
  failure.mutable_complete()->mutable_failure()->mutable_error()->set_type("ZeroDivisionError");
  failure.mutable_complete()->mutable_failure()->mutable_error()->set_message("division by zero");
  ASSERT_TRUE(worker->call(2, failure));
  CommandRun result = brokerctl("result " + id + " --json");
  EXPECT_EQ(result.exit_code, 1);
  const auto task = nlohmann::json::parse(result.out);
  EXPECT_EQ(task["state"], "FAILURE");
  EXPECT_EQ(task["error"]["message"], "division by zero");
}

}  // namespace
}  // namespace brokerd::testing
