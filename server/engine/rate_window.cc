#include "engine/rate_window.h"

#include <algorithm>

namespace brokerd::server {

namespace {
constexpr int kSlots = RateWindow::kSeconds + 1;
size_t slot(int64_t second) { return static_cast<size_t>(((second % kSlots) + kSlots) % kSlots); }
}  // namespace

void RateWindow::advance(int64_t second) {
  if (current_second_ < 0) {
    current_second_ = first_second_ = second;
    return;
  }
  if (second <= current_second_) return;  // same second, or the clock stepped back
  // Clear the buckets of the seconds that passed without events (at most a full turn).
  const int64_t steps = std::min<int64_t>(second - current_second_, kSlots);
  for (int64_t i = 1; i <= steps; ++i) buckets_[slot(current_second_ + i)] = 0;
  current_second_ = second;
}

void RateWindow::add(int64_t now_ms, uint64_t count) {
  advance(now_ms / 1000);
  buckets_[slot(current_second_)] += count;
}

double RateWindow::per_second(int64_t now_ms) const {
  if (current_second_ < 0) return 0.0;
  const int64_t now_second = now_ms / 1000;
  // The last kSeconds seconds including the one in progress, averaged over the time the
  // window has actually covered (at least one second, so a fresh burst is not inflated).
  const int64_t from = now_second - kSeconds + 1;
  uint64_t total = 0;
  for (int64_t second = std::max(from, first_second_); second <= now_second; ++second) {
    if (second > current_second_ || current_second_ - second >= kSlots) continue;  // no events recorded
    total += buckets_[slot(second)];
  }
  const double covered = static_cast<double>(now_ms) / 1000.0 - static_cast<double>(std::max(from, first_second_));
  return static_cast<double>(total) / std::clamp(covered, 1.0, static_cast<double>(kSeconds));
}

}  // namespace brokerd::server
