#include "server/tls/cert_identity.h"

#include <fmt/format.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <map>

namespace pylon::server::tls {

namespace {

using Attr = std::pair<std::string, std::string>;
using Rdn = std::vector<Attr>;

// internal/ldap's attributeTypeNames.
const char* ldap_type(int nid) {
  switch (nid) {
    case NID_commonName: return "CN";
    case NID_serialNumber: return "SERIALNUMBER";
    case NID_countryName: return "C";
    case NID_localityName: return "L";
    case NID_stateOrProvinceName: return "ST";
    case NID_streetAddress: return "STREET";
    case NID_organizationName: return "O";
    case NID_organizationalUnitName: return "OU";
    case NID_postalCode: return "POSTALCODE";
    case NID_domainComponent: return "DC";
    default: return nullptr;
  }
}

std::string utf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return {};
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return r;
}

// Go's RDNSequence.String() escaping of a value.
void append_escaped(std::string& out, std::string_view v) {
  for (size_t k = 0; k < v.size(); ++k) {
    char c = v[k];
    bool esc = false;
    switch (c) {
      case ',': case '+': case '"': case '\\': case '<': case '>': case ';': esc = true; break;
      case ' ': esc = k == 0 || k == v.size() - 1; break;
      case '#': esc = k == 0; break;
      default: break;
    }
    if (esc) out += '\\';
    out += c;
  }
}

std::string upper(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return o;
}

// RFC 4514 text -> RDNs of (upper type, unescaped value); nullopt when it does not parse.
std::optional<std::vector<Rdn>> parse_dn(std::string_view s) {
  std::vector<Rdn> dn;
  Rdn rdn;
  std::string type, value;
  bool in_value = false;
  auto finish_attr = [&]() -> bool {
    // Surrounding spaces are not part of a type or an unescaped value.
    auto trim = [](std::string& x) {
      while (!x.empty() && x.back() == ' ') x.pop_back();
      x.erase(0, x.find_first_not_of(' ') == std::string::npos ? x.size() : x.find_first_not_of(' '));
    };
    trim(type);
    if (type.empty()) return false;
    rdn.emplace_back(upper(type), value);
    type.clear();
    value.clear();
    in_value = false;
    return true;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (!in_value) {
      if (c == '=') in_value = true;
      else if (c == ',' || c == '+') return std::nullopt;
      else type += c;
      continue;
    }
    if (c == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (std::isxdigit(static_cast<unsigned char>(n)) && i + 2 < s.size() &&
          std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        value += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        value += n;
        ++i;
      }
    } else if (c == ',' || c == '+') {
      if (!finish_attr()) return std::nullopt;
      if (c == ',') {
        dn.push_back(std::move(rdn));
        rdn.clear();
      }
    } else if (c == ' ' && value.empty()) {
      // leading space of a value
    } else {
      value += c;
    }
  }
  if (!in_value || !finish_attr()) return std::nullopt;
  dn.push_back(std::move(rdn));
  return dn;
}

bool same_attrs(const Rdn& a, const Rdn& b) {
  if (a.size() != b.size()) return false;
  auto has = [](const Rdn& r, const Attr& x) {
    return std::any_of(r.begin(), r.end(), [&](const Attr& y) { return y.first == x.first && y.second == x.second; });
  };
  return std::all_of(a.begin(), a.end(), [&](const Attr& x) { return has(b, x); }) &&
         std::all_of(b.begin(), b.end(), [&](const Attr& x) { return has(a, x); });
}

}  // namespace

std::optional<CertIdentity> peer_identity(const SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return std::nullopt;
  return identity_of(cert);
}

CertIdentity identity_of(const X509* cert) {
  CertIdentity id;
  if (auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type == GEN_EMAIL) id.emails.push_back(utf8(g->d.rfc822Name));
      else if (g->type == GEN_DNS) id.dns_names.push_back(utf8(g->d.dNSName));
      else if (g->type == GEN_URI) id.uris.push_back(utf8(g->d.uniformResourceIdentifier));
    }
    GENERAL_NAMES_free(sans);
  }

  const X509_NAME* subject = X509_get_subject_name(cert);
  int n = X509_NAME_entry_count(subject);
  // The raw RDNs (set index groups multi-valued ones), in the certificate's order.
  std::vector<std::vector<std::pair<int, std::string>>> raw;
  int last_set = -1;
  for (int i = 0; i < n; ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(subject, i);
    int set = X509_NAME_ENTRY_set(e);
    if (set != last_set) raw.emplace_back();
    last_set = set;
    raw.back().emplace_back(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), utf8(X509_NAME_ENTRY_get_data(e)));
  }

  // FromRawCertSubject: RDNs last to first, attributes last to first; unknown types void it.
  bool known = true;
  for (auto r = raw.rbegin(); r != raw.rend() && known; ++r) {
    Rdn rdn;
    for (auto a = r->rbegin(); a != r->rend(); ++a) {
      const char* t = ldap_type(a->first);
      if (t == nullptr) {
        known = false;
        break;
      }
      rdn.emplace_back(t, a->second);
    }
    id.dn.push_back(std::move(rdn));
  }
  if (!known) id.dn.clear();

  // pkix.Name.ToRDNSequence(): one RDN per attribute type in a fixed order (multi-valued for
  // O, OU, ...; the last CN and serial number only), then String() writes it last to first.
  std::map<int, std::vector<std::string>> by_type;
  for (const auto& r : raw) {
    for (const auto& [nid, value] : r) {
      if (nid == NID_commonName || nid == NID_serialNumber) by_type[nid] = {value};
      else by_type[nid].push_back(value);
      if (nid == NID_domainComponent) {
        if (!id.dcs.empty()) id.dcs += ',';
        id.dcs += "DC=" + value;
      }
    }
  }
  const int order[] = {NID_countryName,      NID_stateOrProvinceName,    NID_localityName,
                       NID_streetAddress,    NID_postalCode,             NID_organizationName,
                       NID_organizationalUnitName, NID_commonName,       NID_serialNumber};
  for (auto it = std::rbegin(order); it != std::rend(order); ++it) {
    auto f = by_type.find(*it);
    if (f == by_type.end()) continue;
    if (!id.rdn.empty()) id.rdn += ',';
    for (size_t k = 0; k < f->second.size(); ++k) {
      if (k > 0) id.rdn += '+';
      id.rdn += ldap_type(*it);
      id.rdn += '=';
      append_escaped(id.rdn, f->second[k]);
    }
  }
  return id;
}

bool dn_matches(std::string_view configured, const CertIdentity& id) {
  if (id.dn.empty()) return false;
  auto dn = parse_dn(configured);
  if (!dn || dn->size() != id.dn.size()) return false;
  // Equal (same order) is a case of RDNsMatch (any order): test the latter.
  std::vector<bool> used(id.dn.size(), false);
  for (const auto& r : *dn) {
    bool found = false;
    for (size_t i = 0; i < id.dn.size() && !found; ++i) {
      if (!used[i] && same_attrs(r, id.dn[i])) used[i] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

std::optional<std::string> mapped_user(const CertIdentity& id, const std::vector<std::string_view>& names,
                                       const std::function<void(const std::string&)>& debug) {
  auto known = [&](std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  auto use = [&](std::string_view how, std::string_view name) {
    debug(fmt::format("Using {} for auth [\"{}\"]", how, name));
    return std::optional<std::string>(name);
  };
  for (const auto& e : id.emails) {
    if (known(e)) return use("email found in cert", e);
  }
  for (const auto& d : id.dns_names) {
    if (known(d)) return use("SAN found in cert", d);
  }
  for (const auto& uri : id.uris) {
    if (known(uri)) return use("URI found in cert", uri);
  }
  if (!id.dn.empty()) {
    for (auto n : names) {
      if (dn_matches(n, id)) return use("DistinguishedNameMatch", n);
    }
    debug(fmt::format("DistinguishedNameMatch could not be used for auth [\"{}\"]", id.rdn));
  }
  if (!id.dcs.empty()) {
    std::string with_dcs = id.rdn + "," + id.dcs;
    if (known(with_dcs)) return use("RDNSequence", with_dcs);
    debug(fmt::format("RDNSequence could not be used for auth [\"{}\"]", with_dcs));
  }
  if (known(id.rdn)) return use("certificate subject", id.rdn);
  debug(fmt::format("User in cert [\"{}\"], not found", id.rdn));
  return std::nullopt;
}

}  // namespace pylon::server::tls
