// brokerctl's operator verbs against a real brokerd: stats, workers, revoke, purge, dead,
// tasks and watch. Their exit codes and --json shapes are a contract for scripts.
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/brokerctl_fixture.h"

namespace brokerd::testing {
namespace {

using namespace std::chrono_literals;

bool has_key(const nlohmann::json& object, const char* key) { return object.contains(key); }

// ---- stats, workers ----------------------------------------------------------------

TEST_F(BrokerctlTest, StatsReportsTheBrokerAndItsTotals) {
  enqueue("add --queue s1");
  enqueue("add --queue s2 --countdown 60");
  const auto stats = brokerctl_json("stats --json");
  for (const char* key : {"version", "started_ms", "uptime_ms", "connections", "consumers", "queues",
                          "sync", "data_dir", "disk_bytes", "rss_bytes", "totals"}) {
    EXPECT_TRUE(has_key(stats, key)) << key;
  }
  EXPECT_FALSE(stats["version"].get<std::string>().empty());
  EXPECT_EQ(stats["sync"], "always");
  EXPECT_GE(stats["connections"].get<int>(), 1);  // brokerctl itself
  EXPECT_EQ(stats["queues"], 2);
  EXPECT_GT(stats["rss_bytes"].get<uint64_t>(), 0u);
  const auto& totals = stats["totals"];
  EXPECT_EQ(totals["ready"], 1);
  EXPECT_EQ(totals["scheduled"], 1);
  for (const char* key : {"in_flight", "retrying", "dead", "succeeded", "failed", "revoked",
                          "enqueued_per_s", "completed_per_s", "failed_per_s"}) {
    EXPECT_TRUE(has_key(totals, key)) << key;
  }

  CommandRun human = brokerctl("stats");
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("version:"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("uptime:"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("ready:"), std::string::npos) << human.out;
}

TEST_F(BrokerctlTest, WorkersListsConsumingConnections) {
  auto worker = raw("ctl-listed-worker");
  ASSERT_TRUE(worker->call(1, consume_request(3, 0, "wq")));
  const auto listing = brokerctl_json("workers --json");
  ASSERT_TRUE(listing["workers"].is_array());
  nlohmann::json found;
  for (const auto& entry : listing["workers"]) {
    if (entry["name"] == "ctl-listed-worker") found = entry;
  }
  ASSERT_FALSE(found.is_null()) << listing.dump();
  EXPECT_EQ(found["queues"], nlohmann::json::array({"wq"}));
  EXPECT_EQ(found["prefetch"], 3);
  EXPECT_EQ(found["in_flight"], 0);
  for (const char* key : {"session_id", "host", "pid", "completed", "failed", "connected_ms", "last_seen_ms"}) {
    EXPECT_TRUE(has_key(found, key)) << key;
  }
  EXPECT_GT(found["connected_ms"].get<int64_t>(), 0);

  CommandRun human = brokerctl("workers");
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_EQ(human.out.rfind("NAME", 0), 0u) << human.out;
  EXPECT_NE(human.out.find("ctl-listed-worker"), std::string::npos) << human.out;

  worker->close();
  EXPECT_TRUE(eventually([&] { return brokerctl_json("workers --json")["workers"].empty(); }));
}

// ---- revoke ------------------------------------------------------------------------

TEST_F(BrokerctlTest, RevokeAQueuedTask) {
  const std::string id = enqueue("add");
  const auto revoked = brokerctl_json("revoke " + id + " --json");
  EXPECT_EQ(revoked, nlohmann::json({{"id", id}, {"state", "REVOKED"}, {"was_started", false}}));
  EXPECT_EQ(state_of(id), "REVOKED");
  EXPECT_EQ(queue_entry("default")["ready"], 0);
  // Revoking again changes nothing and is not an error.
  EXPECT_EQ(brokerctl_json("revoke " + id + " --json")["state"], "REVOKED");
  CommandRun human = brokerctl("revoke " + id);
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_EQ(brokerctl("result " + id).exit_code, 1);  // REVOKED
}

TEST_F(BrokerctlTest, RevokeAScheduledTask) {
  const std::string id = enqueue("later --countdown 60 --queue sched");
  EXPECT_EQ(queue_entry("sched")["scheduled"], 1);
  EXPECT_EQ(brokerctl_json("revoke " + id + " --json")["state"], "REVOKED");
  EXPECT_EQ(state_of(id), "REVOKED");
  EXPECT_EQ(queue_entry("sched")["scheduled"], 0);
}

TEST_F(BrokerctlTest, RevokeATaskWaitingToRetry) {
  auto producer = raw("ctl-test-producer");
  v1::Envelope request = enqueue_request("flaky", "[]", "retry-me");
  request.mutable_enqueue()->mutable_task()->set_queue("rq");
  request.mutable_enqueue()->mutable_task()->mutable_retry()->set_max_retries(3);
  request.mutable_enqueue()->mutable_task()->mutable_retry()->set_backoff_base_ms(600000);
  ASSERT_TRUE(producer->call(1, request));
  EXPECT_EQ(fail_next("rq"), "retry-me");
  ASSERT_EQ(state_of("retry-me"), "RETRY");
  EXPECT_EQ(brokerctl_json("revoke retry-me --json")["state"], "REVOKED");
  EXPECT_EQ(state_of("retry-me"), "REVOKED");
  EXPECT_EQ(queue_entry("rq")["retrying"], 0);
}

TEST_F(BrokerctlTest, RevokeARunningTaskTellsItsWorkerAndRefusesItsOutcome) {
  const std::string id = enqueue("slow");
  auto worker = raw("ctl-test-worker");
  ASSERT_TRUE(worker->call(1, consume_request(1)));
  auto delivery = worker->receive();
  ASSERT_TRUE(delivery && delivery->has_delivery());

  const auto revoked = brokerctl_json("revoke " + id + " --json");
  EXPECT_EQ(revoked["state"], "REVOKED");
  EXPECT_EQ(revoked["was_started"], true);

  auto notice = worker->receive();
  ASSERT_TRUE(notice && notice->has_revoke_notice());
  EXPECT_EQ(notice->id(), 0u);
  EXPECT_EQ(notice->revoke_notice().task_id(), id);
  EXPECT_EQ(notice->revoke_notice().lease_id(), delivery->delivery().lease_id());

  auto late = worker->call(2, success_request(delivery->delivery(), "\"too late\""));
  ASSERT_TRUE(late && late->has_error());
  EXPECT_EQ(late->error().code(), v1::STALE_LEASE);
  EXPECT_EQ(state_of(id), "REVOKED");

  CommandRun human = brokerctl("revoke " + id);
  EXPECT_EQ(human.exit_code, 0);
}

TEST_F(BrokerctlTest, RevokeLeavesAFinishedTaskAlone) {
  const std::string id = enqueue("add --args '[1, 2]'");
  complete_next("3");
  const auto outcome = brokerctl_json("revoke " + id + " --json");
  EXPECT_EQ(outcome["state"], "SUCCESS");
  EXPECT_EQ(outcome["was_started"], false);
  CommandRun human = brokerctl("revoke " + id);
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("already finished (SUCCESS)"), std::string::npos) << human.out;
  EXPECT_EQ(brokerctl("result " + id).out, "3\n");
}

TEST_F(BrokerctlTest, RevokeOfAnUnknownIdExitsTwoWithOneLine) {
  CommandRun run = brokerctl("revoke no-such-task");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err, "brokerctl: NOT_FOUND: no task with id no-such-task\n");
  EXPECT_EQ(run.out, "");
}

// ---- purge -------------------------------------------------------------------------

TEST_F(BrokerctlTest, PurgeWithoutYesAndWithoutATerminalRefuses) {
  enqueue_many("pq", 3);
  CommandRun refused = brokerctl("purge pq");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("--yes"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find('\n'), refused.err.size() - 1) << "one line: " << refused.err;
  EXPECT_EQ(queue_entry("pq")["ready"], 3);
}

TEST_F(BrokerctlTest, PurgeRemovesEveryReadyTaskAndLeavesOthers) {
  enqueue_many("pq", 2500);  // more than one bounded call's worth
  enqueue("later --queue pq --countdown 60");
  const auto purged = brokerctl_json("purge pq --yes --json");
  EXPECT_EQ(purged, nlohmann::json({{"queue", "pq"}, {"removed", 2500}, {"remaining", 0}}));
  const auto entry = queue_entry("pq");
  EXPECT_EQ(entry["ready"], 0);
  EXPECT_EQ(entry["scheduled"], 1);
  EXPECT_EQ(entry["revoked"], 2500);

  enqueue_many("pq", 4);
  CommandRun human = brokerctl("purge pq -y");
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_EQ(human.out, "purged 4 tasks from queue pq\n");
  EXPECT_EQ(human.err, "");  // no progress when stderr is not a terminal
}

TEST_F(BrokerctlTest, PurgeOnATerminalAsksFirst) {
  enqueue_many("pq", 3);
  {
    BackgroundCommand declined(brokerctl_command() + " purge pq", /*terminal=*/true);
    ASSERT_TRUE(declined.wait_for_output("[y/N]")) << declined.pending_output();
    EXPECT_NE(declined.pending_output().find("3 ready tasks of queue pq"), std::string::npos)
        << declined.pending_output();
    declined.write("n\n");
    declined.wait_for_output("cancelled");
    EXPECT_EQ(declined.wait(), 1);
  }
  EXPECT_EQ(queue_entry("pq")["ready"], 3);

  BackgroundCommand accepted(brokerctl_command() + " purge pq", /*terminal=*/true);
  ASSERT_TRUE(accepted.wait_for_output("[y/N]")) << accepted.pending_output();
  accepted.write("y\n");
  EXPECT_TRUE(accepted.wait_for_output("purged 3 tasks from queue pq")) << accepted.pending_output();
  EXPECT_NE(accepted.pending_output().find("purged 3/3"), std::string::npos)  // progress on the terminal
      << accepted.pending_output();
  EXPECT_EQ(accepted.wait(), 0);
  EXPECT_EQ(queue_entry("pq")["ready"], 0);
}

// ---- dead letters ------------------------------------------------------------------

TEST_F(BrokerctlTest, DeadLetterRoundTrip) {
  const std::string id = enqueue("fragile --max-retries 0");
  EXPECT_EQ(fail_next("", "disk on fire"), id);
  ASSERT_EQ(state_of(id), "FAILURE");
  EXPECT_EQ(queue_entry("default")["dead"], 1);

  const auto listing = brokerctl_json("dead list --json");
  ASSERT_EQ(listing["tasks"].size(), 1u) << listing.dump();
  EXPECT_EQ(listing["tasks"][0]["id"], id);
  EXPECT_EQ(listing["tasks"][0]["state"], "FAILURE");
  EXPECT_EQ(listing["tasks"][0]["error"]["message"], "disk on fire");
  CommandRun table = brokerctl("dead list default");
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_EQ(table.out.rfind("ID", 0), 0u) << table.out;
  EXPECT_NE(table.out.find(id), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("RuntimeError: disk on fire"), std::string::npos) << table.out;

  const auto requeued = brokerctl_json("dead requeue " + id + " --json");
  EXPECT_EQ(requeued, nlohmann::json({{"requeued", 1}, {"not_dead_ids", nlohmann::json::array()}}));
  EXPECT_EQ(state_of(id), "QUEUED");
  EXPECT_EQ(brokerctl_json("dead list --json")["tasks"].size(), 0u);
  complete_next("\"fixed\"");
  CommandRun result = brokerctl("result " + id + " --wait 10");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "\"fixed\"\n");
  EXPECT_EQ(queue_entry("default")["dead"], 0);
}

TEST_F(BrokerctlTest, DeadDeleteForgetsTheTask) {
  const std::string id = enqueue("fragile");
  fail_next();
  CommandRun deleted = brokerctl("dead delete " + id);
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.out, "deleted 1 task\n");
  EXPECT_EQ(brokerctl("task " + id).exit_code, 2);
  EXPECT_EQ(brokerctl_json("dead list --json")["tasks"].size(), 0u);
}

TEST_F(BrokerctlTest, DeadOpsOnIdsNotInTheDeadSetExitTwo) {
  const std::string queued = enqueue("add");
  CommandRun run = brokerctl("dead requeue nope " + queued + " --json");
  EXPECT_EQ(run.exit_code, 2);
  const auto outcome = nlohmann::json::parse(run.out);
  EXPECT_EQ(outcome["requeued"], 0);
  EXPECT_EQ(std::set<std::string>(outcome["not_dead_ids"].begin(), outcome["not_dead_ids"].end()),
            (std::set<std::string>{"nope", queued}));
  EXPECT_NE(run.err.find("brokerctl: NOT_FOUND: task nope is not in the dead-letter set"), std::string::npos)
      << run.err;
  EXPECT_EQ(brokerctl("dead delete nope").exit_code, 2);
  EXPECT_EQ(state_of(queued), "QUEUED");  // untouched
}

TEST_F(BrokerctlTest, DeadOpsCheckTheirArguments) {
  CommandRun none = brokerctl("dead requeue");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("--all"), std::string::npos) << none.err;
  EXPECT_EQ(brokerctl("dead delete --all q1 q2").exit_code, 1);
  EXPECT_EQ(brokerctl("dead").exit_code, 1);  // a dead verb is required
}

TEST_F(BrokerctlTest, DeadRequeueAndDeleteAll) {
  for (int i = 0; i < 3; ++i) enqueue("fragile --queue dq");
  enqueue("fragile --queue other");
  for (int i = 0; i < 3; ++i) fail_next("dq");
  fail_next("other");
  EXPECT_EQ(queue_entry("dq")["dead"], 3);

  EXPECT_EQ(brokerctl_json("dead requeue --all dq --json")["requeued"], 3);
  EXPECT_EQ(queue_entry("dq")["ready"], 3);
  EXPECT_EQ(queue_entry("dq")["dead"], 0);
  EXPECT_EQ(queue_entry("other")["dead"], 1);  // another queue's dead are left alone

  for (int i = 0; i < 3; ++i) fail_next("dq");
  CommandRun all = brokerctl("dead delete --all");
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.out, "deleted 4 tasks\n");
  EXPECT_EQ(brokerctl_json("dead list --json")["tasks"].size(), 0u);
}

// ---- tasks -------------------------------------------------------------------------

TEST_F(BrokerctlTest, TasksListsAQueueNewestFirst) {
  const std::string first = enqueue("a --queue tq");
  const std::string second = enqueue("b --queue tq");
  const std::string third = enqueue("c --queue tq --countdown 60");
  enqueue("elsewhere --queue other");

  const auto listing = brokerctl_json("tasks tq --json");
  EXPECT_EQ(listing["queue"], "tq");
  EXPECT_EQ(listing["truncated"], false);
  ASSERT_EQ(listing["tasks"].size(), 3u) << listing.dump();
  EXPECT_EQ(listing["tasks"][0]["id"], third);
  EXPECT_EQ(listing["tasks"][1]["id"], second);
  EXPECT_EQ(listing["tasks"][2]["id"], first);
  EXPECT_EQ(listing["tasks"][0]["state"], "SCHEDULED");
  EXPECT_EQ(listing["tasks"][0]["name"], "c");

  const auto scheduled = brokerctl_json("tasks tq --state scheduled --json");
  ASSERT_EQ(scheduled["tasks"].size(), 1u);
  EXPECT_EQ(scheduled["tasks"][0]["id"], third);
  EXPECT_EQ(brokerctl_json("tasks tq --limit 2 --json")["tasks"].size(), 2u);

  CommandRun table = brokerctl("tasks tq --state QUEUED");
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_EQ(table.out.rfind("ID", 0), 0u) << table.out;
  EXPECT_NE(table.out.find(first), std::string::npos);
  EXPECT_EQ(table.out.find(third), std::string::npos);

  CommandRun bad = brokerctl("tasks tq --state bogus");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("invalid --state bogus"), std::string::npos) << bad.err;
}

// ---- watch -------------------------------------------------------------------------

class BrokerctlWatchTest : public BrokerctlTest {
 protected:
  // Starts `brokerctl watch <args>` and returns once it demonstrably receives events:
  // marker tasks go to `marker_queue` until the first line shows up.
  std::unique_ptr<BackgroundCommand> start_watch(const std::string& args, const std::string& marker_queue) {
    auto watch = std::make_unique<BackgroundCommand>(brokerctl_command() + " watch " + args);
    auto producer = raw("ctl-marker-producer");
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (uint64_t id = 1; std::chrono::steady_clock::now() < deadline; ++id) {
      v1::Envelope marker = enqueue_request("marker");
      marker.mutable_enqueue()->mutable_task()->set_queue(marker_queue);
      EXPECT_TRUE(producer->call(id, marker));
      if (auto line = watch->next_line(100ms)) {
        first_line_ = *line;
        return watch;
      }
    }
    ADD_FAILURE() << "watch printed nothing";
    return watch;
  }

  // Reads JSON lines until every (kind, who) in `wanted` has been seen, where `who` is
  // the task id of a task event or the worker name of a worker event; returns the events
  // that matched, by kind.
  std::map<std::string, nlohmann::json> expect_events(BackgroundCommand& watch,
                                                      std::vector<std::pair<std::string, std::string>> wanted) {
    std::map<std::string, nlohmann::json> seen;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!wanted.empty() && std::chrono::steady_clock::now() < deadline) {
      auto line = watch.next_line(1s);
      if (!line) continue;
      const auto event = nlohmann::json::parse(*line, nullptr, false);
      EXPECT_FALSE(event.is_discarded()) << *line;
      if (event.is_discarded()) continue;
      for (auto it = wanted.begin(); it != wanted.end(); ++it) {
        if (event["kind"] == it->first && (event["task_id"] == it->second || event["worker"] == it->second)) {
          seen[it->first] = event;
          wanted.erase(it);
          break;
        }
      }
    }
    for (const auto& [kind, id] : wanted) ADD_FAILURE() << "no " << kind << " event for " << id;
    return seen;
  }

  std::string first_line_;
};

TEST_F(BrokerctlWatchTest, JsonLinesForTaskAndWorkerEventsUntilSigterm) {
  auto watch = start_watch("--json", "markers");
  const auto first = nlohmann::json::parse(first_line_);
  EXPECT_EQ(first["kind"], "TASK_ENQUEUED");
  EXPECT_EQ(first["queue"], "markers");
  for (const char* key : {"at_ms", "task_id", "task_name", "attempt", "worker", "runtime_ms", "error", "host", "pid"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }

  const std::string ok = enqueue("add --args '[1, 1]'");
  complete_next("2");
  const std::string bad = enqueue("divide");
  fail_next();
  const std::string cancelled = enqueue("never");
  brokerctl("revoke " + cancelled);

  auto seen = expect_events(*watch, {{"TASK_ENQUEUED", ok},
                                     {"WORKER_ONLINE", "ctl-test-worker"},
                                     {"TASK_STARTED", ok},
                                     {"TASK_SUCCEEDED", ok},
                                     {"WORKER_OFFLINE", "ctl-test-worker"},
                                     {"TASK_FAILED", bad},
                                     {"TASK_REVOKED", cancelled}});
  EXPECT_EQ(seen["TASK_SUCCEEDED"]["worker"], "ctl-test-worker");
  EXPECT_EQ(seen["TASK_SUCCEEDED"]["task_name"], "add");
  EXPECT_EQ(seen["TASK_SUCCEEDED"]["queue"], "default");
  EXPECT_EQ(seen["TASK_SUCCEEDED"]["attempt"], 1);
  EXPECT_GE(seen["TASK_SUCCEEDED"]["runtime_ms"].get<int64_t>(), 0);
  EXPECT_EQ(seen["TASK_FAILED"]["error"]["message"], "boom");

  watch->signal(SIGTERM);
  EXPECT_EQ(watch->wait(), 0);
}

TEST_F(BrokerctlWatchTest, CountAndQueueFilter) {
  auto watch = std::make_unique<BackgroundCommand>(brokerctl_command() + " watch --json --count 2 --queue wanted");
  auto producer = raw("ctl-marker-producer");
  std::vector<std::string> lines;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (uint64_t id = 1; lines.size() < 2 && std::chrono::steady_clock::now() < deadline; id += 2) {
    v1::Envelope unwanted = enqueue_request("noise");
    unwanted.mutable_enqueue()->mutable_task()->set_queue("unwanted");
    EXPECT_TRUE(producer->call(id, unwanted));
    v1::Envelope wanted = enqueue_request("signal");
    wanted.mutable_enqueue()->mutable_task()->set_queue("wanted");
    EXPECT_TRUE(producer->call(id + 1, wanted));
    while (auto line = watch->next_line(lines.empty() ? 100ms : 10ms)) lines.push_back(*line);
  }
  EXPECT_EQ(watch->wait(), 0);
  while (auto line = watch->next_line(1s)) lines.push_back(*line);
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& line : lines) EXPECT_EQ(nlohmann::json::parse(line)["queue"], "wanted") << line;
}

TEST_F(BrokerctlWatchTest, HumanLines) {
  auto watch = start_watch("", "markers");
  EXPECT_NE(first_line_.find("TASK_ENQUEUED"), std::string::npos) << first_line_;
  EXPECT_NE(first_line_.find("markers"), std::string::npos) << first_line_;
  EXPECT_NE(first_line_.find(" UTC"), std::string::npos) << first_line_;
  watch->signal(SIGINT);
  EXPECT_EQ(watch->wait(), 0);
}

TEST_F(BrokerctlWatchTest, TimeoutEndsTheWatch) {
  CommandRun quiet = brokerctl("watch --timeout 0.3 --queue silent");
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(quiet.out, "");
  CommandRun short_of_count = brokerctl("watch --count 5 --timeout 0.3 --queue silent");
  EXPECT_EQ(short_of_count.exit_code, 1);
  EXPECT_NE(short_of_count.err.find("TIMEOUT: 0 of 5 events"), std::string::npos) << short_of_count.err;
}

TEST_F(BrokerctlTest, WatchCannotConnectIsOneLine) {
  CommandRun run = run_command(std::string(BROKERCTL_BINARY) + " --server 127.0.0.1:1 watch");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err.rfind("brokerctl: UNAVAILABLE", 0), 0u) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << run.err;
}

// ---- every verb documents itself ----------------------------------------------------

TEST_F(BrokerctlTest, EveryVerbHasHelp) {
  for (const char* verb : {"enqueue", "task", "result", "queues", "stats", "workers", "revoke", "purge",
                           "dead", "dead list", "dead requeue", "dead delete", "tasks", "watch"}) {
    CommandRun help = brokerctl(std::string(verb) + " --help");
    EXPECT_EQ(help.exit_code, 0) << verb;
    EXPECT_NE(help.out.find("Usage"), std::string::npos) << verb << ": " << help.out;
  }
}

}  // namespace
}  // namespace brokerd::testing
