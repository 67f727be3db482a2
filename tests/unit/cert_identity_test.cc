// verify_and_map's reading of a client certificate: its SANs, its subject rendered as Go's
// pkix RDNSequence.String() (what the reference compares user names with), its domain
// components, and the DN match of a configured name in any RDN order.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "../common/test_certs.h"
#include "server/tls/cert_identity.h"

namespace {

using pylon::server::tls::CertIdentity;
using pylon::server::tls::dn_matches;
using pylon::server::tls::identity_of;

CertIdentity identity_of_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  EXPECT_NE(f, nullptr) << path;
  if (f == nullptr) return {};
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  EXPECT_NE(cert, nullptr) << path;
  if (cert == nullptr) return {};
  CertIdentity id = identity_of(cert);
  X509_free(cert);
  return id;
}

TEST(CertIdentity, AliceHasHerSansAndGoRendersHerSubjectLastRdnFirst) {
  auto id = identity_of_file(pylon::testing::test_certs().client_cert());
  EXPECT_EQ(id.emails, std::vector<std::string>{"alice@pylon.test"});
  EXPECT_EQ(id.dns_names, std::vector<std::string>{"alice.pylon.test"});
  EXPECT_EQ(id.rdn, "CN=alice,OU=Test,O=Pylon");
  EXPECT_EQ(id.dcs, "");
  EXPECT_TRUE(dn_matches("CN=alice,OU=Test,O=Pylon", id));
  EXPECT_TRUE(dn_matches("O=Pylon, OU=Test, CN=alice", id)) << "any RDN order, spaces after commas";
  EXPECT_TRUE(dn_matches("cn=alice,ou=Test,o=Pylon", id)) << "attribute types in any case";
  EXPECT_FALSE(dn_matches("CN=alice,OU=Test,O=pylon", id)) << "values exactly";
  EXPECT_FALSE(dn_matches("CN=alice,O=Pylon", id)) << "every RDN";
  EXPECT_FALSE(dn_matches("alice@pylon.test", id)) << "not a DN";
}

// Multi-valued types, domain components and escaping, from a certificate made here.
TEST(CertIdentity, MultipleOusJoinWithPlusAndDomainComponentsStandApart) {
  std::string dir = ::testing::TempDir() + "pylon-cert-identity-XXXXXX";
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -keyout '" + dir +
                    "/k.pem' -out '" + dir +
                    "/c.pem' -subj '/DC=org/DC=example/O=Pylon/OU=a/OU=b/CN=carol, the \"first\"' 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto id = identity_of_file(dir + "/c.pem");
  std::filesystem::remove_all(dir);
  EXPECT_EQ(id.rdn, R"(CN=carol\, the \"first\",OU=a+OU=b,O=Pylon)");
  EXPECT_EQ(id.dcs, "DC=org,DC=example");
  EXPECT_TRUE(dn_matches(R"(CN=carol\, the \"first\",OU=b,OU=a,O=Pylon,DC=example,DC=org)", id));
  EXPECT_TRUE(id.emails.empty());
}

}  // namespace
