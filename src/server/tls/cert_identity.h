// Who a client certificate names, for verify_and_map: the reference's checkClientTLSCertSubject
// (auth.go) tries, in order, the certificate's SAN e-mail addresses, SAN DNS names and URIs as
// user names, then its subject as a distinguished name (attributes compared as in its
// internal/ldap package: the same RDNs in order, or in any order), then the subject rendered as
// Go's pkix RDNSequence.String() with any domain components appended, then without them.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

typedef struct ssl_st SSL;
typedef struct x509_st X509;

namespace pylon::server::tls {

struct CertIdentity {
  std::vector<std::string> emails, dns_names, uris;  // SANs, in the certificate's order
  // The subject as the reference's internal/ldap FromRawCertSubject reads it: RDNs in
  // RFC 4514 order, each a list of (upper-case type, value). Empty when it holds an attribute
  // that package does not know (it then skips the DN match).
  std::vector<std::vector<std::pair<std::string, std::string>>> dn;
  std::string rdn;  // Go's cert.Subject.ToRDNSequence().String(): "CN=alice,OU=Test,O=Pylon"
  std::string dcs;  // "DC=example,DC=org" (getTLSAuthDCs), "" when none
};

// From the established session's peer certificate; nullopt without one.
std::optional<CertIdentity> peer_identity(const SSL* ssl);
CertIdentity identity_of(const X509* cert);

// The reference's DN match of a configured user name (RFC 4514 text) against the certificate's
// subject: false when the name does not parse as a DN.
bool dn_matches(std::string_view configured, const CertIdentity& id);

// The reference's checkClientTLSCertSubject: which of the configured user names (`names`, in
// configuration order) the certificate stands for, tried in its order (see the top). nullopt
// when none; `debug` receives the reference's debug line for each step taken ("Using email
// found in cert for auth [\"x\"]", ...). Shared by clients and leafs (verify_and_map).
std::optional<std::string> mapped_user(const CertIdentity& id, const std::vector<std::string_view>& names,
                                       const std::function<void(const std::string&)>& debug);

}  // namespace pylon::server::tls
