// broker-bench: a log-linear latency histogram (in the manner of HdrHistogram) with
// constant memory, so ten million samples cost the same as ten. Values are nanoseconds;
// a recorded value is kept within 1/128 of its size (reported as its bucket's middle),
// the maximum exactly.
//
// Thread safety: none. Each thread records into its own histogram; merge() at the end.
#pragma once

#include <cstdint>
#include <vector>

namespace broker_bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void record(int64_t nanoseconds);
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // 0 when empty.
  int64_t max() const { return max_; }
  int64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // The value at quantile q (0..1), e.g. 0.99; 0 when empty.
  int64_t quantile(double q) const;

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  int64_t max_ = 0;
  int64_t min_ = 0;
  // Sum of samples, for the mean (ns; overflows only after ~290 years of samples).
  uint64_t sum_ = 0;
};

}  // namespace broker_bench
