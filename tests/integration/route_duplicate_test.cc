// Crossed dials between two nodes. When A and B dial each other at once, each side keeps one
// connection and closes the other as "Duplicate Route"; if both keep the connection the other
// side closes, both links go. The reference guards against that (route.go addRoute: the kept
// route inherits the duplicate's dial, "upgrade to solicited"), so the node redials when the
// kept route closes. Real servers cross their dials only by chance of timing, so here the
// test plays peer B over raw sockets, which makes the crossing happen on every run:
//   1. A dials B (conn1); B holds back its INFO, so A cannot register conn1 yet.
//   2. B dials A (conn2) and completes the handshake: A registers conn2.
//   3. B sends its INFO on conn1: A finds a second connection to B, closes conn1 as duplicate.
//   4. B closes conn2 (as if it had kept conn1): A has no route to B left.
// A must then dial B again.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "../common/loopback_listener.h"
#include "harness.h"
#include "route_peer.h"

namespace pylon::it {
namespace {

constexpr const char* kPeerId = "NBCROSSEDDIALPEERXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";

// A listening socket on 127.0.0.1 standing in for peer B's route port.
class RouteListener {
 public:
  RouteListener() { fd_ = pylon::testing::listen_loopback(&port_); }
  ~RouteListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  RouteListener(const RouteListener&) = delete;
  RouteListener& operator=(const RouteListener&) = delete;

  int port() const { return port_; }

  // The next dialled connection, or -1 after `timeout`.
  int accept(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

bool send_all(int fd, const std::string& s) { return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }

// True when the peer closed `fd` before the deadline (whatever it sent first is discarded).
bool closed_by_peer(int fd, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    char chunk[4096];
    if (::read(fd, chunk, sizeof chunk) <= 0) return true;
  }
}

std::string peer_info(int route_port) {
  return std::string(R"(INFO {"server_id":")") + kPeerId +
         R"(","server_name":"peer-b","version":"2.9.10","proto":1,"host":"127.0.0.1","port":)" +
         std::to_string(route_port) +
         R"(,"headers":true,"max_payload":1048576,"cluster":"crossed","lnoc":true})" + "\r\n";
}

TEST(RouteDuplicate, CrossedDialsWhereBothSidesKeepTheOtherConnectionStillEndInARoute) {
  SKIP_IF_REFERENCE("the peer here is scripted; the reference's own handling is what we copy");
  RouteListener b;
  ASSERT_GT(b.port(), 0);
  int a_route_port = pick_free_port();
  ServerProcess a(with_args({"-D", "--cluster_name", "crossed", "--cluster",
                             "nats://127.0.0.1:" + std::to_string(a_route_port), "--routes",
                             "nats://127.0.0.1:" + std::to_string(b.port())}));
  ASSERT_TRUE(a.start());

  // 1. A dials B; B does not answer with its INFO yet.
  int conn1 = b.accept(10s);
  ASSERT_GE(conn1, 0) << "A never dialled its configured route";
  std::string from_a1;
  ASSERT_TRUE(fd_read_until(conn1, from_a1, "CONNECT ", 5s)) << from_a1;

  // 2. B dials A and completes the handshake: A registers this inbound route.
  RawClient conn2;
  ASSERT_TRUE(conn2.connect(a_route_port));
  ASSERT_TRUE(conn2.read_until("INFO ", 5s));
  ASSERT_TRUE(conn2.send(std::string(R"(CONNECT {"echo":true,"verbose":false,"pedantic":false,)"
                                     R"("tls_required":false,"headers":true,"name":")") +
                         kPeerId + R"(","cluster":"crossed","lnoc":true})" + "\r\n" + peer_info(b.port())));
  ASSERT_TRUE(wait_for([&] { return a.log().find("Route connection to peer-b") != std::string::npos; }, 5s))
      << a.log();

  // 3. B's INFO on A's own dial: a second connection to B, closed as a duplicate.
  ASSERT_TRUE(send_all(conn1, peer_info(b.port())));
  EXPECT_TRUE(closed_by_peer(conn1, 5s)) << "A kept both connections to B; log:\n" << a.log();
  ::close(conn1);
  ASSERT_TRUE(wait_for([&] { return a.log().find("Duplicate Route") != std::string::npos; }, 5s)) << a.log();

  // 4. B closes the connection A kept, as B would had it kept conn1.
  conn2.close();

  // A has no route to B now and must dial it again.
  int conn3 = b.accept(10s);
  EXPECT_GE(conn3, 0) << "A did not redial B after losing the route it kept; log:\n" << a.log();
  if (conn3 >= 0) {
    std::string from_a3;
    EXPECT_TRUE(fd_read_until(conn3, from_a3, "CONNECT ", 5s)) << from_a3;
    ::close(conn3);
  }
}

}  // namespace
}  // namespace pylon::it
