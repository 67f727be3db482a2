// pylon::Server embedded in-process, as the reference server is in its own Go tests:
// start on an ephemeral port, talk to it, shut it down.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pylon/server.h"
#include "server/core/connection.h"

namespace {

// A blocking loopback client that reads until `want` appears or the deadline passes.
class RawClient {
 public:
  // `rcvbuf` > 0: a receive buffer that small (set before connecting), so what the server
  // sends waits in its own outbound buffers until we read.
  explicit RawClient(int port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), (ssize_t)s.size()); }
  bool read_until(const std::string& want, std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + deadline;
    char buf[4096];
    while (std::chrono::steady_clock::now() < end) {
      if (got_.find(want) != std::string::npos) return true;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) got_.append(buf, static_cast<size_t>(n));
      if (n == 0) break;
    }
    return got_.find(want) != std::string::npos;
  }
  const std::string& got() const { return got_; }
  void clear() { got_.clear(); }
  // True when the server closes the connection (recv sees EOF) before the deadline.
  bool closed_by_peer(std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + deadline;
    char buf[4096];
    while (std::chrono::steady_clock::now() < end) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n > 0) got_.append(buf, static_cast<size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string got_;
};

pylon::Options ephemeral() {
  pylon::Options o;
  o.host = "127.0.0.1";
  o.port = -1;  // any free port
  o.event_loops = 2;
  return o;
}

TEST(EmbeddedServer, StartsOnAnEphemeralPortAndServesClients) {
  pylon::Server server(ephemeral());
  server.start();
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(server.client_url(), "nats://127.0.0.1:" + std::to_string(server.port()));

  RawClient sub(server.port());
  ASSERT_TRUE(sub.connected());
  ASSERT_TRUE(sub.read_until("INFO "));
  EXPECT_NE(sub.got().find(server.id()), std::string::npos) << "INFO names the server id";
  sub.send("CONNECT {\"verbose\":false}\r\nSUB greet.* 7\r\nPING\r\n");
  ASSERT_TRUE(sub.read_until("PONG\r\n"));

  RawClient pub(server.port());
  pub.send("CONNECT {\"verbose\":false}\r\nPUB greet.world 5\r\nhello\r\nPING\r\n");
  ASSERT_TRUE(pub.read_until("PONG\r\n"));
  EXPECT_TRUE(sub.read_until("MSG greet.world 7 5\r\nhello\r\n"));
  server.shutdown();
}

TEST(EmbeddedServer, ShutdownClosesClientsAndIsIdempotent) {
  pylon::Server server(ephemeral());
  server.start();
  RawClient c(server.port());
  ASSERT_TRUE(c.read_until("INFO "));
  server.shutdown();
  server.shutdown();  // a second call returns at once
  server.wait();      // already done: returns
  EXPECT_TRUE(c.closed_by_peer()) << "shutdown closes client connections";
}

TEST(EmbeddedServer, TwoServersOnTheSameAddressFailClearly) {
  pylon::Server a(ephemeral());
  a.start();
  pylon::Options o = ephemeral();
  o.port = a.port();
  pylon::Server b(o);
  try {
    b.start();
    FAIL() << "a second server bound the same port";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("Error listening on port"), std::string::npos) << e.what();
  }
}

// A host that does not resolve (.invalid never does, RFC 2606) fails each listener in the
// reference server's words, naming the host.
TEST(EmbeddedServer, AnUnresolvableHostFailsEachListenerInTheReferenceWords) {
  struct Case {
    const char* what;
    void (*set)(pylon::Options&);
    const char* expect;
  };
  const Case cases[] = {
      {"client", [](pylon::Options& o) { o.host = "no-such-host.invalid"; },
       "Error listening on port: no-such-host.invalid:0, \"listen tcp: lookup no-such-host.invalid: "},
      {"cluster",
       [](pylon::Options& o) {
         o.cluster.host = "no-such-host.invalid";
         o.cluster.port = -1;
       },
       "Error listening on router port: -1 - listen tcp: lookup no-such-host.invalid: "},
      {"monitor",
       [](pylon::Options& o) {
         o.http_host = "no-such-host.invalid";
         o.http_port = -1;
       },
       "Can't listen to the monitor port: listen tcp: lookup no-such-host.invalid: "},
  };
  for (const auto& c : cases) {
    pylon::Options o = ephemeral();
    c.set(o);
    pylon::Server s(o);
    try {
      s.start();
      ADD_FAILURE() << c.what << ": started on an unresolvable host";
    } catch (const std::exception& e) {
      EXPECT_EQ(std::string(e.what()).rfind(c.expect, 0), 0u) << c.what << ": " << e.what();
    }
  }
}

// A subscriber that once took a burst keeps a 64 KiB chunk as its next tail while busy; at
// its ping tick, idle, it gives it back (Connection::release_idle_buffers, counted by
// /metrics' pylon_idle_buffers_released_total), and delivery goes on as before. Each burst
// is queued whole before the subscriber reads (a small receive buffer), so it fills chunks.
TEST(EmbeddedServer, AnIdleSubscriberGivesBackTheBuffersOfItsLastBurst) {
  using pylon::server::Connection;
  pylon::Options o = ephemeral();
  o.ping_interval = std::chrono::milliseconds(200);
  o.ping_max = 1000;  // the raw clients never answer the server's PINGs
  pylon::Server server(o);
  server.start();

  constexpr int kSubscribers = 8;
  constexpr int kBurstMsgs = 256;  // 2,000 B each: 512 KB, eight chunks
  constexpr int kSmallRcvbuf = 4096;
  constexpr std::chrono::seconds kRead(30);  // a burst through a small receive buffer
  std::vector<std::unique_ptr<RawClient>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    subs.push_back(std::make_unique<RawClient>(server.port(), kSmallRcvbuf));
    auto& s = *subs.back();
    ASSERT_TRUE(s.read_until("INFO "));
    s.send("CONNECT {\"verbose\":false}\r\nSUB idle." + std::to_string(i) + " 1\r\nPING\r\n");
    ASSERT_TRUE(s.read_until("PONG\r\n"));
  }
  RawClient pub(server.port());
  ASSERT_TRUE(pub.read_until("INFO "));
  const std::string payload(2000, 'x');
  auto burst = [&](const std::string& end) {
    std::string out = "CONNECT {\"verbose\":false}\r\n";
    for (int i = 0; i < kSubscribers; ++i) {
      std::string subject = "idle." + std::to_string(i);
      for (int m = 0; m < kBurstMsgs; ++m) out += "PUB " + subject + " 2000\r\n" + payload + "\r\n";
      out += "PUB " + subject + " " + std::to_string(end.size()) + "\r\n" + end + "\r\n";
    }
    pub.send(out + "PING\r\n");
    ASSERT_TRUE(pub.read_until("PONG\r\n")) << "the burst is queued";
    pub.clear();
  };
  // Before any burst the connections hold small buffers only: nothing to give back.
  const uint64_t released_before = Connection::idle_buffers_released();
  burst("end1");
  for (int i = 0; i < kSubscribers; ++i) {
    ASSERT_TRUE(subs[i]->read_until("MSG idle." + std::to_string(i) + " 1 4\r\nend1\r\n", kRead)) << "subscriber " << i;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto released = [&] { return Connection::idle_buffers_released() - released_before; };
  while (released() < static_cast<uint64_t>(kSubscribers) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(released(), static_cast<uint64_t>(kSubscribers)) << "idle subscribers kept their burst's buffers";

  // Delivery after the release: a whole second burst to every subscriber.
  burst("end2");
  for (int i = 0; i < kSubscribers; ++i) {
    auto& s = *subs[i];
    ASSERT_TRUE(s.read_until("MSG idle." + std::to_string(i) + " 1 4\r\nend2\r\n", kRead)) << "subscriber " << i;
    const std::string& got = s.got();
    size_t msgs = 0;
    for (size_t at = got.find("MSG idle."); at != std::string::npos; at = got.find("MSG idle.", at + 1)) ++msgs;
    EXPECT_EQ(msgs, 2u * (kBurstMsgs + 1)) << "subscriber " << i;
  }
  server.shutdown();
}

}  // namespace
