// Issue 12, HTTPS monitoring: `https_port` / `https` / `-ms` serve the monitoring endpoints over
// TLS with the top-level tls block's certificate, as nats-server 2.9 does (server.go
// startMonitoring): no client certificate is asked for even when the tls block says `verify`, a
// plaintext request gets Go's "400 Bad Request" and costs the listener nothing, and the
// misconfigurations are refused in the reference's words. curl is the HTTPS client.
#include <gtest/gtest.h>

#include <signal.h>

#include <boost/json.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "../common/test_certs.h"
#include "harness.h"

namespace pylon::it {
namespace {

using pylon::testing::test_certs;

struct CurlResult {
  int http_code = 0;  // 0: no HTTP answer (curl failed)
  std::string body;   // or curl's error text
};

// One GET through curl over HTTPS, trusting the test CA only.
CurlResult curl_https(int port, const std::string& path, const std::string& host = "127.0.0.1") {
  std::string cmd = "curl -sS --max-time 5 --cacert '" + test_certs().ca() + "' -w '\\n%{http_code}' 'https://" +
                    host + ":" + std::to_string(port) + path + "' 2>&1";
  auto r = run_shell(cmd);
  CurlResult out;
  auto nl = r.output.rfind('\n');
  std::string last = nl == std::string::npos ? r.output : r.output.substr(nl + 1);
  out.body = nl == std::string::npos ? "" : r.output.substr(0, nl);
  if (r.exit_code == 0) out.http_code = std::atoi(last.c_str());
  if (out.http_code == 0) out.body = r.output;
  return out;
}

bool wait_https(int port, milliseconds timeout = 10s) {
  return wait_for([&] { return curl_https(port, "/healthz").http_code == 200; }, timeout, 50ms);
}

std::string tls_block(const std::string& extra = "") {
  const auto& c = test_certs();
  return "tls {\n  cert_file: \"" + c.server_cert() + "\"\n  key_file: \"" + c.server_key() + "\"\n  ca_file: \"" +
         c.ca() + "\"\n" + extra + "}\n";
}

// https_port in the file: /varz and the other endpoints over TLS, with a tls block that
// verifies client certificates (which the monitor does not ask for, as the reference).
TEST(TlsMonitor, HttpsPortServesEndpointsOverTlsWithoutClientCertificate) {
  int https = pick_free_port();
  ServerProcess s(with_config(tls_block("  verify: true\n") + "https_port: " + std::to_string(https) + "\n"));
  ASSERT_TRUE(s.start());
  ASSERT_TRUE(wait_https(https)) << curl_https(https, "/healthz").body << "\n" << s.log();
  EXPECT_TRUE(s.wait_for_log("Starting https monitor on 127.0.0.1:" + std::to_string(https), 5s)) << s.log();

  auto varz = curl_https(https, "/varz");
  ASSERT_EQ(varz.http_code, 200) << varz.body;
  auto v = boost::json::parse(varz.body).as_object();
  EXPECT_EQ(v.at("https_port").to_number<int64_t>(), https);
  EXPECT_EQ(v.at("http_port").to_number<int64_t>(), 0);
  EXPECT_EQ(v.at("port").to_number<int64_t>(), s.port());
  // The name in the certificate is localhost too.
  for (const char* path : {"/connz", "/routez", "/subsz"}) {
    auto r = curl_https(https, path, "localhost");
    EXPECT_EQ(r.http_code, 200) << path << ": " << r.body;
    EXPECT_NO_THROW(boost::json::parse(r.body)) << path;
  }
}

// Plaintext HTTP to the HTTPS port: Go's answer, a 400 that names the mistake; the monitor
// goes on serving HTTPS, and a plaintext client that sends nothing at all costs it nothing.
TEST(TlsMonitor, PlaintextToHttpsPortFailsCleanly) {
  int https = pick_free_port();
  ServerProcess s(with_config(tls_block() + "https_port: " + std::to_string(https) + "\n"));
  ASSERT_TRUE(s.start());
  ASSERT_TRUE(wait_https(https)) << s.log();

  RawClient idle;  // connected, silent, through the rest of the test
  ASSERT_TRUE(idle.connect(https));
  auto r = http_get(https, "/varz", 5s);
  ASSERT_TRUE(r) << "no HTTP answer to plaintext";
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "Client sent an HTTP request to an HTTPS server.\n");
  EXPECT_EQ(curl_https(https, "/varz").http_code, 200);
  EXPECT_TRUE(s.running());
}

// -ms on the command line, with the tls block from the file; and `https: host:port`.
TEST(TlsMonitor, FlagAndListenFormSelectHttps) {
  {
    int https = pick_free_port();
    ServerProcess s(with_config(tls_block(), {"-ms", std::to_string(https)}));
    ASSERT_TRUE(s.start());
    ASSERT_TRUE(wait_https(https)) << s.log();
    auto v = curl_https(https, "/varz");
    ASSERT_EQ(v.http_code, 200) << v.body;
    EXPECT_EQ(boost::json::parse(v.body).as_object().at("https_port").to_number<int64_t>(), https);
  }
  {
    int https = pick_free_port();
    ServerProcess s(with_config(tls_block() + "https: \"127.0.0.1:" + std::to_string(https) + "\"\n"));
    ASSERT_TRUE(s.start());
    ASSERT_TRUE(wait_https(https)) << s.log();
    EXPECT_TRUE(s.wait_for_log("Starting https monitor on 127.0.0.1:" + std::to_string(https), 5s)) << s.log();
  }
}

// A reload that changes the tls block's certificate: HTTPS connections made afterwards get the
// new one (the reference's GetConfigForClient). The new certificate names only
// wrong.pylon.test, so curl's name check tells which one was served.
TEST(TlsMonitor, ReloadServesTheNewCertificate) {
  const auto& c = test_certs();
  int https = pick_free_port();
  auto conf = [&](const std::string& cert, const std::string& key, const std::string& port) {
    // Everything in the file: nats-server 2.9 does not apply -a/-p again on reload.
    return "listen: 127.0.0.1:" + port + "\nhttps_port: " + std::to_string(https) + "\ntls {\n  cert_file: \"" +
           cert + "\"\n  key_file: \"" + key + "\"\n}\n";
  };
  ServerOptions o = with_config(conf(c.server_cert(), c.server_key(), "{PORT}"));
  o.port_flag = false;
  ServerProcess s(o);
  ASSERT_TRUE(s.start());
  ASSERT_TRUE(wait_https(https)) << s.log();

  {
    std::ofstream out(s.dir() + "/server.conf", std::ios::trunc);
    out << conf(c.wrong_name_cert(), c.wrong_name_key(), std::to_string(s.port()));
  }
  ASSERT_EQ(::kill(s.pid(), SIGHUP), 0);
  std::string curl = "curl -sS --max-time 5 --cacert '" + c.ca() + "' --resolve wrong.pylon.test:" +
                     std::to_string(https) + ":127.0.0.1 -o /dev/null -w '%{http_code}' 'https://wrong.pylon.test:" +
                     std::to_string(https) + "/varz' 2>&1";
  EXPECT_TRUE(wait_for([&] { return run_shell(curl).output == "200"; }, 10s, 50ms))
      << "the reloaded certificate is not served: " << run_shell(curl).output << "\n" << s.log();
  auto old_name = curl_https(https, "/varz");
  EXPECT_EQ(old_name.http_code, 0) << "the old certificate is still served";
}

// What the reference refuses at startup, in its words: both ports, and HTTPS without TLS.
TEST(TlsMonitor, MisconfigurationsAreRefused) {
  TempDir dir;
  int http = pick_free_port(), https = pick_free_port(), port = pick_free_port();
  auto both = dir.write("both.conf", tls_block() + "https_port: " + std::to_string(https) + "\n");
  auto r = run_server_binary(
      {"-c", both, "-a", "127.0.0.1", "-p", std::to_string(port), "-m", std::to_string(http)});
  EXPECT_TRUE(r.exited && r.exit_code != 0) << r.output;
  EXPECT_NE(r.output.find("can't specify both HTTP (" + std::to_string(http) + ") and HTTPs (" +
                          std::to_string(https) + ") ports"),
            std::string::npos)
      << r.output;

  auto r2 = run_server_binary({"-a", "127.0.0.1", "-p", std::to_string(port), "-ms", std::to_string(https)});
  EXPECT_TRUE(r2.exited && r2.exit_code != 0) << r2.output;
  EXPECT_NE(r2.output.find("TLS cert and key required for HTTPS"), std::string::npos) << r2.output;
}

}  // namespace
}  // namespace pylon::it
