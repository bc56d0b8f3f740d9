#include "consumer.h"

#include <algorithm>
#include <unordered_map>

#include "progress.h"
#include "raw_connection.h"
#include "task_payload.h"

namespace broker_bench {

namespace {

// Long enough that no lease runs out while the bench holds a delivery, so no heartbeats.
constexpr int64_t kLeaseMs = 300'000;

void consume_until_done(const BenchContext& ctx, const ConsumerPlan& plan, CompletionGoal& goal,
                        ConsumerResult& result) {
  std::string error;
  auto connection = RawConnection::open(ctx.endpoint, plan.client_name, kSetupTimeoutMs, error);
  if (!connection) {
    result.error = error;
    return;
  }

  v1::Envelope consume;
  const uint64_t consume_id = connection->next_id();
  consume.set_id(consume_id);
  consume.mutable_consume()->add_queues(plan.queue);
  consume.mutable_consume()->set_prefetch(plan.prefetch);
  consume.mutable_consume()->set_lease_ms(kLeaseMs);
  connection->queue(consume);

  v1::Envelope complete;
  v1::Complete* complete_body = complete.mutable_complete();
  complete_body->mutable_success()->set_result_json(kBenchResultJson);

  // Complete request id -> the instant its latency is measured from.
  std::unordered_map<uint64_t, int64_t> pending;
  pending.reserve(plan.prefetch * 2);

  auto on_frame = [&](v1::Envelope& frame) {
    switch (frame.body_case()) {
      case v1::Envelope::kDelivery: {
        ++result.deliveries;
        const v1::Delivery& delivery = frame.delivery();
        const uint64_t id = connection->next_id();
        complete.set_id(id);
        complete_body->set_task_id(delivery.task_id());
        complete_body->set_lease_id(delivery.lease_id());
        connection->queue(complete);
        int64_t from = -1;
        if (plan.latency == ConsumerLatency::kFromEnqueue) from = args_sent_ns(delivery.args_json());
        pending.emplace(id, from >= 0 ? from : now_ns());
        return;
      }
      case v1::Envelope::kCompleteOk: {
        auto it = pending.find(frame.id());
        if (it == pending.end()) return;
        const int64_t now = now_ns();
        result.latency.record(now - it->second);
        pending.erase(it);
        ++result.completed;
        result.last_complete_ns = now;
        ctx.progress.completed.fetch_add(1, std::memory_order_relaxed);
        const uint64_t total = goal.completed.fetch_add(1, std::memory_order_relaxed) + 1;
        if (goal.on_completed) goal.on_completed(total, now);
        return;
      }
      case v1::Envelope::kConsumeOk:
        if (frame.id() == consume_id) goal.subscribed.fetch_add(1);
        return;
      case v1::Envelope::kError: {
        if (pending.erase(frame.id()) > 0) ++result.failed;
        if (result.error.empty()) {
          result.error = v1::ErrorCode_Name(frame.error().code()) + ": " + frame.error().message();
        }
        return;
      }
      default:
        return;
    }
  };

  while (!goal.reached() && !ctx.should_stop()) {
    if (!connection->pump(kPollSliceMs, on_frame)) {
      if (result.error.empty()) result.error = connection->error();
      break;
    }
  }
}

}  // namespace

void run_consumer(const BenchContext& ctx, const ConsumerPlan& plan, CompletionGoal& goal, ConsumerResult& result) {
  consume_until_done(ctx, plan, goal, result);
  goal.exited.fetch_add(1);
}

ConsumerGroup::ConsumerGroup(const BenchContext& ctx, const ConsumerPlan& plan, unsigned count, CompletionGoal& goal)
    : ctx_(ctx), goal_(goal), results_(count) {
  for (unsigned i = 0; i < count; ++i) {
    ConsumerPlan mine = plan;
    mine.client_name = "broker-bench-worker-" + std::to_string(i + 1);
    threads_.emplace_back([this, mine, i] { run_consumer(ctx_, mine, goal_, results_[i]); });
  }
}

ConsumerGroup::~ConsumerGroup() {
  if (!threads_.empty()) {
    goal_.stop = true;
    join();
  }
}

bool ConsumerGroup::wait_subscribed(int timeout_ms) {
  const int64_t deadline = now_ns() + int64_t{timeout_ms} * 1'000'000;
  while (goal_.subscribed.load() < threads_.size()) {
    if (goal_.exited.load() > 0 || now_ns() > deadline || ctx_.should_stop()) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

ConsumerTotals ConsumerGroup::join() {
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  ConsumerTotals totals;
  for (const ConsumerResult& result : results_) {
    totals.deliveries += result.deliveries;
    totals.completed += result.completed;
    totals.failed += result.failed;
    totals.latency.merge(result.latency);
    totals.last_complete_ns = std::max(totals.last_complete_ns, result.last_complete_ns);
    if (!result.error.empty() && result.failed == 0) ++totals.lost_connections;
    if (totals.first_error.empty()) totals.first_error = result.error;
  }
  return totals;
}

}  // namespace broker_bench
