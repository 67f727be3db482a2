// The tls block: read as the reference's parseTLS (keys, types, defaults), and every mistake
// reported with file:line:column in the reference's words, including the files it names
// (GenTLSConfig's errors) when a config file is loaded.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../common/test_certs.h"
#include "server/config/config.h"
#include "server/config/config_loader.h"
#include "server/tls/tls_block.h"

namespace {

using pylon::server::tls::BlockKind;
using pylon::server::tls::parse_tls_block;

pylon::TlsOptions parse(const std::string& text, BlockKind kind, std::vector<std::string>* warnings = nullptr) {
  auto root = pylon::config::parse_string(text, "t.conf");
  std::vector<std::string> w;
  auto t = parse_tls_block(*root.find("tls"), kind, w);
  if (warnings) *warnings = w;
  return t;
}

// The error's full text (position and words), or "" when the block was accepted.
std::string error_of(const std::string& text, BlockKind kind = BlockKind::kClient) {
  try {
    parse(text, kind);
  } catch (const pylon::config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(TlsBlock, ReadsEveryKeyAsTheReference) {
  auto t = parse(R"(tls {
  cert_file: "s.pem"
  key_file: "s-key.pem"
  ca_file: "ca.pem"
  verify_and_map: true
  timeout: 0.5
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]
  curve_preferences: [CurveP384]
  pinned_certs: ["ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"]
  handshake_first: true
})", BlockKind::kClient);
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.cert_file, "s.pem");
  EXPECT_EQ(t.key_file, "s-key.pem");
  EXPECT_EQ(t.ca_file, "ca.pem");
  EXPECT_TRUE(t.verify) << "verify_and_map implies verify";
  EXPECT_TRUE(t.map);
  EXPECT_EQ(t.timeout, std::chrono::milliseconds(500));
  ASSERT_EQ(t.cipher_suites.size(), 2u);
  EXPECT_EQ(t.cipher_suites[0], "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
  EXPECT_EQ(t.curve_preferences, std::vector<std::string>{"CurveP384"});
  ASSERT_EQ(t.pinned_certs.size(), 1u);
  EXPECT_EQ(t.pinned_certs[0], "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_TRUE(t.handshake_first);
}

TEST(TlsBlock, TimeoutIsSecondsOrADurationAndDefaultsToTwoSeconds) {
  EXPECT_EQ(parse("tls { }", BlockKind::kClient).timeout, std::chrono::seconds(2));
  EXPECT_EQ(parse("tls { timeout: 3 }", BlockKind::kClient).timeout, std::chrono::seconds(3));
  EXPECT_EQ(parse("tls { timeout: \"250ms\" }", BlockKind::kClient).timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(parse("tls { timeout: 0 }", BlockKind::kClient).timeout, std::chrono::seconds(2)) << "0: the default";
}

TEST(TlsBlock, MistakesNameTheirPositionInTheReferencesWords) {
  EXPECT_EQ(error_of("tls {\n  bogus: 1\n}"), "t.conf:2:3: error parsing tls config, unknown field [\"bogus\"]");
  EXPECT_EQ(error_of("tls { verify: \"yes\" }"), "t.conf:1:15: error parsing tls config, expected 'verify' to be a boolean");
  EXPECT_EQ(error_of("tls { cert_file: 1 }"), "t.conf:1:18: error parsing tls config, expected 'cert_file' to be filename");
  EXPECT_EQ(error_of("tls { cipher_suites: [] }"), "t.conf:1:22: error parsing tls config, 'cipher_suites' cannot be empty");
  EXPECT_EQ(error_of("tls {\n cipher_suites: [TLS_AES_128_GCM_SHA256,\n  NOPE] }"), "t.conf:3:3: unrecognized cipher NOPE");
  EXPECT_EQ(error_of("tls { curve_preferences: [P256] }"), "t.conf:1:27: unrecognized curve preference P256");
  EXPECT_EQ(error_of("tls { timeout: \"2x\" }"),
            "t.conf:1:16: error parsing tls config, 'timeout' time: unknown unit \"x\" in duration \"2x\"");
  EXPECT_EQ(error_of("tls { timeout: true }"), "t.conf:1:16: error parsing tls config, 'timeout' wrong type");
  EXPECT_EQ(error_of("tls { pinned_certs: [\"abc\"] }"),
            "t.conf:1:22: error parsing tls config, 'pinned_certs' key abc does not look like hex-encoded sha256 of DER "
            "encoded SubjectPublicKeyInfo");
  EXPECT_NE(error_of("tls { ocsp_peer: true }").find("t.conf:1:7: \"ocsp_peer\": ocsp_peer is not supported by Pylon"),
            std::string::npos);
}

TEST(TlsBlock, HandshakeFirstTakesTheReferencesKeysAndValues) {
  EXPECT_TRUE(parse("tls { handshake_first: true }", BlockKind::kClient).handshake_first);
  EXPECT_TRUE(parse("tls { first: \"on\" }", BlockKind::kClient).handshake_first);
  EXPECT_FALSE(parse("tls { immediate: \"false\" }", BlockKind::kClient).handshake_first);
  EXPECT_EQ(error_of("tls { handshake_first: 1 }"),
            "t.conf:1:24: field \"handshake_first\" should be a boolean or a string, got int64");
  EXPECT_EQ(error_of("tls { handshake_first: \"maybe\" }"),
            "t.conf:1:24: field \"handshake_first\"'s value \"maybe\" is invalid");
  EXPECT_NE(error_of("tls { handshake_first: \"auto\" }").find("is not supported by Pylon yet"), std::string::npos);
}

TEST(TlsBlock, InsecureMeansNothingForClientsAndSaysSo) {
  // The reference accepts it in the top-level block, where it has no effect; routes use it.
  std::vector<std::string> warnings;
  auto t = parse("tls { insecure: true }", BlockKind::kClient, &warnings);
  EXPECT_TRUE(t.insecure);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("t.conf:1:7: \"insecure\" has no effect on client connections"), std::string::npos);
  parse("tls { insecure: true }", BlockKind::kCluster, &warnings);
  EXPECT_TRUE(warnings.empty());
}

class TlsConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "pylon-tls-block-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_.data()), nullptr);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Loads `text` as a config file; returns the error text, or "" when it loaded.
  std::string load(const std::string& text, pylon::Options& o) {
    std::string path = dir_ + "/tls.conf";
    std::ofstream(path) << text;
    try {
      pylon::server::load_config_file(path, o);
    } catch (const pylon::config::ConfigError& e) {
      std::string w = e.what();
      return w.substr(w.find("tls.conf"));
    }
    return "";
  }
  std::string dir_;
};

TEST_F(TlsConfigFile, TheTopLevelBlockLoadsWithItsCertificates) {
  const auto& c = pylon::testing::test_certs();
  pylon::Options o;
  EXPECT_EQ(load("tls {\n cert_file: \"" + c.server_cert() + "\"\n key_file: \"" + c.server_key() + "\"\n ca_file: \"" +
                     c.ca() + "\"\n verify: true\n}\n", o),
            "");
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_TRUE(o.tls.verify);
  EXPECT_EQ(o.tls.cert_file, c.server_cert());
}

TEST_F(TlsConfigFile, BadFilesAreStartupErrorsAtTheBlock) {
  const auto& c = pylon::testing::test_certs();
  pylon::Options o;
  EXPECT_EQ(load("tls {\n cert_file: \"" + c.server_cert() + "\"\n}\n", o),
            "tls.conf:1:5: missing 'key_file' in TLS configuration");
  EXPECT_EQ(load("tls { key_file: \"" + c.server_key() + "\" }\n", o),
            "tls.conf:1:5: missing 'cert_file' in TLS configuration");
  EXPECT_EQ(load("tls { cert_file: \"/nonexistent/s.pem\", key_file: \"" + c.server_key() + "\" }\n", o),
            "tls.conf:1:5: error parsing X509 certificate/key pair: open /nonexistent/s.pem: no such file or directory");
  // A key that is not the certificate's.
  EXPECT_EQ(load("tls { cert_file: \"" + c.server_cert() + "\", key_file: \"" + c.client_key() + "\" }\n", o),
            "tls.conf:1:5: error parsing X509 certificate/key pair: tls: private key does not match public key");
  // A CA file that holds no certificate.
  EXPECT_EQ(load("tls { cert_file: \"" + c.server_cert() + "\", key_file: \"" + c.server_key() + "\", ca_file: \"" +
                     c.server_key() + "\" }\n", o),
            "tls.conf:1:5: failed to parse root ca certificate");
}

}  // namespace
