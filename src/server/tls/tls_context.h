// The OpenSSL side of TLS: a context built from TlsOptions as the reference's GenTLSConfig
// (TLS 1.2 minimum, its default cipher suites and curves, the server's preference), and what
// the protocol code asks of an established session (version, suite, pinned key).
//
// Lifetime: a Context is immutable once made and shared (shared_ptr) by the server, which swaps
// in a new one on reload, and by every connection that handshook with it, for the connection's
// whole life: an SSL session keeps using its context's verify settings, so the old one must
// outlive the connections made with it.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <vector>

#include "pylon/options.h"

namespace pylon::server::tls {

// Which connections a context serves.
enum class ContextKind {
  kClient,  // accepts clients: verifies them only with `verify` (GenTLSConfig)
  kRoute,   // accepts and dials routes: always requires and verifies the peer's certificate, and
            // trusts ca_file both ways (the reference's getTLSConfig); `insecure` skips the check
            // of a dialled route's certificate
};

class Context {
 public:
  // Throws std::runtime_error in the reference's words: "missing 'key_file' in TLS
  // configuration", "error parsing X509 certificate/key pair: open x.pem: no such file or
  // directory", "failed to parse root ca certificate", ...
  static std::shared_ptr<const Context> make(const TlsOptions& options, ContextKind kind);

  // Asio's streams take the context by non-const reference but do not change it.
  boost::asio::ssl::context& native() const noexcept { return ctx_; }
  const TlsOptions& options() const noexcept { return options_; }
  ContextKind kind() const noexcept { return kind_; }

  Context(const TlsOptions& options, ContextKind kind);  // use make()

 private:
  mutable boost::asio::ssl::context ctx_;
  TlsOptions options_;
  ContextKind kind_;
};

// The negotiated protocol version as the reference's tlsVersion: "1.2", "1.3".
std::string version_name(const SSL* ssl);
// The negotiated suite by Go's name, as the reference's tlsCipher ("TLS_AES_128_GCM_SHA256",
// "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"); "Unknown [0x1234]" for others.
std::string cipher_suite_name(const SSL* ssl);
// The hex SHA-256 of the peer certificate's SubjectPublicKeyInfo (what pinned_certs lists);
// "" without a certificate.
std::string peer_key_id(const SSL* ssl);
// The reference's matchesPinnedCert: true when `pinned` is empty, or holds the hex SHA-256 of
// the peer certificate's SubjectPublicKeyInfo. `key_id` receives that hash ("" without a cert).
bool matches_pinned(const SSL* ssl, const std::vector<std::string>& pinned, std::string* key_id);

}  // namespace pylon::server::tls
