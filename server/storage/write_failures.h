// Bookkeeping of failed storage writes, shared by Storage implementations.
//
// After a write or a sync fails, the store refuses writes (it is "latched") until
// recover() clears it: RocksDB itself stops writing after such an error, and the engine
// must rebuild its memory from disk before it writes again.
//
// A failed write still takes a sequence number. A client may already hold that number as
// its write ticket (a reader whose answer showed changes that were to be in that write),
// so it must never be handed to a later, successful write: the committer asks failed()
// before it confirms a ticket. Failures come in runs (every write fails until recovery),
// so they are kept as ranges; the list stays tiny.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/status.h"

namespace brokerd::server {

class WriteFailures {
 public:
  // From now on writes fail with `cause`, until clear(). Keeps the first cause.
  void latch(const Status& cause) {
    std::lock_guard lock(mutex_);
    if (latched_.ok()) latched_ = cause;
    is_latched_.store(true, std::memory_order_release);
  }
  // OK when writes are allowed.
  Status latched() const {
    if (!is_latched_.load(std::memory_order_acquire)) return Status::Ok();  // the common case: no lock
    std::lock_guard lock(mutex_);
    return latched_;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    latched_ = Status::Ok();
    is_latched_.store(false, std::memory_order_release);
  }

  // Write `seq` failed with `error`.
  void note_failed(uint64_t seq, const Status& error) {
    std::lock_guard lock(mutex_);
    if (!ranges_.empty() && ranges_.back().last + 1 == seq) {
      ranges_.back().last = seq;
    } else {
      ranges_.push_back({seq, seq, error});
    }
  }
  // The error of write `seq` if it failed; OK otherwise (also for 0, "no write").
  Status failed(uint64_t seq) const {
    if (seq == 0) return Status::Ok();
    std::lock_guard lock(mutex_);
    for (auto it = ranges_.rbegin(); it != ranges_.rend(); ++it) {
      if (seq > it->last) return Status::Ok();  // ranges ascend: nothing older can match
      if (seq >= it->first) return it->error;
    }
    return Status::Ok();
  }

 private:
  struct Range {
    uint64_t first;
    uint64_t last;
    Status error;
  };
  mutable std::mutex mutex_;
  std::atomic<bool> is_latched_{false};
  Status latched_;             // GUARDED_BY(mutex_)
  std::vector<Range> ranges_;  // GUARDED_BY(mutex_), ascending
};

}  // namespace brokerd::server
