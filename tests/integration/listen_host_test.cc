// `listen: localhost:4222` on a machine whose /etc/hosts names localhost both ::1 and
// 127.0.0.1, as Debian's does (its resolver then lists ::1 first). nats-server (Go's
// net.Listen) binds the first IPv4 address of a host name, so clients, routes and
// monitoring tools that use 127.0.0.1 reach it. Pylon bound the first result, [::1] only.
//
// The test gives itself Debian's /etc/hosts in a private mount namespace (this test
// process and the servers it starts only; CTest runs each test in a process of its own).
#include <gtest/gtest.h>

#include <netdb.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "harness.h"

namespace pylon::it {
namespace {

// The family getaddrinfo lists first for `host`, or -1.
int first_family(const char* host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host, nullptr, &hints, &res) != 0 || res == nullptr) return -1;
  int f = res->ai_family;
  ::freeaddrinfo(res);
  return f;
}

TEST(ListenHost, LocalhostNamedForBothFamiliesIsListenedOnIPv4LikeTheReference) {
  if (::unshare(CLONE_NEWNS) != 0) {
    GTEST_SKIP() << "SKIPPED: a private mount namespace is needed to give the test Debian's /etc/hosts: "
                 << std::strerror(errno);
  }
  // Private, so the bind below never reaches the rest of the machine. This fails where "/"
  // is not a mount point (a chroot): then the test cannot isolate itself and skips.
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    GTEST_SKIP() << "SKIPPED: cannot make / private in the test's mount namespace (a chroot?): "
                 << std::strerror(errno);
  }
  TempDir tmp;
  const std::string hosts = tmp.write("hosts",
                                      "127.0.0.1\tlocalhost\n"
                                      "::1\t\tlocalhost ip6-localhost ip6-loopback\n");
  ASSERT_EQ(::mount(hosts.c_str(), "/etc/hosts", nullptr, MS_BIND, nullptr), 0) << std::strerror(errno);
  // What makes the test able to fail: the resolver now puts ::1 first.
  ASSERT_EQ(first_family("localhost"), AF_INET6) << "the resolver does not list ::1 first for localhost here";

  const int http = pick_free_port();
  const int cluster = pick_free_port();
  ServerOptions o = with_args({"-a", "localhost", "-p", "{PORT}", "-m", std::to_string(http), "--cluster",
                               "nats://localhost:" + std::to_string(cluster), "--cluster_name", "listen-host"});
  o.port_flag = false;
  ServerProcess s(o);
  ASSERT_TRUE(s.start()) << "clients of 127.0.0.1 cannot reach `-a localhost`";  // probes 127.0.0.1:{PORT}

  RawClient c;
  ASSERT_TRUE(c.connect(s.port()));
  EXPECT_TRUE(c.read_info()) << "no INFO over 127.0.0.1";
  auto varz = http_get(http, "/varz");
  ASSERT_TRUE(varz) << "monitoring on localhost is not reachable over 127.0.0.1";
  EXPECT_EQ(varz->status, 200);
  RawClient route;
  EXPECT_TRUE(route.connect(cluster)) << "the route listener on localhost is not reachable over 127.0.0.1";
}

}  // namespace
}  // namespace pylon::it
