// Shared fixture: one real brokerd per test on 127.0.0.1:0 with a temporary data dir.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include "support/broker_process.h"
#include "support/raw_connection.h"
#include "support/temp_dir.h"

namespace brokerd::testing {

class BrokerFixture : public ::testing::Test {
 protected:
  void SetUp() override { start_broker(); }
  void TearDown() override {
    if (HasFailure() && broker_) {
      // The server's log explains most integration failures.
      std::ifstream log(broker_->log_path());
      std::string line;
      int shown = 0;
      while (std::getline(log, line) && shown++ < 200) std::cerr << "brokerd| " << line << '\n';
    }
  }

  void start_broker(std::vector<std::string> extra_args = {}) {
    broker_ = std::make_unique<BrokerProcess>(dir_.file("data"), std::move(extra_args));
    broker_->start();
  }

  std::unique_ptr<RawConnection> raw(const std::string& name = "raw-test") {
    auto connection = std::make_unique<RawConnection>(broker_->port());
    EXPECT_TRUE(connection->connected());
    auto reply = connection->hello(name);
    EXPECT_TRUE(reply && reply->has_hello_ok());
    return connection;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

// Builders for raw requests.
inline v1::Envelope enqueue_request(const std::string& name, const std::string& args = "[]",
                                    const std::string& id = "") {
  v1::Envelope request;
  auto* task = request.mutable_enqueue()->mutable_task();
  task->set_name(name);
  task->set_args_json(args);
  task->set_id(id);
  return request;
}

inline v1::Envelope consume_request(uint32_t prefetch, int64_t lease_ms = 0, const std::string& queue = "") {
  v1::Envelope request;
  request.mutable_consume()->set_prefetch(prefetch);
  request.mutable_consume()->set_lease_ms(lease_ms);
  if (!queue.empty()) request.mutable_consume()->add_queues(queue);
  return request;
}

inline v1::Envelope success_request(const v1::Delivery& delivery, const std::string& result) {
  v1::Envelope request;
  request.mutable_complete()->set_task_id(delivery.task_id());
  request.mutable_complete()->set_lease_id(delivery.lease_id());
  request.mutable_complete()->mutable_success()->set_result_json(result);
  return request;
}

inline v1::Envelope release_request(const v1::Delivery& delivery) {
  v1::Envelope request;
  request.mutable_release()->set_task_id(delivery.task_id());
  request.mutable_release()->set_lease_id(delivery.lease_id());
  return request;
}

inline v1::Envelope get_task_request(const std::string& id) {
  v1::Envelope request;
  request.mutable_get_task()->set_id(id);
  return request;
}

}  // namespace brokerd::testing
