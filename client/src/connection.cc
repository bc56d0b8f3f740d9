// Connection: the socket, the write queue, the reply table and request deadlines.
//
// Handlers capture `this` rather than a shared_ptr: the destructor closes the socket and
// joins the I/O thread before any member goes away, so no handler can outlive the object.

#include "connection.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <future>

#include "address.h"
#include "log.h"
#include "wire_errors.h"

namespace brokerd::internal {
namespace {

// Replies are bounded by the server's own frame limit (16 MiB by default), but a server
// configured with a larger one may send larger results. Accept up to 4x the default: the
// bound exists to stop a corrupt length prefix from allocating gigabytes.
constexpr uint32_t kMaxInboundFrameBytes = 4 * wire::kDefaultMaxFrameBytes;

// Frames queued behind the write in flight. Past this a request fails with
// RESOURCE_EXHAUSTED instead of growing memory without bound behind a slow socket.
constexpr size_t kMaxOutboxBytes = 64 * 1024 * 1024;

// Granularity of request deadlines. Deadlines are coarse by nature (seconds); one
// periodic sweep is cheaper than a timer per request when thousands are pipelined.
constexpr std::chrono::milliseconds kSweepInterval{100};

// How long call() waits beyond the request deadline before giving up on the I/O thread
// reporting it (which it always should; this only guards against a wedged thread).
constexpr std::chrono::milliseconds kCallGrace{2000};

std::string local_hostname() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

// TLS 1.2 or newer, the server's certificate always verified (against `ca_file`, or the
// system's CAs), and this client's certificate when one is configured.
Result<std::unique_ptr<asio::ssl::context>> make_tls_context(const TlsOptions& tls) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  asio::error_code error;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1,
                       error);
  if (tls.ca_file.empty()) {
    context->set_default_verify_paths(error);
  } else {
    context->load_verify_file(tls.ca_file, error);
  }
  if (error) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot load TLS CA " + (tls.ca_file.empty() ? std::string("(system)") : tls.ca_file) + ": " +
                      error.message());
  }
  context->set_verify_mode(asio::ssl::verify_peer, error);
  if (!tls.cert_file.empty()) {
    context->use_certificate_chain_file(tls.cert_file, error);
    if (!error) context->use_private_key_file(tls.key_file.empty() ? tls.cert_file : tls.key_file,
                                              asio::ssl::context::pem, error);
    if (error) {
      return Status(ErrorCode::kInvalidArgument,
                    "cannot load TLS client certificate " + tls.cert_file + ": " + error.message());
    }
  }
  return context;
}

}  // namespace

ConnectionOptions connection_options_for(const ClientOptions& options) {
  ConnectionOptions connection;
  connection.server = options.server;
  connection.client_name = options.client_name;
  connection.connect_timeout = options.connect_timeout;
  connection.request_timeout = options.request_timeout;
  connection.security = options.security;
  return connection;
}

Connection::Connection(const ConnectionOptions& options, Handlers handlers,
                       std::unique_ptr<asio::ssl::context> tls_context)
    : options_(options),
      handlers_(std::move(handlers)),
      work_(asio::make_work_guard(io_)),
      resolver_(io_),
      tls_context_(std::move(tls_context)),
      transport_(io_, tls_context_.get()),
      sweep_timer_(io_),
      keepalive_timer_(io_),
      decoder_(kMaxInboundFrameBytes) {}

Result<std::unique_ptr<Connection>> Connection::open(const ConnectionOptions& options,
                                                     Handlers handlers) {
  std::unique_ptr<asio::ssl::context> tls_context;
  const TlsOptions& tls = options.security.tls;
  // Any TLS setting means TLS: a CA file given with `enabled` forgotten must not send
  // the token in clear text.
  if (tls.enabled || !tls.ca_file.empty() || !tls.server_name.empty() || !tls.cert_file.empty()) {
    Result<std::unique_ptr<asio::ssl::context>> made = make_tls_context(options.security.tls);
    if (!made.ok()) return made.status();
    tls_context = std::move(made).value();
  }
  std::unique_ptr<Connection> conn(new Connection(options, std::move(handlers), std::move(tls_context)));
  conn->io_thread_ = std::thread([io = &conn->io_] { io->run(); });
  conn->io_thread_id_ = conn->io_thread_.get_id();
  // On failure `conn` is destroyed here, which closes it and joins the thread.
  if (Status s = conn->connect_socket(); !s.ok()) return s;
  if (Status s = conn->handshake(); !s.ok()) return s;
  return conn;
}

Connection::~Connection() { close(); }

Status Connection::connect_socket() {
  Result<HostPort> address = split_host_port(options_.server);
  if (!address.ok()) return address.status();

  // All connect state lives on the I/O thread; `finish` reports exactly once.
  struct Attempt {
    std::promise<Status> outcome;
    bool finished = false;
    asio::steady_timer timer;
    explicit Attempt(asio::io_context& io) : timer(io) {}
  };
  auto attempt = std::make_shared<Attempt>(io_);
  std::future<Status> outcome = attempt->outcome.get_future();
  const std::string where = options_.server;
  auto finish = [attempt](Status status) {
    if (attempt->finished) return;
    attempt->finished = true;
    attempt->timer.cancel();
    attempt->outcome.set_value(std::move(status));
  };

  asio::post(io_, [this, attempt, finish, where, host = address->host, port = address->port] {
    attempt->timer.expires_after(options_.connect_timeout);
    attempt->timer.async_wait([this, attempt, finish, where](const asio::error_code& ec) {
      // Cancelled, or expired just as the connect finished: leave the socket alone.
      if (ec || attempt->finished) return;
      resolver_.cancel();
      transport_.close();
      finish(Status(ErrorCode::kUnavailable, "timed out connecting to " + where));
    });
    resolver_.async_resolve(host, port, [this, finish, where, host](
                                            const asio::error_code& ec,
                                            asio::ip::tcp::resolver::results_type results) {
      if (ec) {
        finish(Status(ErrorCode::kUnavailable, "cannot resolve " + where + ": " + ec.message()));
        return;
      }
      asio::async_connect(transport_.socket(), results, [this, finish, where, host](
                                                const asio::error_code& ec,
                                                const asio::ip::tcp::endpoint&) {
        if (ec) {
          finish(Status(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + ec.message()));
          return;
        }
        asio::error_code ignored;
        transport_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);  // small request frames
        secure([this, finish](Status status) {
          if (!status.ok()) return finish(std::move(status));
          connected_ = true;
          start_read();
          finish(Status::Ok());
        }, host);
      });
    });
  });

  if (outcome.wait_for(options_.connect_timeout + kCallGrace) != std::future_status::ready) {
    return Status(ErrorCode::kUnavailable, "timed out connecting to " + where);
  }
  return outcome.get();
}

void Connection::secure(std::function<void(Status)> done, const std::string& host) {
  wire::Transport::TlsStream* tls = transport_.tls();
  if (tls != nullptr) {
    const std::string& name = options_.security.tls.server_name.empty() ? host : options_.security.tls.server_name;
    // SNI for servers behind a TLS proxy; the check that the certificate names `name`.
    SSL_set_tlsext_host_name(tls->native_handle(), name.c_str());
    tls->set_verify_callback(asio::ssl::host_name_verification(name));
  }
  transport_.async_handshake(asio::ssl::stream_base::client, [this, done = std::move(done)](const asio::error_code& ec) {
    if (ec) {
      return done(Status(ErrorCode::kUnavailable, "TLS handshake with " + options_.server + " failed: " + ec.message()));
    }
    done(Status::Ok());
  });
}

Status Connection::handshake() {
  v1::Envelope request;
  v1::Hello* hello = request.mutable_hello();
  hello->set_protocol_version(wire::kProtocolVersion);
  hello->set_client_name(options_.client_name);
  hello->set_hostname(local_hostname());
  hello->set_pid(static_cast<uint32_t>(getpid()));
  hello->set_auth_token(options_.security.token);
  Result<v1::Envelope> reply = expect_body(call(std::move(request), options_.connect_timeout),
                                           v1::Envelope::kHelloOk, "Hello");
  if (!reply.ok()) return reply.status();
  hello_ = reply->hello_ok();
  if (hello_.protocol_version() != wire::kProtocolVersion) {
    return Status(ErrorCode::kUnsupportedVersion,
                  "server speaks protocol version " + std::to_string(hello_.protocol_version()));
  }
  if (hello_.max_frame_bytes() > 0) server_max_frame_bytes_ = hello_.max_frame_bytes();
  if (hello_.idle_timeout_ms() > 0) {
    keepalive_interval_ = std::chrono::milliseconds(std::max<int64_t>(hello_.idle_timeout_ms() / 3, 1));
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (!closing_) asio::post(io_, [this] { schedule_keepalive(); });
  }
  return Status::Ok();
}

void Connection::send(v1::Envelope request, std::chrono::milliseconds timeout,
                      ReplyCallback done) {
  const uint64_t id = next_request_id_++;
  request.set_id(id);
  // Serialize on the caller's thread: it keeps that cost off the I/O thread.
  std::string frame = wire::encode_frame(request);
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    if (!closing_) {
      asio::post(io_, [this, id, frame = std::move(frame), timeout, done = std::move(done)]() mutable {
        add_request(id, std::move(frame), timeout, std::move(done));
      });
      return;
    }
  }
  done(Status(ErrorCode::kUnavailable, "connection closed"));
}

Result<v1::Envelope> Connection::call(v1::Envelope request, std::chrono::milliseconds timeout) {
  if (std::this_thread::get_id() == io_thread_id_) {
    return Status(ErrorCode::kInternal, "blocking call made on the client's I/O thread");
  }
  // Shared: if we give up waiting, the callback may still run later.
  auto promise = std::make_shared<std::promise<Result<v1::Envelope>>>();
  std::future<Result<v1::Envelope>> future = promise->get_future();
  send(std::move(request), timeout,
       [promise](Result<v1::Envelope> reply) { promise->set_value(std::move(reply)); });
  if (future.wait_for(timeout + kCallGrace) != std::future_status::ready) {
    return Status(ErrorCode::kTimeout,
                  "no reply within " + std::to_string(timeout.count()) + " ms");
  }
  return future.get();
}

void Connection::close() {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    first = !closing_;
    closing_ = true;
  }
  if (first) {
    // Runs after every send() posted before closing_ was set, so each of those requests
    // is either answered already or failed here; none is left waiting.
    asio::post(io_, [this] {
      end_connection(Status(ErrorCode::kUnavailable, "connection closed"), /*notify_loss=*/false);
      work_.reset();
    });
  }
  if (std::this_thread::get_id() == io_thread_id_) return;  // cannot join ourselves
  std::lock_guard<std::mutex> lock(join_mu_);
  if (io_thread_.joinable()) io_thread_.join();
}

// ---- I/O thread ----

void Connection::add_request(uint64_t id, std::string frame, std::chrono::milliseconds timeout,
                             ReplyCallback done) {
  if (ended_) {
    done(Status(ErrorCode::kUnavailable, "connection to " + options_.server + " lost"));
    return;
  }
  if (frame.size() - wire::kFrameHeaderBytes > server_max_frame_bytes_.load()) {
    done(Status(ErrorCode::kInvalidArgument,
                "request of " + std::to_string(frame.size()) + " bytes exceeds the server's " +
                    "max_frame_bytes (" + std::to_string(server_max_frame_bytes_.load()) + ")"));
    return;
  }
  if (outbox_.size() + frame.size() > kMaxOutboxBytes) {
    done(Status(ErrorCode::kResourceExhausted, "client send queue is full"));
    return;
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  pending_.emplace(id, PendingRequest{std::move(done), deadline, timeout});
  deadlines_.emplace(deadline, id);
  if (!sweep_armed_) schedule_sweep();
  outbox_.append(frame);
  start_write();
}

void Connection::start_write() {
  if (write_in_flight_ || outbox_.empty() || ended_) return;
  // Everything queued so far goes out in one write; later frames gather behind it.
  writing_.swap(outbox_);
  outbox_.clear();
  write_in_flight_ = true;
  last_write_at_ = Clock::now();
  transport_.async_write(asio::buffer(writing_),
                    [this](const asio::error_code& ec, size_t /*bytes*/) {
                      write_in_flight_ = false;
                      if (ec) {
                        end_connection(Status(ErrorCode::kUnavailable,
                                              "connection to " + options_.server +
                                                  " lost: " + ec.message()),
                                       /*notify_loss=*/true);
                        return;
                      }
                      writing_.clear();
                      start_write();
                    });
}

void Connection::start_read() {
  transport_.async_read_some(asio::buffer(read_buffer_), [this](const asio::error_code& ec,
                                                             size_t bytes) {
    if (ec) {
      const std::string why = ec == asio::error::eof ? "closed by the server" : ec.message();
      end_connection(Status(ErrorCode::kUnavailable,
                            "connection to " + options_.server + " lost: " + why),
                     /*notify_loss=*/true);
      return;
    }
    decoder_.append(read_buffer_.data(), bytes);
    for (;;) {
      v1::Envelope envelope;
      const wire::DecodeResult result = decoder_.next(&envelope);
      if (result == wire::DecodeResult::kNeedMore) break;
      if (result != wire::DecodeResult::kFrame) {
        const std::string why = result == wire::DecodeResult::kTooLarge
                                    ? "frame of " + std::to_string(decoder_.rejected_length()) +
                                          " bytes exceeds the client's limit"
                                    : std::string("undecodable frame");
        end_connection(Status(ErrorCode::kProtocolError, "server sent an " + why),
                       /*notify_loss=*/true);
        return;
      }
      dispatch(std::move(envelope));
      if (ended_) return;
    }
    if (read_paused_) {
      read_idle_ = true;  // resume_reading() starts the next read
      return;
    }
    start_read();
  });
}

void Connection::resume_reading() {
  read_paused_ = false;
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (closing_) return;
  asio::post(io_, [this] {
    // A pause that ended before the read completed leaves nothing to restart.
    if (!read_idle_ || ended_ || read_paused_) return;
    read_idle_ = false;
    start_read();
  });
}

void Connection::dispatch(v1::Envelope envelope) {
  if (envelope.id() == 0) {
    dispatch_push(std::move(envelope));
    return;
  }
  auto it = pending_.find(envelope.id());
  if (it == pending_.end()) return;  // the request timed out; its late reply is dropped
  ReplyCallback done = std::move(it->second.done);
  deadlines_.erase({it->second.deadline, it->first});
  pending_.erase(it);
  if (envelope.has_error()) {
    done(status_from_wire(envelope.error()));
  } else {
    done(std::move(envelope));
  }
}

void Connection::dispatch_push(v1::Envelope envelope) {
  switch (envelope.body_case()) {
    case v1::Envelope::kDelivery:
      if (handlers_.on_delivery) {
        handlers_.on_delivery(std::move(*envelope.mutable_delivery()));
      } else {
        log_warning("ignoring a task delivery on a connection that does not consume");
      }
      return;
    case v1::Envelope::kError: {
      // A connection-level error answers no single request; the server usually closes
      // next. Everything in flight is now in doubt, so fail it with the server's reason.
      const Status status = status_from_wire(envelope.error());
      log_warning("server reported a connection error: " + status.to_string());
      fail_all_pending(status);
      return;
    }
    default:
      if (handlers_.on_push) {
        handlers_.on_push(std::move(envelope));
        return;
      }
      log_warning("ignoring an unexpected push frame (body field " +
                  std::to_string(static_cast<int>(envelope.body_case())) + ")");
      return;
  }
}

void Connection::schedule_sweep() {
  // Armed only while requests are pending, so an idle connection does not wake up.
  sweep_armed_ = true;
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](const asio::error_code& ec) {
    sweep_armed_ = false;
    if (ec || ended_) return;
    expire_requests();
    if (!deadlines_.empty()) schedule_sweep();
  });
}

void Connection::schedule_keepalive() {
  if (ended_ || keepalive_interval_.count() == 0) return;
  keepalive_timer_.expires_at(std::max(last_write_at_ + keepalive_interval_, Clock::now()));
  keepalive_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || ended_) return;
    if (Clock::now() - last_write_at_ >= keepalive_interval_) {
      v1::Envelope ping;
      ping.set_id(next_request_id_++);
      ping.mutable_ping();
      // The reply only proves liveness; a lost connection is noticed by the read side.
      add_request(ping.id(), wire::encode_frame(ping), options_.request_timeout, [](Result<v1::Envelope>) {});
    }
    schedule_keepalive();
  });
}

void Connection::expire_requests() {
  const Clock::time_point now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const uint64_t id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    ReplyCallback done = std::move(it->second.done);
    const auto timeout = it->second.timeout;
    pending_.erase(it);
    done(Status(ErrorCode::kTimeout,
                "no reply within " + std::to_string(timeout.count()) + " ms"));
  }
}

void Connection::fail_all_pending(const Status& status) {
  // Swap first: a callback may send a new request, which must not land in this batch.
  std::unordered_map<uint64_t, PendingRequest> failed;
  failed.swap(pending_);
  deadlines_.clear();
  for (auto& [id, request] : failed) request.done(status);
}

void Connection::end_connection(const Status& status, bool notify_loss) {
  if (ended_) return;
  ended_ = true;
  connected_ = false;
  resolver_.cancel();
  transport_.close();
  sweep_timer_.cancel();
  keepalive_timer_.cancel();
  outbox_.clear();
  fail_all_pending(status);
  if (notify_loss && handlers_.on_loss) handlers_.on_loss(status);
}

}  // namespace brokerd::internal
