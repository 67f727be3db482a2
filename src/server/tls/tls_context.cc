#include "server/tls/tls_context.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "server/tls/tls_block.h"

namespace pylon::server::tls {

namespace {

// The reference's defaultCipherSuites and defaultCurvePreferences (ciphersuites.go).
const std::vector<std::string> kDefaultCiphers = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"};
const std::vector<std::string> kDefaultCurves = {"X25519", "CurveP256", "CurveP384", "CurveP521"};

// What OpenSSL said last, in one line (its queue is then empty).
std::string openssl_error() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : fmt::format("error 0x{:x}", e);
}

// Go's os.Open error for a file we cannot read: "open x.pem: no such file or directory".
void check_readable(const std::string& path, std::string_view prefix) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f != nullptr) {
    std::fclose(f);
    return;
  }
  std::string why = std::strerror(errno);
  if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  throw std::runtime_error(fmt::format("{}open {}: {}", prefix, path, why));
}

std::string joined(const std::vector<std::string>& go_names, const char* (*to_openssl)(std::string_view),
                   bool tls13) {
  std::string out;
  for (const auto& n : go_names) {
    const char* o = to_openssl(n);
    if (o == nullptr) throw std::runtime_error(fmt::format("unrecognized name {}", n));  // parse_tls_block checked
    if (tls13 != (std::string_view(o).rfind("TLS_", 0) == 0)) continue;
    if (!out.empty()) out += ':';
    out += o;
  }
  return out;
}

}  // namespace

Context::Context(const TlsConfig& options, ContextKind kind)
    : ctx_(boost::asio::ssl::context::tls), options_(options), kind_(kind) {}

std::shared_ptr<const Context> Context::make(const TlsConfig& o, ContextKind kind) {
  auto c = std::make_shared<Context>(o, kind);
  SSL_CTX* ctx = c->ctx_.native_handle();
  ERR_clear_error();
  // As GenTLSConfig: TLS 1.2 at least, the server's order of preference.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Go's cipher_suites govern TLS 1.2 only (its TLS 1.3 suites are fixed); so here the TLS 1.2
  // list is the configured one or the reference's default, and TLS 1.3's is Go's.
  std::string tls12 = joined(o.cipher_suites.empty() ? kDefaultCiphers : o.cipher_suites, openssl_cipher_name, false);
  if (!tls12.empty() && SSL_CTX_set_cipher_list(ctx, tls12.c_str()) != 1) {
    throw std::runtime_error(fmt::format("error setting cipher suites: {}", openssl_error()));
  }
  // Go's own TLS 1.3 order (defaultCipherSuitesTLS13), which the reference's server applies:
  // AES-128-GCM first, where OpenSSL's default would pick AES-256-GCM.
  if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384") != 1) {
    throw std::runtime_error(fmt::format("error setting cipher suites: {}", openssl_error()));
  }
  std::string groups = joined(o.curve_preferences.empty() ? kDefaultCurves : o.curve_preferences, openssl_group_name, false);
  if (SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1) {
    throw std::runtime_error(fmt::format("error setting curve preferences: {}", openssl_error()));
  }

  if (!o.cert_file.empty() && o.key_file.empty()) throw std::runtime_error("missing 'key_file' in TLS configuration");
  if (o.cert_file.empty() && !o.key_file.empty()) throw std::runtime_error("missing 'cert_file' in TLS configuration");
  if (!o.cert_file.empty()) {
    constexpr std::string_view kPair = "error parsing X509 certificate/key pair: ";
    check_readable(o.cert_file, kPair);
    check_readable(o.key_file, kPair);
    if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1) {
      throw std::runtime_error(fmt::format("{}{}", kPair, openssl_error()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
      std::string why = openssl_error();
      throw std::runtime_error(fmt::format("{}{}", kPair, mismatch ? "tls: private key does not match public key" : why));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      throw std::runtime_error(fmt::format("{}tls: private key does not match public key", kPair));
    }
  }

  bool verify = o.verify || kind != ContextKind::kClient;
  if (!o.ca_file.empty()) {
    check_readable(o.ca_file, "");
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1) {
      ERR_clear_error();
      throw std::runtime_error("failed to parse root ca certificate");
    }
    // The CA names a server sends with its certificate request: what the client should pick from.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str())) SSL_CTX_set_client_CA_list(ctx, names);
  } else if (verify) {
    // Go verifies against the system's roots when no CA is given.
    SSL_CTX_set_default_verify_paths(ctx);
  }
  SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE, nullptr);
  // Each connection is one handshake; nothing gains from resumption, which would also let a
  // client resume a session made under a certificate a reload replaced.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  return c;
}

std::string version_name(const SSL* ssl) {
  switch (SSL_version(ssl)) {
    case TLS1_VERSION: return "1.0";
    case TLS1_1_VERSION: return "1.1";
    case TLS1_2_VERSION: return "1.2";
    case TLS1_3_VERSION: return "1.3";
    default: return fmt::format("Unknown [0x{:x}]", SSL_version(ssl));
  }
}

std::string cipher_suite_name(const SSL* ssl) {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  if (c == nullptr) return "";
  std::string_view ossl = SSL_CIPHER_get_name(c);
  for (const char* go : kGoCipherSuites) {
    if (ossl == openssl_cipher_name(go)) return go;
  }
  return fmt::format("Unknown [0x{:x}]", SSL_CIPHER_get_protocol_id(c));
}

std::string peer_key_id(const SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return {};
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  bool ok = EVP_Digest(der, static_cast<size_t>(len), md, &md_len, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return {};
  std::string hex;
  for (unsigned int i = 0; i < md_len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

bool matches_pinned(const SSL* ssl, const std::vector<std::string>& pinned, std::string* key_id) {
  std::string id = peer_key_id(ssl);
  bool match = pinned.empty() || (!id.empty() && std::find(pinned.begin(), pinned.end(), id) != pinned.end());
  if (key_id) *key_id = std::move(id);
  return match;
}

}  // namespace pylon::server::tls
