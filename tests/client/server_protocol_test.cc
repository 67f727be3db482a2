// The client against what real servers say and do on the wire: the CONNECT it sends,
// keepalive PINGs in both directions, a stream split at every byte, permission and
// payload limits, a server that freezes. (TLS is tls_test.cc.) Each case runs against
// an embedded Pylon server and nats-server where both can produce it; a WireTap between
// client and server shows the bytes exchanged without faking either end. (What no real
// server does on demand is in fake_server_test.cc.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <boost/json.hpp>

#include "test_support.h"
#include "wire_tap.h"

namespace pylon::test {
namespace {

namespace json = boost::json;

class ServerProtocolTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  }
  std::unique_ptr<TestServer> start(ServerSetup s = {}) {
    auto srv = make_server(GetParam(), std::move(s));
    srv->start();
    return srv;
  }
};

// The JSON of the first CONNECT in what the client sent.
json::object connect_json(const std::string& from_client) {
  auto b = from_client.find("CONNECT ");
  auto e = from_client.find("\r\n", b);
  if (b == std::string::npos || e == std::string::npos) {
    ADD_FAILURE() << "no CONNECT in: " << from_client;
    return {};
  }
  return json::parse(from_client.substr(b + 8, e - b - 8)).as_object();
}

TEST_P(ServerProtocolTest, CONNECTCarriesTheOptionsAndTheServerAcceptsThem) {
  ServerSetup s;
  s.user = "u";
  s.password = "p";
  auto server = start(s);
  WireTap tap(server->port());
  ClientOptions o = client_options(tap.url());
  o.name = "wire-test";
  o.user = "u";
  o.password = "p";
  o.echo = false;
  Connection c(o);
  c.connect();
  EXPECT_TRUE(c.is_connected()) << "the server took the credentials";

  json::object j = connect_json(tap.from_client());
  EXPECT_EQ(j["name"], "wire-test");
  EXPECT_EQ(j["user"], "u");
  EXPECT_EQ(j["pass"], "p");
  EXPECT_EQ(j["echo"], false);
  EXPECT_EQ(j["verbose"], false);
  EXPECT_EQ(j["pedantic"], false);
  EXPECT_EQ(j["headers"], true);
  EXPECT_EQ(j["no_responders"], true);
  EXPECT_EQ(j["protocol"], 1);
  EXPECT_EQ(j["lang"], "cpp");
  EXPECT_TRUE(j.contains("version"));
  EXPECT_FALSE(j.contains("auth_token")) << "no token was given";
}

TEST_P(ServerProtocolTest, ClientPingsAreAnsweredAndKeepTheConnection) {
  auto server = start();
  WireTap tap(server->port());
  ClientOptions o = client_options(tap.url());
  // A keepalive PING every 100 ms, stale after 5 unanswered: each PING must be answered
  // (the PONGs are counted below), but a PONG a loaded machine delays has half a second.
  o.ping_interval = 100ms;
  o.max_pings_out = 5;
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  // The handshake's PING is one; then the keepalive PINGs, each answered.
  ASSERT_TRUE(wait_for([&] { return tap.count_from_client("PING\r\n") >= 8 && tap.count_from_server("PONG\r\n") >= 8; },
                       20s))
      << tap.from_client();
  EXPECT_EQ(ev.disconnected, 0) << testing::PrintToString(ev.log());
  EXPECT_TRUE(c.is_connected());
}

TEST_P(ServerProtocolTest, TheServersPingsAreAnswered) {
  ServerSetup s;
  // The server PINGs every 100 ms and cuts a client off after 5 unanswered: each PING must
  // be answered (the PONGs are counted below), but a PONG a loaded machine delays has half
  // a second.
  s.ping_interval = 100ms;
  s.ping_max = 5;
  auto server = start(s);
  WireTap tap(server->port());
  ClientOptions o = client_options(tap.url());
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  ASSERT_TRUE(wait_for([&] { return tap.count_from_server("PING\r\n") >= 4 && tap.count_from_client("PONG\r\n") >= 4; },
                       20s))
      << tap.from_server();
  EXPECT_EQ(ev.disconnected, 0) << testing::PrintToString(ev.log());
  EXPECT_TRUE(c.is_connected());
  EXPECT_EQ(tap.count_from_server("Stale Connection"), 0u);
}

TEST_P(ServerProtocolTest, MessagesSplitIntoSingleBytesArriveWhole) {
  auto server = start();
  WireTap tap(server->port(), /*bytewise_to_client=*/true);
  Connection c(client_options(tap.url()));
  c.connect();
  auto sub = c.subscribe_sync("split.>");
  c.flush();
  Connection pub(client_options(server->url()));
  pub.connect();
  pub.publish_request("split.a", "reply.x", "hello");
  Message with_headers;
  with_headers.subject = "split.b";
  with_headers.data = "hi";
  with_headers.headers.add("K", "v");
  pub.publish(with_headers);
  pub.flush();

  Message m1 = sub.next_msg(5s);
  EXPECT_EQ(m1.subject, "split.a");
  EXPECT_EQ(m1.reply, "reply.x");
  EXPECT_EQ(m1.data, "hello");
  Message m2 = sub.next_msg(5s);
  EXPECT_EQ(m2.subject, "split.b");
  EXPECT_EQ(m2.data, "hi");
  EXPECT_EQ(m2.headers.get("K"), "v");
  EXPECT_NE(tap.from_server().find("HMSG split.b"), std::string::npos) << "the headers came as HMSG";
}

TEST_P(ServerProtocolTest, PermissionsViolationIsAnAsyncErrorAndTheConnectionStays) {
  ServerSetup s;
  s.user = "u";
  s.password = "p";
  s.publish_deny = {"secret"};
  auto server = start(s);
  ClientOptions o = client_options(server->url());
  o.user = "u";
  o.password = "p";
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  c.publish("secret", "x");
  ASSERT_TRUE(wait_for([&] { return ev.async_errors == 1; }));
  ASSERT_FALSE(ev.errors().empty());
  EXPECT_EQ(ev.errors().at(0), Error::kPermissionsViolation) << ev.errors().at(0).message;
  EXPECT_NE(ev.errors().at(0).message.find("secret"), std::string::npos) << ev.errors().at(0).message;
  EXPECT_EQ(c.last_error(), Error::kPermissionsViolation);
  EXPECT_NO_THROW(c.flush(5s)) << "the connection stays up";
  EXPECT_TRUE(c.is_connected());
  EXPECT_EQ(ev.disconnected, 0);
}

TEST_P(ServerProtocolTest, TheServersMaxPayloadIsEnforcedBeforeSending) {
  ServerSetup s;
  s.max_payload = 1024;
  auto server = start(s);
  Connection c(client_options(server->url()));
  c.connect();
  EXPECT_EQ(c.max_payload(), 1024);
  EXPECT_EQ(c.server_info().max_payload, 1024);
  EXPECT_NO_THROW(c.publish("big", std::string(1024, 'x')));
  try {
    c.publish("big", std::string(1025, 'x'));
    FAIL() << "over max_payload";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kMaxPayload);
    EXPECT_NE(std::string(e.what()).find("1025 bytes > 1024"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(c.flush(5s)) << "nothing too large reached the server (it would have closed us)";
  EXPECT_TRUE(c.is_connected());
}

INSTANTIATE_TEST_SUITE_P(Servers, ServerProtocolTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

// ---- What only a server process can do: freeze, or require TLS (nats-server) ---------------

TEST(FrozenServer, UnansweredPingsMakeTheConnectionStale) {
  if (!have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  auto server = make_nats_server();
  server->start();
  ClientOptions o = client_options(server->url());
  o.ping_interval = 30ms;
  o.max_pings_out = 2;
  o.max_reconnects = 0;  // then close, so the cause stays visible
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  server->pause();  // the process keeps its sockets but answers nothing
  const bool stale = wait_for([&] { return ev.disconnected == 1; }, 10s);
  server->resume();
  ASSERT_TRUE(stale) << testing::PrintToString(ev.log());
  ASSERT_FALSE(ev.errors().empty());
  EXPECT_EQ(ev.errors().at(0), Error::kStaleConnection) << ev.errors().at(0).message;
  EXPECT_TRUE(wait_for([&] { return c.is_closed(); }));
}

TEST(FrozenServer, ConnectingToAFrozenServerTimesOut) {
  // The kernel still completes the TCP handshake (the listen backlog), but no INFO comes.
  if (!have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  auto server = make_nats_server();
  server->start();
  server->pause();
  ClientOptions o = client_options(server->url());
  o.connect_timeout = 200ms;
  Connection c(o);
  ErrorInfo got;
  try {
    c.connect();
  } catch (const Exception& e) {
    got = e.info();
  }
  server->resume();
  EXPECT_EQ(got, Error::kNoServers) << got.message;
  EXPECT_NE(got.message.find("timeout"), std::string::npos) << got.message;
  EXPECT_EQ(c.last_error(), Error::kTimeout) << c.last_error().message;
  EXPECT_FALSE(c.is_connected());
}

TEST(FrozenServer, FlushTimesOutAndTheConnectionRecovers) {
  if (!have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  auto server = make_nats_server();
  server->start();
  Connection c(client_options(server->url()));
  c.connect();
  server->pause();
  try {
    c.flush(100ms);
    FAIL() << "a frozen server answered the PING";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kTimeout) << e.what();
  }
  server->resume();
  EXPECT_NO_THROW(c.flush(5s)) << "once the server runs again, flushes complete";
  EXPECT_TRUE(c.is_connected());
}

}  // namespace
}  // namespace pylon::test
