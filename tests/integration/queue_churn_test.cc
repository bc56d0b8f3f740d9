// A million distinct queue names, each used once and drained: the broker forgets idle
// queues, so its memory and its start-up stay those of the queues alive now, not of
// every name ever used. Label "soak" (about a minute; not run under the sanitizers).
#include <chrono>
#include <iostream>

#include "integration/broker_fixture.h"

namespace brokerd::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kQueuesPerRound = 1000;
constexpr int kRounds = 1000;  // 1,000,000 queue names
constexpr int kBaselineRound = 100;

class QueueChurnTest : public BrokerFixture {
 protected:
  void SetUp() override {
    // Idle queues are forgotten at once; small RocksDB caches so that the store's own
    // memory settles early and the figure below measures the engine's.
    start_broker({"--idle-queue-ttl-s", "0", "--max-consume-queues", std::to_string(kQueuesPerRound),
                  "--block-cache-mb", "8", "--write-buffer-mb", "2", "--memtable-budget-mb", "16"});
  }

  v1::ServerStats server_stats(RawConnection& connection) {
    v1::Envelope request;
    request.mutable_get_server_stats();
    auto reply = connection.call(next_id_++, request);
    EXPECT_TRUE(reply && reply->has_server_stats());
    return reply && reply->has_server_stats() ? reply->server_stats() : v1::ServerStats();
  }

  // One round: a batch of tasks to queues never used before, then one consumer drains
  // exactly those queues.
  void churn_round(RawConnection& producer, RawConnection& worker, int round) {
    v1::Envelope batch;
    batch.set_id(next_id_++);
    v1::Envelope consume = consume_request(kQueuesPerRound);
    consume.set_id(next_id_++);
    for (int i = 0; i < kQueuesPerRound; ++i) {
      const std::string queue = "churn-" + std::to_string(round) + "-" + std::to_string(i);
      v1::TaskSpec* task = batch.mutable_enqueue_batch()->add_tasks();
      task->set_name("t");
      task->set_queue(queue);
      task->set_result_ttl_ms(1);  // results go too, so the disk stays small
      consume.mutable_consume()->add_queues(queue);
    }
    auto enqueued = producer.call(batch.id(), batch);
    ASSERT_TRUE(enqueued && enqueued->has_enqueue_batch_ok()) << "round " << round;
    worker.send(consume);
    std::string completions;
    int delivered = 0;
    bool consumed = false;
    while (delivered < kQueuesPerRound || !consumed) {
      auto push = worker.receive();
      ASSERT_TRUE(push) << "round " << round << ": " << delivered << " delivered";
      if (push->has_consume_ok()) {
        consumed = true;
        continue;
      }
      ASSERT_TRUE(push->has_delivery()) << push->DebugString();
      v1::Envelope done = success_request(push->delivery(), "1");
      done.set_id(next_id_++);
      wire::append_frame(done, completions);
      ++delivered;
    }
    worker.send_bytes(completions);
    for (int i = 0; i < kQueuesPerRound; ++i) {
      auto reply = worker.receive();
      ASSERT_TRUE(reply && reply->has_complete_ok()) << "round " << round;
    }
  }

  uint64_t next_id_ = 1;
};

TEST_F(QueueChurnTest, AMillionQueueNamesLeaveMemoryAndStartupFlat) {
  auto producer = raw("producer");
  auto worker = raw("worker");
  uint64_t baseline_rss = 0;
  const auto started = Clock::now();
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_NO_FATAL_FAILURE(churn_round(*producer, *worker, round));
    if (round + 1 == kBaselineRound) baseline_rss = server_stats(*producer).rss_bytes();
  }
  const double churn_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  // The worker names no queue now, so every one of them is idle.
  v1::Envelope pause = consume_request(0, 0, "elsewhere");
  ASSERT_TRUE(worker->call(next_id_++, pause));
  const v1::ServerStats after = server_stats(*producer);
  const uint64_t final_rss = after.rss_bytes();
  std::cout << "queue churn: " << kRounds * kQueuesPerRound << " queue names in " << churn_seconds
            << " s; RSS after " << kBaselineRound * kQueuesPerRound << " names " << (baseline_rss >> 20)
            << " MiB, after all " << (final_rss >> 20) << " MiB; queues known now " << after.queues() << "\n";
  EXPECT_LE(after.queues(), 1u);  // at most "elsewhere", which its consumer keeps
  // Remembering each name (its counters and rate windows, about 2 KiB) would add about
  // 2 GiB; what is left is allocator and store noise.
  EXPECT_LT(final_rss, baseline_rss + (64u << 20)) << "RSS grew with the number of queue names ever used";

  producer.reset();
  worker.reset();
  ASSERT_EQ(broker_->stop(), 0);
  const auto restart_began = Clock::now();
  broker_->start();
  const double startup_ms = std::chrono::duration<double, std::milli>(Clock::now() - restart_began).count();
  auto reader = raw("reader");
  const v1::ServerStats restarted = server_stats(*reader);
  std::cout << "queue churn: restart to listening took " << startup_ms << " ms, " << restarted.queues()
            << " queues loaded\n";
  EXPECT_EQ(restarted.queues(), 0u) << "start-up read counters of queues that are gone";
}

}  // namespace
}  // namespace brokerd::testing
