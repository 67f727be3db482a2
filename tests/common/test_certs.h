// The certificates of the TLS tests, made at test time by tests/common/make-test-certs.sh
// (openssl): once per test process, into a private temporary directory removed at exit.
// See the script for what each file is. Needs PYLON_SOURCE_DIR (the repo root) defined.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace pylon::testing {

struct TestCerts {
  std::string dir;
  std::string path(const std::string& name) const { return dir + "/" + name; }
  std::string ca() const { return path("ca.pem"); }
  std::string server_cert() const { return path("server.pem"); }
  std::string server_key() const { return path("server-key.pem"); }
  std::string client_cert() const { return path("client.pem"); }
  std::string client_key() const { return path("client-key.pem"); }
  std::string client2_cert() const { return path("client2.pem"); }
  std::string client2_key() const { return path("client2-key.pem"); }
  std::string expired_cert() const { return path("expired.pem"); }
  std::string expired_key() const { return path("expired-key.pem"); }
  std::string other_ca() const { return path("other-ca.pem"); }
  std::string wrong_ca_cert() const { return path("wrong-ca.pem"); }
  std::string wrong_ca_key() const { return path("wrong-ca-key.pem"); }
  std::string wrong_client_cert() const { return path("wrong-client.pem"); }
  std::string wrong_client_key() const { return path("wrong-client-key.pem"); }
  std::string wrong_name_cert() const { return path("wrong-name.pem"); }
  std::string wrong_name_key() const { return path("wrong-name-key.pem"); }
};

// Makes the certificates on first use; throws when openssl fails.
inline const TestCerts& test_certs() {
  static const TestCerts certs = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pylon-certs-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("test_certs: mkdtemp failed");
    TestCerts c{tmpl};
    std::string cmd = std::string("bash '") + PYLON_SOURCE_DIR + "/tests/common/make-test-certs.sh' '" + c.dir + "'";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("test_certs: " + cmd + " failed");
    static std::string to_remove = c.dir;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
    return c;
  }();
  return certs;
}

}  // namespace pylon::testing
