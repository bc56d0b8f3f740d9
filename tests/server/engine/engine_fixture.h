// The engine test fixture: a real RocksDB store in a temporary directory and a manual
// clock, so leases, delays, retries and expiry happen by advancing time, not sleeping.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "engine/engine.h"
#include "storage/rocks_storage.h"
#include "support/temp_dir.h"

namespace brokerd::server {

class RecordingSink : public DeliverySink {
 public:
  void deliver(v1::Delivery delivery) override { deliveries.push_back(std::move(delivery)); }
  void revoked(const std::string& task_id, uint64_t lease_id) override { revocations.emplace_back(task_id, lease_id); }
  std::vector<v1::Delivery> deliveries;
  std::vector<std::pair<std::string, uint64_t>> revocations;
};

class RecordingSubscriber : public EventSubscriber {
 public:
  void offer(const v1::Event& event) override { events.push_back(event); }
  std::vector<v1::EventKind> kinds() const {
    std::vector<v1::EventKind> out;
    for (const auto& event : events) out.push_back(event.kind());
    return out;
  }
  std::vector<v1::Event> events;
};

// A RocksDB store with small caches, for engine tests.
inline std::unique_ptr<RocksStorage> open_test_store(const std::string& path) {
  RocksStorageOptions options;
  options.path = path;
  options.block_cache_bytes = 8 << 20;
  options.write_buffer_bytes = 4 << 20;
  auto opened = RocksStorage::open(options);
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  return opened.ok() ? std::move(opened.value()) : nullptr;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open(size_t window = 4096) {
    storage_ = open_test_store(dir_.file("db"));
    ASSERT_NE(storage_, nullptr);
    EngineOptions engine_options = options_;
    engine_options.ready_window = window;
    engine_ = std::make_unique<Engine>(*storage_, clock_, engine_options);
    ASSERT_TRUE(engine_->open().ok());
  }

  // Simulates a crash: no consumer is told anything, memory is simply dropped.
  void restart(size_t window = 4096) {
    engine_.reset();
    storage_.reset();
    open(window);
  }

  std::string enqueue(const std::string& name, std::function<void(v1::TaskSpec&)> adjust = {}) {
    v1::TaskSpec spec;
    spec.set_name(name);
    if (adjust) adjust(spec);
    uint64_t ticket = 0;
    auto outcome = engine_->enqueue(spec, ticket);
    EXPECT_TRUE(outcome.ok()) << outcome.status().message();
    EXPECT_GT(ticket, 0u);
    EXPECT_TRUE(engine_->flush().ok());  // as a session does after each read
    EXPECT_GE(storage_->last_written_seq(), ticket);
    return outcome.ok() ? outcome->id : "";
  }

  std::pair<ConsumerId, std::shared_ptr<RecordingSink>> consumer(uint32_t prefetch,
                                                                 std::vector<std::string> queues = {},
                                                                 int64_t lease_ms = 0) {
    auto sink = std::make_shared<RecordingSink>();
    ConsumerId id = engine_->register_consumer(sink, ConsumerIdentity{"worker-" + std::to_string(++consumers_), "", 0, ""});
    EXPECT_TRUE(engine_->consume(id, queues, prefetch, lease_ms).ok());
    return {id, sink};
  }

  v1::TaskRecord task(const std::string& id) {
    uint64_t ticket = 0;
    auto record = engine_->get_task(id, ticket);
    EXPECT_TRUE(record.ok()) << record.status().message();
    return record.ok() ? record.value() : v1::TaskRecord();
  }

  Result<v1::TaskState> succeed(ConsumerId consumer, const v1::Delivery& delivery, const std::string& result) {
    v1::Complete complete;
    complete.set_task_id(delivery.task_id());
    complete.set_lease_id(delivery.lease_id());
    complete.mutable_success()->set_result_json(result);
    uint64_t ticket = 0;
    auto state = engine_->complete(consumer, complete, ticket);
    EXPECT_TRUE(engine_->flush().ok());
    return state;
  }

  Result<v1::TaskState> fail(ConsumerId consumer, const v1::Delivery& delivery, const std::string& message) {
    v1::Complete complete;
    complete.set_task_id(delivery.task_id());
    complete.set_lease_id(delivery.lease_id());
    complete.mutable_failure()->mutable_error()->set_type("ValueError");
    complete.mutable_failure()->mutable_error()->set_message(message);
    uint64_t ticket = 0;
    auto state = engine_->complete(consumer, complete, ticket);
    EXPECT_TRUE(engine_->flush().ok());
    return state;
  }

  // Gives the delivered task back (Release), flushed as a session would.
  Result<v1::TaskState> release(ConsumerId consumer, const v1::Delivery& delivery) {
    v1::Release release;
    release.set_task_id(delivery.task_id());
    release.set_lease_id(delivery.lease_id());
    uint64_t ticket = 0;
    auto state = engine_->release(consumer, release, ticket);
    EXPECT_TRUE(engine_->flush().ok());
    if (state.ok()) {
      EXPECT_GE(storage_->last_written_seq(), ticket);
    }
    return state;
  }

  v1::QueueStats stats(const std::string& queue = "default") { return engine_->queue_stats({queue}).at(0); }

  testing::TempDir dir_;
  ManualClock clock_;
  EngineOptions options_;  // open() and restart() use these (the window aside)
  std::unique_ptr<RocksStorage> storage_;
  std::unique_ptr<Engine> engine_;
  int consumers_ = 0;
  uint64_t read_ticket_ = 0;  // where a reader's answer goes
};

}  // namespace brokerd::server
