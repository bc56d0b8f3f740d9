#include "producer.h"

#include <algorithm>
#include <thread>
#include <unordered_map>
#include <vector>

#include "progress.h"
#include "raw_connection.h"
#include "task_payload.h"

namespace broker_bench {

namespace {

struct InFlight {
  int64_t sent_ns;
  uint32_t tasks;
};

}  // namespace

void run_producer(const BenchContext& ctx, const ProducerPlan& plan, ProducerResult& result) {
  std::string error;
  auto connection = RawConnection::open(ctx.endpoint, plan.client_name, kSetupTimeoutMs, error);
  if (!connection) {
    result.error = error;
    return;
  }

  v1::Envelope single;
  v1::TaskSpec* single_spec = single.mutable_enqueue()->mutable_task();
  single_spec->set_name(kBenchTaskName);
  single_spec->set_queue(plan.queue);
  v1::Envelope batch;
  v1::EnqueueBatch* batch_body = batch.mutable_enqueue_batch();
  std::string args;

  std::unordered_map<uint64_t, InFlight> in_flight;
  in_flight.reserve(plan.pipeline * 2);
  uint64_t unsent = plan.tasks;

  auto send_one = [&] {
    const int64_t sent = now_ns();
    if (result.first_send_ns == 0) result.first_send_ns = sent;
    make_args_json(sent, plan.payload_bytes, args);
    const uint64_t id = connection->next_id();
    const uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(plan.batch, unsent));
    if (plan.batch <= 1) {
      single.set_id(id);
      single_spec->set_args_json(args);
      connection->queue(single);
    } else {
      batch.set_id(id);
      auto* tasks = batch_body->mutable_tasks();
      while (tasks->size() > static_cast<int>(count)) tasks->RemoveLast();
      while (tasks->size() < static_cast<int>(count)) {
        v1::TaskSpec* spec = tasks->Add();
        spec->set_name(kBenchTaskName);
        spec->set_queue(plan.queue);
      }
      for (v1::TaskSpec& spec : *tasks) spec.set_args_json(args);
      connection->queue(batch);
    }
    in_flight.emplace(id, InFlight{sent, count});
    unsent -= count;
  };

  auto on_frame = [&](v1::Envelope& frame) {
    auto it = in_flight.find(frame.id());
    if (it == in_flight.end()) {
      if (frame.has_error() && result.error.empty()) result.error = "server: " + frame.error().message();
      return;
    }
    const InFlight request = it->second;
    in_flight.erase(it);
    if (frame.has_enqueue_ok() || frame.has_enqueue_batch_ok()) {
      const int64_t now = now_ns();
      result.latency.record(now - request.sent_ns);
      result.last_confirm_ns = now;
      result.confirmed += request.tasks;
      ++result.requests;
      ctx.progress.enqueued.fetch_add(request.tasks, std::memory_order_relaxed);
    } else {
      result.failed += request.tasks;
      if (result.error.empty()) {
        result.error = frame.has_error() ? v1::ErrorCode_Name(frame.error().code()) + ": " + frame.error().message()
                                         : "unexpected reply to an enqueue";
      }
    }
  };

  while (!ctx.should_stop()) {
    while (unsent > 0 && in_flight.size() < plan.pipeline) send_one();
    if (in_flight.empty()) {
      result.finished = true;
      break;
    }
    if (!connection->pump(kPollSliceMs, on_frame)) {
      if (result.error.empty()) result.error = connection->error();
      break;
    }
  }
}

ProducerTotals run_producers(const BenchContext& ctx, ProducerPlan plan, uint64_t tasks, unsigned producers) {
  std::vector<ProducerResult> results(producers);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < producers; ++i) {
    ProducerPlan mine = plan;
    mine.tasks = tasks / producers + (i < tasks % producers ? 1 : 0);
    mine.client_name = "broker-bench-producer-" + std::to_string(i + 1);
    threads.emplace_back([&ctx, mine, &result = results[i]] { run_producer(ctx, mine, result); });
  }
  for (auto& thread : threads) thread.join();

  ProducerTotals totals;
  for (const ProducerResult& result : results) {
    totals.confirmed += result.confirmed;
    totals.failed += result.failed;
    totals.requests += result.requests;
    totals.latency.merge(result.latency);
    if (result.first_send_ns > 0) {
      totals.first_send_ns =
          totals.first_send_ns == 0 ? result.first_send_ns : std::min(totals.first_send_ns, result.first_send_ns);
    }
    totals.last_confirm_ns = std::max(totals.last_confirm_ns, result.last_confirm_ns);
    if (!result.finished) {
      totals.finished = false;
      if (!result.error.empty()) ++totals.lost_connections;
    }
    if (totals.first_error.empty()) totals.first_error = result.error;
  }
  return totals;
}

}  // namespace broker_bench
