// An engine over a real RocksDB behind FaultyStorage, which fails writes, syncs and reads
// on demand: for storage errors and crashes between writes.
#pragma once

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "server/storage/faulty_storage.h"
#include "storage/rocks_storage.h"
#include "support/temp_dir.h"
#include "engine_fixture.h"

namespace brokerd::server {

class FaultyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    rocks_ = open_test_store(dir_.file("db"));
    ASSERT_NE(rocks_, nullptr);
    storage_ = std::make_unique<FaultyStorage>(*rocks_);
    engine_ = std::make_unique<Engine>(*storage_, clock_, EngineOptions{});
    ASSERT_TRUE(engine_->open().ok());
  }

  void restart() {
    engine_.reset();
    storage_.reset();
    rocks_.reset();
    open();
  }

  static v1::TaskSpec spec(const std::string& id) {
    v1::TaskSpec spec;
    spec.set_name("job");
    spec.set_id(id);
    return spec;
  }

  // Enqueue as a session does: the call, then the flush. The first error of the two.
  Status try_enqueue(const std::string& id, uint64_t* ticket_out = nullptr) {
    uint64_t ticket = 0;
    auto outcome = engine_->enqueue(spec(id), ticket);
    if (!outcome.ok()) return outcome.status();
    if (ticket_out != nullptr) *ticket_out = ticket;
    return engine_->flush();
  }

  Result<v1::TaskRecord> get(const std::string& id) {
    uint64_t ticket = 0;
    return engine_->get_task(id, ticket);
  }

  bool on_disk(const std::string& id) {
    std::string bytes;
    return rocks_->get(Family::kTasks, id, &bytes).ok();
  }

  // Past the longest backoff, then one timer pass.
  void let_recovery_run() {
    clock_.advance_ms(EngineOptions{}.recovery_backoff_max_ms + 1);
    engine_->run_timers();
  }

  Result<v1::TaskState> succeed(ConsumerId consumer, const v1::Delivery& delivery) {
    v1::Complete complete;
    complete.set_task_id(delivery.task_id());
    complete.set_lease_id(delivery.lease_id());
    complete.mutable_success()->set_result_json("1");
    uint64_t ticket = 0;
    auto state = engine_->complete(consumer, complete, ticket);
    if (state.ok()) {
      if (Status flushed = engine_->flush(); !flushed.ok()) return flushed;
    }
    return state;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<RocksStorage> rocks_;
  std::unique_ptr<FaultyStorage> storage_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace brokerd::server
