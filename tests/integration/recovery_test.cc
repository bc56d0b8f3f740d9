// kill -9 of brokerd and a restart on the same data dir: every confirmed enqueue,
// schedule and completion is still there, and tasks leased at the crash come back.
#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

class RecoveryTest : public BrokerFixture {
 protected:
  void restart_after_crash() {
    broker_->kill_hard();
    broker_->start();
  }
};

TEST_F(RecoveryTest, ConfirmedWorkSurvivesKillNine) {
  auto producer = raw("producer");
  // Pipelined enqueues; only those whose confirmation arrived are promised.
  std::string burst;
  for (uint64_t id = 1; id <= 300; ++id) {
    v1::Envelope request = enqueue_request("t", "[" + std::to_string(id) + "]");
    request.set_id(id);
    wire::append_frame(request, burst);
  }
  producer->send_bytes(burst);
  std::vector<std::string> confirmed;
  while (confirmed.size() < 300) {
    auto reply = producer->receive();
    ASSERT_TRUE(reply && reply->has_enqueue_ok());
    confirmed.push_back(reply->enqueue_ok().id());
  }
  v1::Envelope later = enqueue_request("later");
  later.mutable_enqueue()->mutable_task()->set_countdown_ms(1500);
  auto scheduled = producer->call(1000, later);
  ASSERT_TRUE(scheduled && scheduled->has_enqueue_ok());
  EXPECT_EQ(scheduled->enqueue_ok().state(), v1::SCHEDULED);

  auto worker = raw("worker");
  ASSERT_TRUE(worker->call(1, consume_request(5)));
  std::vector<v1::Delivery> held;
  while (held.size() < 5) {
    auto push = worker->receive();
    ASSERT_TRUE(push && push->has_delivery());
    held.push_back(push->delivery());
  }
  std::map<std::string, std::string> completed;  // id -> result
  for (int i = 0; i < 3; ++i) {
    const std::string result = "{\"n\": " + std::to_string(i) + "}";
    auto ok = worker->call(10 + i, success_request(held[i], result));
    ASSERT_TRUE(ok && ok->has_complete_ok());
    completed[held[i].task_id()] = result;
  }

  restart_after_crash();

  auto reader = raw("reader");
  uint64_t request_id = 1;
  for (const std::string& id : confirmed) {
    auto record = reader->call(request_id++, get_task_request(id));
    ASSERT_TRUE(record && record->has_task_info()) << "confirmed task " << id << " lost";
    const v1::TaskRecord& task = record->task_info().task();
    if (auto done = completed.find(id); done != completed.end()) {
      EXPECT_EQ(task.state(), v1::SUCCESS);
      EXPECT_EQ(task.result_json(), done->second);
    } else {
      EXPECT_EQ(task.state(), v1::QUEUED) << id;  // including the two leased at the crash
    }
  }
  auto later_record = reader->call(request_id++, get_task_request(scheduled->enqueue_ok().id()));
  ASSERT_TRUE(later_record && later_record->has_task_info());
  EXPECT_EQ(later_record->task_info().task().state(), v1::SCHEDULED);

  // Everything not completed is delivered again, the two leased ones first (they kept
  // their place), and the scheduled task when it comes due.
  auto next_worker = raw("next-worker");
  ASSERT_TRUE(next_worker->call(1, consume_request(1000)));
  std::set<std::string> delivered;
  while (delivered.size() < 298) {
    auto push = next_worker->receive();
    ASSERT_TRUE(push && push->has_delivery()) << delivered.size() << " delivered";
    if (delivered.empty()) {
      EXPECT_EQ(push->delivery().task_id(), held[3].task_id());
    }
    delivered.insert(push->delivery().task_id());
  }
  EXPECT_TRUE(delivered.count(held[3].task_id()));
  EXPECT_TRUE(delivered.count(held[4].task_id()));
  EXPECT_TRUE(delivered.count(scheduled->enqueue_ok().id()));
  for (const auto& [id, result] : completed) EXPECT_FALSE(delivered.count(id));
}

TEST_F(RecoveryTest, SigtermDrainsAndKeepsEveryConfirmedTask) {
  auto producer = raw("producer");
  std::string burst;
  for (uint64_t id = 1; id <= 200; ++id) {
    v1::Envelope request = enqueue_request("t", "[" + std::to_string(id) + "]");
    request.set_id(id);
    wire::append_frame(request, burst);
  }
  producer->send_bytes(burst);
  std::vector<std::string> confirmed;
  while (confirmed.size() < 200) {
    auto reply = producer->receive();
    ASSERT_TRUE(reply && reply->has_enqueue_ok());
    confirmed.push_back(reply->enqueue_ok().id());
  }
  auto worker = raw("worker");
  ASSERT_TRUE(worker->call(1, consume_request(5)));  // five tasks out on lease at the stop
  EXPECT_EQ(broker_->stop(), 0);                      // SIGTERM: a clean exit, in bounded time
  broker_->start();
  auto reader = raw("reader");
  uint64_t request_id = 1;
  for (const std::string& id : confirmed) {
    v1::Envelope get;
    get.mutable_get_task()->set_id(id);
    auto reply = reader->call(request_id++, get);
    ASSERT_TRUE(reply && reply->has_task_info()) << id;
    EXPECT_EQ(reply->task_info().task().state(), v1::QUEUED) << id;
  }
  v1::Envelope stats;
  stats.mutable_get_queue_stats()->add_queues("default");
  auto reply = reader->call(request_id, stats);
  ASSERT_TRUE(reply && reply->has_queue_stats());
  EXPECT_EQ(reply->queue_stats().queues(0).ready(), 200u);
  EXPECT_EQ(reply->queue_stats().queues(0).in_flight(), 0u);
}

TEST_F(RecoveryTest, QueueCountersAreRestored) {
  auto producer = raw();
  for (uint64_t id = 1; id <= 10; ++id) ASSERT_TRUE(producer->call(id, enqueue_request("t")));
  restart_after_crash();
  auto reader = raw();
  v1::Envelope stats;
  stats.mutable_get_queue_stats()->add_queues("default");
  auto reply = reader->call(1, stats);
  ASSERT_TRUE(reply && reply->has_queue_stats());
  ASSERT_EQ(reply->queue_stats().queues_size(), 1);
  EXPECT_EQ(reply->queue_stats().queues(0).ready(), 10u);
}

TEST_F(RecoveryTest, SecondInstanceOnTheSameDataDirFailsClearly) {
  // The first instance (from SetUp) holds the directory; a second must exit at once.
  const std::string command = std::string(BROKERD_BINARY) + " --listen 127.0.0.1:0 --data-dir " + dir_.file("data") +
                              " > " + dir_.file("second.log") + " 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_NE(status, 0);
  std::ifstream in(dir_.file("second.log"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("in use by another brokerd"), std::string::npos) << text;
}

TEST_F(RecoveryTest, LeaseIdsAreNeverReusedAcrossKillNine) {
  // A delivery writes nothing, so only a durable bound keeps a restarted broker from
  // handing out a lease id some worker still holds (its late outcome would then be
  // taken as the new holder's).
  auto producer = raw("producer");
  for (uint64_t id = 1; id <= 4; ++id) ASSERT_TRUE(producer->call(id, enqueue_request("t")));
  std::set<uint64_t> seen;
  for (int round = 0; round < 3; ++round) {
    restart_after_crash();  // the first lease of a run is taken right after a start
    auto worker = raw("worker");
    ASSERT_TRUE(worker->call(1, consume_request(4)));
    for (int i = 0; i < 4; ++i) {
      auto push = worker->receive();
      ASSERT_TRUE(push && push->has_delivery());
      EXPECT_TRUE(seen.insert(push->delivery().lease_id()).second)
          << "lease id " << push->delivery().lease_id() << " handed out twice";
    }
  }
}

TEST_F(RecoveryTest, TaskThatKillsItsWorkersEndsAfterMaxDeliveries) {
  auto producer = raw("producer");
  v1::Envelope poison = enqueue_request("poison");
  poison.mutable_enqueue()->mutable_task()->set_max_deliveries(3);
  poison.mutable_enqueue()->mutable_task()->mutable_retry()->set_backoff_base_ms(50);
  auto enqueued = producer->call(1, poison);
  ASSERT_TRUE(enqueued && enqueued->has_enqueue_ok());
  const std::string id = enqueued->enqueue_ok().id();
  for (int delivery = 1; delivery <= 3; ++delivery) {
    // A worker process that dies on delivery: the broker sees its connection close.
    auto worker = raw("crashy-" + std::to_string(delivery));
    ASSERT_TRUE(worker->call(1, consume_request(1)));
    auto push = worker->receive();
    ASSERT_TRUE(push && push->has_delivery()) << "delivery " << delivery;
    EXPECT_EQ(push->delivery().task_id(), id);
    EXPECT_EQ(push->delivery().attempt(), static_cast<uint32_t>(delivery));
    worker->close();
  }
  v1::TaskRecord task;
  ASSERT_TRUE(eventually([&] {
    auto record = producer->call(2, get_task_request(id));
    if (!record || !record->has_task_info()) return false;
    task = record->task_info().task();
    return task.state() == v1::FAILURE;
  }));
  EXPECT_EQ(task.error().type(), "DeliveryLimitExceeded");
  EXPECT_NE(task.error().message().find("crashy-3"), std::string::npos) << task.error().message();
  v1::Envelope dead;
  dead.mutable_list_dead()->set_queue("default");
  auto listed = producer->call(3, dead);
  ASSERT_TRUE(listed && listed->has_task_list());
  ASSERT_EQ(listed->task_list().tasks_size(), 1);
  EXPECT_EQ(listed->task_list().tasks(0).id(), id);
}

}  // namespace
}  // namespace brokerd::testing
