// broker-bench: the progress line. When stderr is a terminal, a background thread
// rewrites one line about every 0.5 s: the phase, tasks enqueued and completed, the
// current rate and the elapsed time. Nothing is drawn otherwise, so --json output and
// logs stay clean.
//
// Thread safety: the counters are atomics any thread may add to; phase() and finish()
// belong to the main thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace broker_bench {

class Progress {
 public:
  // Draws only when `enabled` and stderr is a terminal.
  explicit Progress(bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  enum class Track { kEnqueued, kCompleted };

  // Starts a phase: its name, which counter it advances, and the count it aims for.
  void phase(const std::string& name, Track track, uint64_t target);
  // Clears the line and stops drawing.
  void finish();

  std::atomic<uint64_t> enqueued{0};   // tasks confirmed by EnqueueOk / EnqueueBatchOk
  std::atomic<uint64_t> completed{0};  // tasks confirmed by CompleteOk

 private:
  void draw_loop();
  void draw();

  const bool enabled_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;             // guarded by mutex_
  std::string phase_name_;            // guarded by mutex_
  Track track_ = Track::kEnqueued;    // guarded by mutex_
  uint64_t target_ = 0;               // guarded by mutex_
  int64_t phase_start_ns_ = 0;        // guarded by mutex_
  uint64_t last_count_ = 0;           // draw thread only
  int64_t last_draw_ns_ = 0;          // draw thread only
  std::thread thread_;
};

// "1,234,567"
std::string with_commas(uint64_t value);

}  // namespace broker_bench
