#include "server/tls/tls_block.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "server/config/config.h"

namespace pylon::server::tls {

namespace {

using config::ConfigError;
using config::Entry;
using config::Value;

// The reference's cipherMap (ciphersuites.go), Go's names -> OpenSSL's. The TLS 1.3 suites
// keep their names; Go never lets them be configured, and neither do we (see tls_context.cc).
constexpr std::array<std::pair<std::string_view, const char*>, 24> kCiphers{{
    {"TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA"},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "ECDHE-ECDSA-RC4-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", "ECDHE-RSA-RC4-SHA"},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"},
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"},
    {"TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
}};

constexpr std::array<std::pair<std::string_view, const char*>, 4> kCurves{{
    {"X25519", "X25519"}, {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

[[noreturn]] void fail(const config::Position& pos, const std::string& msg) { throw ConfigError(pos, msg); }

std::string filename(const Entry& e) {
  if (!e.value.is_string()) {
    fail(e.value.pos(), fmt::format("error parsing tls config, expected '{}' to be filename", e.key));
  }
  return e.value.as_string();
}

bool boolean(const Entry& e) {
  if (!e.value.is_bool()) {
    fail(e.value.pos(), fmt::format("error parsing tls config, expected '{}' to be a boolean", e.key));
  }
  return e.value.as_bool();
}

// cipher_suites / curve_preferences: a non-empty list of known names, kept as written.
std::vector<std::string> names(const Entry& e, std::string_view field, const char* (*known)(std::string_view),
                               std::string_view unknown_words) {
  const auto& list = e.value.as_array();
  if (list.empty()) fail(e.value.pos(), fmt::format("error parsing tls config, '{}' cannot be empty", field));
  std::vector<std::string> out;
  for (const auto& v : list) {
    const std::string& name = v.as_string();
    if (known(name) == nullptr) fail(v.pos(), fmt::format("{} {}", unknown_words, name));
    out.push_back(name);
  }
  return out;
}

Duration timeout(const Value& v) {
  using Seconds = std::chrono::duration<double>;
  if (v.is_int()) return std::chrono::duration_cast<Duration>(Seconds(static_cast<double>(v.as_int())));
  if (v.is_float()) return std::chrono::duration_cast<Duration>(Seconds(v.as_float()));
  if (v.is_string()) {
    try {
      return config::parse_go_duration(v.as_string());
    } catch (const std::invalid_argument& e) {
      fail(v.pos(), fmt::format("error parsing tls config, 'timeout' {}", e.what()));
    }
  }
  fail(v.pos(), "error parsing tls config, 'timeout' wrong type");
}

bool is_hex_sha256(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

// 2.10's handshake_first: a boolean, or "true"/"on"/"false"/"off". Its "auto" and fallback
// durations (TLS-first clients and others on one port) are not supported yet.
bool handshake_first(const Entry& e) {
  const Value& v = e.value;
  if (v.is_bool()) return v.as_bool();
  if (!v.is_string()) {
    fail(v.pos(), fmt::format("field \"{}\" should be a boolean or a string, got {}", e.key,
                              v.is_int() ? "int64" : v.is_float() ? "float64" : v.kind_name()));
  }
  std::string s = lower(v.as_string());
  if (s == "true" || s == "on") return true;
  if (s == "false" || s == "off") return false;
  bool duration = false;
  try {
    config::parse_go_duration(s);
    duration = true;
  } catch (const std::invalid_argument&) {
  }
  if (s == "auto" || s == "auto_fallback" || duration) {
    fail(v.pos(), fmt::format("\"{}\": a fallback (\"{}\") is not supported by Pylon yet", e.key, v.as_string()));
  }
  fail(v.pos(), fmt::format("field \"{}\"'s value \"{}\" is invalid", e.key, v.as_string()));
}

}  // namespace

const char* openssl_cipher_name(std::string_view go_name) {
  for (const auto& [go, ossl] : kCiphers) {
    if (go == go_name) return ossl;
  }
  return nullptr;
}

const char* openssl_group_name(std::string_view go_curve) {
  for (const auto& [go, ossl] : kCurves) {
    if (go == go_curve) return ossl;
  }
  return nullptr;
}

TlsConfig parse_tls_block(const Value& block, BlockKind kind, std::vector<std::string>& warnings) {
  TlsConfig t;
  t.enabled = true;
  for (const auto& e : block.as_map()) {
    std::string k = lower(e.key);
    const Value& v = e.value;
    if (k == "cert_file") t.cert_file = filename(e);
    else if (k == "key_file") t.key_file = filename(e);
    else if (k == "ca_file") t.ca_file = filename(e);
    else if (k == "insecure") {
      t.insecure = boolean(e);
      // The reference takes it here too, where it means nothing: a server verifies a client's
      // certificate by `verify` alone. Said, so nobody believes it loosened anything.
      if (t.insecure && kind == BlockKind::kClient) {
        warnings.push_back(fmt::format("{}: \"insecure\" has no effect on client connections (it applies to routes)",
                                       e.key_pos.to_string()));
      }
    } else if (k == "verify") t.verify = boolean(e);
    else if (k == "verify_and_map") {
      bool b = boolean(e);
      if (b) t.verify = true;
      t.map = b;
    } else if (k == "cipher_suites") {
      t.cipher_suites = names(e, "cipher_suites", openssl_cipher_name, "unrecognized cipher");
    } else if (k == "curve_preferences") {
      t.curve_preferences = names(e, "curve_preferences", openssl_group_name, "unrecognized curve preference");
    } else if (k == "timeout") {
      t.timeout = timeout(v);
      // As the reference's setBaselineOptions: 0 means the default.
      if (t.timeout == Duration::zero()) t.timeout = defaults::kTlsTimeout;
    }
    else if (k == "pinned_certs") {
      if (!v.is_array()) {
        fail(v.pos(), "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER "
                      "encoded SubjectPublicKeyInfo");
      }
      t.pinned_certs.clear();
      for (const auto& p : v.as_array()) {
        std::string entry = lower(p.as_string());
        if (!is_hex_sha256(entry)) {
          fail(p.pos(), fmt::format("error parsing tls config, 'pinned_certs' key {} does not look like hex-encoded "
                                    "sha256 of DER encoded SubjectPublicKeyInfo", entry));
        }
        if (std::find(t.pinned_certs.begin(), t.pinned_certs.end(), entry) == t.pinned_certs.end()) {
          t.pinned_certs.push_back(std::move(entry));
        }
      }
    } else if (k == "handshake_first" || k == "first" || k == "immediate") {
      t.handshake_first = handshake_first(e);
      if (t.handshake_first && kind != BlockKind::kClient) {
        warnings.push_back(fmt::format("{}: \"{}\" has no effect on {}", e.key_pos.to_string(), e.key,
                                       kind == BlockKind::kCluster ? "routes" : "leafnode connections"));
      }
    } else if (k == "verify_cert_and_check_known_urls") {
      if (boolean(e) && kind != BlockKind::kCluster) {
        fail(v.pos(), "verify_cert_and_check_known_urls not supported in this context");
      }
      fail(e.key_pos, fmt::format("\"{}\": verify_cert_and_check_known_urls is not supported by Pylon yet", e.key));
    } else if (k == "connection_rate_limit" || k == "cert_store" || k == "cert_match_by" || k == "cert_match" ||
               k == "ocsp_peer") {
      fail(e.key_pos, fmt::format("\"{}\": {} is not supported by Pylon yet", e.key, k));
    } else {
      std::string quoted;
      config::append_go_quoted(quoted, e.key);
      fail(e.key_pos, fmt::format("error parsing tls config, unknown field [{}]", quoted));
    }
  }
  return t;
}

}  // namespace pylon::server::tls
