#include "net/tls_context.h"

namespace brokerd::server {

namespace {

Status file_error(const std::string& what, const std::string& path, const asio::error_code& error) {
  return Status::InvalidArgument("cannot use " + what + " " + path + ": " + error.message());
}

}  // namespace

Result<std::unique_ptr<asio::ssl::context>> make_server_tls_context(const TlsFiles& files) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  asio::error_code error;
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                       error);
  if (error) return Status::Internal("cannot configure TLS: " + error.message());
  context->use_certificate_chain_file(files.cert_file, error);
  if (error) return file_error("tls_cert_file", files.cert_file, error);
  context->use_private_key_file(files.key_file, asio::ssl::context::pem, error);
  if (error) return file_error("tls_key_file", files.key_file, error);
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Status::InvalidArgument("tls_key_file " + files.key_file + " does not match tls_cert_file " +
                                   files.cert_file);
  }
  if (!files.client_ca_file.empty()) {
    context->load_verify_file(files.client_ca_file, error);
    if (error) return file_error("tls_client_ca_file", files.client_ca_file, error);
    context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, error);
    if (error) return Status::Internal("cannot require client certificates: " + error.message());
  }
  return context;
}

}  // namespace brokerd::server
