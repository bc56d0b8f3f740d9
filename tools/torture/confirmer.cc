#include "confirmer.h"

#include <memory>

#include <brokerd/client.h>

#include "client_options.h"

namespace torture {

Confirmer::Confirmer(std::string server, JournalWriter& journal) : server_(std::move(server)), journal_(journal) {
  for (unsigned i = 0; i < kThreads; ++i) threads_.emplace_back([this] { run(); });
}

Confirmer::~Confirmer() { finish(std::chrono::milliseconds(0)); }

void Confirmer::watch(const std::string& id, const std::string& result_json) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    pending_.push_back({id, result_json, 0});
  }
  cv_.notify_one();
}

void Confirmer::finish(std::chrono::milliseconds budget) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) stop_at_ = std::chrono::steady_clock::now() + budget;
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Confirmer::run() {
  std::unique_ptr<brokerd::Client> client;
  for (;;) {
    Pending item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() || std::chrono::steady_clock::now() >= stop_at_) return;
      item = std::move(pending_.front());
      pending_.pop_front();
    }
    if (!client || !client->connected()) {
      auto connected = brokerd::Client::connect(client_options(server_, "torture-confirmer"));
      if (connected.ok()) client = std::move(connected).value();
    }
    brokerd::Result<brokerd::TaskInfo> info =
        client ? client->wait(item.id, std::chrono::milliseconds(1000))
               : brokerd::Result<brokerd::TaskInfo>(brokerd::Status(brokerd::ErrorCode::kUnavailable, "no connection"));
    const std::string now = std::to_string(monotonic_ms());
    if (info.ok()) {
      if (info->state == brokerd::TaskState::kSuccess &&
          info->result() == nlohmann::json::parse(item.result_json, nullptr, false)) {
        journal_.append("C " + now + " " + item.id + " " + item.result_json);
      } else if (info->state == brokerd::TaskState::kSuccess) {
        journal_.append("O " + now + " " + item.id);
      } else {
        journal_.append(std::string("X ") + now + " " + item.id + " " + brokerd::task_state_name(info->state));
      }
      continue;
    }
    if (info.status().code() == brokerd::ErrorCode::kNotFound) {
      journal_.append("N " + now + " " + item.id);  // the final check decides what it means
      continue;
    }
    // Not terminal yet (our Complete may have been lost with the broker; another run will
    // finish it), or the broker is away: try again later, behind the others.
    if (!client || !client->connected()) {
      client.reset();
      // Broker down: a short pause so the confirmers do not spin while it restarts.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return std::chrono::steady_clock::now() >= stop_at_; });
    }
    if (++item.rounds < kMaxRounds) {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back(std::move(item));
    }
  }
}

}  // namespace torture
