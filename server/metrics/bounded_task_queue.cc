#include "metrics/bounded_task_queue.h"

#include <algorithm>
#include <utility>

namespace brokerd::server::metrics {

BoundedTaskQueue::BoundedTaskQueue(size_t threads, size_t max_pending) : max_pending_(std::max<size_t>(max_pending, 1)) {
  threads = std::max<size_t>(threads, 1);
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

void BoundedTaskQueue::enqueue(std::function<void()> task) {
  {
    std::unique_lock lock(mutex_);
    has_room_.wait(lock, [&] { return tasks_.size() < max_pending_; });
    tasks_.push_back(std::move(task));
  }
  has_task_.notify_one();
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
  }
  has_task_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void BoundedTaskQueue::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      has_task_.wait(lock, [&] { return shutting_down_ || !tasks_.empty(); });
      // A queued task owns an accepted socket that only the task closes: run it even
      // when shutting down (httplib's handler sees the server stopped and just closes it).
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    has_room_.notify_one();
    task();
  }
}

}  // namespace brokerd::server::metrics
