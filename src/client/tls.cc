#include "client/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

namespace pylon::client {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

// Runs one context setter, naming the option when OpenSSL refuses it.
template <class F>
void apply(const char* option, const std::string& what, F&& f) {
  boost::system::error_code ec;
  f(ec);
  if (ec) {
    throw Exception(Error::kInvalidArgument,
                    std::string("tls ") + option + (what.empty() ? "" : " '" + what + "'") + ": " + ec.message());
  }
}

bool is_ip(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

ssl::context make_tls_context(const TlsOptions& o) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (o.ca_file.empty() && o.ca_pem.empty()) {
    apply("system trust store", "", [&](auto& ec) { ctx.set_default_verify_paths(ec); });
  }
  if (!o.ca_file.empty()) apply("ca_file", o.ca_file, [&](auto& ec) { ctx.load_verify_file(o.ca_file, ec); });
  if (!o.ca_pem.empty()) {
    apply("ca_pem", "", [&](auto& ec) { ctx.add_certificate_authority(asio::buffer(o.ca_pem), ec); });
  }
  const bool has_cert = !o.cert_file.empty() || !o.cert_pem.empty();
  const bool has_key = !o.key_file.empty() || !o.key_pem.empty();
  if (has_cert != has_key) {
    throw Exception(Error::kInvalidArgument, "tls: a client certificate needs its key, and a key its certificate");
  }
  if (!o.cert_file.empty()) {
    apply("cert_file", o.cert_file, [&](auto& ec) { ctx.use_certificate_chain_file(o.cert_file, ec); });
  }
  if (!o.cert_pem.empty()) {
    apply("cert_pem", "", [&](auto& ec) { ctx.use_certificate_chain(asio::buffer(o.cert_pem), ec); });
  }
  if (!o.key_file.empty()) {
    apply("key_file", o.key_file, [&](auto& ec) { ctx.use_private_key_file(o.key_file, ssl::context::pem, ec); });
  }
  if (!o.key_pem.empty()) {
    apply("key_pem", "", [&](auto& ec) { ctx.use_private_key(asio::buffer(o.key_pem), ssl::context::pem, ec); });
  }
  if (has_cert && SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    throw Exception(Error::kInvalidArgument, "tls: the client key does not match the client certificate");
  }
  ctx.set_verify_mode(o.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
  return ctx;
}

void prepare_tls_stream(TlsStream& s, const std::string& host, bool insecure_skip_verify) {
  SSL* h = s.native_handle();
  const bool ip = is_ip(host);
  // SNI carries names only (RFC 6066), as Go's crypto/tls does.
  if (!ip) SSL_set_tlsext_host_name(h, host.c_str());
  if (insecure_skip_verify) {
    SSL_set_verify(h, SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_set_verify(h, SSL_VERIFY_PEER, nullptr);
  // The name check runs inside OpenSSL's chain verification, so a mismatch fails the
  // handshake with a verify result ("hostname mismatch") like any other refusal.
  X509_VERIFY_PARAM* param = SSL_get0_param(h);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  }
}

TlsStream::TlsStream(Socket& socket, SSL_CTX* ctx)
    : socket_(socket), channel_(ctx, socket.native_handle(), /*server=*/false), flushed_(socket.get_executor()) {
  socket_.non_blocking(true);
  flushed_.expires_at(asio::steady_timer::time_point::max());
}

void TlsStream::end_flush(const error_code& ec) {
  channel_.sent();
  flushing_ = false;
  if (ec && !send_error_) send_error_ = ec;
  flushed_.cancel();
}

bool is_tls_error(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() || ec.category() == ssl::error::get_stream_category();
}

ErrorInfo tls_handshake_error(const boost::system::error_code& ec, TlsStream& s, const std::string& url) {
  const long verify = SSL_get_verify_result(s.native_handle());
  if (verify != X509_V_OK) {
    return ErrorInfo(Error::kTlsVerification, url + ": " + X509_verify_cert_error_string(verify));
  }
  std::string reason;
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    reason = "the server closed the connection";
  } else {
    reason = ec.message();
  }
  return ErrorInfo(Error::kTlsHandshake, url + ": " + reason);
}

}  // namespace pylon::client
