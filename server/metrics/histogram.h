// Fixed-bucket histograms of durations in seconds, for the Prometheus exposition
// (metrics/prometheus_text.h). Buckets are chosen once, at construction: Prometheus
// aggregates histograms across scrapes and instances only when their bounds agree.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace brokerd::server::metrics {

// Upper bounds in seconds, 0.5 ms to 5 min: from one fsync on an SSD to a long task.
std::vector<double> default_latency_buckets();

// One histogram's state at one moment: what the exposition writes.
struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // ascending, finite; the +Inf bucket is implicit
  // Observations per bucket, NOT cumulative: bucket_counts[i] counts the values v with
  // upper_bounds[i-1] < v <= upper_bounds[i]; the last entry (index upper_bounds.size())
  // counts those above every bound.
  std::vector<uint64_t> bucket_counts;
  double sum = 0;
  uint64_t count = 0;  // always the total of bucket_counts
};

// Not thread-safe: for use under a lock its owner already holds.
class Histogram {
 public:
  // Throws std::invalid_argument unless `upper_bounds` is strictly ascending and finite.
  explicit Histogram(std::vector<double> upper_bounds = default_latency_buckets());

  // A negative value counts as 0 (a clock artifact: a duration cannot be negative, and a
  // negative sum would look like a counter reset to rate()); NaN is ignored.
  void observe(double seconds);
  template <class Rep, class Period>
  void observe(std::chrono::duration<Rep, Period> elapsed) {
    observe(std::chrono::duration<double>(elapsed).count());
  }

  HistogramSnapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> bucket_counts_;  // upper_bounds_.size() + 1 entries
  double sum_ = 0;
};

// The same, observed and read from any threads without a lock (relaxed atomics): e.g. the
// committer thread observes fsync latency while /metrics reads it. A snapshot taken during
// observations may miss the newest ones or count one in its bucket before its sum, never
// more; its count is the total of its buckets, so _count always equals the +Inf bucket.
class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::vector<double> upper_bounds = default_latency_buckets());

  void observe(double seconds);
  template <class Rep, class Period>
  void observe(std::chrono::duration<Rep, Period> elapsed) {
    observe(std::chrono::duration<double>(elapsed).count());
  }

  HistogramSnapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // upper_bounds_.size() + 1
  std::atomic<double> sum_{0};
};

}  // namespace brokerd::server::metrics
