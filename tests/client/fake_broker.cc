#include "fake_broker.h"

#include <algorithm>
#include <future>

#include "frame_codec.h"

namespace brokerd::testing {

// One client connection: read loop into a FrameDecoder, writes serialized by a queue.
class FakeBroker::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(FakeBroker* broker, asio::ip::tcp::socket socket)
      : broker_(broker), socket_(std::move(socket)) {}

  void start() { read(); }

  void send(v1::Envelope envelope) {
    if (closed_) return;
    const bool idle = outbox_.empty();
    outbox_.push_back(wire::encode_frame(envelope));
    if (idle) write();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    socket_.close(ignored);
  }

  bool closed() const { return closed_; }
  std::string name;
  uint32_t prefetch = 0;
  bool consuming = false;
  std::map<std::string, uint64_t> leases;  // task id -> lease id

 private:
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(buffer_), [this, self](asio::error_code ec, size_t n) {
      if (ec) {
        broker_->requeue_leases_of(this);
        close();
        return;
      }
      decoder_.append(buffer_.data(), n);
      v1::Envelope envelope;
      while (decoder_.next(&envelope) == wire::DecodeResult::kFrame) {
        broker_->handle(self, std::move(envelope));
        envelope.Clear();
      }
      if (!closed_) read();
    });
  }

  void write() {
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(outbox_.front()), [this, self](asio::error_code ec, size_t) {
      if (ec) return close();
      outbox_.erase(outbox_.begin());
      if (!outbox_.empty()) write();
    });
  }

  FakeBroker* broker_;
  asio::ip::tcp::socket socket_;
  std::array<char, 4096> buffer_;
  wire::FrameDecoder decoder_;
  std::vector<std::string> outbox_;
  bool closed_ = false;
};

FakeBroker::FakeBroker() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
  port_ = acceptor_.local_endpoint().port();
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

FakeBroker::~FakeBroker() {
  std::promise<void> closed;
  asio::post(io_, [this, &closed] {
    acceptor_.close();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : sessions_) s->close();
    waiters_.clear();
    closed.set_value();
  });
  closed.get_future().wait();
  io_.stop();
  thread_.join();
}

void FakeBroker::accept() {
  acceptor_.async_accept([this](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (ec) return;
    auto session = std::make_shared<Session>(this, std::move(socket));
    {
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.push_back(session);
    }
    session->start();
    accept();
  });
}

void FakeBroker::drop_connections() {
  asio::post(io_, [this] {
    std::vector<std::shared_ptr<Session>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all = sessions_;
    }
    for (auto& s : all) {
      requeue_leases_of(s.get());
      s->close();
    }
  });
}

void FakeBroker::set_muted(bool muted) {
  std::lock_guard<std::mutex> lock(mu_);
  muted_ = muted;
}

v1::TaskRecord FakeBroker::task(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(id);
  return it == tasks_.end() ? v1::TaskRecord() : it->second;
}

uint64_t FakeBroker::heartbeats() {
  std::lock_guard<std::mutex> lock(mu_);
  return heartbeats_;
}

uint64_t FakeBroker::stale_completions() {
  std::lock_guard<std::mutex> lock(mu_);
  return stale_completions_;
}

size_t FakeBroker::sessions() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::count_if(sessions_.begin(), sessions_.end(), [](auto& s) { return !s->closed(); });
}

std::vector<std::string> FakeBroker::client_names() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (auto& s : sessions_) names.push_back(s->name);
  return names;
}

void FakeBroker::requeue_leases_of(Session* session) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, lease] : session->leases) {
      tasks_[id].set_state(v1::QUEUED);
      ready_.insert(ready_.begin(), id);
    }
    session->leases.clear();
    session->consuming = false;
  }
  deliver_ready();
}

void FakeBroker::finish_task(v1::TaskRecord& record) {
  // Caller holds mu_. Answers every WaitResult parked on this task.
  auto range = waiters_.equal_range(record.id());
  for (auto it = range.first; it != range.second; ++it) {
    v1::Envelope reply;
    reply.set_id(it->second.second);
    *reply.mutable_task_info()->mutable_task() = record;
    it->second.first->send(std::move(reply));
  }
  waiters_.erase(range.first, range.second);
}

void FakeBroker::deliver_ready() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& session : sessions_) {
    while (!ready_.empty() && session->consuming && !session->closed() &&
           session->leases.size() < session->prefetch) {
      v1::TaskRecord& record = tasks_[ready_.front()];
      ready_.erase(ready_.begin());
      const uint64_t lease = next_lease_++;
      record.set_state(v1::STARTED);
      record.set_attempts(record.attempts() + 1);
      record.set_worker(session->name);
      session->leases[record.id()] = lease;
      v1::Envelope push;
      v1::Delivery* d = push.mutable_delivery();
      d->set_task_id(record.id());
      d->set_lease_id(lease);
      d->set_name(record.name());
      d->set_queue(record.queue());
      d->set_args_json(record.args_json());
      d->set_kwargs_json(record.kwargs_json());
      d->set_attempt(record.attempts());
      session->send(std::move(push));
    }
  }
}

void FakeBroker::handle(const std::shared_ptr<Session>& session, v1::Envelope request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  bool deliver = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (muted_ && !request.has_hello()) return;
    switch (request.body_case()) {
      case v1::Envelope::kHello:
        session->name = request.hello().client_name();
        reply.mutable_hello_ok()->set_protocol_version(1);
        reply.mutable_hello_ok()->set_max_frame_bytes(wire::kDefaultMaxFrameBytes);
        break;
      case v1::Envelope::kPing:
        reply.mutable_pong()->set_payload(request.ping().payload());
        break;
      case v1::Envelope::kEnqueue: {
        v1::TaskRecord record;
        const v1::TaskSpec& spec = request.enqueue().task();
        record.set_id(spec.id().empty() ? "task-" + std::to_string(next_task_++) : spec.id());
        record.set_name(spec.name());
        record.set_queue(spec.queue().empty() ? "default" : spec.queue());
        record.set_args_json(spec.args_json());
        record.set_kwargs_json(spec.kwargs_json());
        record.set_state(v1::QUEUED);
        reply.mutable_enqueue_ok()->set_id(record.id());
        reply.mutable_enqueue_ok()->set_state(v1::QUEUED);
        reply.mutable_enqueue_ok()->set_created(true);
        ready_.push_back(record.id());
        tasks_[record.id()] = record;
        deliver = true;
        break;
      }
      case v1::Envelope::kGetTask:
      case v1::Envelope::kWaitResult: {
        const bool wait = request.has_wait_result();
        const std::string& id = wait ? request.wait_result().id() : request.get_task().id();
        auto it = tasks_.find(id);
        if (it == tasks_.end()) {
          reply.mutable_error()->set_code(v1::NOT_FOUND);
          reply.mutable_error()->set_message("no task with id " + id);
        } else if (wait && it->second.state() != v1::SUCCESS && it->second.state() != v1::FAILURE) {
          waiters_.emplace(id, std::make_pair(session, request.id()));  // no server timeout here
          return;
        } else {
          *reply.mutable_task_info()->mutable_task() = it->second;
        }
        break;
      }
      case v1::Envelope::kConsume:
        session->consuming = true;
        session->prefetch = request.consume().prefetch();
        reply.mutable_consume_ok()->set_lease_ms(request.consume().lease_ms() ? request.consume().lease_ms() : 30000);
        deliver = true;
        break;
      case v1::Envelope::kHeartbeat:
        ++heartbeats_;
        reply.mutable_heartbeat_ok();
        break;
      case v1::Envelope::kComplete: {
        const v1::Complete& c = request.complete();
        auto lease = session->leases.find(c.task_id());
        if (lease == session->leases.end() || lease->second != c.lease_id()) {
          ++stale_completions_;
          reply.mutable_error()->set_code(v1::STALE_LEASE);
          reply.mutable_error()->set_message("lease not held");
          break;
        }
        session->leases.erase(lease);
        v1::TaskRecord& record = tasks_[c.task_id()];
        if (c.has_success()) {
          record.set_state(v1::SUCCESS);
          record.set_result_json(c.success().result_json());
        } else if (c.has_failure()) {
          record.set_state(v1::FAILURE);
          *record.mutable_error() = c.failure().error();
        } else {
          record.set_state(v1::RETRY);
          *record.mutable_error() = c.retry().reason();
        }
        reply.mutable_complete_ok()->set_state(record.state());
        if (record.state() != v1::RETRY) finish_task(record);
        deliver = true;
        break;
      }
      default:
        reply.mutable_error()->set_code(v1::UNKNOWN_REQUEST);
        break;
    }
  }
  session->send(std::move(reply));
  if (deliver) deliver_ready();
}

}  // namespace brokerd::testing
