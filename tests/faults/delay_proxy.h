// A TCP proxy that holds every byte for a fixed time before passing it on, in both
// directions: latency on one path, as netem's delay would add (this kernel has no netem).
//
// Its thread enters a network namespace first, so it listens there (on a port leased by the
// test) and dials its one target from there: the proxied path crosses the same LAN as
// everything else, and a cut link cuts it too.
//
// Bounded: at most kMaxConnections connections at once (more are refused), and a side is no
// longer read while kMaxHeld bytes read from it wait to be written, so a slow reader slows the
// writer down through TCP, as a real link would.
//
// Threading: one thread (poll loop) owns every socket; the public calls are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace pylon::faults {

class NetNs;

class DelayProxy {
 public:
  static constexpr int kMaxConnections = 16;
  static constexpr size_t kMaxHeld = 1 << 20;  // per direction of one connection

  DelayProxy(const NetNs& ns, std::string listen_ip, int listen_port, std::string target_ip, int target_port,
             std::chrono::milliseconds delay);
  ~DelayProxy();  // stops the thread and closes every socket
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  // Binds and starts the thread; false (and *why) when the listener cannot be set up.
  bool start(std::string* why);
  std::string url() const;  // "nats://ip:port" of the listener
  int accepted() const { return accepted_.load(); }

 private:
  void loop(int listen_fd);

  const NetNs& ns_;
  std::string listen_ip_, target_ip_;
  int listen_port_, target_port_;
  std::chrono::milliseconds delay_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace pylon::faults
