// The byte stream under a connection, on either side: a plain TCP socket, or TLS over
// one. The server's sessions and the client's connection call the same operations
// either way, so the protocol code does not know which it has.
//
// Threading: like the socket it wraps, one strand (or thread) at a time.
#pragma once

#include <memory>
#include <string>
#include <variant>

#include <asio.hpp>
#include <asio/ssl.hpp>

namespace brokerd::wire {

class Transport {
 public:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

  explicit Transport(asio::ip::tcp::socket socket) : stream_(std::move(socket)) {}
  Transport(asio::ip::tcp::socket socket, asio::ssl::context& tls) : stream_(TlsStream(std::move(socket), tls)) {}
  // An unconnected socket (TLS over it when `tls` is set), built in place.
  Transport(asio::io_context& io, asio::ssl::context* tls)
      : stream_(tls != nullptr ? Stream(std::in_place_type<TlsStream>, io, *tls)
                               : Stream(std::in_place_type<asio::ip::tcp::socket>, io)) {}

  bool is_tls() const { return std::holds_alternative<TlsStream>(stream_); }
  asio::ip::tcp::socket& socket() {
    if (auto* tls = std::get_if<TlsStream>(&stream_)) return tls->next_layer();
    return std::get<asio::ip::tcp::socket>(stream_);
  }

  // nullptr for plain TCP; lets a client set the server name to verify before the handshake.
  TlsStream* tls() { return std::get_if<TlsStream>(&stream_); }

  // TLS: this side (client or server) of the handshake. Plain TCP: completes at once.
  template <typename Handler>
  void async_handshake(asio::ssl::stream_base::handshake_type side, Handler&& handler) {
    if (auto* tls = std::get_if<TlsStream>(&stream_)) {
      tls->async_handshake(side, std::forward<Handler>(handler));
    } else {
      // Through the handler's own executor (a strand, typically), not the socket's.
      auto executor = asio::get_associated_executor(handler, socket().get_executor());
      asio::post(executor, [handler = std::forward<Handler>(handler)]() mutable { handler(asio::error_code()); });
    }
  }

  template <typename Buffers, typename Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    std::visit([&](auto& stream) { stream.async_read_some(buffers, std::forward<Handler>(handler)); }, stream_);
  }

  template <typename Buffers, typename Handler>
  void async_write(const Buffers& buffers, Handler&& handler) {
    std::visit([&](auto& stream) { asio::async_write(stream, buffers, std::forward<Handler>(handler)); }, stream_);
  }
  // With an asio completion condition, called after every partial write.
  template <typename Buffers, typename Condition, typename Handler>
  void async_write(const Buffers& buffers, Condition condition, Handler&& handler) {
    std::visit(
        [&](auto& stream) { asio::async_write(stream, buffers, std::move(condition), std::forward<Handler>(handler)); },
        stream_);
  }

  // Closes the socket at once (no TLS close_notify: the peer may be hostile or gone, and
  // waiting for it would let a peer hold the session open).
  void close() {
    asio::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  std::string peer() {
    asio::error_code error;
    const auto endpoint = socket().remote_endpoint(error);
    if (error) return "unknown peer";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

 private:
  using Stream = std::variant<asio::ip::tcp::socket, TlsStream>;
  Stream stream_;
};

}  // namespace brokerd::wire
