// The OpenSSL side of TLS: a context built from TlsConfig as the reference's GenTLSConfig
// (TLS 1.2 minimum, its default cipher suites and curves, the server's preference), and what
// the protocol code asks of an established session (version, suite, pinned key).
//
// Lifetime: a Context is immutable once made and shared (shared_ptr) by the server, which swaps
// in a new one on reload, and by every connection that handshook with it, for the connection's
// whole life: an SSL session keeps using its context's verify settings, so the old one must
// outlive the connections made with it.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <array>
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
  kLeafRemote,  // dials a leafnode hub (we are the TLS client): verifies the hub's certificate
                // against ca_file, or the system's CAs without one (the reference's remote
                // RootCAs), unless `insecure`; presents cert_file when the hub asks
};

class Context {
 public:
  // Throws std::runtime_error in the reference's words: "missing 'key_file' in TLS
  // configuration", "error parsing X509 certificate/key pair: open x.pem: no such file or
  // directory", "failed to parse root ca certificate", ...
  static std::shared_ptr<const Context> make(const TlsConfig& options, ContextKind kind);

  // Asio's streams take the context by non-const reference but do not change it.
  boost::asio::ssl::context& native() const noexcept { return ctx_; }
  const TlsConfig& options() const noexcept { return options_; }
  ContextKind kind() const noexcept { return kind_; }

  Context(const TlsConfig& options, ContextKind kind);  // use make()

 private:
  mutable boost::asio::ssl::context ctx_;
  TlsConfig options_;
  ContextKind kind_;
};

// Every cipher suite name Go knows (the reference's cipherMap), in its order: what
// `cipher_suites` accepts, what --help_tls lists, what /connz reports.
inline constexpr std::array<const char*, 24> kGoCipherSuites = {
    "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"};

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
