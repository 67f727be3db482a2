// The --tls* flags as the reference's (ConfigureOptions, overrideTLS): they turn client TLS on,
// with verification by --tlsverify, and refuse a missing certificate or key in its words.
#include <gtest/gtest.h>

#include <string>

#include "../common/test_certs.h"
#include "harness.h"
#include "nats_c.h"

namespace pylon::it {
namespace {

using pylon::testing::test_certs;

NatsConn tls_connect(const ServerProcess& srv, const std::string& cert = "", const std::string& key = "") {
  natsStatus s = NATS_OK;
  return nats_connect(
      "tls://127.0.0.1:" + std::to_string(srv.port()),
      [&](natsOptions* o) {
        natsOptions_SetSecure(o, true);
        natsOptions_LoadCATrustedCertificates(o, test_certs().ca().c_str());
        if (!cert.empty()) natsOptions_LoadCertificatesChain(o, cert.c_str(), key.c_str());
        natsOptions_SetExpectedHostname(o, "localhost");
        natsOptions_SetTimeout(o, 3000);
      },
      &s);
}

TEST(TlsFlags, FlagsEnableTlsAndClientVerification) {
  const auto& c = test_certs();
  ServerProcess srv(with_args({"--tls", "--tlscert", c.server_cert(), "--tlskey", c.server_key()}));
  ASSERT_TRUE(srv.start());
  auto a = tls_connect(srv);
  ASSERT_TRUE(a);
  EXPECT_TRUE(flush(a.get()));

  ServerProcess verify(with_args({"--tlsverify", "--tlscert", c.server_cert(), "--tlskey", c.server_key(),
                                  "--tlscacert", c.ca()}));
  ASSERT_TRUE(verify.start());
  EXPECT_FALSE(tls_connect(verify)) << "--tlsverify requires a client certificate";
  EXPECT_TRUE(tls_connect(verify, c.client_cert(), c.client_key()));
}

TEST(TlsFlags, FlagsWithoutCertificateOrKeyAreRefusedInTheReferencesWords) {
  const auto& c = test_certs();
  auto r = run_server_binary({"--tls", "--tlskey", c.server_key()});
  EXPECT_TRUE(r.exited && r.exit_code != 0) << r.output;
  EXPECT_NE(r.output.find("TLS Server certificate must be present and valid"), std::string::npos) << r.output;
  r = run_server_binary({"--tls", "--tlscert", c.server_cert()});
  EXPECT_TRUE(r.exited && r.exit_code != 0) << r.output;
  EXPECT_NE(r.output.find("TLS Server private key must be present and valid"), std::string::npos) << r.output;
}

TEST(TlsFlags, HelpTlsPrintsTheTlsBlockAndTheNamesItTakes) {
  SKIP_IF_REFERENCE("the text names Pylon's differences");
  auto r = run_server_binary({"--help_tls"});
  EXPECT_TRUE(r.exited && r.exit_code == 0) << r.output;
  EXPECT_NE(r.output.find("TLS configuration is specified in the tls section of a configuration file"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("    CurveP521\n"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pylon::it
