#include "progress.h"

#include <unistd.h>

#include <cstdio>

#include "bench_context.h"

namespace broker_bench {

std::string with_commas(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

Progress::Progress(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO)) {
  if (enabled_) thread_ = std::thread([this] { draw_loop(); });
}

Progress::~Progress() { finish(); }

void Progress::phase(const std::string& name, Track track, uint64_t target) {
  std::lock_guard<std::mutex> lock(mutex_);
  phase_name_ = name;
  track_ = track;
  target_ = target;
  phase_start_ns_ = now_ns();
}

void Progress::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
  }
}

void Progress::draw_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; })) {
    lock.unlock();
    draw();
    lock.lock();
  }
}

void Progress::draw() {
  std::string name;
  Track track;
  uint64_t target;
  int64_t start;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_name_.empty()) return;
    name = phase_name_;
    track = track_;
    target = target_;
    start = phase_start_ns_;
  }
  const int64_t now = now_ns();
  const uint64_t done_enqueued = enqueued.load(std::memory_order_relaxed);
  const uint64_t done_completed = completed.load(std::memory_order_relaxed);
  const uint64_t tracked = track == Track::kEnqueued ? done_enqueued : done_completed;
  if (start > last_draw_ns_) last_draw_ns_ = 0;  // a new phase: no rate yet
  double rate = 0;
  if (last_draw_ns_ > 0 && now > last_draw_ns_ && tracked >= last_count_) {
    rate = static_cast<double>(tracked - last_count_) / seconds_between(last_draw_ns_, now);
  }
  last_count_ = tracked;
  last_draw_ns_ = now;
  std::fprintf(stderr, "\r\x1b[K[%s] enqueued %s  completed %s  (%s of %s)  %s/s  %.1f s", name.c_str(),
               with_commas(done_enqueued).c_str(), with_commas(done_completed).c_str(),
               track == Track::kEnqueued ? "enqueue" : "complete", with_commas(target).c_str(),
               with_commas(static_cast<uint64_t>(rate)).c_str(), seconds_between(start, now));
  std::fflush(stderr);
}

}  // namespace broker_bench
