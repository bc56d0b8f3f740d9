// One TCP connection to a broker, shared by Client and Worker.
//
// A Connection owns an asio::io_context and the single background thread that runs it.
// All socket I/O, the table of requests awaiting replies and the request deadlines live
// on that thread ("the I/O thread"); other threads only post work to it, so that state
// needs no lock. Reads go through wire::FrameDecoder; writes gather every queued frame
// into one buffer with exactly one async_write in flight.
//
// Replies are matched to requests by Envelope.id (they may arrive out of order). Frames
// with id 0 are pushes: a Delivery goes to Handlers::on_delivery, an Error fails every
// pending request, anything else (RevokeNotice, Event, EventsMissed) goes to
// Handlers::on_push. When the connection is lost, every pending request fails with
// kUnavailable and Handlers::on_loss runs once; the Connection does not reconnect.
//
// Flow control: pause_reading() stops reading from the socket after the frames already
// read are dispatched, so a consumer of pushes that falls behind makes the server's
// buffer fill instead of this process's memory; resume_reading() starts again.
//
// Thread safety: send(), call(), connected() and close() may be called from any thread.
// Callbacks and handlers run on the I/O thread: they must not block, must not call
// call(), and must not destroy the Connection. Destroy it from another thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include <asio.hpp>

#include "broker.pb.h"
#include "brokerd/client.h"
#include "brokerd/security.h"
#include "brokerd/status.h"
#include "frame_codec.h"
#include "stream_transport.h"

namespace brokerd::internal {

struct ConnectionOptions {
  std::string server;       // HOST:PORT
  std::string client_name;  // sent in Hello
  std::chrono::milliseconds connect_timeout{5000};  // TCP connect plus handshake
  std::chrono::milliseconds request_timeout{30000};  // default deadline of one request
  SecurityOptions security;  // token sent in Hello; TLS settings
};

// The connection a Client or EventStream with these options makes.
ConnectionOptions connection_options_for(const ClientOptions& options);

class Connection {
 public:
  using ReplyCallback = std::function<void(Result<v1::Envelope>)>;

  // All run on the I/O thread. on_delivery gets every Delivery push; on_push every other
  // push but Error; on_loss runs once if the connection ends for any reason other than
  // close().
  struct Handlers {
    std::function<void(v1::Delivery)> on_delivery;
    std::function<void(v1::Envelope)> on_push;
    std::function<void(const Status&)> on_loss;
  };

  // Resolves, connects and performs the Hello handshake, blocking the caller up to
  // connect_timeout. kUnavailable if the broker cannot be reached.
  static Result<std::unique_ptr<Connection>> open(const ConnectionOptions& options,
                                                  Handlers handlers = {});

  // Closes the connection and joins the I/O thread. Must not run on the I/O thread.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `request` (its id is assigned here) and runs `done` on the I/O thread with the
  // reply, an Error body turned into a Status, kTimeout once `timeout` passes (a late
  // reply is then ignored), or kUnavailable on connection loss. If the Connection is
  // already closed, `done` runs at once on the calling thread.
  void send(v1::Envelope request, std::chrono::milliseconds timeout, ReplyCallback done);
  void send(v1::Envelope request, ReplyCallback done) {
    send(std::move(request), options_.request_timeout, std::move(done));
  }

  // send() and wait for the outcome. Refuses (kInternal) on the I/O thread, where
  // waiting would deadlock.
  Result<v1::Envelope> call(v1::Envelope request, std::chrono::milliseconds timeout);
  Result<v1::Envelope> call(v1::Envelope request) {
    return call(std::move(request), options_.request_timeout);
  }

  // True from a successful open() until the connection is lost or closed.
  bool connected() const { return connected_.load(); }

  // Stop / restart reading frames (see flow control above). Any thread, including the
  // I/O thread (e.g. from on_push). While paused no reply arrives either, and a loss is
  // noticed only once reading resumes.
  void pause_reading() { read_paused_ = true; }
  void resume_reading();

  // Fails pending requests with kUnavailable, closes the socket and joins the I/O
  // thread (unless called on it). Idempotent. on_loss does not run.
  void close();

  // The server's handshake reply. Valid after open() succeeded.
  const v1::HelloOk& hello() const { return hello_; }

 private:
  using Clock = std::chrono::steady_clock;

  struct PendingRequest {
    ReplyCallback done;
    Clock::time_point deadline;
    std::chrono::milliseconds timeout;
  };

  Connection(const ConnectionOptions& options, Handlers handlers,
             std::unique_ptr<asio::ssl::context> tls_context);

  Status connect_socket();  // caller thread: resolve + connect (+ TLS), waits for the I/O thread
  Status handshake();       // caller thread: Hello -> HelloOk
  // I/O thread, once connected: the TLS handshake (verifying the server) or nothing.
  void secure(std::function<void(Status)> done, const std::string& host);

  // I/O thread only.
  void add_request(uint64_t id, std::string frame, std::chrono::milliseconds timeout,
                   ReplyCallback done);
  void start_read();
  void start_write();
  void dispatch(v1::Envelope envelope);
  void dispatch_push(v1::Envelope envelope);
  void schedule_sweep();
  // Pings when nothing was sent for a third of the server's idle timeout (HelloOk), so
  // that a quiet consumer or waiter is not closed as idle.
  void schedule_keepalive();
  void expire_requests();
  void fail_all_pending(const Status& status);
  void end_connection(const Status& status, bool notify_loss);

  const ConnectionOptions options_;
  const Handlers handlers_;

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::ip::tcp::resolver resolver_;
  std::unique_ptr<asio::ssl::context> tls_context_;  // null: plain TCP
  wire::Transport transport_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer keepalive_timer_;
  std::chrono::milliseconds keepalive_interval_{0};  // 0: the server has no idle timeout
  std::thread io_thread_;
  std::thread::id io_thread_id_;  // written before any work is posted; read-only after

  std::atomic<uint64_t> next_request_id_{1};
  std::atomic<bool> connected_{false};
  std::atomic<bool> read_paused_{false};
  // The server's limit on inbound frames; requests above it are refused locally rather
  // than getting the whole connection closed with FRAME_TOO_LARGE.
  std::atomic<uint32_t> server_max_frame_bytes_{wire::kDefaultMaxFrameBytes};
  v1::HelloOk hello_;  // written by handshake() before open() returns

  std::mutex lifecycle_mu_;
  bool closing_ = false;  // GUARDED_BY(lifecycle_mu_): no more posts to io_ once set
  std::mutex join_mu_;    // serializes joining io_thread_

  // ---- I/O thread only ----
  bool ended_ = false;  // the socket is closed for good (lost or closed)
  bool read_idle_ = false;  // no read outstanding because reading was paused
  wire::FrameDecoder decoder_;
  std::array<char, 64 * 1024> read_buffer_;
  std::string outbox_;   // frames queued behind the write in flight
  std::string writing_;  // the bytes of the write in flight
  bool write_in_flight_ = false;
  bool sweep_armed_ = false;  // sweep_timer_ has a wait outstanding
  Clock::time_point last_write_at_{};
  std::unordered_map<uint64_t, PendingRequest> pending_;
  std::set<std::pair<Clock::time_point, uint64_t>> deadlines_;  // (deadline, request id)
};

}  // namespace brokerd::internal
