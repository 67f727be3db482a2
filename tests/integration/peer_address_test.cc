// A log line about a connection names its peer's address, also when the peer reset the
// connection before the server set it up: it sat in the listen backlog while the server was
// busy (here: stopped), as a load balancer's health check that connects and resets does. Its
// socket then has no peer address left (getpeername fails with ENOTCONN), so the address is the
// one accept() reported, as the reference (Go's RemoteAddr) logs it. Pylon logged ":0" for them.
// Runs against the reference too (PYLON_TEST_SERVER=nats-server).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "harness.h"

namespace pylon::it {
namespace {

// Connects to 127.0.0.1:`port` and closes with a reset at once; returns the local port the
// server sees as the peer's, or 0 when the connection failed.
int connect_and_reset(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int local = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
    sockaddr_in me{};
    socklen_t len = sizeof me;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len) == 0) local = ntohs(me.sin_port);
    linger reset{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  ::close(fd);
  return local;
}

TEST(PeerAddress, LogLinesNameThePeerAsAcceptedWhenItResetBeforeTheServerSetItUp) {
  const int route_port = pick_free_port();
  // -D: a client's connection is logged at debug level (a route's at info), in both servers.
  ServerProcess srv(with_args({"-D", "--cluster", "nats://127.0.0.1:" + std::to_string(route_port)}));
  ASSERT_TRUE(srv.start());
  // start() waits for the client port; the route port may open a little later.
  ASSERT_TRUE(srv.wait_for_log("Listening for route connections", 10s)) << srv.log();

  ASSERT_EQ(::kill(srv.pid(), SIGSTOP), 0);
  std::vector<int> clients, routes;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(connect_and_reset(srv.port()));
    routes.push_back(connect_and_reset(route_port));
  }
  ASSERT_EQ(::kill(srv.pid(), SIGCONT), 0);

  auto named = [&](int local, const char* tag) {
    return "127.0.0.1:" + std::to_string(local) + " - " + tag + ":";
  };
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_NE(clients[i], 0);
    ASSERT_NE(routes[i], 0);
    EXPECT_TRUE(srv.wait_for_log(named(clients[i], "cid"), 10s))
        << "no line names client " << clients[i] << "\n" << srv.log();
    EXPECT_TRUE(srv.wait_for_log(named(routes[i], "rid"), 10s))
        << "no line names route " << routes[i] << "\n" << srv.log();
  }
  EXPECT_EQ(srv.log().find(" :0 - "), std::string::npos) << "a line names no peer:\n" << srv.log();
  // And a route's end in the reference's words (2.9's closeConnection: "Router connection
  // closed: <reason>"), which Pylon had as "Route connection closed".
  EXPECT_TRUE(srv.wait_for_log("Router connection closed: ", 10s)) << srv.log();
  ASSERT_TRUE(srv.running()) << srv.log();
}

}  // namespace
}  // namespace pylon::it
