// The client against a scripted server on a raw socket, for what no real server does on
// demand: output that is not NATS at all, and a server that stalls between its INFO and
// the PONG to the handshake's PING, or in the TLS handshake, which the connect timeout must
// end; and a server that stops reading, against which a publisher must wait (backpressure). Everything a real server can produce (CONNECT fields, PINGs both ways, split reads,
// -ERR for permissions, max_payload, connect_urls, lame duck, authorization, TLS, a frozen
// server that never sends INFO) runs against Pylon and nats-server in server_protocol_test.cc,
// tls_test.cc, cluster_test.cc, reconnect_test.cc and connection_test.cc.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "client/core.h"

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
    fd_ = pylon::testing::accept_polled(listen_fd_);
    if (fd_ < 0) return false;
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
  // Bytes the kernel holds for us, not read yet.
  size_t queued() const {
    int n = 0;
    return ::ioctl(fd_, FIONREAD, &n) == 0 && n > 0 ? static_cast<size_t>(n) : 0;
  }
  // Reads and counts (without keeping them) bytes until `want` came, or the deadline.
  uint64_t read_count(uint64_t want, std::chrono::milliseconds timeout) {
    uint64_t n = got_.size();
    got_.clear();
    std::vector<char> buf(1 << 20);
    wait_for(
        [&] {
          ssize_t r = ::recv(fd_, buf.data(), buf.size(), 0);
          if (r > 0) n += static_cast<uint64_t>(r);
          return n >= want;
        },
        timeout);
    return n;
  }
  void drop() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

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
    // The ClientHello arrives (however late a busy machine lets the client send it); nothing
    // answers. A fixed read window of 2 x kTimeout could end before it came.
    server.read_until(std::string("\x16\x03", 2), 10s);
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

// The kernel's largest send buffer for a TCP socket (net.ipv4.tcp_wmem's maximum).
uint64_t tcp_wmem_max() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  uint64_t lo = 0, def = 0, hi = 0;
  in >> lo >> def >> hi;
  return hi > 0 ? hi : 4u << 20;
}

// publish() never blocks on the socket, but it must not buffer without bound either: while
// the server reads nothing, a publisher waits once the library holds more than
// kMaxOutboundBytes unsent (plus the write in flight), and carries on, losing nothing, when
// the server reads again.
// close() shuts the client's side down behind its last bytes, then waits for the server's end
// (docs/client.md): a server that never closes holds it up for connect_timeout at most, and
// what it sends meanwhile is dropped, not delivered.
TEST(FakeServer, CloseSendsEverythingThenAFinAndWaitsForTheServersEndWithinItsBound) {
  FakeServer server;
  ClientOptions o = fake_options(server);
  o.connect_timeout = 500ms;
  auto c = connect_to(server, o);
  ASSERT_TRUE(c->is_connected());
  std::atomic<int> delivered{0};
  auto sub = c->subscribe("late", [&](Message&) { ++delivered; });
  for (int i = 0; i < 100; ++i) c->publish("last", "m" + std::to_string(i));
  std::thread closer([&] {
    // Wait for the FIN: our read then sees the end of the stream after the last PUB.
    std::string got;
    bool eof = wait_for([&] {
      char buf[4096];
      ssize_t n = ::recv(server.fd(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      return n == 0;
    }, 5s);
    EXPECT_TRUE(eof) << "no FIN from the client";
    EXPECT_NE(got.find("PUB last 3\r\nm99\r\n"), std::string::npos) << "the last PUB did not arrive before the FIN";
    // The server keeps its side open and keeps sending: the client drops it.
    server.send("MSG late 1 5\r\nhello\r\n");
  });
  const auto start = std::chrono::steady_clock::now();
  c->close();
  const auto took = std::chrono::steady_clock::now() - start;
  closer.join();
  EXPECT_EQ(c->status(), Status::kClosed);
  EXPECT_GE(took, 400ms) << "close() did not wait for the server's end";
  EXPECT_LT(took, 3s) << "close() was not bounded by connect_timeout";
  EXPECT_EQ(delivered.load(), 0) << "a message was delivered after close()";
}

TEST(FakeServer, APublisherWaitsForAServerThatDoesNotReadAndBuffersABoundedAmount) {
  FakeServer server;
  auto c = connect_to(server, fake_options(server));
  ASSERT_TRUE(c->is_connected());
  constexpr size_t kPayload = 1000;  // under the fake INFO's max_payload of 1024
  const std::string kLine = "PUB bp 1000\r\n";
  const uint64_t wire = kLine.size() + kPayload + 2;
  constexpr uint64_t kMsgs = 128 * 1024;  // 124 MiB on the wire: more than every buffer on the way
  std::atomic<uint64_t> published{0};
  std::atomic<bool> failed{false};
  std::thread pub([&] {
    const std::string data(kPayload, 'x');
    try {
      for (uint64_t i = 0; i < kMsgs; ++i) {
        c->publish("bp", data);
        published.fetch_add(1, std::memory_order_relaxed);
      }
    } catch (const Exception&) {
      failed = true;
    }
  });

  // The publisher stalls: no publish returns for a while (or, without the bound, it ends).
  uint64_t last = ~0ull;
  auto since = std::chrono::steady_clock::now();
  const bool stalled = wait_for(
      [&] {
        const uint64_t p = published.load();
        const auto now = std::chrono::steady_clock::now();
        if (p != last) {
          last = p;
          since = now;
          return false;
        }
        return p < kMsgs && now - since >= 500ms;
      },
      60s);
  const uint64_t sent = published.load() * wire;
  const uint64_t at_server = server.queued();
  EXPECT_TRUE(stalled) << "published " << published.load() << " of " << kMsgs << " to a server that reads nothing";
  // What the client holds: its kernel send queue (at most tcp_wmem's maximum), its unsent
  // buffer and the write in flight (each at most kMaxOutboundBytes plus one message).
  const uint64_t bound = tcp_wmem_max() + 2 * (client::kMaxOutboundBytes + wire);
  EXPECT_LE(sent - std::min(sent, at_server), bound)
      << "published " << sent << " bytes, the server's socket holds " << at_server;

  // The server reads again: the publisher finishes and every byte arrives.
  const uint64_t all = server.read_count(kMsgs * wire, 60s);
  pub.join();
  EXPECT_FALSE(failed);
  EXPECT_EQ(published.load(), kMsgs);
  EXPECT_GE(all, kMsgs * wire);
}

}  // namespace
}  // namespace pylon::test
