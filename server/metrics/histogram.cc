#include "metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace brokerd::server::metrics {
namespace {

void validate_bounds(const std::vector<double>& upper_bounds) {
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i])) {
      throw std::invalid_argument("histogram bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && !(upper_bounds[i - 1] < upper_bounds[i])) {
      throw std::invalid_argument("histogram bounds must be strictly ascending");
    }
  }
}

// Prometheus buckets are "less than or equal": a value on a bound belongs to that bound's
// bucket, hence the first bound >= value. Past the last bound: the +Inf bucket.
size_t bucket_index(const std::vector<double>& upper_bounds, double value) {
  return static_cast<size_t>(std::lower_bound(upper_bounds.begin(), upper_bounds.end(), value) -
                             upper_bounds.begin());
}

// False for NaN (dropped); a negative value becomes 0. See Histogram::observe.
bool normalize(double& seconds) {
  if (std::isnan(seconds)) return false;
  if (seconds < 0) seconds = 0;
  return true;
}

}  // namespace

std::vector<double> default_latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,    1,     2.5,    5,     10,   30,    60,   300};
}

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  validate_bounds(upper_bounds_);
  bucket_counts_.assign(upper_bounds_.size() + 1, 0);
}

void Histogram::observe(double seconds) {
  if (!normalize(seconds)) return;
  ++bucket_counts_[bucket_index(upper_bounds_, seconds)];
  sum_ += seconds;
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot snapshot{upper_bounds_, bucket_counts_, sum_, 0};
  for (uint64_t n : bucket_counts_) snapshot.count += n;
  return snapshot;
}

AtomicHistogram::AtomicHistogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1)) {
  validate_bounds(upper_bounds_);
}

void AtomicHistogram::observe(double seconds) {
  if (!normalize(seconds)) return;
  bucket_counts_[bucket_index(upper_bounds_, seconds)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(seconds, std::memory_order_relaxed);
}

HistogramSnapshot AtomicHistogram::snapshot() const {
  HistogramSnapshot snapshot{upper_bounds_, {}, sum_.load(std::memory_order_relaxed), 0};
  snapshot.bucket_counts.reserve(upper_bounds_.size() + 1);
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    snapshot.bucket_counts.push_back(bucket_counts_[i].load(std::memory_order_relaxed));
    snapshot.count += snapshot.bucket_counts.back();
  }
  return snapshot;
}

}  // namespace brokerd::server::metrics
