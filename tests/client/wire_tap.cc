#include "wire_tap.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "../common/loopback_listener.h"

namespace pylon::test {

namespace {

size_t count_in(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

bool send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

WireTap::WireTap(int upstream_port, bool bytewise_to_client)
    : upstream_port_(upstream_port), bytewise_(bytewise_to_client) {
  listen_fd_ = pylon::testing::listen_loopback(&port_, 4);
  thread_ = std::thread([this] { run(); });
}

WireTap::~WireTap() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::string WireTap::from_client() const {
  std::lock_guard lk(mu_);
  return up_;
}

std::string WireTap::from_server() const {
  std::lock_guard lk(mu_);
  return down_;
}

size_t WireTap::count_from_client(const std::string& needle) const { return count_in(from_client(), needle); }
size_t WireTap::count_from_server(const std::string& needle) const { return count_in(from_server(), needle); }

// One client at a time (a reconnecting client comes back through here too). Every wait
// is a short poll, so the destructor's stop flag ends the thread promptly.
void WireTap::run() {
  while (!stop_) {
    pollfd lp{listen_fd_, POLLIN, 0};
    if (::poll(&lp, 1, 20) <= 0) continue;
    int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(server);
      ::close(client);
      continue;
    }
    if (bytewise_) {  // one byte, one segment: no Nagle coalescing on the way to the client
      int one = 1;
      ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    std::vector<char> buf(64 * 1024);
    for (bool open = true; open && !stop_;) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, 20) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const bool up = i == 0;
        ssize_t n = ::recv(fds[i].fd, buf.data(), buf.size(), 0);
        if (n <= 0) {
          open = false;
          break;
        }
        {
          std::lock_guard lk(mu_);
          (up ? up_ : down_).append(buf.data(), static_cast<size_t>(n));
        }
        const int to = up ? server : client;
        if (!up && bytewise_) {
          for (ssize_t k = 0; k < n && open; ++k) open = send_all(to, buf.data() + k, 1);
        } else {
          open = send_all(to, buf.data(), static_cast<size_t>(n));
        }
      }
    }
    ::close(server);
    ::close(client);
  }
}

}  // namespace pylon::test
