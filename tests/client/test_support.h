// Test support for the client library: servers to talk to (an embedded pylon::Server,
// or a spawned /usr/sbin/nats-server), free ports, waiting on conditions with deadlines,
// and a recorder of connection events.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pylon/connection.h"
#include "pylon/server.h"

namespace pylon::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Polls `pred` (every ~2 ms) until it holds or `timeout` passes; returns the last result.
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s);

// A loopback TCP port leased to this test until it exits (tests/common/test_ports.h).
int free_port();

// Where the reference server lives (PYLON_NATS_SERVER_BIN overrides).
std::string nats_server_bin();
bool have_nats_server();

// A server the client tests talk to. start() on port 0 leases a port (free_port()) on
// the first start and reuses it after; a restart (stop() then start(port())) comes back
// on the same port, which stays leased to the test in between.
class TestServer {
 public:
  virtual ~TestServer() = default;
  virtual void start(int port = 0) = 0;
  virtual void stop() = 0;
  virtual bool running() const = 0;
  virtual int port() const = 0;
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port()); }
  std::string url(const std::string& scheme, const std::string& host) const {
    return scheme + "://" + host + ":" + std::to_string(port());
  }
  // Route listener port (0: no cluster).
  virtual int cluster_port() const = 0;
  // WebSocket listener port (0: none; ServerSetup::websocket), leased like port().
  virtual int ws_port() const = 0;
  // "ws://127.0.0.1:<ws_port>" (or the scheme and host given).
  std::string ws_url(const std::string& scheme = "ws", const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(ws_port());
  }
  // Lame-duck mode: the server tells its clients (INFO ldm) and winds down.
  virtual void enter_lame_duck() = 0;
  // Freezes the server (SIGSTOP: it keeps its sockets and answers nothing) and thaws it.
  // Only servers running as a process can; can_pause() says so.
  virtual bool can_pause() const { return false; }
  virtual void pause() {}
  virtual void resume() {}
};

struct ServerSetup {
  bool cluster = false;             // open a route listener on a free port
  std::vector<int> routes;          // route ports of other members to dial
  std::string user, password, token;
  // nkey users (public keys "U..."), as `authorization { users: [{nkey: ...}] }`.
  std::vector<std::string> nkey_users;
  // With user/password: that user may not publish to these subjects (a users = [...]
  // entry with permissions instead of the single user).
  std::vector<std::string> publish_deny;
  int64_t max_payload = 0;          // 0: the server's default
  // The server's own PINGs to its clients (0: the server's default).
  std::chrono::milliseconds ping_interval{0};
  int ping_max = 0;
  // TLS for clients, as `tls { cert_file, key_file, ca_file, verify }` (PEM files): with a
  // certificate the server requires TLS; tls_verify also requires a client certificate
  // signed by tls_ca.
  std::string tls_cert, tls_key, tls_ca;
  bool tls_verify = false;
  // A WebSocket listener on a port of its own, the same block for both kinds:
  // `websocket { listen, no_tls: true }`, or with ws_tls_cert `tls { cert_file, key_file }`
  // inside it (wss).
  bool websocket = false;
  std::string ws_tls_cert, ws_tls_key;
  bool ws_compression = false;  // `compression: true` in the block (permessage-deflate)
};

// An embedded Pylon server (pylon::Server).
std::unique_ptr<TestServer> make_pylon(ServerSetup setup = {});
// A /usr/sbin/nats-server process.
std::unique_ptr<TestServer> make_nats_server(ServerSetup setup = {});
// By name: "pylon" or "nats-server".
std::unique_ptr<TestServer> make_server(const std::string& kind, ServerSetup setup = {});

// Options for a test client of `url`: fast reconnects, no shuffling.
ClientOptions client_options(const std::string& url);

// Records connection events (set its hooks into ClientOptions with attach()).
class Events {
 public:
  void attach(ClientOptions& o);
  std::atomic<int> disconnected{0}, reconnected{0}, closed{0}, discovered{0}, async_errors{0}, lame_duck{0};
  std::vector<ErrorInfo> errors() const;
  std::vector<std::string> log() const;  // "disconnected", "reconnected nats://...", ...

 private:
  void add(std::string line, const ErrorInfo* e = nullptr);
  mutable std::mutex mu_;
  std::vector<std::string> log_;
  std::vector<ErrorInfo> errors_;
};

// Collects messages from a callback subscription.
class Inbox {
 public:
  MessageHandler handler();
  size_t size() const;
  std::vector<Message> messages() const;
  bool wait_size(size_t n, std::chrono::milliseconds timeout = 10s) const;

 private:
  mutable std::mutex mu_;
  std::vector<Message> msgs_;
};

// close() writes out what was published first, as Go's and nats.c's do, and the server
// gets all of it: a connection made with `o` publishes `rounds` x `messages` 1 KiB messages,
// subscribed to them itself so it closes with unread input (a close with unread input aborts
// the connection, and the kernel throws away what the socket had not sent yet), and a second
// connection made with `o` must receive every one.
void expect_every_publish_before_close_arrives(const ClientOptions& o, int messages = 20000, int rounds = 3);

// A child process whose stdout and stderr go to one file, read back by the test.
class Process {
 public:
  explicit Process(std::vector<std::string> argv, std::string name = "");
  ~Process();  // SIGKILL if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool running();
  std::string output() const;
  // Waits until the output contains `needle` (counting only occurrences after `from`
  // bytes), or the deadline passes.
  bool wait_output(const std::string& needle, std::chrono::milliseconds timeout = 15s, size_t from = 0) const;
  size_t count(const std::string& needle) const;
  // Waits for exit; returns the exit status (or 128+signal), -1 on timeout.
  int wait(std::chrono::milliseconds timeout = 30s);
  void signal(int sig);
  int pid() const { return pid_; }

 private:
  std::string out_path_;
  int pid_ = -1;
  int status_ = -1;
};

// A scratch directory removed at the end (kept when PYLON_TEST_KEEP_TMP is set).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pylon::test
