#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace broker_bench {

namespace {

// Values below 2^kSubBits are exact; above, each power of two is split into
// 2^(kSubBits-1) equal buckets.
constexpr int kSubBits = 8;
constexpr uint64_t kExact = uint64_t{1} << kSubBits;
constexpr uint64_t kHalf = kExact / 2;
constexpr size_t kBucketCount = kExact + (64 - kSubBits) * kHalf;

size_t bucket_of(uint64_t value) {
  if (value < kExact) return static_cast<size_t>(value);
  const int exponent = 63 - std::countl_zero(value);  // >= kSubBits
  const int shift = exponent - (kSubBits - 1);
  const uint64_t mantissa = value >> shift;  // in [kHalf, kExact)
  return static_cast<size_t>(kExact + static_cast<uint64_t>(exponent - kSubBits) * kHalf + (mantissa - kHalf));
}

// Middle of the bucket's range.
uint64_t bucket_value(size_t index) {
  if (index < kExact) return index;
  const uint64_t offset = index - kExact;
  const int exponent = static_cast<int>(offset / kHalf) + kSubBits;
  const int shift = exponent - (kSubBits - 1);
  const uint64_t mantissa = offset % kHalf + kHalf;
  return (mantissa << shift) + ((uint64_t{1} << shift) >> 1);
}

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBucketCount, 0) {}

void LatencyHistogram::record(int64_t nanoseconds) {
  const uint64_t value = nanoseconds > 0 ? static_cast<uint64_t>(nanoseconds) : 0;
  ++buckets_[bucket_of(value)];
  if (count_ == 0 || static_cast<int64_t>(value) < min_) min_ = static_cast<int64_t>(value);
  if (static_cast<int64_t>(value) > max_) max_ = static_cast<int64_t>(value);
  ++count_;
  sum_ += value;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  min_ = count_ ? std::min(min_, other.min_) : other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

int64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the sample at quantile q, 1-based ("nearest rank").
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const int64_t value = static_cast<int64_t>(bucket_value(i));
      return std::clamp(value, min_, max_);
    }
  }
  return max_;
}

}  // namespace broker_bench
