// A peer's bad CONNECT or INFO JSON costs that peer its own connection and nothing else
// (issue 10: one route INFO with "port":1.5 ended the whole server). What the reference does,
// checked on nats-server 2.9.10 and followed here: it logs Go's json.Unmarshal error as
// "<conn> - json: cannot unmarshal ...", sends no -ERR, and closes the connection as a
// protocol violation. These tests run against the reference too (PYLON_TEST_SERVER=nats-server).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.h"

namespace pylon::it {
namespace {

constexpr const char* kQuiet = R"({"verbose":false,"pedantic":false})";

// A server with a cluster listener and no route authorization.
class BadJson : public ::testing::Test {
 protected:
  void SetUp() override {
    route_port = pick_free_port();
    server = std::make_unique<ServerProcess>(
        with_args({"--cluster", "nats://127.0.0.1:" + std::to_string(route_port)}));
    ASSERT_TRUE(server->start());
  }

  // Sends `bytes` right after the greeting and expects the server to close the connection
  // without a word (no -ERR, no PONG); returns the lines it did send after the INFO.
  std::vector<std::string> send_and_expect_silent_close(int port, const std::string& bytes) {
    RawClient c;
    EXPECT_TRUE(c.connect(port));
    EXPECT_TRUE(c.read_info());
    EXPECT_TRUE(c.send(bytes));
    auto lines = c.read_all_lines(5s);
    EXPECT_TRUE(c.peer_closed()) << "the connection stayed open after: " << bytes;
    for (const auto& l : lines) {
      EXPECT_TRUE(l.empty() || l.rfind("INFO ", 0) == 0) << "unexpected line " << l << " after: " << bytes;
    }
    return lines;
  }

  // A subscriber from before the bad peer and a publisher from after it: the server is up,
  // accepts clients and delivers.
  void expect_server_serves(RawClient& subscriber) {
    ASSERT_TRUE(server->running()) << server->log();
    RawClient pub = raw_connect(server->port());
    std::string got;
    ASSERT_TRUE(pub.handshake(kQuiet, &got)) << got;
    ASSERT_TRUE(pub.send("PUB bad.json.canary 2\r\nok\r\nPING\r\n"));
    ASSERT_TRUE(pub.read_until("PONG\r\n"));
    auto msg = subscriber.read_until("ok\r\n", 5s);
    ASSERT_TRUE(msg) << "the subscriber got nothing; buffer: " << subscriber.buffer();
    EXPECT_NE(msg->find("MSG bad.json.canary 1 2\r\n"), std::string::npos) << *msg;
  }

  RawClient subscribe() {
    RawClient sub = raw_connect(server->port());
    std::string got;
    EXPECT_TRUE(sub.handshake(kQuiet, &got)) << got;
    EXPECT_TRUE(sub.send("SUB bad.json.canary 1\r\n"));
    EXPECT_TRUE(sub.ping_pong());
    return sub;
  }

  int route_port = 0;
  std::unique_ptr<ServerProcess> server;
};

TEST_F(BadJson, ARouteInfoWithAFractionalPortClosesOnlyThatRoute) {
  RawClient sub = subscribe();
  // The exact line of issue 10.
  send_and_expect_silent_close(
      route_port, "CONNECT {\"verbose\":false,\"name\":\"NX\",\"cluster\":\"c\"}\r\nINFO {\"server_id\":\"NX\",\"port\":1.5}\r\n");
  EXPECT_TRUE(server->wait_for_log("json: cannot unmarshal number 1.5 into Go struct field Info.port of type int", 5s))
      << server->log();
  expect_server_serves(sub);
}

TEST_F(BadJson, RouteConnectsWithWrongTypesCloseOnlyThatRoute) {
  RawClient sub = subscribe();
  struct Case {
    std::string connect, log;
  };
  const std::vector<Case> cases = {
      // Read as a client's CONNECT first (the reference's ClientOpts), then as a route's.
      {R"({"verbose":"x","name":"NX","cluster":"c"})",
       "json: cannot unmarshal string into Go struct field ClientOpts.verbose of type bool"},
      {R"({"verbose":false,"name":"NX","cluster":5})",
       "json: cannot unmarshal number into Go struct field connectInfo.cluster of type string"},
      {R"({"verbose":false,"name":"NX",})", "invalid character '}' looking for beginning of object key string"},
  };
  for (const auto& c : cases) {
    send_and_expect_silent_close(route_port, "CONNECT " + c.connect + "\r\n");
    EXPECT_TRUE(server->wait_for_log(c.log, 5s)) << c.connect << "\n" << server->log();
  }
  expect_server_serves(sub);
}

TEST_F(BadJson, ClientConnectsWithWrongTypesCloseOnlyThatClient) {
  RawClient sub = subscribe();
  struct Case {
    std::string connect, log;
  };
  const std::vector<Case> cases = {
      {R"({"verbose":"x"})", "json: cannot unmarshal string into Go struct field ClientOpts.verbose of type bool"},
      {R"({"protocol":1e400})", "json: cannot unmarshal number 1e400 into Go struct field ClientOpts.protocol of type int"},
      {R"({"protocol":1.5})", "json: cannot unmarshal number 1.5 into Go struct field ClientOpts.protocol of type int"},
      {R"({"name":5,"verbose":false})", "json: cannot unmarshal number into Go struct field ClientOpts.name of type string"},
      {R"({"verbose":false,})", "invalid character '}' looking for beginning of object key string"},
      {R"([1])", "json: cannot unmarshal array into Go value of type server.ClientOpts"},
  };
  for (const auto& c : cases) {
    send_and_expect_silent_close(server->port(), "CONNECT " + c.connect + "\r\nPING\r\n");
    EXPECT_TRUE(server->wait_for_log(c.log, 5s)) << c.connect << "\n" << server->log();
  }
  expect_server_serves(sub);
}

// Go decodes `null` into a struct as nothing at all: the reference takes CONNECT null as a
// CONNECT with every default (verbose on, so +OK).
TEST_F(BadJson, ConnectNullIsAConnectWithTheDefaults) {
  RawClient c = raw_connect(server->port());
  ASSERT_TRUE(c.send("CONNECT null\r\nPING\r\n"));
  auto first = c.read_line();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "+OK");
  auto second = c.read_line();
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, "PONG");
}

}  // namespace
}  // namespace pylon::it
