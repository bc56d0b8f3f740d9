// Group commit: turns "this write is applied" into "this write is durable" for every
// connection at once.
//
// Sessions ask to run a continuation once a write ticket is durable. Under `always` one
// committer thread loops: it takes the newest written sequence, syncs the WAL once, and
// releases every continuation up to that sequence. While it syncs, more requests gather
// for the next round, so one fsync covers everything pending from all connections.
// Under `interval` a thread syncs every N ms and continuations run at once; under `none`
// the OS decides when data reaches the disk.
//
// Thread safety: after_durable() may be called from any thread. Continuations run on the
// committer thread (or inline under interval/none) and must be short: post to a session.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "metrics/histogram.h"
#include "storage/storage.h"

namespace brokerd::server {

enum class SyncPolicy { kAlways, kInterval, kNone };
// "always" | "interval" | "none"
bool parse_sync_policy(std::string_view text, SyncPolicy& out);

struct CommitterStats {
  uint64_t syncs = 0;              // fsyncs done
  uint64_t confirmations = 0;      // continuations released after a sync
  uint64_t largest_group = 0;      // most continuations released by one sync
  uint64_t total_sync_micros = 0;
};

// For /metrics: lifetime totals and distributions (readable from any thread).
struct CommitMetrics {
  uint64_t syncs = 0;
  uint64_t confirmations = 0;
  metrics::HistogramSnapshot fsync_seconds;
  metrics::HistogramSnapshot group_size;  // confirmations released per fsync
};

// Bucket bounds for group sizes: 1, 2, 4 ... 4096 confirmations per fsync.
std::vector<double> group_size_buckets();

class Committer {
 public:
  // `ok` is false when the sync failed: the write may not be durable, so do not confirm.
  using Continuation = std::function<void(bool ok)>;
  // The same with the reason: OK, or why the write is not durable. Typed like storage
  // errors (no space: ResourceExhausted, "disk full ..."; otherwise Internal), so the
  // client can be told which.
  using StatusContinuation = std::function<void(const Status& status)>;

  Committer(Storage& storage, SyncPolicy policy, int64_t interval_ms);
  ~Committer();

  void start();
  // Syncs once more, releases every waiting continuation and joins the thread.
  void stop();

  // Runs `done` once every write up to `ticket` is durable (at once for ticket 0). A
  // ticket whose write failed (Storage::failed_write) is never confirmed.
  void after_durable(uint64_t ticket, Continuation done);
  void when_durable(uint64_t ticket, StatusContinuation done);

  // One log line with the syncs, group sizes and fsync latency since the previous call
  // (nothing when there were none).
  void log_stats_since_last_call();
  SyncPolicy policy() const { return policy_; }
  CommitMetrics metrics() const;

 private:
  void run_always();
  void run_interval();
  // What a continuation for `ticket` is told after a sync that ended with `synced`.
  Status outcome(uint64_t ticket, const Status& synced) const;

  Storage& storage_;
  const SyncPolicy policy_;
  const int64_t interval_ms_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // GUARDED_BY(mutex_): continuations in ticket order (tickets only grow).
  std::deque<std::pair<uint64_t, StatusContinuation>> waiting_;
  uint64_t durable_seq_ = 0;  // GUARDED_BY(mutex_)
  bool stopping_ = false;     // GUARDED_BY(mutex_)
  CommitterStats stats_;      // GUARDED_BY(mutex_)
  CommitterStats logged_;     // GUARDED_BY(mutex_): stats_ at the last log line
  metrics::AtomicHistogram fsync_seconds_;
  metrics::AtomicHistogram group_size_{group_size_buckets()};
  std::thread thread_;
};

}  // namespace brokerd::server
