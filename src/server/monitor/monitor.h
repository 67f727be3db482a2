// The HTTP monitoring server: the reference server's endpoints (/varz, /connz, /routez, /subsz,
// /healthz and the / index), served with Boost.Beast on the server's own event loops.
//
// The listener lives on loop 0; each accepted HTTP connection goes to the next loop (round
// robin), like client connections. Requests are answered on that loop. Facts owned by a client
// connection's loop (its CONNECT fields, subscriptions) are read on that loop: /connz posts a
// snapshot task to every loop holding a client and answers when the last one reports back.
//
// HTTPS (Options::https_port, `https`, -ms): the same endpoints over TLS with the top-level tls
// block's certificate, never asking for a client certificate, as the reference. Each accepted
// connection takes the server's client context current at its accept (Server::client_tls(),
// swapped by a reload), like the reference's GetConfigForClient.
//
// Lifecycle: Server::start() creates and starts it after the client listener (when
// Options::http_port or https_port != 0; -1 picks a free port); Server::shutdown() stops it first,
// which closes the listener and every open HTTP connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pylon/options.h"
#include "server/accept_backoff.h"
#include "server/monitor/endpoints.h"

namespace pylon::server {
class EventLoop;
class Server;
}  // namespace pylon::server

namespace pylon::server::tls {
class Context;
}

namespace pylon::server::monitor {

template <class Stream>
class HttpSession;

class Monitor {
 public:
  explicit Monitor(Server& server);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Binds http_host:http_port (or https_port) and starts accepting. Throws std::runtime_error
  // when it cannot, in the reference's words ("Can't start monitoring: ...").
  void start();
  // Closes the listener and every HTTP connection. Idempotent.
  void stop();
  // The bound port (after start()).
  int port() const noexcept { return port_; }
  bool secure() const noexcept { return secure_; }

  class Session;  // one HTTP connection (monitor.cc)
  template <class Stream>
  friend class HttpSession;

  // Answers one request; calls `reply(status, content_type, body)` on `home`'s thread,
  // possibly later (after gathering from other loops). Used by Session.
  using Reply = std::function<void(unsigned status, std::string content_type, std::string body)>;
  void handle(const std::string& target, EventLoop& home, Reply reply);
  // Requests served per path, for /varz's http_req_stats. Any thread.
  std::map<std::string, uint64_t> req_stats();

 private:
  void do_accept();
  void count_request(const std::string& path);

  Server& server_;
  std::string host_;
  int port_ = 0;
  bool secure_ = false;  // https; set by start()
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  AcceptBackoff accept_backoff_;  // only in do_accept's handler
  // HTTPS (loop 0: start() and do_accept's handler): the context new sessions take.
  std::shared_ptr<const tls::Context> current_tls();
  std::shared_ptr<const tls::Context> tls_;
  std::atomic<bool> running_{false};

  std::mutex mu_;  // guards everything below
  std::map<std::string, uint64_t> req_stats_;
  std::vector<std::weak_ptr<Session>> sessions_;
};

}  // namespace pylon::server::monitor
