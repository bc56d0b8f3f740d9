#include "observe/broker_metrics.h"

#include "metrics/prometheus_text.h"

namespace brokerd::server {

using metrics::MetricType;

namespace {

// One gauge family with a series per queue, read from QueueStats by `field`.
template <typename Field>
void per_queue(metrics::PrometheusTextWriter& out, const EngineSnapshot& engine, std::string_view name,
               MetricType type, std::string_view help, Field field) {
  out.family(name, type, help);
  for (const v1::QueueStats& queue : engine.queues) {
    out.sample(static_cast<double>(field(queue)), {{"queue", queue.name()}});
  }
}

}  // namespace

std::string render_broker_metrics(const EngineSnapshot& engine, const CommitMetrics& commit,
                                  const ServerGauges& server) {
  metrics::PrometheusTextWriter out;
  out.family("brokerd_build_info", MetricType::kGauge, "Always 1; labels carry the version and sync policy.");
  out.sample(1, {{"version", server.version}, {"sync", server.sync}});
  out.gauge("brokerd_uptime_seconds", "Seconds since this brokerd started.", server.uptime_seconds);
  out.gauge("brokerd_connections", "Open client connections.", server.connections);
  out.gauge("brokerd_consumers", "Connections consuming tasks.", static_cast<double>(engine.consumers));
  out.gauge("brokerd_storage_bytes", "RocksDB tables and write-ahead log on disk.",
            static_cast<double>(server.disk_bytes));
  out.gauge("brokerd_resident_memory_bytes", "Resident set size of the brokerd process.",
            static_cast<double>(server.resident_bytes));

  // Depths by state: one family with a `state` label, so dashboards can stack them.
  out.family("brokerd_queue_tasks", MetricType::kGauge, "Tasks per queue in each non-final state.");
  for (const v1::QueueStats& queue : engine.queues) {
    const std::pair<const char*, uint64_t> states[] = {{"ready", queue.ready()},
                                                       {"scheduled", queue.scheduled()},
                                                       {"in_flight", queue.in_flight()},
                                                       {"retrying", queue.retrying()},
                                                       {"dead", queue.dead()}};
    for (const auto& [state, count] : states) {
      out.sample(static_cast<double>(count), {{"queue", queue.name()}, {"state", state}});
    }
  }
  per_queue(out, engine, "brokerd_queue_consumers", MetricType::kGauge, "Consumers subscribed to the queue.",
            [](const v1::QueueStats& q) { return q.consumers(); });
  per_queue(out, engine, "brokerd_queue_succeeded_total", MetricType::kCounter,
            "Tasks of the queue that succeeded (kept across restarts).",
            [](const v1::QueueStats& q) { return q.succeeded(); });
  per_queue(out, engine, "brokerd_queue_failed_total", MetricType::kCounter,
            "Tasks of the queue that failed for good (kept across restarts).",
            [](const v1::QueueStats& q) { return q.failed(); });
  per_queue(out, engine, "brokerd_queue_revoked_total", MetricType::kCounter,
            "Tasks of the queue revoked or purged (kept across restarts).",
            [](const v1::QueueStats& q) { return q.revoked(); });

  out.counter("brokerd_tasks_enqueued_total", "Tasks accepted since start.",
              static_cast<double>(engine.enqueued_total));
  out.counter("brokerd_tasks_delivered_total", "Deliveries to consumers since start.",
              static_cast<double>(engine.delivered_total));
  out.family("brokerd_tasks_completed_total", MetricType::kCounter, "Outcomes accepted since start.");
  out.sample(static_cast<double>(engine.succeeded_total), {{"outcome", "success"}});
  out.sample(static_cast<double>(engine.retried_total), {{"outcome", "retry"}});
  out.sample(static_cast<double>(engine.failed_total), {{"outcome", "failure"}});
  out.counter("brokerd_tasks_revoked_total", "Tasks revoked or purged since start.",
              static_cast<double>(engine.revoked_total));
  out.counter("brokerd_leases_lost_total",
              "Leases that ended without an outcome (connection closed, expired or released).",
              static_cast<double>(engine.requeued_total));
  out.counter("brokerd_storage_read_errors_total",
              "Storage reads that failed (I/O or corruption); the entries are kept and read again.",
              static_cast<double>(engine.read_errors_total));
  out.histogram("brokerd_task_queue_wait_seconds", "Time from ready to delivery.", engine.queue_wait);
  out.histogram("brokerd_task_run_seconds", "Time from delivery to outcome.", engine.run_time);

  out.counter("brokerd_commit_fsyncs_total", "Write-ahead log fsyncs.", static_cast<double>(commit.syncs));
  out.counter("brokerd_commit_confirmations_total", "Replies released by fsyncs.",
              static_cast<double>(commit.confirmations));
  out.histogram("brokerd_commit_fsync_seconds", "Latency of one write-ahead log fsync.", commit.fsync_seconds);
  out.histogram("brokerd_commit_batch_size", "Confirmations released by one fsync (group commit batch).",
                commit.group_size);
  return out.take();
}

}  // namespace brokerd::server
