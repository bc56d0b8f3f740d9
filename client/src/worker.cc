// Worker: the public face of Worker::Impl (worker_impl.h).

#include "brokerd/worker.h"

#include "worker_impl.h"

namespace brokerd {

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Worker::~Worker() = default;  // Impl's destructor stops and joins

void Worker::register_task(const std::string& name, TaskHandler handler) {
  impl_->register_task(name, std::move(handler));
}

Status Worker::start() { return impl_->start(); }
Status Worker::run() { return impl_->run(); }
void Worker::stop() { impl_->stop(); }
uint64_t Worker::completed_count() const { return impl_->completed_count(); }

}  // namespace brokerd
