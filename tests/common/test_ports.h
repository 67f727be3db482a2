// Ports for the servers a test starts. Every harness in tests/ (C++, Go, JavaScript, the
// browser test) follows the same rule, so that tests running side by side under
// `ctest -j` never hand one port to two servers:
//
//  * A port is picked at random *below* the kernel's ephemeral range
//    (/proc/sys/net/ipv4/ip_local_port_range), so no outgoing connection of any process
//    can be sitting on it when the server binds it later; and above 10080, the highest
//    port that fetch() refuses (the WHATWG "bad ports": Node's fetch and Chromium).
//  * The test leases it by holding a UDP socket bound to 127.0.0.1 on the same number.
//    Another test's picker finds that UDP port taken and moves on; the TCP port stays
//    free for the server. The lease ends when the socket is closed or the test process
//    exits, so a crashed test leaves nothing behind.
//
// Asking the kernel for port 0 and closing the socket (what the harnesses did before)
// leaves a window, up to a whole test long for a node started late, in which any other
// process may be given the same port.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pylon::testing {

// Ports above this one are on no "bad port" list: fetch() (Node, the browser test's
// Chromium) refuses to connect to those, and 10080 is the highest of them.
constexpr int kLastBadPort = 10080;

// The range leased ports come from: (kLastBadPort, start of the ephemeral range), or above
// its end when too little room is left below it.
inline std::pair<int, int> lease_port_range() {
  int lo = 32768, hi = 60999;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  in >> lo >> hi;
  if (lo - (kLastBadPort + 1) >= 4000) return {kLastBadPort + 1, lo - 1};
  return {hi + 1, 65535};
}

namespace detail {
inline bool bind_loopback(int fd, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}
}  // namespace detail

// A loopback TCP port no other test holds and nothing listens on, leased until the process
// exits (each gtest case runs in a process of its own under CTest). Throws when none is
// found, which means the range is exhausted.
inline int lease_port() {
  static std::mutex mu;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  static std::vector<int> leases;  // the UDP sockets: kept open, on purpose, until exit
  std::lock_guard<std::mutex> lock(mu);
  const auto [lo, hi] = lease_port_range();
  std::uniform_int_distribution<int> pick(lo, hi);
  for (int attempt = 0; attempt < 2000; ++attempt) {
    const int port = pick(rng);
    int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp < 0) break;
    if (!detail::bind_loopback(udp, port)) {  // leased by another test
      ::close(udp);
      continue;
    }
    int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool free = tcp >= 0 && detail::bind_loopback(tcp, port);
    if (tcp >= 0) ::close(tcp);
    if (!free) {  // something outside the tests uses it
      ::close(udp);
      continue;
    }
    leases.push_back(udp);
    return port;
  }
  throw std::runtime_error("lease_port: no free loopback port in " + std::to_string(lo) + "-" + std::to_string(hi));
}

}  // namespace pylon::testing
