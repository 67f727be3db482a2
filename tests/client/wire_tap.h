// A TCP pass-through between one client and a real server that records what each side
// sent, so a test can see the protocol a real server and the client exchanged (CONNECT,
// PINGs both ways) without faking either end. Optionally it hands the server's bytes to
// the client one byte per write: the stream a real server produces, split at every byte.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace pylon::test {

class WireTap {
 public:
  // Listens on a free loopback port; each accepted client is joined to 127.0.0.1:upstream.
  explicit WireTap(int upstream_port, bool bytewise_to_client = false);
  ~WireTap();
  WireTap(const WireTap&) = delete;
  WireTap& operator=(const WireTap&) = delete;

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  // Everything the client sent to the server / the server to the client, so far.
  std::string from_client() const;
  std::string from_server() const;
  // How many times `needle` occurs in either stream.
  size_t count_from_client(const std::string& needle) const;
  size_t count_from_server(const std::string& needle) const;

 private:
  void run();

  int upstream_port_;
  bool bytewise_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::string up_, down_;
  std::thread thread_;
};

}  // namespace pylon::test
