// Client TLS against a real server process (Pylon, and the reference where the behaviour is
// shared: PYLON_TEST_SERVER=nats-server): the official C client (libnats, built with OpenSSL)
// over TLS, mutual TLS with `verify`, verify_and_map, what a plaintext or silent peer gets,
// that a stuck handshake costs nobody else anything, monitoring, flags and reload.
// The certificates come from tests/common/make-test-certs.sh (test_certs.h).
#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/json.hpp>

#include <fstream>
#include <string>

#include "../common/test_certs.h"
#include "harness.h"
#include "nats_c.h"

namespace pylon::it {
namespace {

using pylon::testing::test_certs;

// A duration the server promises (the handshake timeout) is asserted between itself and this
// multiple of itself: wide, since the suite runs beside others on two cores.
constexpr int kTimeoutSlack = 5;

std::string tls_block(const std::string& extra = "", const std::string& cert = test_certs().server_cert(),
                      const std::string& key = test_certs().server_key()) {
  return "tls {\n  cert_file: \"" + cert + "\"\n  key_file: \"" + key + "\"\n" + extra + "}\n";
}

// libnats over TLS: trusts `ca`, presents `cert`/`key` when given.
NatsConn tls_connect(const ServerProcess& srv, const std::string& ca, const std::string& cert = "",
                     const std::string& key = "", natsStatus* status = nullptr) {
  return nats_connect(
      "tls://127.0.0.1:" + std::to_string(srv.port()),
      [&](natsOptions* o) {
        natsOptions_SetSecure(o, true);
        natsOptions_LoadCATrustedCertificates(o, ca.c_str());
        if (!cert.empty()) natsOptions_LoadCertificatesChain(o, cert.c_str(), key.c_str());
        natsOptions_SetExpectedHostname(o, "localhost");
        natsOptions_SetTimeout(o, 3000);
      },
      status);
}

// A message published on one connection arrives on the other's subscription.
void expect_round_trip(natsConnection* pub, natsConnection* subc, const std::string& subject) {
  auto sub = sub_sync(subc, subject);
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(subc));
  ASSERT_EQ(natsConnection_PublishString(pub, subject.c_str(), "over tls"), NATS_OK);
  ASSERT_TRUE(flush(pub));
  natsMsg* m = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&m, sub.get(), 5000), NATS_OK);
  NatsMsg msg(m);
  EXPECT_EQ(to_recv(m).data, "over tls");
}

boost::json::object json_of(const std::string& text) { return boost::json::parse(text).as_object(); }

TEST(Tls, LibnatsPublishesAndSubscribesOverTls) {
  ServerProcess srv(with_config(tls_block()));
  ASSERT_TRUE(srv.start());
  auto a = tls_connect(srv, test_certs().ca());
  auto b = tls_connect(srv, test_certs().ca());
  ASSERT_TRUE(a && b);
  expect_round_trip(a.get(), b.get(), "tls.greet");
  EXPECT_TRUE(srv.wait_for_log("TLS required for client connections", 5s)) << srv.log();
}

TEST(Tls, InfoSaysTlsRequiredAndVerify) {
  ServerProcess srv(with_config(tls_block("  ca_file: \"" + test_certs().ca() + "\"\n  verify: true\n")));
  ASSERT_TRUE(srv.start());
  RawClient c;
  ASSERT_TRUE(c.connect(srv.port()));
  auto info = c.read_info();
  ASSERT_TRUE(info);
  auto o = json_of(*info);
  EXPECT_EQ(o["tls_required"], true) << *info;
  EXPECT_EQ(o["tls_verify"], true) << *info;
}

TEST(Tls, PlaintextClientOfATlsServerIsRefused) {
  ServerProcess srv(with_config(tls_block()));
  ASSERT_TRUE(srv.start());
  // A client that ignores INFO's tls_required and speaks plaintext: the handshake fails,
  // logged in the reference's words, and the connection closes. (libnats, told tls_required,
  // upgrades by itself.)
  RawClient raw = raw_connect(srv.port());  // has read INFO
  ASSERT_TRUE(raw.send("CONNECT {}\r\nPING\r\n"));
  EXPECT_TRUE(raw.expect_closed(5s));
  EXPECT_TRUE(srv.wait_for_log("TLS handshake error: tls: first record does not look like a TLS handshake", 5s))
      << srv.log();
  if (!using_reference_server()) {
    // Pylon also tells it why, in plaintext (the reference means to: its -ERR never leaves).
    EXPECT_NE(raw.buffer().find("-ERR 'Secure Connection - TLS Required'\r\n"), std::string::npos) << raw.buffer();
  }
}

TEST(Tls, MutualTlsRequiresACertificateFromTheCa) {
  const auto& c = test_certs();
  ServerProcess srv(with_config(tls_block("  ca_file: \"" + c.ca() + "\"\n  verify: true\n")));
  ASSERT_TRUE(srv.start());
  natsStatus s = NATS_OK;
  EXPECT_FALSE(tls_connect(srv, c.ca(), "", "", &s)) << "no client certificate";
  EXPECT_NE(s, NATS_OK);
  EXPECT_TRUE(srv.wait_for_log("TLS handshake error: tls: client didn't provide a certificate", 5s)) << srv.log();
  EXPECT_FALSE(tls_connect(srv, c.ca(), c.wrong_client_cert(), c.wrong_client_key(), &s)) << "wrong CA";
  EXPECT_NE(s, NATS_OK);
  EXPECT_TRUE(srv.wait_for_log("TLS handshake error: tls: failed to verify client certificate: x509: certificate "
                               "signed by unknown authority", 5s))
      << srv.log();
  EXPECT_FALSE(tls_connect(srv, c.ca(), c.expired_cert(), c.expired_key(), &s)) << "expired";
  EXPECT_NE(s, NATS_OK);
  EXPECT_TRUE(srv.wait_for_log("TLS handshake error: tls: failed to verify client certificate: x509: certificate "
                               "has expired or is not yet valid", 5s))
      << srv.log();
  auto a = tls_connect(srv, c.ca(), c.client_cert(), c.client_key());
  auto b = tls_connect(srv, c.ca(), c.client2_cert(), c.client2_key());
  ASSERT_TRUE(a && b);
  expect_round_trip(a.get(), b.get(), "mtls.ok");
}

TEST(Tls, ClientRefusesAnExpiredServerCertificate) {
  const auto& c = test_certs();
  ServerProcess srv(with_config(tls_block("", c.expired_cert(), c.expired_key())));
  ASSERT_TRUE(srv.start());
  natsStatus s = NATS_OK;
  EXPECT_FALSE(tls_connect(srv, c.ca(), "", "", &s));
  EXPECT_EQ(s, NATS_SSL_ERROR) << status_text(s);
  EXPECT_NE(status_text(s).find("certificate has expired"), std::string::npos) << status_text(s);
}

TEST(Tls, VerifyAndMapNamesTheUserByCertificate) {
  const auto& c = test_certs();
  // alice is mapped by her SAN e-mail, bob by his subject (Go's RFC 2253 rendering); each
  // gets that user's permissions. A certificate naming nobody is refused.
  ServerProcess srv(with_config(tls_block("  ca_file: \"" + c.ca() + "\"\n  verify_and_map: true\n") + R"(
authorization {
  users = [
    { user: "alice@pylon.test", permissions: { publish: "alice.>", subscribe: ["alice.>", "_INBOX.>"] } }
    { user: "CN=bob,OU=Test,O=Pylon" }
  ]
}
)"));
  ASSERT_TRUE(srv.start());
  auto alice = tls_connect(srv, c.ca(), c.client_cert(), c.client_key());
  auto bob = tls_connect(srv, c.ca(), c.client2_cert(), c.client2_key());
  ASSERT_TRUE(alice && bob);
  expect_round_trip(alice.get(), alice.get(), "alice.ok");
  // alice may not publish outside alice.>: the server says so.
  ASSERT_EQ(natsConnection_PublishString(alice.get(), "bob.secret", "x"), NATS_OK);
  natsConnection_FlushTimeout(alice.get(), 2000);
  EXPECT_TRUE(srv.wait_for_log("Publish Violation - User \"alice@pylon.test\", Subject \"bob.secret\"", 5s))
      << srv.log();
  expect_round_trip(bob.get(), bob.get(), "anything");
}

TEST(Tls, VerifyAndMapRefusesAnUnmappedCertificate) {
  const auto& c = test_certs();
  ServerProcess srv(with_config(tls_block("  ca_file: \"" + c.ca() + "\"\n  verify_and_map: true\n") + R"(
authorization { users = [ { user: "someone-else" } ] }
)"));
  ASSERT_TRUE(srv.start());
  natsStatus s = NATS_OK;
  EXPECT_FALSE(tls_connect(srv, c.ca(), c.client_cert(), c.client_key(), &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << status_text(s);
  EXPECT_TRUE(srv.wait_for_log("authentication error", 5s)) << srv.log();
}

// A TLS client that the server waits for costs every other client nothing: one socket that
// sends nothing and one stuck mid-ClientHello, while a TLS client connects and round-trips.
TEST(Tls, AStuckHandshakeCostsAnotherClientNothingAndTimesOut) {
  constexpr auto kHandshakeTimeout = 1s;
  ServerProcess srv(with_config(tls_block("  timeout: 1\n")));
  ASSERT_TRUE(srv.start());
  RawClient silent = raw_connect(srv.port());  // each has read INFO
  RawClient half = raw_connect(srv.port());
  ASSERT_TRUE(half.send(std::string("\x16\x03\x01\x00\xc8\x01", 6)));  // a ClientHello that never ends
  auto started = Clock::now();

  auto a = tls_connect(srv, test_certs().ca());
  auto b = tls_connect(srv, test_certs().ca());
  ASSERT_TRUE(a && b);
  expect_round_trip(a.get(), b.get(), "not.blocked");

  EXPECT_TRUE(silent.expect_closed(kHandshakeTimeout * kTimeoutSlack));
  EXPECT_TRUE(half.expect_closed(kHandshakeTimeout * kTimeoutSlack));
  EXPECT_GE(Clock::now() - started, kHandshakeTimeout - 100ms) << "closed before the timeout";
  // The reference logs its timer's line or its read deadline's, whichever fires first.
  EXPECT_TRUE(srv.wait_for_log("TLS handshake", 5s)) << srv.log();
  if (!using_reference_server()) {
    EXPECT_TRUE(srv.wait_for_log("TLS handshake timeout", 5s)) << srv.log();
    EXPECT_NE(silent.buffer().find("-ERR 'Secure Connection - TLS Required'"), std::string::npos) << silent.buffer();
  }
}

TEST(Tls, MonitoringShowsTlsOfServerAndConnections) {
  int http = pick_free_port();
  ServerProcess mon(with_config(tls_block("  timeout: 3\n"), {"-m", std::to_string(http)}));
  ASSERT_TRUE(mon.start());
  auto nc = tls_connect(mon, test_certs().ca());
  ASSERT_TRUE(nc && flush(nc.get()));
  auto varz = http_get(http, "/varz");
  ASSERT_TRUE(varz && varz->status == 200);
  auto v = json_of(varz->body);
  EXPECT_EQ(v["tls_required"], true) << varz->body;
  EXPECT_FALSE(v.contains("tls_verify")) << varz->body;
  EXPECT_EQ(v["tls_timeout"].to_number<double>(), 3.0) << varz->body;
  auto connz = http_get(http, "/connz");
  ASSERT_TRUE(connz && connz->status == 200);
  auto conns = json_of(connz->body)["connections"].as_array();
  ASSERT_EQ(conns.size(), 1u) << connz->body;
  auto conn = conns[0].as_object();
  EXPECT_EQ(conn["tls_version"], "1.3") << connz->body;
  EXPECT_EQ(conn["tls_cipher_suite"], "TLS_AES_128_GCM_SHA256") << connz->body;
}

TEST(Tls, ABadCertificateFileStopsTheStart) {
  TempDir dir;
  std::string conf = dir.write("bad.conf", tls_block("", "/nonexistent/server.pem"));
  auto r = run_server_binary({"-c", conf});
  EXPECT_TRUE(r.exited && r.exit_code != 0) << r.output;
  EXPECT_NE(r.output.find("error parsing X509 certificate/key pair: open /nonexistent/server.pem: no such file or "
                          "directory"),
            std::string::npos)
      << r.output;
}

// Reload: new connections get the new certificate (clients must now trust the other CA);
// a connection made before keeps its session.
TEST(Tls, ReloadSwapsTheCertificateForNewConnections) {
  const auto& c = test_certs();
  ServerProcess srv(with_config(tls_block()));
  ASSERT_TRUE(srv.start());
  auto before = tls_connect(srv, c.ca());
  ASSERT_TRUE(before);

  std::ofstream(srv.dir() + "/server.conf", std::ios::trunc) << tls_block("", c.wrong_ca_cert(), c.wrong_ca_key());
  ASSERT_EQ(::kill(srv.pid(), SIGHUP), 0);
  ASSERT_TRUE(srv.wait_for_log("Reloaded server configuration", 10s)) << srv.log();

  natsStatus s = NATS_OK;
  EXPECT_FALSE(tls_connect(srv, c.ca(), "", "", &s)) << "the old CA no longer vouches for the server";
  auto after = tls_connect(srv, c.other_ca());
  ASSERT_TRUE(after) << "a client trusting the new certificate's CA connects";
  expect_round_trip(before.get(), after.get(), "reload.kept");
}

// The hex SHA-256 of a certificate's SubjectPublicKeyInfo, as pinned_certs lists keys.
std::string key_id(const std::string& cert) {
  auto r = run_shell("openssl x509 -in '" + cert + "' -pubkey -noout | openssl pkey -pubin -outform der | sha256sum");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output.substr(0, 64);
}

// pinned_certs: only the listed client keys complete the handshake; a reload that drops a
// key disconnects its connected clients (Pylon; the reference checks them against the old
// list, so none goes).
TEST(Tls, PinnedCertsAdmitOnlyTheListedKeys) {
  const auto& c = test_certs();
  auto config = [&](const std::string& pinned) {
    return tls_block("  ca_file: \"" + c.ca() + "\"\n  verify: true\n  pinned_certs: [\"" + key_id(pinned) + "\"]\n");
  };
  ServerProcess srv(with_config(config(c.client_cert())));
  ASSERT_TRUE(srv.start());
  auto alice = tls_connect(srv, c.ca(), c.client_cert(), c.client_key());
  ASSERT_TRUE(alice && flush(alice.get()));
  natsStatus s = NATS_OK;
  EXPECT_FALSE(tls_connect(srv, c.ca(), c.client2_cert(), c.client2_key(), &s)) << "bob's key is not pinned";
  EXPECT_TRUE(srv.wait_for_log("TLS handshake error: certificate not pinned", 5s)) << srv.log();
  if (using_reference_server()) return;

  std::ofstream(srv.dir() + "/server.conf", std::ios::trunc) << config(c.client2_cert());
  ASSERT_EQ(::kill(srv.pid(), SIGHUP), 0);
  ASSERT_TRUE(srv.wait_for_log("Reloaded server configuration", 10s)) << srv.log();
  EXPECT_TRUE(srv.wait_for_log("Disconnect 1 clients due to pinned certs reload", 5s)) << srv.log();
  EXPECT_TRUE(wait_for([&] { return natsConnection_IsClosed(alice.get()); }, 5s)) << "alice's key was unpinned";
  auto bob = tls_connect(srv, c.ca(), c.client2_cert(), c.client2_key());
  EXPECT_TRUE(bob && flush(bob.get()));
}

// handshake_first (nats-server 2.10): TLS before INFO. libnats 3.4 cannot do it, so a
// client of OpenSSL's through Asio does: it handshakes at once and reads INFO over TLS.
TEST(Tls, HandshakeFirstSendsInfoOverTls) {
  SKIP_IF_REFERENCE("handshake_first is nats-server 2.10's; the reference here is 2.9");
  namespace asio = boost::asio;
  ServerProcess srv(with_config(tls_block("  handshake_first: true\n")));
  ASSERT_TRUE(srv.start());
  // A plaintext client waiting for INFO gets none.
  RawClient plain;
  ASSERT_TRUE(plain.connect(srv.port()));
  EXPECT_FALSE(plain.read_line(300ms)) << "no INFO before the handshake";

  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(test_certs().ca());
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<asio::ip::tcp::socket> tls(io, ctx);
  tls.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(srv.port())});
  boost::system::error_code ec;
  tls.handshake(asio::ssl::stream_base::client, ec);
  ASSERT_FALSE(ec) << ec.message();
  asio::streambuf buf;
  asio::read_until(tls, buf, "\r\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  std::string line(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
  EXPECT_EQ(line.rfind("INFO {", 0), 0u) << line;
  EXPECT_NE(line.find("\"tls_required\":true"), std::string::npos) << line;
  asio::write(tls, asio::buffer(std::string("CONNECT {\"verbose\":false}\r\nPING\r\n")), ec);
  ASSERT_FALSE(ec);
  buf.consume(buf.size());
  asio::read_until(tls, buf, "PONG\r\n", ec);
  EXPECT_FALSE(ec) << ec.message();
}

// Many records per read and messages of many records: the server opens every whole record a
// read brings, more than its read buffer holds at once, and keeps the partial ones for later.
TEST(Tls, LargeAndManyMessagesCrossTlsIntact) {
  ServerProcess srv(with_config(tls_block()));
  ASSERT_TRUE(srv.start());
  auto pub = tls_connect(srv, test_certs().ca());
  auto subc = tls_connect(srv, test_certs().ca());
  ASSERT_TRUE(pub && subc);
  auto sub = sub_sync(subc.get(), "tls.bulk");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(subc.get()));
  constexpr int kLarge = 40;
  constexpr int kSmall = 5000;
  // Each payload is its index's pattern, so a byte out of place shows.
  auto payload = [](int i, size_t size) {
    std::string p(size, '\0');
    for (size_t k = 0; k < size; ++k) p[k] = static_cast<char>('a' + (i * 7 + k) % 26);
    return p;
  };
  for (int i = 0; i < kLarge + kSmall; ++i) {
    std::string p = payload(i, i < kLarge ? 200 * 1024 + i : 16 + i % 100);
    ASSERT_EQ(natsConnection_Publish(pub.get(), "tls.bulk", p.data(), static_cast<int>(p.size())), NATS_OK);
  }
  ASSERT_TRUE(flush(pub.get()));
  for (int i = 0; i < kLarge + kSmall; ++i) {
    natsMsg* m = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&m, sub.get(), 10000), NATS_OK) << "message " << i;
    NatsMsg msg(m);
    std::string want = payload(i, i < kLarge ? 200 * 1024 + i : 16 + i % 100);
    ASSERT_EQ(to_recv(m).data, want) << "message " << i;
  }
}

// A raw TLS client, as a 2.9 client connects: the INFO in plaintext, then the handshake
// (the server's certificate verified against the test CA). Empty `error` on success.
struct RawTls {
  boost::asio::io_context io;
  boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_client};
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream{io, ctx};
  std::string error;

  explicit RawTls(int port) {
    namespace asio = boost::asio;
    ctx.load_verify_file(test_certs().ca());
    stream.set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    stream.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    asio::streambuf info;
    if (!ec) asio::read_until(stream.next_layer(), info, "\r\n", ec);
    if (!ec) stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec) error = ec.message();
  }
};

// Records that are all there when the server wakes (it was stopped while they arrived), more
// of them than its read buffer holds (it stops at 64 KiB with records left in OpenSSL's
// buffer and in the socket): every one is opened, and the PING at the end answered, though
// no byte arrives after the server woke.
TEST(Tls, RecordsAlreadyReadAreOpenedWithoutWaitingForMore) {
  namespace asio = boost::asio;
  ServerProcess srv(with_config(tls_block()));
  ASSERT_TRUE(srv.start());
  RawTls c(srv.port());
  ASSERT_EQ(c.error, "");
  auto& tls = c.stream;
  boost::system::error_code ec;
  asio::streambuf buf;
  asio::write(tls, asio::buffer(std::string("CONNECT {\"verbose\":false}\r\nPING\r\n")), ec);
  ASSERT_FALSE(ec);
  asio::read_until(tls, buf, "PONG\r\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  buf.consume(buf.size());

  // 96 KiB of protocol (more than the 64 KiB the server decrypts per turn), then a PING.
  std::string payload(96 * 1024, 'x');
  std::string batch = "PUB tls.nobody " + std::to_string(payload.size()) + "\r\n" + payload + "\r\nPING\r\n";
  ASSERT_EQ(::kill(srv.pid(), SIGSTOP), 0);
  // The kernel's loopback buffers take it all while the server sleeps.
  asio::write(tls, asio::buffer(batch), ec);
  ::kill(srv.pid(), SIGCONT);
  ASSERT_FALSE(ec) << ec.message();
  bool pong = false;
  asio::async_read_until(tls, buf, "PONG\r\n", [&](const boost::system::error_code& e, size_t) { pong = !e; });
  c.io.run_for(10s);
  EXPECT_TRUE(pong) << "no PONG: records the server had already read were left unopened";
}

// A connection the server ends after telling the client why (here an authorization
// violation) ends with TLS's close_notify, as Go's tls.Conn.Close sends it: the client sees an
// orderly end of the stream, not a truncated one.
TEST(Tls, AClosedConnectionEndsWithCloseNotify) {
  namespace asio = boost::asio;
  ServerProcess srv(with_config(tls_block() + "authorization { user: a, password: b }\n"));
  ASSERT_TRUE(srv.start());
  RawTls c(srv.port());
  ASSERT_EQ(c.error, "");
  auto& tls = c.stream;
  boost::system::error_code ec;
  asio::write(tls, asio::buffer(std::string("CONNECT {\"user\":\"a\",\"pass\":\"wrong\"}\r\nPING\r\n")), ec);
  ASSERT_FALSE(ec);
  asio::streambuf buf;
  asio::read_until(tls, buf, "\r\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  std::string line(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
  EXPECT_EQ(line, "-ERR 'Authorization Violation'\r\n");
  buf.consume(buf.size());
  char rest[64];
  size_t n = tls.read_some(asio::buffer(rest), ec);
  EXPECT_EQ(n, 0u);
  // Asio reports close_notify as eof; an end without it as stream_truncated.
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
}

}  // namespace
}  // namespace pylon::it
