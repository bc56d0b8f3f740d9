// A tiny in-memory broker speaking protocol v1, for testing the client library without
// the real server: handshake, Ping, Enqueue, GetTask, WaitResult, Consume/Delivery,
// Complete, Heartbeat. Enough of the semantics (leases, prefetch credit, requeue on
// disconnect) to exercise the Worker; none of the durability.
//
// It runs on its own thread on 127.0.0.1 with an ephemeral port. Test hooks let a test
// cut every connection, or stop answering requests to provoke client timeouts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include "broker.pb.h"

namespace brokerd::testing {

class FakeBroker {
 public:
  FakeBroker();
  ~FakeBroker();

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Closes every client connection (leased tasks go back to the queue), as a crash would.
  void drop_connections();
  // While muted, requests other than Hello get no reply at all.
  void set_muted(bool muted);

  // Snapshots, safe from any thread.
  v1::TaskRecord task(const std::string& id);
  uint64_t heartbeats();
  uint64_t stale_completions();
  size_t sessions();
  std::vector<std::string> client_names();

 private:
  class Session;
  void accept();
  void handle(const std::shared_ptr<Session>& session, v1::Envelope request);
  void deliver_ready();
  void finish_task(v1::TaskRecord& record);
  void requeue_leases_of(Session* session);

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;

  std::mutex mu_;  // guards the snapshot state below against test threads
  std::map<std::string, v1::TaskRecord> tasks_;
  std::vector<std::string> ready_;  // ids, FIFO
  std::vector<std::shared_ptr<Session>> sessions_;
  std::multimap<std::string, std::pair<std::shared_ptr<Session>, uint64_t>> waiters_;
  uint64_t next_task_ = 1;
  uint64_t next_lease_ = 1;
  uint64_t heartbeats_ = 0;
  uint64_t stale_completions_ = 0;
  bool muted_ = false;
};

}  // namespace brokerd::testing
