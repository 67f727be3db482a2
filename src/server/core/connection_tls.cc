// A connection's TLS: the handshake (server or client side, TLS first or after the INFO),
// its timeout, and its failure in the reference's words. The record layer is tls::Channel
// (src/tls/channel.h); the write path seals in connection.cc (seal_tls_slice).
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "server/config/config.h"
#include "server/config/duration.h"
#include "server/core/check.h"
#include "server/core/connection.h"
#include "server/core/event_loop.h"
#include "server/errors.h"
#include "server/server.h"
#include "server/tls/tls_context.h"
#include "tls/channel.h"

namespace pylon::server {

namespace asio = boost::asio;
using boost::system::error_code;

SSL* Connection::tls_session() const noexcept {
  return tls_state_ == TlsState::kEstablished ? tls_->ssl() : nullptr;
}

void Connection::start_tls(std::shared_ptr<const tls::Context> ctx, TlsRole role, std::string server_name) {
  PYLON_DCHECK_ON_LOOP(loop_);
  PYLON_DCHECK(tls_state_ == TlsState::kNone && !reading_);
  tls_info_ = std::make_unique<TlsInfo>();
  tls_info_->ctx = std::move(ctx);
  tls_info_->server_name = std::move(server_name);
  tls_role_ = role;
  tls_state_ = TlsState::kAwaitingFlush;
  bool idle = !writing_;
  if (idle) {
    std::lock_guard lk(out_mu_);
    idle = out_pending_.empty() && out_chunks_.empty();
  }
  // Else start_write begins the handshake once the plaintext queued so far is out.
  if (idle) begin_tls_handshake();
}

void Connection::begin_tls_handshake() {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (tls_state_ != TlsState::kAwaitingFlush || closing()) return;
  auto& log = server_.log();
  if (kind_ == Kind::kClient) {
    log.debugf("{} - Starting TLS client connection handshake", log_prefix());
  } else {
    log.debugf("{} - Starting TLS {} {} handshake", log_prefix(), kind_ == Kind::kLeaf ? "leafnode" : "route",
               tls_role_ == TlsRole::kAccepted ? "server" : "client");
  }
  error_code nb;
  socket_.non_blocking(true, nb);  // OpenSSL reads it directly: EAGAIN, never a blocked loop
  tls_ = std::make_unique<tls::Channel>(tls_info_->ctx->native().native_handle(), socket_.native_handle(),
                                        tls_role_ == TlsRole::kAccepted);
  // The handshake owns the socket's write side (and write_timer_) until it completes: output
  // queued meanwhile waits, and no write deadline runs.
  writing_ = true;
  write_timer_.expires_after(tls_info_->ctx->options().timeout);
  write_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->closed_) return;
    if (self->tls_state_ != TlsState::kAwaitingFirstByte && self->tls_state_ != TlsState::kHandshaking) return;
    // The reference's tlsTimeout. A peer that sent nothing at all may be a plaintext client
    // waiting for us: it is told why, in plaintext.
    self->fail_tls({}, self->tls_state_ == TlsState::kAwaitingFirstByte);
  });
  if (tls_role_ == TlsRole::kAccepted) {
    tls_state_ = TlsState::kAwaitingFirstByte;
    await_tls_first_byte();
  } else {
    SSL* ssl = tls_->ssl();
    if (!tls_info_->server_name.empty()) {
      error_code not_ip;
      asio::ip::make_address(tls_info_->server_name, not_ip);
      if (not_ip) SSL_set_tlsext_host_name(ssl, tls_info_->server_name.c_str());  // SNI names hosts only
      if (!tls_info_->ctx->options().insecure) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (not_ip) {
          X509_VERIFY_PARAM_set1_host(param, tls_info_->server_name.c_str(), 0);
        } else {
          X509_VERIFY_PARAM_set1_ip_asc(param, tls_info_->server_name.c_str());
        }
      }
    }
    if (tls_info_->ctx->options().insecure) SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    tls_state_ = TlsState::kHandshaking;
    run_tls_handshake();
  }
}

void Connection::await_tls_first_byte() {
  // As the TLS server, look at the first byte before OpenSSL does: a handshake record starts
  // with 0x16; anything else is a plaintext client (the reference's Go TLS says "first record
  // does not look like a TLS handshake"), which we can still answer in plaintext.
  socket_.async_wait(asio::socket_base::wait_read, [self = shared_from_this()](const error_code& ec) {
    if (ec || self->closed_ || self->tls_state_ != TlsState::kAwaitingFirstByte) return;
    unsigned char first = 0;
    ssize_t n = ::recv(self->socket_.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      self->await_tls_first_byte();
      return;
    }
    if (n <= 0) {
      self->fail_tls("EOF", false);
      return;
    }
    if (first != 0x16) {
      self->fail_tls("tls: first record does not look like a TLS handshake", true);
      return;
    }
    self->tls_state_ = TlsState::kHandshaking;
    self->run_tls_handshake();
  });
}

void Connection::run_tls_handshake() {
  // One step with what the socket has; its output (a flight, or the alert of a failure) goes
  // out before anything else happens, so a refused peer learns why.
  auto status = tls_->handshake();
  auto next = [self = shared_from_this(), status] {
    switch (status) {
      case tls::Channel::Status::kDone:
        self->on_tls_handshake({});
        break;
      case tls::Channel::Status::kWantRead:
        // The socket said EAGAIN: wait for the peer's next flight.
        self->socket_.async_wait(asio::socket_base::wait_read, [self](const error_code& ec) {
          if (self->closed_ || self->tls_state_ != TlsState::kHandshaking) return;
          if (ec) {
            self->on_tls_handshake(ec);
            return;
          }
          self->run_tls_handshake();
        });
        break;
      case tls::Channel::Status::kFull:  // not a handshake's
      case tls::Channel::Status::kClosed:
        self->on_tls_handshake(asio::error::eof);
        break;
      case tls::Channel::Status::kError:
        self->on_tls_handshake(self->tls_->error());
        break;
    }
  };
  if (!tls_->has_output()) {
    next();
    return;
  }
  asio::async_write(socket_, asio::buffer(tls_->begin_send()), [self = shared_from_this(), next](const error_code& ec, size_t) {
    if (self->closed_ || self->tls_state_ != TlsState::kHandshaking) return;
    self->tls_->sent();
    if (ec) {
      self->on_tls_handshake(ec);
      return;
    }
    next();
  });
}

namespace {
// A time as Go writes it in x509 errors: RFC 3339, UTC.
std::string go_time(const std::tm& tm) {
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}
std::string go_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return go_time(tm);
}

// Why a handshake failed, in the words of the reference's Go (1.19) where they are common —
// a peer without a certificate, or with one we do not trust — else OpenSSL's reason without
// Asio's " (SSL routines)". A peer that hung up is Go's "EOF".
std::string handshake_error_text(const error_code& ec, SSL* ssl, bool accepted) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return "EOF";
  if (ec.category() == asio::error::get_ssl_category()) {
    int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) return "tls: client didn't provide a certificate";
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      long v = SSL_get_verify_result(ssl);
      std::string x509;
      switch (v) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
          x509 = "x509: certificate signed by unknown authority";
          break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID: {
          x509 = "x509: certificate has expired or is not yet valid";
          // Go adds the times; OpenSSL keeps the certificate only where it was not refused
          // (so a client we refuse gets the words without them).
          X509* cert = SSL_get0_peer_certificate(ssl);
          if (cert != nullptr) {
            bool expired = v == X509_V_ERR_CERT_HAS_EXPIRED;
            std::time_t t = std::time(nullptr);
            std::tm utc{};
            gmtime_r(&t, &utc);
            std::string now = go_time(utc);
            x509 += fmt::format(": current time {} is {} {}", now, expired ? "after" : "before",
                                go_time(expired ? X509_get0_notAfter(cert) : X509_get0_notBefore(cert)));
          }
          break;
        }
        default:
          x509 = std::string("x509: ") + X509_verify_cert_error_string(v);
      }
      // Go 1.19 prefixes only the server side's.
      return accepted ? "tls: failed to verify client certificate: " + x509 : x509;
    }
  }
  std::string m = ec.message();
  if (auto p = m.find(" (SSL routines)"); p != std::string::npos) m.erase(p);
  return m;
}
}  // namespace

void Connection::on_tls_handshake(const error_code& ec) {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (closed_ || tls_state_ != TlsState::kHandshaking) return;
  if (ec) {
    fail_tls(handshake_error_text(ec, tls_->ssl(), tls_role_ == TlsRole::kAccepted), false);
    return;
  }
  std::string key_id;
  bool pinned = tls::matches_pinned(tls_->ssl(), tls_info_->ctx->options().pinned_certs, &key_id);
  if (!pinned) {
    if (key_id.empty()) {
      server_.log().debugf("{} - Failed pinned cert test as client did not provide a certificate", log_prefix());
    } else {
      server_.log().debugf("{} - Failed pinned cert test for key id: {}", log_prefix(), key_id);
    }
    fail_tls("certificate not pinned", false);
    return;
  }
  write_timer_.cancel();
  writing_ = false;
  tls_state_ = TlsState::kEstablished;
  tls_info_->version = tls::version_name(tls_->ssl());
  tls_info_->cipher = tls::cipher_suite_name(tls_->ssl());
  tls_info_->key_id = std::move(key_id);
  tls_established_.store(true, std::memory_order_release);
  try {
    on_tls_established();
  } catch (const std::exception& e) {
    close_on_exception(e.what());
  }
  if (closing()) {
    if (flush_on_close_) start_write();  // e.g. an -ERR the protocol code just queued
    else finish_close();
    return;
  }
  do_read();
  start_write();
  loop_.flush_touched();
}

void Connection::fail_tls(std::string_view why, bool send_tls_required) {
  PYLON_DCHECK_ON_LOOP(loop_);
  tls_state_ = TlsState::kFailed;
  if (why.empty()) {
    server_.log().peer_error("{} - TLS handshake timeout", log_prefix());
  } else if (kind_ == Kind::kClient) {
    server_.log().peer_error("{} - TLS handshake error: {}", log_prefix(), why);
  } else {
    server_.log().peer_error("{} - TLS {} handshake error: {}", log_prefix(), kind_ == Kind::kLeaf ? "leafnode" : "route",
                             why);
  }
  // Only a client is told (routes and leafs close without a word, as the reference's).
  if (send_tls_required && ws_) {
    // A WebSocket client speaking plain HTTP to wss://: Go's HTTP server's answer.
    static const std::string http = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    [[maybe_unused]] ssize_t n = ::send(socket_.native_handle(), http.data(), http.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } else if (send_tls_required && kind_ == Kind::kClient) {
    // Best effort, straight to the socket (the peer spoke plaintext, or nothing): a fresh
    // connection's send buffer takes these few bytes at once, and we never wait for it.
    static const std::string line = fmt::format("-ERR '{}'\r\n", err::kSecureConnectionRequired);
    server_.log().tracef("{} - ->> [-ERR '{}']", log_prefix(), err::kSecureConnectionRequired);
    [[maybe_unused]] ssize_t n = ::send(socket_.native_handle(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  close(CloseReason::kTlsHandshakeError, false);
}

}  // namespace pylon::server
