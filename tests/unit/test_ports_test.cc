// The port-lease rule the test harnesses share (tests/common/test_ports.h).
#include "../common/test_ports.h"

#include <gtest/gtest.h>

#include <set>

namespace pylon::testing {
namespace {

int bound_socket(int type, int port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd >= 0 && !detail::bind_loopback(fd, port)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(TestPorts, LeasedPortsAreDistinctOutsideTheEphemeralRangeAndFreeForTheServer) {
  const auto [lo, hi] = lease_port_range();
  int elo = 0, ehi = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> elo >> ehi;
  std::set<int> seen;
  for (int i = 0; i < 50; ++i) {
    const int port = lease_port();
    EXPECT_TRUE(seen.insert(port).second) << port << " leased twice";
    EXPECT_GE(port, lo);
    EXPECT_GT(port, kLastBadPort) << "fetch() refuses ports up to 10080 (the bad-port list)";
    EXPECT_LE(port, hi);
    EXPECT_TRUE(port < elo || port > ehi) << port << " is in the ephemeral range " << elo << "-" << ehi;
    // Another test's picker cannot take it: the UDP lease is held.
    int udp = bound_socket(SOCK_DGRAM, port);
    EXPECT_LT(udp, 0) << "UDP " << port << " is not leased";
    if (udp >= 0) ::close(udp);
    // The server can bind and listen on it.
    int tcp = bound_socket(SOCK_STREAM, port);
    EXPECT_GE(tcp, 0) << "TCP " << port << " is not free for the server";
    if (tcp >= 0) {
      EXPECT_EQ(::listen(tcp, 1), 0);
      ::close(tcp);
    }
  }
}

}  // namespace
}  // namespace pylon::testing
