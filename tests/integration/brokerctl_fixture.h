// The brokerctl tests' fixture: a real brokerd, brokerctl run against it, and raw
// protocol connections to play producer and worker without the client library.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/broker_fixture.h"
#include "integration/command_runner.h"

namespace brokerd::testing {

class BrokerctlTest : public BrokerFixture {
 protected:
  // "<brokerctl> --server <broker>"; append shell-quoted arguments.
  std::string brokerctl_command() const {
    return std::string(BROKERCTL_BINARY) + " --server " + broker_->address();
  }

  // Runs brokerctl with `args` (already shell-quoted), stdin not a terminal.
  CommandRun brokerctl(const std::string& args) { return run_command(brokerctl_command() + " " + args); }

  // Runs brokerctl with `args` and parses its stdout as JSON (null if it is not).
  nlohmann::json brokerctl_json(const std::string& args, int expected_exit = 0) {
    CommandRun run = brokerctl(args);
    EXPECT_EQ(run.exit_code, expected_exit) << args << "\nstdout: " << run.out << "\nstderr: " << run.err;
    auto parsed = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << args << " printed: " << run.out;
    return parsed.is_discarded() ? nlohmann::json() : parsed;
  }

  // `brokerctl enqueue <args>` and the new task's id.
  std::string enqueue(const std::string& args) {
    CommandRun run = brokerctl("enqueue " + args);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    if (run.out.empty()) return "";
    return run.out.substr(0, run.out.size() - 1);
  }

  // Enqueues `count` tasks named `name` on `queue` in one batch through a raw connection.
  void enqueue_many(const std::string& queue, size_t count, const std::string& name = "bulk") {
    auto producer = raw("ctl-test-producer");
    v1::Envelope batch;
    for (size_t i = 0; i < count; ++i) {
      auto* task = batch.mutable_enqueue_batch()->add_tasks();
      task->set_name(name);
      task->set_queue(queue);
    }
    auto reply = producer->call(1, batch);
    ASSERT_TRUE(reply && reply->has_enqueue_batch_ok());
  }

  // Completes the next delivered task with `result` through a raw worker connection.
  void complete_next(const std::string& result, const std::string& queue = "") {
    auto worker = raw("ctl-test-worker");
    ASSERT_TRUE(worker->call(1, consume_request(1, 0, queue)));
    auto delivery = worker->receive();
    ASSERT_TRUE(delivery && delivery->has_delivery());
    auto done = worker->call(2, success_request(delivery->delivery(), result));
    ASSERT_TRUE(done && done->has_complete_ok());
  }

  // Fails the next delivered task of `queue` (final if it has no retries left); returns its id.
  std::string fail_next(const std::string& queue = "", const std::string& message = "boom") {
    auto worker = raw("ctl-test-worker");
    EXPECT_TRUE(worker->call(1, consume_request(1, 0, queue)));
    auto delivery = worker->receive();
    EXPECT_TRUE(delivery && delivery->has_delivery());
    if (!delivery || !delivery->has_delivery()) return "";
    v1::Envelope failure;
    failure.mutable_complete()->set_task_id(delivery->delivery().task_id());
    failure.mutable_complete()->set_lease_id(delivery->delivery().lease_id());
    failure.mutable_complete()->mutable_failure()->mutable_error()->set_type("RuntimeError");
    failure.mutable_complete()->mutable_failure()->mutable_error()->set_message(message);
    auto done = worker->call(2, failure);
    EXPECT_TRUE(done && done->has_complete_ok());
    return delivery->delivery().task_id();
  }

  // The task's state as `brokerctl task --json` reports it ("" if that fails).
  std::string state_of(const std::string& id) {
    CommandRun run = brokerctl("task " + id + " --json");
    if (run.exit_code != 0) return "";
    return nlohmann::json::parse(run.out)["state"].get<std::string>();
  }

  // The `queues --json` entry of `queue` (null if it is not listed).
  nlohmann::json queue_entry(const std::string& queue) {
    const auto listing = brokerctl_json("queues --json");
    for (const auto& entry : listing["queues"]) {
      if (entry["name"] == queue) return entry;
    }
    return nullptr;
  }
};

}  // namespace brokerd::testing
