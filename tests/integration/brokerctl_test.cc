// brokerctl's stable contract against a real brokerd: output shapes and exit codes of
// enqueue, task, result and queues. The operator verbs are in brokerctl_admin_test.cc.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/brokerctl_fixture.h"

namespace brokerd::testing {
namespace {

TEST_F(BrokerctlTest, EnqueuePrintsTheIdAloneAndTaskShowsIt) {
  CommandRun enqueued = brokerctl(
      "enqueue add --args '[4, 4]' --priority 3 --max-retries 2 --time-limit 60 --soft-time-limit 1.5 "
      "--max-deliveries 5");
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
  EXPECT_EQ(task["time_limit_ms"], 60'000);
  EXPECT_EQ(task["soft_time_limit_ms"], 1500);
  EXPECT_EQ(task["max_deliveries"], 5);
  EXPECT_EQ(task["lost_leases"], 0);
  CommandRun human = brokerctl("task " + id);
  EXPECT_NE(human.out.find("60000 ms (soft 1500 ms)"), std::string::npos) << human.out;
  EXPECT_NE(brokerctl("enqueue add --max-deliveries 0").exit_code, 0);  // 1..1000
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

TEST_F(BrokerctlTest, QueuesJsonKeepsItsFieldsAndAddsTheNewOnes) {
  brokerctl("enqueue add --queue b");
  brokerctl("enqueue add --queue a");
  CommandRun queues = brokerctl("queues --json");
  ASSERT_EQ(queues.exit_code, 0);
  const auto listing = nlohmann::ordered_json::parse(queues.out);
  ASSERT_EQ(listing["queues"].size(), 2u);
  EXPECT_EQ(listing["queues"][0]["name"], "a");  // sorted by name
  std::vector<std::string> keys;
  for (const auto& item : listing["queues"][0].items()) keys.push_back(item.key());
  // The original eight fields first, in their order; later additions after them.
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "ready", "scheduled", "in_flight", "retrying", "consumers",
                                            "succeeded", "failed", "dead", "revoked", "enqueued_per_s",
                                            "completed_per_s", "failed_per_s"}));
  EXPECT_GT(listing["queues"][0]["enqueued_per_s"].get<double>(), 0.0);

  CommandRun table = brokerctl("queues");
  ASSERT_EQ(table.exit_code, 0);
  EXPECT_EQ(table.out.substr(0, table.out.find('\n')),
            "QUEUE  READY  SCHEDULED  IN_FLIGHT  RETRYING  DEAD  CONSUMERS  SUCCEEDED  FAILED  ENQUEUED/S  "
            "COMPLETED/S  FAILED/S");
  EXPECT_NE(table.out.find("\na      "), std::string::npos) << table.out;
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
