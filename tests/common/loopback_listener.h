// A listening TCP socket on 127.0.0.1 at a port the kernel picks, for tests that play one side
// of a connection themselves (a proxy, a scripted peer). Shared by the client and integration
// test binaries.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace pylon::testing {

// The listening fd (close-on-exec), its port in *port; -1 when it cannot listen.
inline int listen_loopback(int* port, int backlog = 8) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// Accepts one connection on `listen_fd` within 5 s (-1 when none came); reads from it then
// wait at most 20 ms each, for tests that poll a scripted peer with wait_for().
inline int accept_polled(int listen_fd) {
  timeval tv{5, 0};
  ::setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int fd = ::accept(listen_fd, nullptr, nullptr);
  if (fd < 0) return -1;
  timeval rtv{0, 20000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof rtv);
  return fd;
}

}  // namespace pylon::testing
