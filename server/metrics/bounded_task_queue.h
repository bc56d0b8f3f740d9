// The thread pool behind MetricsHttpServer, as a cpp-httplib TaskQueue. httplib's own
// ThreadPool queues every accepted connection without limit, each holding a socket; a
// flood of idle connections would exhaust brokerd's file descriptors. Here enqueue()
// blocks once `max_pending` connections wait, which pauses httplib's accept loop: further
// clients wait in the kernel's listen backlog instead of in brokerd.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace brokerd::server::metrics {

class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(size_t threads, size_t max_pending);
  ~BoundedTaskQueue() override;
  BoundedTaskQueue(const BoundedTaskQueue&) = delete;
  BoundedTaskQueue& operator=(const BoundedTaskQueue&) = delete;

  // Called by httplib's accept loop, one task per connection.
  void enqueue(std::function<void()> task) override;
  // Runs what is queued, then joins the threads. httplib calls it once its accept loop
  // has ended, so nothing is enqueued concurrently.
  void shutdown() override;

 private:
  void run();

  const size_t max_pending_;
  std::mutex mutex_;
  std::condition_variable has_task_;
  std::condition_variable has_room_;
  std::deque<std::function<void()>> tasks_;
  bool shutting_down_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace brokerd::server::metrics
