#include "commit/committer.h"

#include <chrono>
#include <vector>

#include <spdlog/spdlog.h>

namespace brokerd::server {

bool parse_sync_policy(std::string_view text, SyncPolicy& out) {
  if (text == "always") out = SyncPolicy::kAlways;
  else if (text == "interval") out = SyncPolicy::kInterval;
  else if (text == "none") out = SyncPolicy::kNone;
  else return false;
  return true;
}

Committer::Committer(Storage& storage, SyncPolicy policy, int64_t interval_ms)
    : storage_(storage), policy_(policy), interval_ms_(interval_ms < 1 ? 1 : interval_ms) {}

Committer::~Committer() { stop(); }

void Committer::start() {
  if (policy_ == SyncPolicy::kAlways) thread_ = std::thread([this] { run_always(); });
  if (policy_ == SyncPolicy::kInterval) thread_ = std::thread([this] { run_interval(); });
}

void Committer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whatever is still waiting is released by one last sync.
  const uint64_t target = storage_.last_written_seq();
  const Status synced = storage_.sync();
  std::deque<std::pair<uint64_t, StatusContinuation>> rest;
  {
    std::lock_guard lock(mutex_);
    durable_seq_ = target;
    rest.swap(waiting_);
  }
  for (auto& [ticket, done] : rest) done(outcome(ticket, synced));
}

Status Committer::outcome(uint64_t ticket, const Status& synced) const {
  if (!synced.ok()) return synced;
  // A failed write applied nothing: a sync after it does not make it durable.
  return storage_.failed_write(ticket);
}

void Committer::after_durable(uint64_t ticket, Continuation done) {
  when_durable(ticket, [done = std::move(done)](const Status& status) { done(status.ok()); });
}

void Committer::when_durable(uint64_t ticket, StatusContinuation done) {
  if (policy_ != SyncPolicy::kAlways) {
    done(outcome(ticket, Status::Ok()));
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (ticket <= durable_seq_) {
      // Already covered by a finished sync.
    } else if (!stopping_) {
      waiting_.emplace_back(ticket, std::move(done));
      wake_.notify_one();
      return;
    }
  }
  done(outcome(ticket, Status::Ok()));
}

void Committer::run_always() {
  std::vector<std::pair<uint64_t, StatusContinuation>> released;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (stopping_) return;
    }
    const uint64_t target = storage_.last_written_seq();
    const auto started = std::chrono::steady_clock::now();
    Status s = storage_.sync();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    if (!s.ok()) spdlog::error("fsync failed; confirmations are withheld: {}", s.message());
    {
      std::lock_guard lock(mutex_);
      if (s.ok()) durable_seq_ = target;
      while (!waiting_.empty() && waiting_.front().first <= target) {
        released.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
      stats_.syncs++;
      stats_.confirmations += released.size();
      stats_.largest_group = std::max<uint64_t>(stats_.largest_group, released.size());
      stats_.total_sync_micros += static_cast<uint64_t>(micros);
    }
    fsync_seconds_.observe(static_cast<double>(micros) / 1e6);
    if (!released.empty()) group_size_.observe(static_cast<double>(released.size()));
    const bool none_released = released.empty();
    for (auto& [ticket, done] : released) done(outcome(ticket, s));
    released.clear();
    if (none_released) {
      // Everything waiting has a ticket not written yet (its writer is about to flush):
      // give it a moment instead of spinning on empty syncs.
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(1), [&] { return stopping_; });
    }
  }
}

void Committer::run_interval() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [&] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    Status s = storage_.sync();
    fsync_seconds_.observe(std::chrono::steady_clock::now() - started);
    if (!s.ok()) spdlog::error("periodic fsync failed: {}", s.message());
    lock.lock();
    stats_.syncs++;
  }
}

std::vector<double> group_size_buckets() {
  std::vector<double> bounds;
  for (double size = 1; size <= 4096; size *= 2) bounds.push_back(size);
  return bounds;
}

CommitMetrics Committer::metrics() const {
  CommitMetrics out;
  {
    std::lock_guard lock(mutex_);
    out.syncs = stats_.syncs;
    out.confirmations = stats_.confirmations;
  }
  out.fsync_seconds = fsync_seconds_.snapshot();
  out.group_size = group_size_.snapshot();
  return out;
}

void Committer::log_stats_since_last_call() {
  CommitterStats now;
  CommitterStats before;
  {
    std::lock_guard lock(mutex_);
    now = stats_;
    before = logged_;
    logged_ = stats_;
    stats_.largest_group = 0;
  }
  const uint64_t syncs = now.syncs - before.syncs;
  if (syncs == 0) return;
  const uint64_t confirmations = now.confirmations - before.confirmations;
  spdlog::info("group commit: {} syncs, {:.1f} confirmations per sync (largest {}), fsync {:.0f} us average",
               syncs, static_cast<double>(confirmations) / static_cast<double>(syncs), now.largest_group,
               static_cast<double>(now.total_sync_micros - before.total_sync_micros) / static_cast<double>(syncs));
}

}  // namespace brokerd::server
