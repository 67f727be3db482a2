#include "delay_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <future>
#include <list>
#include <vector>

#include "netns.h"

namespace pylon::faults {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

sockaddr_in address_of(const std::string& ip, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
  return sa;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Non-blocking connect bounded by `timeout`; the socket, or -1.
int dial(const std::string& ip, int port, milliseconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in sa = address_of(ip, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
      err != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Bytes read from one side, held until `due`, then written to the other.
struct Held {
  Clock::time_point due;
  std::string bytes;
  size_t written = 0;
};

struct Direction {
  int from = -1, to = -1;
  std::deque<Held> q;
  size_t held = 0;
  bool eof = false;        // `from` finished sending
  bool shut = false;       // and we passed that on (shutdown of `to`'s write side)
  bool blocked = false;    // `to` would block: wait for POLLOUT
};

struct Pair {
  int client = -1, target = -1;
  Direction up, down;  // client -> target, target -> client
  bool dead = false;
};

// Reads what `d.from` has (bounded by kMaxHeld); false when the pair must close.
bool pull(Direction& d, milliseconds delay) {
  char buf[64 * 1024];
  while (d.held < DelayProxy::kMaxHeld && !d.eof) {
    ssize_t n = ::recv(d.from, buf, sizeof buf, 0);
    if (n > 0) {
      d.q.push_back(Held{Clock::now() + delay, std::string(buf, static_cast<size_t>(n))});
      d.held += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      d.eof = true;
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINTR) continue;
    return false;
  }
  return true;
}

// Writes every held chunk that is due; false when the pair must close.
bool push(Direction& d) {
  d.blocked = false;
  auto now = Clock::now();
  while (!d.q.empty() && d.q.front().due <= now) {
    Held& h = d.q.front();
    ssize_t n = ::send(d.to, h.bytes.data() + h.written, h.bytes.size() - h.written, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        d.blocked = true;
        return true;
      }
      if (errno == EINTR) continue;
      return false;
    }
    h.written += static_cast<size_t>(n);
    d.held -= static_cast<size_t>(n);
    if (h.written == h.bytes.size()) d.q.pop_front();
  }
  if (d.eof && d.q.empty() && !d.shut) {
    ::shutdown(d.to, SHUT_WR);
    d.shut = true;
  }
  return true;
}

}  // namespace

DelayProxy::DelayProxy(const NetNs& ns, std::string listen_ip, int listen_port, std::string target_ip, int target_port,
                       milliseconds delay)
    : ns_(ns),
      listen_ip_(std::move(listen_ip)),
      target_ip_(std::move(target_ip)),
      listen_port_(listen_port),
      target_port_(target_port),
      delay_(delay) {}

DelayProxy::~DelayProxy() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

std::string DelayProxy::url() const { return "nats://" + listen_ip_ + ":" + std::to_string(listen_port_); }

bool DelayProxy::start(std::string* why) {
  std::promise<std::string> ready;
  auto result = ready.get_future();
  thread_ = std::thread([this, &ready] {
    int fd = -1;
    std::string err;
    try {
      NsScope in(ns_);  // for the thread's whole life: every socket it opens lives there
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa = address_of(listen_ip_, listen_port_);
      if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
        err = "proxy listen on " + url() + ": " + std::strerror(errno);
        if (fd >= 0) ::close(fd);
        ready.set_value(err);
        return;
      }
      ready.set_value("");
      loop(fd);
    } catch (const std::exception& e) {
      ready.set_value(e.what());
    }
  });
  std::string err = result.get();
  if (!err.empty()) {
    thread_.join();
    if (why) *why = err;
    return false;
  }
  return true;
}

void DelayProxy::loop(int listen_fd) {
  std::list<Pair> pairs;
  auto close_pair = [](Pair& p) {
    ::close(p.client);
    ::close(p.target);
    p.dead = true;
  };
  while (!stop_.load()) {
    std::vector<pollfd> fds;
    std::vector<std::pair<Pair*, bool>> owners;  // (pair, is client side)
    fds.push_back({listen_fd, static_cast<short>(pairs.size() < kMaxConnections ? POLLIN : 0), 0});
    owners.push_back({nullptr, false});
    auto next_due = Clock::now() + milliseconds(50);
    for (auto& p : pairs) {
      short ce = 0, te = 0;
      if (!p.up.eof && p.up.held < kMaxHeld) ce |= POLLIN;
      if (!p.down.eof && p.down.held < kMaxHeld) te |= POLLIN;
      if (p.down.blocked) ce |= POLLOUT;
      if (p.up.blocked) te |= POLLOUT;
      for (auto* d : {&p.up, &p.down})
        if (!d->q.empty() && !d->blocked) next_due = std::min(next_due, d->q.front().due);
      fds.push_back({p.client, ce, 0});
      owners.push_back({&p, true});
      fds.push_back({p.target, te, 0});
      owners.push_back({&p, false});
    }
    auto wait = std::chrono::duration_cast<milliseconds>(next_due - Clock::now()).count();
    ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait, 0) + 1));

    if (fds[0].revents & POLLIN) {
      int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0) {
        int t = dial(target_ip_, target_port_, milliseconds(1000));
        if (t < 0) {
          ::close(c);  // the target is unreachable: so is the proxy
        } else {
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          set_nonblocking(t);
          Pair& p = pairs.emplace_back();
          p.client = c;
          p.target = t;
          p.up.from = c;
          p.up.to = t;
          p.down.from = t;
          p.down.to = c;
          accepted_.fetch_add(1);
        }
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      Pair* p = owners[i].first;
      if (p->dead || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (!pull(owners[i].second ? p->up : p->down, delay_)) close_pair(*p);
    }
    for (auto& p : pairs) {
      if (p.dead) continue;
      if (!push(p.up) || !push(p.down)) close_pair(p);
      else if (p.up.shut && p.down.shut) close_pair(p);
    }
    pairs.remove_if([](const Pair& p) { return p.dead; });
  }
  for (auto& p : pairs)
    if (!p.dead) close_pair(p);
  ::close(listen_fd);
}

}  // namespace pylon::faults
