// The client against a scripted server on a raw socket, for what no real server does on
// demand: output that is not NATS at all, and a server that stalls between its INFO and
// the PONG to the handshake's PING, or in the TLS handshake, which the connect timeout must
// end. Everything a real server can produce (CONNECT fields, PINGs both ways, split reads,
// -ERR for permissions, max_payload, connect_urls, lame duck, authorization, TLS, a frozen
// server that never sends INFO) runs against Pylon and nats-server in server_protocol_test.cc,
// tls_test.cc, cluster_test.cc, reconnect_test.cc and connection_test.cc.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "../common/loopback_listener.h"
#include "test_support.h"

namespace pylon::test {
namespace {

// Accepts one client at a time on a loopback port; the test reads and writes raw bytes.
class FakeServer {
 public:
  FakeServer() {
    listen_fd_ = pylon::testing::listen_loopback(&port_, 4);
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
    consume_through("PING\r\n");
    send("PONG\r\n");
    return true;
  }
  void send(const std::string& s) { ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
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

TEST(FakeServer, AServerThatNeverAnswersTheHandshakePingTimesOut) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  o.connect_timeout = 200ms;
  Connection c(o);
  std::thread t([&] {
    server.accept();
    server.read_until("PING\r\n");  // CONNECT + PING arrive; no PONG goes back
  });
  try {
    c.connect();
    FAIL() << "connected without a PONG";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kNoServers) << e.what();
  }
  EXPECT_EQ(c.last_error(), Error::kTimeout) << c.last_error().message;
  t.join();
  EXPECT_NE(server.got().find("CONNECT {"), std::string::npos) << "the client did get as far as CONNECT";
}

// The TLS handshake has no timeout of its own: a server that asks for TLS and then never
// answers the ClientHello is given up on at connect_timeout, like any stalled step.
TEST(FakeServer, AStalledTlsHandshakeEndsAtTheConnectTimeout) {
  constexpr auto kTimeout = 300ms;
  constexpr int kSlack = 10;  // a wide multiple: the machine may be busy
  FakeServer server;
  ClientOptions o = fake_options(server);
  o.connect_timeout = kTimeout;
  o.tls.insecure_skip_verify = true;
  Connection c(o);
  std::thread t([&] {
    server.accept(",\"tls_required\":true");
    server.read_until("never sent", 2 * kTimeout);  // the ClientHello arrives; nothing answers
  });
  const auto start = Clock::now();
  try {
    c.connect();
    FAIL() << "connected without a TLS handshake";
  } catch (const Exception& e) {
    EXPECT_EQ(e.code(), Error::kNoServers) << e.what();
  }
  const auto took = Clock::now() - start;
  EXPECT_GE(took, kTimeout);
  EXPECT_LT(took, kSlack * kTimeout);
  EXPECT_EQ(c.last_error(), Error::kTimeout) << c.last_error().message;
  EXPECT_NE(c.last_error().message.find("TLS handshake with " + server.url()), std::string::npos)
      << c.last_error().message;
  t.join();
  EXPECT_EQ(server.got().rfind("\x16\x03", 0), 0u) << "a TLS record (the ClientHello) came first";
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
