// Scenario `churn`: many queue names, each used once. Every round enqueues one
// EnqueueBatch of --batch tasks (default 1,000), one to each of --batch queue names never
// used before (result_ttl_ms 1, so results go too), then one worker connection consumes
// exactly those queues and completes every task. --tasks is the number of queue names
// in all. After each tenth of the run the broker's RSS, the queues it knows and the
// rounds' rate are read (GetServerStats); at the end the worker moves to a queue of its
// own, so that every churned queue has no consumer, and the broker is read again. With
// --spawn the server is then stopped (SIGTERM), started on the same data dir, and timed
// until its port file appears (listening) and until a Ping is answered; the queues it
// loaded are read from GetServerStats.
//
// What it shows: with idle queues forgotten (server setting idle_queue_ttl_s) memory and
// start-up stay flat however many names were ever used; without, they grow with them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "probes.h"
#include "progress.h"
#include "raw_connection.h"
#include "scenarios.h"
#include "server_restart.h"
#include "spawned_server.h"
#include "task_payload.h"

namespace broker_bench {

namespace {

constexpr int kSamples = 10;
constexpr int kRoundTimeoutMs = 120'000;  // one round's replies; a stuck broker fails the run
constexpr int64_t kLeaseMs = 300'000;     // no lease runs out while the round is completed
constexpr double kStopTimeoutSeconds = 120;
constexpr double kRestartTimeoutSeconds = 300;

struct Connections {
  std::unique_ptr<RawConnection> producer;
  std::unique_ptr<RawConnection> worker;
};

// Waits on `connection` until `done()` or the round's time runs out; `on_frame` sees
// every frame. False (with `error`) on a lost connection, a timeout or an interrupt.
template <typename OnFrame, typename Done>
bool pump_until(const BenchContext& ctx, RawConnection& connection, OnFrame&& on_frame, Done&& done,
                std::string& error) {
  const int64_t give_up = now_ns() + int64_t{kRoundTimeoutMs} * 1'000'000;
  while (!done()) {
    if (ctx.interrupted.load(std::memory_order_relaxed)) {
      error = "interrupted";
      return false;
    }
    if (now_ns() > give_up) {
      error = "no reply within " + std::to_string(kRoundTimeoutMs) + " ms";
      return false;
    }
    if (!connection.pump(kPollSliceMs, on_frame)) {
      error = connection.error();
      return false;
    }
  }
  return error.empty();
}

std::string queue_name(const std::string& prefix, uint64_t round, unsigned index) {
  return prefix + "-" + std::to_string(round) + "-" + std::to_string(index);
}

// One round: `count` tasks to `count` new queues, consumed and completed.
bool churn_round(const BenchContext& ctx, Connections& c, uint64_t round, unsigned count, std::string& error) {
  v1::Envelope batch;
  batch.set_id(c.producer->next_id());
  v1::Envelope consume;
  consume.set_id(c.worker->next_id());
  v1::Consume* consume_body = consume.mutable_consume();
  consume_body->set_prefetch(count);
  consume_body->set_lease_ms(kLeaseMs);
  for (unsigned i = 0; i < count; ++i) {
    const std::string queue = queue_name(ctx.options.queue, round, i);
    v1::TaskSpec* task = batch.mutable_enqueue_batch()->add_tasks();
    task->set_name(kBenchTaskName);
    task->set_queue(queue);
    task->set_args_json("[]");
    task->set_result_ttl_ms(1);
    consume_body->add_queues(queue);
  }

  c.producer->queue(batch);
  bool enqueued = false;
  if (!pump_until(
          ctx, *c.producer,
          [&](v1::Envelope& frame) {
            if (frame.id() != batch.id()) return;
            if (frame.has_enqueue_batch_ok()) {
              enqueued = true;
            } else {
              error = "EnqueueBatch: " + (frame.has_error() ? v1::ErrorCode_Name(frame.error().code()) + ": " +
                                                                   frame.error().message()
                                                             : std::string("unexpected reply"));
            }
          },
          [&] { return enqueued || !error.empty(); }, error)) {
    return false;
  }

  c.worker->queue(consume);
  v1::Envelope complete;
  v1::Complete* complete_body = complete.mutable_complete();
  complete_body->mutable_success()->set_result_json("true");
  bool subscribed = false;
  unsigned delivered = 0;
  unsigned completed = 0;
  return pump_until(
      ctx, *c.worker,
      [&](v1::Envelope& frame) {
        switch (frame.body_case()) {
          case v1::Envelope::kDelivery:
            ++delivered;
            complete.set_id(c.worker->next_id());
            complete_body->set_task_id(frame.delivery().task_id());
            complete_body->set_lease_id(frame.delivery().lease_id());
            c.worker->queue(complete);
            return;
          case v1::Envelope::kConsumeOk: subscribed = true; return;
          case v1::Envelope::kCompleteOk: ++completed; return;
          case v1::Envelope::kError:
            if (error.empty()) {
              error = v1::ErrorCode_Name(frame.error().code()) + ": " + frame.error().message();
            }
            return;
          default: return;
        }
      },
      [&] { return (subscribed && completed == count) || !error.empty(); }, error);
}

// GetServerStats on the bench's own connection.
bool server_stats(RawConnection& connection, v1::ServerStats& out, std::string& error) {
  v1::Envelope request;
  request.mutable_get_server_stats();
  v1::Envelope reply;
  if (!connection.call(request, reply, kSetupTimeoutMs * 3)) {
    error = connection.error();
    return false;
  }
  if (!reply.has_server_stats()) {
    error = reply.has_error() ? reply.error().message() : "GetServerStats answered with something else";
    return false;
  }
  out = reply.server_stats();
  return true;
}

nlohmann::json stats_json(const v1::ServerStats& stats) {
  return {{"server_rss_bytes", stats.rss_bytes()},
          {"queues_known", stats.queues()},
          {"disk_bytes", stats.disk_bytes()}};
}

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.0f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return text;
}

// SIGTERM, start on the same data dir, time to the port file and to the first Pong, and
// read the queues the broker loaded.
nlohmann::json restart(BenchContext& ctx, Report& report) {
  RestartTiming timing = restart_spawned_server(ctx, report, kStopTimeoutSeconds, kRestartTimeoutSeconds);
  if (!ctx.server->running()) return timing.details;
  nlohmann::json out = std::move(timing.details);
  char text[200];
  std::snprintf(text, sizeof(text),
                "restart: SIGTERM -> exit %.3f s%s; start -> port file %.3f s, -> first Ping answered %.3f s%s",
                timing.stop_seconds, timing.clean ? "" : " (not clean)", timing.listening_seconds,
                timing.ready_seconds, timing.serving ? "" : " (NEVER SERVED)");
  std::string line = text;
  if (timing.serving) {
    std::string error;
    auto reader = RawConnection::open(ctx.endpoint, "broker-bench-churn-reader", kSetupTimeoutMs, error);
    v1::ServerStats stats;
    if (reader && server_stats(*reader, stats, error)) {
      out["queues_loaded"] = stats.queues();
      out["server_rss_bytes"] = stats.rss_bytes();
      line += "; queues loaded " + with_commas(stats.queues()) + ", RSS " + mib(stats.rss_bytes());
    } else {
      out["error"] = error;
      ++report.errors;
    }
  }
  report.human_lines.push_back(line);
  return out;
}

}  // namespace

Report run_churn_scenario(BenchContext& ctx) {
  const BenchOptions& options = ctx.options;
  Report report;
  report.scenario = "churn";
  report.tasks_requested = options.tasks;
  report.latency_measure = "per round: EnqueueBatch sent -> last CompleteOk of its tasks";
  const unsigned per_round = options.batch;
  const uint64_t rounds = (options.tasks + per_round - 1) / per_round;

  std::string error;
  Connections c;
  c.producer = RawConnection::open(ctx.endpoint, "broker-bench-churn-producer", kSetupTimeoutMs, error);
  if (c.producer) c.worker = RawConnection::open(ctx.endpoint, "broker-bench-churn-worker", kSetupTimeoutMs, error);
  if (!c.producer || !c.worker) {
    report.completed = false;
    report.errors = 1;
    report.first_error = error;
    return report;
  }

  v1::ServerStats stats;
  if (server_stats(*c.producer, stats, error)) report.details["before"] = stats_json(stats);

  // Samples after each tenth of the rounds (every 100,000 names for 1,000,000).
  std::vector<uint64_t> sample_after;
  for (int k = 1; k <= kSamples; ++k) {
    const uint64_t at = (rounds * static_cast<uint64_t>(k) + kSamples - 1) / kSamples;
    if (at > 0 && (sample_after.empty() || sample_after.back() != at)) sample_after.push_back(at);
  }
  nlohmann::json samples = nlohmann::json::array();
  std::string rss_line = "RSS after names:";
  std::string queues_line = "queues known after names:";
  std::string rate_line = "names/s per sample window:";
  size_t next_sample = 0;

  ctx.progress.phase("churn", Progress::Track::kCompleted, rounds * per_round);
  const int64_t start = now_ns();
  int64_t window_start = start;
  uint64_t window_names = 0;
  uint64_t names = 0;
  uint64_t round = 0;
  for (; round < rounds && !ctx.should_stop(); ++round) {
    const unsigned count = static_cast<unsigned>(std::min<uint64_t>(per_round, options.tasks - names));
    const int64_t round_start = now_ns();
    if (!churn_round(ctx, c, round, count, error)) {
      ++report.errors;
      report.first_error = "round " + std::to_string(round) + ": " + error;
      break;
    }
    const int64_t round_end = now_ns();
    report.latency.record(round_end - round_start);
    names += count;
    window_names += count;
    ctx.progress.completed.fetch_add(count, std::memory_order_relaxed);
    if (next_sample < sample_after.size() && round + 1 == sample_after[next_sample]) {
      ++next_sample;
      const double window_seconds = seconds_between(window_start, round_end);
      nlohmann::json sample = {{"names", names},
                               {"seconds", round_to(seconds_between(start, round_end), 3)},
                               {"window_names_per_s", std::round(per_second(window_names, window_seconds))}};
      if (server_stats(*c.producer, stats, error)) {
        sample.update(stats_json(stats));
        rss_line += " " + with_commas(names) + ": " + mib(stats.rss_bytes()) + ";";
        queues_line += " " + with_commas(names) + ": " + with_commas(stats.queues()) + ";";
      }
      if (ctx.server && ctx.server->running()) {
        sample["server_cpu_seconds"] = round_to(read_proc(ctx.server->pid()).cpu_seconds(), 2);
      }
      rate_line += " " + with_commas(static_cast<uint64_t>(per_second(window_names, window_seconds)));
      samples.push_back(sample);
      window_start = now_ns();  // the reading is not part of the next window
      window_names = 0;
    }
  }
  const int64_t end = now_ns();
  report.tasks = names;
  report.seconds = seconds_between(start, end);
  report.completed = names == options.tasks && report.errors == 0;
  report.details["rounds"] = round;
  report.details["names_per_round"] = per_round;
  report.details["samples"] = samples;
  report.human_lines.push_back(with_commas(names) + " queue names in " + with_commas(round) + " rounds of " +
                               std::to_string(per_round));
  report.human_lines.push_back(rss_line);
  report.human_lines.push_back(queues_line);
  report.human_lines.push_back(rate_line);

  // The worker leaves the churned queues: every one of them is idle now.
  v1::Envelope elsewhere;
  elsewhere.mutable_consume()->add_queues(options.queue);
  elsewhere.mutable_consume()->set_prefetch(1);
  v1::Envelope reply;
  if (!c.worker->call(elsewhere, reply, kSetupTimeoutMs) || !reply.has_consume_ok()) {
    ++report.errors;
    if (report.first_error.empty()) report.first_error = "final Consume: " + c.worker->error();
  }
  if (server_stats(*c.producer, stats, error)) {
    report.details["after"] = stats_json(stats);
    report.human_lines.push_back("after the worker left: RSS " + mib(stats.rss_bytes()) + ", queues known " +
                                 with_commas(stats.queues()) + ", data dir " + mib(stats.disk_bytes()));
  }
  c.producer.reset();
  c.worker.reset();

  if (ctx.server && ctx.server->running()) {
    if (ctx.interrupted.load()) {
      report.details["restart"] = {{"skipped", "the run was interrupted"}};
    } else {
      ctx.progress.phase("restart", Progress::Track::kCompleted, 0);
      report.details["restart"] = restart(ctx, report);
    }
  }
  report.details["queue_prefix"] = options.queue;
  return report;
}

}  // namespace broker_bench
