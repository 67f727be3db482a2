// The client against a scripted server on a raw socket: what a real server rarely does
// on demand (stop answering PINGs, send -ERR, split every operation into single bytes)
// is done here byte by byte.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "test_support.h"

namespace pylon::test {
namespace {

// Accepts one client at a time on a loopback port; the test reads and writes raw bytes.
class FakeServer {
 public:
  FakeServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~FakeServer() {
    drop();
    ::close(listen_fd_);
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

  // Accepts the next client and sends INFO.
  bool accept(const std::string& extra_info = "") {
    drop();
    timeval tv{5, 0};
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    fd_ = ::accept(listen_fd_, nullptr, nullptr);
    if (fd_ < 0) return false;
    timeval rtv{0, 20000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof rtv);
    got_.clear();
    send("INFO {\"server_id\":\"FAKE\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"max_payload\":1024" +
         extra_info + "}\r\n");
    return true;
  }
  // The handshake's CONNECT and PING, answered with PONG.
  bool handshake() {
    if (!read_until("PING\r\n")) return false;
    hello_ = got_.substr(0, got_.find("PING\r\n"));
    consume_through("PING\r\n");
    send("PONG\r\n");
    return true;
  }
  // What the client sent before its handshake PING (its CONNECT).
  const std::string& hello() const { return hello_; }
  void send(const std::string& s) { ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  // Sends one byte per write.
  void send_bytewise(const std::string& s) {
    for (char c : s) {
      ::send(fd_, &c, 1, MSG_NOSIGNAL);
    }
  }
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    return wait_for(
        [&] {
          char buf[4096];
          ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
          if (n > 0) got_.append(buf, static_cast<size_t>(n));
          return got_.find(needle) != std::string::npos;
        },
        timeout);
  }
  void consume_through(const std::string& needle) {
    auto p = got_.find(needle);
    if (p != std::string::npos) got_.erase(0, p + needle.size());
  }
  const std::string& got() const { return got_; }
  void drop() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
  int port_ = 0;
  std::string got_;
  std::string hello_;
};

ClientOptions fake_options(const FakeServer& s) {
  ClientOptions o = client_options(s.url());
  o.reconnect_wait = 20ms;
  return o;
}

// Connects in the background while the fake server scripts the handshake.
std::unique_ptr<Connection> connect_to(FakeServer& server, ClientOptions o, const std::string& extra_info = "") {
  auto c = std::make_unique<Connection>(std::move(o));
  std::thread t([&] {
    if (server.accept(extra_info)) server.handshake();
  });
  c->connect();
  t.join();
  return c;
}

TEST(FakeServer, CONNECTCarriesTheOptions) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  o.name = "fake-test";
  o.user = "u";
  o.password = "p";
  o.echo = false;
  auto c = connect_to(server, o);
  const std::string& got = server.hello();
  EXPECT_NE(got.find("CONNECT {"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("name":"fake-test")"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("user":"u","pass":"p")"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("echo":false)"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("headers":true,"no_responders":true)"), std::string::npos) << got;
  EXPECT_NE(got.find(R"("lang":"cpp")"), std::string::npos) << got;
}

TEST(FakeServer, UnansweredPingsMakeTheConnectionStale) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  o.ping_interval = 30ms;
  o.max_pings_out = 2;
  o.max_reconnects = 0;  // then close, so last_error() keeps the cause
  Events ev;
  ev.attach(o);
  auto c = connect_to(server, o);
  ASSERT_TRUE(wait_for([&] { return ev.disconnected == 1; }, 5s));
  EXPECT_EQ(ev.errors().at(0), Error::kStaleConnection) << ev.errors().at(0).message;
}

TEST(FakeServer, AnsweredPingsKeepItAlive) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  o.ping_interval = 20ms;
  o.max_pings_out = 1;
  Events ev;
  ev.attach(o);
  auto c = connect_to(server, o);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(server.read_until("PING\r\n", 2s));
    server.consume_through("PING\r\n");
    server.send("PONG\r\n");
  }
  EXPECT_EQ(ev.disconnected, 0);
  EXPECT_TRUE(c->is_connected());
}

TEST(FakeServer, ServerPingsAreAnswered) {
  FakeServer server;
  auto c = connect_to(server, fake_options(server));
  server.send("PING\r\n");
  EXPECT_TRUE(server.read_until("PONG\r\n", 2s)) << server.got();
}

TEST(FakeServer, MessagesSplitIntoSingleBytesArriveWhole) {
  FakeServer server;
  auto c = connect_to(server, fake_options(server));
  auto sub = c->subscribe_sync("split.>");
  ASSERT_TRUE(server.read_until("SUB split.> 1\r\n"));
  server.send_bytewise("MSG split.a 1 reply.x 5\r\nhello\r\nHMSG split.b 1 18 20\r\nNATS/1.0\r\nK: v\r\n\r\nhi\r\n");
  Message m1 = sub.next_msg(2s);
  EXPECT_EQ(m1.subject, "split.a");
  EXPECT_EQ(m1.reply, "reply.x");
  EXPECT_EQ(m1.data, "hello");
  Message m2 = sub.next_msg(2s);
  EXPECT_EQ(m2.data, "hi");
  EXPECT_EQ(m2.headers.get("K"), "v");
}

TEST(FakeServer, PermissionsViolationIsAnAsyncErrorAndTheConnectionStays) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  Events ev;
  ev.attach(o);
  auto c = connect_to(server, o);
  server.send("-ERR 'Permissions Violation for Publish to \"secret\"'\r\n");
  ASSERT_TRUE(wait_for([&] { return ev.async_errors == 1; }));
  EXPECT_EQ(ev.errors().at(0), Error::kPermissionsViolation);
  EXPECT_NE(ev.errors().at(0).message.find("secret"), std::string::npos);
  EXPECT_TRUE(c->is_connected());
  EXPECT_EQ(c->last_error(), Error::kPermissionsViolation);
}

TEST(FakeServer, TheServersMaxPayloadIsEnforcedBeforeSending) {
  FakeServer server;
  auto c = connect_to(server, fake_options(server));
  EXPECT_EQ(c->max_payload(), 1024);
  try {
    c->publish("big", std::string(1025, 'x'));
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kMaxPayload);
    EXPECT_NE(std::string(e.what()).find("1025 bytes > 1024"), std::string::npos) << e.what();
  }
}

TEST(FakeServer, AsyncInfoAddsServersAndAnnouncesLameDuck) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  Events ev;
  ev.attach(o);
  auto c = connect_to(server, o);
  server.send("INFO {\"server_id\":\"FAKE\",\"proto\":1,\"headers\":true,\"max_payload\":1024,"
              "\"connect_urls\":[\"10.1.1.1:4222\",\"10.1.1.2:4222\"]}\r\n");
  ASSERT_TRUE(wait_for([&] { return ev.discovered == 1; }));
  EXPECT_EQ(c->discovered_servers(), (std::vector<std::string>{"nats://10.1.1.1:4222", "nats://10.1.1.2:4222"}));
  server.send("INFO {\"server_id\":\"FAKE\",\"proto\":1,\"headers\":true,\"max_payload\":1024,\"ldm\":true,"
              "\"connect_urls\":[\"10.1.1.2:4222\"]}\r\n");
  ASSERT_TRUE(wait_for([&] { return ev.lame_duck == 1; }));
  EXPECT_EQ(c->discovered_servers(), std::vector<std::string>{"nats://10.1.1.2:4222"}) << "10.1.1.1 left the cluster";
  EXPECT_EQ(ev.discovered, 1) << "nothing new the second time";
}

TEST(FakeServer, AuthorizationViolationOnConnectIsTyped) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  Connection c(o);
  std::thread t([&] {
    server.accept();
    server.read_until("PING\r\n");
    server.send("-ERR 'Authorization Violation'\r\n");
  });
  try {
    c.connect();
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kAuthorization) << e.what();
  }
  t.join();
}

TEST(FakeServer, AServerRequiringTlsIsRefusedClearly) {
  FakeServer server;
  Connection c(fake_options(server));
  std::thread t([&] { server.accept(",\"tls_required\":true"); });
  try {
    c.connect();
    FAIL();
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kTlsNotSupported) << e.what();
  }
  t.join();
}

TEST(FakeServer, ProtocolGarbageDropsTheConnection) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  o.max_reconnects = 0;
  Events ev;
  ev.attach(o);
  auto c = connect_to(server, o);
  server.send("BOGUS stuff\r\n");
  ASSERT_TRUE(wait_for([&] { return ev.closed == 1; }));
  EXPECT_EQ(ev.errors().at(0), Error::kProtocol) << ev.errors().at(0).message;
}

}  // namespace
}  // namespace pylon::test
