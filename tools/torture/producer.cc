#include "producer.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>

#include <brokerd/client.h>

#include "client_options.h"
#include "journal.h"
#include "task_plan.h"

namespace torture {

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void on_sigterm(int) { stop_requested = 1; }

bool worth_retrying(brokerd::ErrorCode code) {
  switch (code) {
    case brokerd::ErrorCode::kUnavailable:    // the broker died or is not back yet
    case brokerd::ErrorCode::kTimeout:        // it died between request and reply
    case brokerd::ErrorCode::kShuttingDown:
    case brokerd::ErrorCode::kInternal:       // a storage error; a restart clears it
    case brokerd::ErrorCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

class Producer {
 public:
  explicit Producer(const ChildOptions& options) : options_(options), journal_(options.journal), random_(options.seed) {}

  int run() {
    using Clock = std::chrono::steady_clock;
    const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / options_.rate));
    Clock::time_point next = Clock::now();
    for (uint64_t seq = 0; seq < options_.count && !stop_requested; ++seq) {
      // Pacing, not waiting for a condition: the load is meant to be spread over the chaos.
      std::this_thread::sleep_until(next);
      next += interval;
      if (Clock::now() - next > std::chrono::seconds(1)) next = Clock::now();  // no catch-up burst after an outage
      const std::string id = task_id(options_.run_tag, options_.producer_index, seq);
      if (!enqueue_until_confirmed(id, task_request(id, seq, options_.poison_fraction))) return 2;
    }
    return 0;
  }

 private:
  // Returns false only on an error a retry cannot fix (a bug in this tool or the broker).
  bool enqueue_until_confirmed(const std::string& id, const brokerd::TaskRequest& request) {
    std::chrono::milliseconds backoff{20};
    for (;;) {
      if (!client_ || !client_->connected()) {
        auto connected = brokerd::Client::connect(client_options(options_.server, "torture-producer"));
        if (!connected.ok()) {
          wait_backoff(backoff);
          continue;
        }
        client_ = std::move(connected).value();
      }
      brokerd::Result<brokerd::EnqueueReceipt> receipt = client_->enqueue(request);
      if (receipt.ok()) {
        journal_.append("E " + std::to_string(monotonic_ms()) + " " + id + " " + (receipt->created ? "1" : "0"));
        return true;
      }
      if (!worth_retrying(receipt.status().code())) {
        std::fprintf(stderr, "producer: enqueue %s failed: %s\n", id.c_str(), receipt.status().to_string().c_str());
        return false;
      }
      client_.reset();  // a lost Client stays lost; the next round connects afresh
      wait_backoff(backoff);
    }
  }

  // Reconnect backoff: 20 ms doubling to 320 ms, jittered so producers do not stampede.
  void wait_backoff(std::chrono::milliseconds& backoff) {
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random_)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(320));
  }

  const ChildOptions& options_;
  JournalWriter journal_;
  std::mt19937_64 random_;
  std::unique_ptr<brokerd::Client> client_;
};

}  // namespace

int run_producer(const ChildOptions& options) {
  std::signal(SIGTERM, on_sigterm);
  std::signal(SIGPIPE, SIG_IGN);
  return Producer(options).run();
}

}  // namespace torture
