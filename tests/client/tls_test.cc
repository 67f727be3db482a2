// TLS: tls:// URLs, the upgrade after INFO when the server requires TLS, mutual TLS,
// certificates that must be refused (wrong CA, expired, wrong host name), the insecure
// option that lets them through, CA and client certificate from memory, reconnecting
// across a TLS cluster, and handshake_first. Certificates: tests/common/make-test-certs.sh.
//
// Every test runs against each server kind, given the same
// `tls { cert_file, key_file, ca_file, verify }` block.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "../common/test_certs.h"
#include "test_support.h"

#ifndef PYLON_TOOL_BIN
#define PYLON_TOOL_BIN "pylon"
#endif
#ifndef PYLON_PUBLISHER_BIN
#define PYLON_PUBLISHER_BIN "publisher"
#endif

namespace pylon::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

const pylon::testing::TestCerts& certs() { return pylon::testing::test_certs(); }
// DNS:localhost only: right when dialled as localhost, a mismatch as 127.0.0.1.
std::string localhost_only_cert() { return certs().path("localhost-only.pem"); }
std::string localhost_only_key() { return certs().path("localhost-only-key.pem"); }

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A server requiring TLS with `cert` (server.pem unless said otherwise).
ServerSetup tls_setup(const std::string& cert = "", const std::string& key = "") {
  ServerSetup s;
  s.tls_cert = cert.empty() ? certs().server_cert() : cert;
  s.tls_key = key.empty() ? certs().server_key() : key;
  return s;
}

std::string error_of(Connection& c) {
  try {
    c.connect();
  } catch (const Exception& e) {
    return std::string(e.code().message()) + "|" + e.what();
  }
  return "connected";
}

// Connects, and returns the exception connect() threw (fails the test if it connected).
Exception connect_error(Connection& c) {
  try {
    c.connect();
  } catch (const Exception& e) {
    return e;
  }
  ADD_FAILURE() << "connected";
  return Exception(Error::kOk, "");
}

// A publish reaches a subscription and a request gets its reply, over `c`.
void expect_round_trip(Connection& c) {
  Inbox inbox;
  auto sub = c.subscribe("tls.subj", inbox.handler());
  auto svc = c.subscribe("tls.svc", [&c](Message& m) { c.publish(m.reply, "re: " + m.data); });
  c.flush();
  c.publish("tls.subj", "hello over TLS");
  ASSERT_TRUE(inbox.wait_size(1, 5s));
  EXPECT_EQ(inbox.messages()[0].data, "hello over TLS");
  Message reply = c.request("tls.svc", "ping", 5s);
  EXPECT_EQ(reply.data, "re: ping");
}

class TlsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  }
  std::unique_ptr<TestServer> start(ServerSetup s) {
    auto server = make_server(GetParam(), std::move(s));
    server->start();
    return server;
  }
  // Options trusting the test CA (which makes every server of the pool TLS, as nats.go).
  static ClientOptions trusting(const std::string& url) {
    ClientOptions o = client_options(url);
    o.tls.ca_file = certs().ca();
    return o;
  }
};

TEST_P(TlsTest, ConnectsOverATlsUrl) {
  auto server = start(tls_setup());
  Connection c(trusting(server->url("tls", "localhost")));
  c.connect();
  EXPECT_EQ(c.connected_url(), server->url("tls", "localhost"));
  EXPECT_TRUE(c.server_info().tls_required);
  expect_round_trip(c);
}

TEST_P(TlsTest, EverythingPublishedBeforeCloseArrives) {
  auto server = start(tls_setup());
  expect_every_publish_before_close_arrives(trusting(server->url("tls", "localhost")), 10000, 2);
}

TEST_P(TlsTest, UpgradesAfterInfoWhenTheServerRequiresTls) {
  auto server = start(tls_setup());
  // No TLS option asks for TLS here: the server's INFO does. By default the server's
  // certificate is verified, against the system's CAs, which do not know the test CA.
  {
    Connection c(client_options(server->url("nats", "localhost")));
    Exception e = connect_error(c);
    EXPECT_EQ(e.code(), Error::kTlsVerification) << e.what();
    EXPECT_NE(std::string(e.what()).find("unable to get local issuer certificate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(server->url("nats", "localhost")), std::string::npos) << e.what();
  }
  // Skipping verification (and nothing else) shows the upgrade itself.
  ClientOptions o = client_options(server->url("nats", "localhost"));
  o.tls.insecure_skip_verify = true;
  Connection c(o);
  c.connect();
  EXPECT_EQ(c.connected_url(), server->url("nats", "localhost")) << "the URL said nats://; the server asked for TLS";
  expect_round_trip(c);
}

TEST_P(TlsTest, TrustsACaGivenInMemory) {
  auto server = start(tls_setup());
  ClientOptions o = client_options(server->url("nats", "127.0.0.1"));
  o.tls.ca_pem = read_file(certs().ca());
  ASSERT_NE(o.tls.ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  Connection c(o);
  c.connect();
  expect_round_trip(c);
}

TEST_P(TlsTest, MutualTlsWithAClientCertificate) {
  ServerSetup s = tls_setup();
  s.tls_ca = certs().ca();
  s.tls_verify = true;
  auto server = start(s);
  const std::string url = server->url("tls", "localhost");
  {  // from files
    ClientOptions o = trusting(url);
    o.tls.cert_file = certs().client_cert();
    o.tls.key_file = certs().client_key();
    Connection c(o);
    c.connect();
    EXPECT_TRUE(c.server_info().tls_verify);
    expect_round_trip(c);
  }
  {  // from memory
    ClientOptions o = trusting(url);
    o.tls.cert_pem = read_file(certs().client_cert());
    o.tls.key_pem = read_file(certs().client_key());
    Connection c(o);
    EXPECT_EQ(error_of(c), "connected");
  }
  {  // no certificate: the server refuses us with an alert, and the error says so: Go's TLS
     // sends "bad certificate", OpenSSL's (TLS 1.3) "certificate required"; when the server's
     // reset destroyed the alert, the error asks whether it refused our certificate
    Connection c(trusting(url));
    Exception e = connect_error(c);
    EXPECT_EQ(e.code(), Error::kTlsHandshake) << e.what();
    std::string what = e.what();
    EXPECT_TRUE(what.find("bad certificate") != std::string::npos ||
                what.find("certificate required") != std::string::npos ||
                what.find("refuse our certificate") != std::string::npos)
        << what;
  }
  {  // a certificate from a CA the server does not trust
    ClientOptions o = trusting(url);
    o.tls.cert_file = certs().wrong_client_cert();
    o.tls.key_file = certs().wrong_client_key();
    Connection c(o);
    Exception e = connect_error(c);
    EXPECT_EQ(e.code(), Error::kTlsHandshake) << e.what();
  }
}

TEST_P(TlsTest, ACertificateFromAnotherCaIsRefused) {
  auto server = start(tls_setup(certs().wrong_ca_cert(), certs().wrong_ca_key()));
  Connection c(trusting(server->url("tls", "localhost")));
  Exception e = connect_error(c);
  EXPECT_EQ(e.code(), Error::kTlsVerification) << e.what();
  EXPECT_NE(std::string(e.what()).find("unable to get local issuer certificate"), std::string::npos) << e.what();
  EXPECT_FALSE(c.is_connected());
}

TEST_P(TlsTest, AnExpiredCertificateIsRefused) {
  auto server = start(tls_setup(certs().expired_cert(), certs().expired_key()));
  Connection c(trusting(server->url("tls", "localhost")));
  Exception e = connect_error(c);
  EXPECT_EQ(e.code(), Error::kTlsVerification) << e.what();
  EXPECT_NE(std::string(e.what()).find("certificate has expired"), std::string::npos) << e.what();
}

TEST_P(TlsTest, ACertificateForAnotherHostIsRefused) {
  auto server = start(tls_setup(localhost_only_cert(), localhost_only_key()));
  Connection c(trusting(server->url("tls", "127.0.0.1")));
  Exception e = connect_error(c);
  EXPECT_EQ(e.code(), Error::kTlsVerification) << e.what();
  EXPECT_NE(std::string(e.what()).find("IP address mismatch"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(server->url("tls", "127.0.0.1")), std::string::npos) << e.what();
}

TEST_P(TlsTest, SkippingVerificationLetsEveryBadCertificateThrough) {
  for (auto [cert, key] : {std::pair{certs().wrong_ca_cert(), certs().wrong_ca_key()},
                           std::pair{certs().expired_cert(), certs().expired_key()},
                           std::pair{localhost_only_cert(), localhost_only_key()}}) {
    auto server = start(tls_setup(cert, key));
    ClientOptions o = trusting(server->url("tls", "127.0.0.1"));
    o.tls.insecure_skip_verify = true;
    Connection c(o);
    c.connect();
    expect_round_trip(c);
  }
}

TEST_P(TlsTest, ReconnectsAcrossATlsClusterVerifyingEachServer) {
  ServerSetup sa = tls_setup();
  sa.cluster = true;
  auto a = start(sa);
  ServerSetup sb = tls_setup();
  sb.cluster = true;
  sb.routes = {a->cluster_port()};
  auto b = start(sb);

  // Only A is given, by name; B is learnt from INFO connect_urls (as 127.0.0.1:port) and
  // must be dialled with TLS and verified against its own host, 127.0.0.1.
  ClientOptions o = trusting(a->url("tls", "localhost"));
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  const std::string b_url = b->url("tls", "127.0.0.1");
  ASSERT_TRUE(wait_for(
      [&] {
        auto s = c.servers();
        return std::find(s.begin(), s.end(), b_url) != s.end();
      },
      15s))
      << "B's URL reaches the client: " << ::testing::PrintToString(c.servers());
  Inbox inbox;
  auto sub = c.subscribe("tls.cluster", inbox.handler());
  c.flush();

  a->stop();
  ASSERT_TRUE(wait_for([&] { return ev.reconnected >= 1; }, 15s)) << ::testing::PrintToString(ev.log());
  EXPECT_EQ(c.connected_url(), b_url);
  ClientOptions po = trusting(b->url("tls", "localhost"));
  Connection pub(po);
  pub.connect();
  pub.publish("tls.cluster", "via B");
  pub.flush();
  ASSERT_TRUE(inbox.wait_size(1)) << "the subscription was replayed over TLS on B";
  EXPECT_EQ(inbox.messages()[0].data, "via B");
}

TEST_P(TlsTest, EachServerOfThePoolIsVerifiedAgainstItsOwnHost) {
  // One server, in the pool twice: as 127.0.0.1 (which its certificate does not name)
  // and as localhost (which it does). Each dial is checked against the host it dialled.
  auto server = start(tls_setup(localhost_only_cert(), localhost_only_key()));
  const std::string by_ip = server->url("tls", "127.0.0.1"), by_name = server->url("tls", "localhost");
  ClientOptions o = trusting(by_ip);
  o.servers.push_back(by_name);
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();  // 127.0.0.1 is refused, localhost is taken
  EXPECT_EQ(c.connected_url(), by_name);

  // Reconnecting walks the pool from the entry after the lost one: 127.0.0.1 first,
  // refused again, then localhost.
  server->stop();
  ASSERT_TRUE(wait_for([&] { return ev.disconnected >= 1; }, 10s));
  server->start(server->port());
  ASSERT_TRUE(wait_for([&] { return ev.reconnected >= 1; }, 15s)) << ::testing::PrintToString(ev.log());
  EXPECT_EQ(c.connected_url(), by_name);
  expect_round_trip(c);
}

TEST_P(TlsTest, ReconnectAttemptsVerifyTheServer) {
  auto server = start(tls_setup(localhost_only_cert(), localhost_only_key()));
  ClientOptions o = trusting(server->url("tls", "127.0.0.1"));
  o.retry_on_failed_connect = true;  // the first attempt fails; the reconnect loop goes on
  o.max_reconnects = 2;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  ASSERT_TRUE(wait_for([&] { return ev.closed >= 1; }, 15s)) << ::testing::PrintToString(ev.log());
  EXPECT_EQ(ev.reconnected, 0);
  ErrorInfo last = c.last_error();
  EXPECT_EQ(last, Error::kNoServers) << last.message;
  EXPECT_NE(last.message.find("IP address mismatch"), std::string::npos) << last.message;
}

TEST_P(TlsTest, HandshakeFirstFailsClearlyAgainstAServerThatSendsInfoFirst) {
  // nats-server 2.9 (and Pylon until it has handshake_first) sends INFO in plain text.
  auto server = start(tls_setup());
  ClientOptions o = trusting(server->url("tls", "localhost"));
  o.tls.handshake_first = true;
  Connection c(o);
  Exception e = connect_error(c);
  EXPECT_EQ(e.code(), Error::kTlsHandshake) << e.what();
  EXPECT_NE(std::string(e.what()).find("handshake_first"), std::string::npos) << e.what();
}

TEST_P(TlsTest, TheToolsAndExamplesTakeTheTlsFlags) {
  ServerSetup s = tls_setup();
  s.tls_ca = certs().ca();
  s.tls_verify = true;  // mutual TLS: every program needs --tlscert and --tlskey too
  auto server = start(s);
  const std::string url = server->url("tls", "localhost");
  const std::vector<std::string> tls = {"--tlscacert", certs().ca(), "--tlscert", certs().client_cert(),
                                        "--tlskey", certs().client_key()};
  auto with_tls = [&](std::vector<std::string> args) {
    args.insert(args.end(), tls.begin(), tls.end());
    return args;
  };
  auto run = [](std::vector<std::string> args) {
    Process p(std::move(args), "tool");
    int rc = p.wait(30s);
    return std::pair{rc, p.output()};
  };

  Process sub(with_tls({PYLON_TOOL_BIN, "sub", "-s", url, "tls.tool", "--count", "2", "--raw"}), "sub");
  ASSERT_TRUE(sub.wait_output("Listening on \"tls.tool\"")) << sub.output();
  auto [rc, out] = run(with_tls({PYLON_TOOL_BIN, "pub", "-s", url, "tls.tool", "from pylon pub"}));
  EXPECT_EQ(rc, 0) << out;
  // The example program, with Go-style flags (-tlscacert ...), against the same server.
  auto [prc, pout] = run(with_tls({PYLON_PUBLISHER_BIN, "-servers", url, "-subj", "tls.tool", "-count", "1"}));
  EXPECT_EQ(prc, 0) << pout;
  EXPECT_NE(pout.find("Connected to " + url), std::string::npos) << pout;
  EXPECT_EQ(sub.wait(10s), 0) << sub.output();
  EXPECT_NE(sub.output().find("from pylon pub\n"), std::string::npos) << sub.output();
  EXPECT_NE(sub.output().find(" Golang 0\n"), std::string::npos) << sub.output();

  auto [brc, bout] = run(with_tls({PYLON_TOOL_BIN, "bench", "tls.bench", "-s", url, "--pub", "1", "--sub", "1",
                                   "--msgs", "2000", "--size", "64", "--no-progress"}));
  EXPECT_EQ(brc, 0) << bout;
  EXPECT_EQ(bout.find("INCOMPLETE"), std::string::npos) << bout;

  // Without a client certificate the server refuses it, and the tool says it was TLS.
  auto [frc, fout] = run({PYLON_TOOL_BIN, "pub", "-s", url, "--tlscacert", certs().ca(), "tls.tool", "x"});
  EXPECT_EQ(frc, 1) << fout;
  EXPECT_NE(fout.find("TLS handshake failed"), std::string::npos) << fout;
}

INSTANTIATE_TEST_SUITE_P(Servers, TlsTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

// Servers without TLS: a connection that requires TLS refuses them (no silent plaintext).
class PlainServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  }
};

TEST_P(PlainServerTest, ATlsUrlRefusesAServerWithoutTls) {
  auto server = make_server(GetParam());
  server->start();
  for (bool by_url : {true, false}) {
    ClientOptions o = client_options(server->url(by_url ? "tls" : "nats", "127.0.0.1"));
    if (!by_url) o.tls.ca_file = certs().ca();  // a CA asks for TLS too, as in nats.go
    Connection c(o);
    Exception e = connect_error(c);
    EXPECT_EQ(e.code(), Error::kTlsNotSupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not offer TLS"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Servers, PlainServerTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

TEST(TlsOptions, BadCertificatesAndKeysFailWhenTheConnectionIsMade) {
  auto error = [](const std::function<void(TlsOptions&)>& set) -> std::string {
    ClientOptions o = client_options("tls://localhost:4222");
    set(o.tls);
    try {
      Connection c(o);
    } catch (const Exception& e) {
      EXPECT_EQ(e.code(), Error::kInvalidArgument) << e.what();
      return e.what();
    }
    return "accepted";
  };
  std::string e = error([](TlsOptions& t) { t.ca_file = "/nonexistent/ca.pem"; });
  EXPECT_NE(e.find("ca_file '/nonexistent/ca.pem'"), std::string::npos) << e;
  e = error([](TlsOptions& t) { t.ca_pem = "not a certificate"; });
  EXPECT_NE(e.find("ca_pem"), std::string::npos) << e;
  e = error([](TlsOptions& t) { t.cert_file = certs().client_cert(); });
  EXPECT_NE(e.find("needs its key"), std::string::npos) << e;
  e = error([](TlsOptions& t) {
    t.cert_file = certs().client_cert();
    t.key_file = certs().client2_key();
  });
  EXPECT_NE(e.find("key values mismatch"), std::string::npos) << e;
  EXPECT_EQ(error([](TlsOptions& t) {
              t.cert_file = certs().client_cert();
              t.key_pem = read_file(certs().client_key());
            }),
            "accepted");
}

// handshake_first against a server that has it: a TLS terminator we control, in front of
// a plaintext nats-server, that expects the ClientHello before anything else (as a 2.10
// server with handshake_first does) and sends the server's INFO only inside TLS.
class TlsFirstProxy {
 public:
  explicit TlsFirstProxy(int upstream_port) : upstream_(upstream_port), ssl_(asio::ssl::context::tls_server) {
    ssl_.use_certificate_chain_file(certs().server_cert());
    ssl_.use_private_key_file(certs().server_key(), asio::ssl::context::pem);
    port_ = free_port();
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)));
    acceptor_.listen();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsFirstProxy() {
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "tls://localhost:" + std::to_string(port_); }
  int handshakes() const { return handshakes_; }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::move(s)), asio::detached);
    }
  }
  asio::awaitable<void> serve(tcp::socket s) {
    auto tls = std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(s), ssl_);
    boost::system::error_code ec;
    co_await tls->async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    ++handshakes_;
    auto up = std::make_shared<tcp::socket>(io_);
    co_await up->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(upstream_)),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::co_spawn(io_, pump(*up, *tls, up, tls), asio::detached);
    co_await pump(*tls, *up, up, tls);
  }
  template <class From, class To>
  asio::awaitable<void> pump(From& from, To& to, std::shared_ptr<tcp::socket> keep_up,
                             std::shared_ptr<asio::ssl::stream<tcp::socket>> keep_tls) {
    char buf[16384];
    for (;;) {
      boost::system::error_code ec;
      size_t n = co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      co_await asio::async_write(to, asio::buffer(buf, n), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    boost::system::error_code ignored;
    keep_up->close(ignored);
    keep_tls->next_layer().close(ignored);
  }

  int upstream_;
  asio::io_context io_;
  asio::ssl::context ssl_;
  tcp::acceptor acceptor_{io_};
  int port_ = 0;
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

TEST(TlsHandshakeFirst, TlsBeforeInfoWithAServerThatExpectsIt) {
  if (!have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  auto server = make_nats_server();  // plaintext: the proxy in front of it does the TLS
  server->start();
  TlsFirstProxy proxy(server->port());

  ClientOptions o = client_options(proxy.url());
  o.tls.ca_file = certs().ca();
  o.tls.handshake_first = true;
  Connection c(o);
  c.connect();
  EXPECT_EQ(proxy.handshakes(), 1);
  expect_round_trip(c);

  // Without handshake_first the client waits for an INFO that only comes after a
  // ClientHello, and the server side waits for that ClientHello: the connect times out.
  ClientOptions late = client_options(proxy.url());
  late.tls.ca_file = certs().ca();
  late.connect_timeout = 500ms;
  Connection d(late);
  Exception e = connect_error(d);
  EXPECT_EQ(e.code(), Error::kNoServers) << e.what();
  EXPECT_NE(std::string(e.what()).find("timeout"), std::string::npos) << e.what();
}

}  // namespace
}  // namespace pylon::test
