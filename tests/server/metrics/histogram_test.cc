// Histogram and AtomicHistogram: bucket placement (le is "less than or equal"), sum and
// count, the values they refuse, and concurrent observation.
#include "metrics/histogram.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace brokerd::server::metrics {
namespace {

TEST(Histogram, DefaultBucketsSpanHalfAMillisecondToFiveMinutes) {
  EXPECT_EQ(default_latency_buckets(), (std::vector<double>{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                            0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}));
}

TEST(Histogram, PlacesEachValueInTheFirstBucketWhoseBoundIsAtLeastIt) {
  Histogram histogram({1, 2, 5});
  for (double v : {0.0, 0.5, 1.0, 1.5, 2.0, 2.0000001, 5.0, 7.0, 1e9}) histogram.observe(v);
  const HistogramSnapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.upper_bounds, (std::vector<double>{1, 2, 5}));
  // (-inf,1]: 0, 0.5, 1   (1,2]: 1.5, 2   (2,5]: 2.0000001, 5   (5,+Inf): 7, 1e9
  EXPECT_EQ(snapshot.bucket_counts, (std::vector<uint64_t>{3, 2, 2, 2}));
  EXPECT_EQ(snapshot.count, 9u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 0 + 0.5 + 1 + 1.5 + 2 + 2.0000001 + 5 + 7 + 1e9);
}

TEST(Histogram, StartsEmpty) {
  const HistogramSnapshot snapshot = Histogram().snapshot();
  EXPECT_EQ(snapshot.bucket_counts, std::vector<uint64_t>(default_latency_buckets().size() + 1, 0));
  EXPECT_EQ(snapshot.count, 0u);
  EXPECT_EQ(snapshot.sum, 0);
}

TEST(Histogram, TakesDurations) {
  Histogram histogram;
  histogram.observe(std::chrono::microseconds(3000));  // 0.003 s: the 0.005 bucket
  histogram.observe(std::chrono::seconds(400));        // beyond 300: +Inf
  const HistogramSnapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.bucket_counts[3], 1u);
  EXPECT_EQ(snapshot.bucket_counts.back(), 1u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 400.003);
}

TEST(Histogram, CountsNegativeValuesAsZeroAndIgnoresNaN) {
  Histogram histogram({1});
  histogram.observe(-2);
  histogram.observe(std::numeric_limits<double>::quiet_NaN());
  histogram.observe(std::numeric_limits<double>::infinity());
  const HistogramSnapshot snapshot = histogram.snapshot();
  EXPECT_EQ(snapshot.bucket_counts, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(snapshot.count, 2u);
  EXPECT_TRUE(std::isinf(snapshot.sum));
}

TEST(Histogram, RefusesBoundsThatAreNotStrictlyAscendingAndFinite) {
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
  EXPECT_THROW(AtomicHistogram({std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
  EXPECT_NO_THROW(Histogram(std::vector<double>{}));  // only the +Inf bucket
}

TEST(AtomicHistogram, PlacesValuesLikeHistogram) {
  Histogram plain({0.01, 0.1, 1});
  AtomicHistogram atomic({0.01, 0.1, 1});
  for (double v : {-1.0, 0.005, 0.01, 0.05, 0.1, 0.5, 3.0}) {
    plain.observe(v);
    atomic.observe(v);
  }
  const HistogramSnapshot expected = plain.snapshot();
  const HistogramSnapshot actual = atomic.snapshot();
  EXPECT_EQ(actual.upper_bounds, expected.upper_bounds);
  EXPECT_EQ(actual.bucket_counts, expected.bucket_counts);
  EXPECT_EQ(actual.count, expected.count);
  EXPECT_DOUBLE_EQ(actual.sum, expected.sum);
}

TEST(AtomicHistogram, LosesNoObservationFromConcurrentThreads) {
  AtomicHistogram histogram({1, 2});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&histogram, t] {
      for (int i = 0; i < kPerThread; ++i) histogram.observe(static_cast<double>(t % 3) + 0.5);  // 0.5, 1.5, 2.5
    });
  }
  // A reader during the writes sees consistent totals: count is the sum of its buckets.
  const HistogramSnapshot during = histogram.snapshot();
  uint64_t total = 0;
  for (uint64_t n : during.bucket_counts) total += n;
  EXPECT_EQ(during.count, total);
  for (std::thread& thread : threads) thread.join();

  const HistogramSnapshot after = histogram.snapshot();
  EXPECT_EQ(after.bucket_counts, (std::vector<uint64_t>{2 * kPerThread, kPerThread, kPerThread}));
  EXPECT_EQ(after.count, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_DOUBLE_EQ(after.sum, kPerThread * (0.5 + 1.5 + 2.5 + 0.5));
}

}  // namespace
}  // namespace brokerd::server::metrics
