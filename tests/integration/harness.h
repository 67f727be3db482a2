// Integration-test harness: real server processes on free loopback ports, and a raw
// TCP client for speaking the NATS protocol byte by byte.
//
// Which server binary runs is chosen by the environment:
//   PYLON_TEST_SERVER unset or "pylon"  -> PYLON_SERVER_BIN (build/pylon-server)
//   PYLON_TEST_SERVER=nats-server      -> the reference server (/usr/sbin/nats-server,
//                                         or PYLON_NATS_SERVER_BIN if set)
//   PYLON_TEST_SERVER=/some/path       -> that binary
// Running the suite against the reference server is how the tests themselves are
// validated; tests needing something only Pylon does call SKIP_IF_REFERENCE().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pylon::it {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Polls `pred` until it returns true or `timeout` passes; returns the last result.
bool wait_for(const std::function<bool()>& pred, milliseconds timeout, milliseconds poll = 2ms);

// True when the suite runs against the reference nats-server.
bool using_reference_server();
// The server binary under test.
std::string server_binary();

// A loopback TCP port leased to this test until it exits (tests/common/test_ports.h).
int pick_free_port();

// Per-test scratch directory, removed on destruction unless the current test failed
// (or PYLON_TEST_KEEP_TMP is set), so logs of failures can be inspected.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }
  // Writes `text` into `name` and returns the full path.
  std::string write(std::string_view name, std::string_view text) const;

 private:
  std::string path_;
};

struct ServerOptions {
  // Config file contents (nats-server syntax). "{PORT}" is replaced by the picked port,
  // "{DIR}" by the per-test directory (in config and args).
  // Empty: no -c flag.
  std::string config;
  // Extra command-line arguments (e.g. {"--user", "a", "--pass", "b"}); "{PORT}" is
  // replaced by the picked port.
  std::vector<std::string> args;
  // Pass "-a 127.0.0.1 -p <port>" on the command line (command line beats config).
  // When false, the config or args must make the server listen on {PORT}.
  bool port_flag = true;
  // Readiness deadline.
  milliseconds start_timeout = 15s;
};

inline ServerOptions with_config(std::string config, std::vector<std::string> args = {}) {
  ServerOptions o;
  o.config = std::move(config);
  o.args = std::move(args);
  return o;
}
inline ServerOptions with_args(std::vector<std::string> args) { return with_config("", std::move(args)); }

class ServerProcess {
 public:
  explicit ServerProcess(ServerOptions opts = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Spawns the server and waits until its port accepts connections. On failure
  // (process exited, deadline) records a gtest failure and returns false.
  bool start();
  bool running();

  int port() const { return port_; }
  std::string url() const;
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return tmp_.path(); }
  const std::string& log_path() const { return log_path_; }
  std::string log() const;
  bool wait_for_log(std::string_view needle, milliseconds timeout) const;

  // SIGTERM, wait up to `timeout`, then SIGKILL. Returns the raw wait status
  // (or -1 if there was nothing to stop).
  int stop(milliseconds timeout = 10s);
  // Sends `sig`, waits up to `timeout` (then SIGKILL). Returns the raw wait status.
  int terminate(int sig, milliseconds timeout = 10s);
  void kill();
  // Waits up to `timeout` for the server to exit by itself (e.g. after `--signal`); its raw
  // wait status, or nullopt if it is still running (or was never started).
  std::optional<int> wait_exit(milliseconds timeout);

 private:
  bool spawn_once(std::string* why);
  bool reap(milliseconds timeout, int* status);

  ServerOptions opts_;
  TempDir tmp_;
  std::string log_path_;
  std::string config_path_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A raw TCP client with an internal read buffer. Every read takes a deadline.
// Sets `stop` and joins `threads` when the scope ends: a failed ASSERT returns early, and
// worker threads that loop until `stop` must end before what they use goes away.
struct StopAndJoin {
  std::atomic<bool>& stop;
  std::vector<std::thread>& threads;
  ~StopAndJoin() {
    stop = true;
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
};

// Writes `config` as the server's file, sends SIGHUP and waits for the reload to be logged.
bool reload_with(ServerProcess& srv, const std::string& config);

class RawClient {
 public:
  RawClient() = default;
  ~RawClient();
  RawClient(RawClient&& o) noexcept;
  RawClient& operator=(RawClient&& o) noexcept;
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Connects to 127.0.0.1:port. rcvbuf > 0 sets SO_RCVBUF before connecting.
  bool connect(int port, milliseconds timeout = 5s, int rcvbuf = 0);
  bool connected() const { return fd_ >= 0; }
  void close();
  int fd() const { return fd_; }

  // Writes everything (blocking with deadline). False on error (e.g. peer closed).
  bool send(std::string_view data, milliseconds timeout = 5s);

  // Next line without its CRLF, or nullopt on deadline / close.
  std::optional<std::string> read_line(milliseconds timeout = 5s);
  // Reads until the buffer contains `needle`; consumes and returns everything up to and
  // including it. nullopt on deadline or close (unconsumed data stays in buffer()).
  std::optional<std::string> read_until(std::string_view needle, milliseconds timeout = 5s);
  // Reads exactly n bytes.
  std::optional<std::string> read_exact(size_t n, milliseconds timeout = 5s);
  // Reads until the server closes the connection (EOF or reset); returns true if it
  // closed before the deadline. Everything read is appended to buffer().
  bool expect_closed(milliseconds timeout = 5s);
  // Reads until closed or deadline; returns all complete lines (and the trailing partial one).
  std::vector<std::string> read_all_lines(milliseconds timeout);

  // Reads the server's greeting INFO line and returns its JSON text.
  std::optional<std::string> read_info(milliseconds timeout = 5s);
  // Sends CONNECT <json> + PING and waits for PONG (skipping +OK). Returns false if
  // anything else (e.g. -ERR) came first; the offending line goes to *got.
  bool handshake(std::string_view connect_json = R"({"verbose":false,"pedantic":false})",
                 std::string* got = nullptr, milliseconds timeout = 5s);
  // Sends PING and waits for PONG; lines seen before it are appended to *before.
  bool ping_pong(milliseconds timeout = 5s, std::vector<std::string>* before = nullptr);

  std::string& buffer() { return buf_; }
  bool peer_closed() const { return eof_; }

 private:
  // One poll+recv step; false on deadline, error or EOF.
  bool fill(Clock::time_point deadline);

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// Runs the server binary with `args` to completion (stdout+stderr captured), killing it
// after `timeout`. For flag-handling tests (-h, -v, unknown flags).
struct RunResult {
  bool exited = false;  // exited normally (not killed by a signal / the deadline)
  int exit_code = -1;
  std::string output;
};
RunResult run_server_binary(const std::vector<std::string>& args, milliseconds timeout = 10s);

// Starts argv (argv[0] a path) with stdin from /dev/null and stdout+stderr to `log_path`,
// in a process group of its own, killed when the test process dies (PR_SET_PDEATHSIG).
// The child's pid, or -1 with *why set.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log_path, std::string* why);

// Runs `command` with /bin/sh and captures its stdout (add 2>&1 for stderr too).
struct ShellResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string output;
};
ShellResult run_shell(const std::string& command);

// Convenience: a started raw client that has read the INFO line; fails the test otherwise.
RawClient raw_connect(int port);

std::string read_file(const std::string& path);

// One HTTP/1.0 GET to 127.0.0.1:port (the server closes after answering; no chunked
// encoding): for the monitoring endpoints. nullopt when it cannot connect or the answer is
// not HTTP within `timeout`.
struct HttpResponse {
  int status = 0;
  std::string headers;       // the raw header block with the status line, lower-cased
  std::string content_type;  // the Content-Type value, as sent
  std::string body;
};
std::optional<HttpResponse> http_get(int port, const std::string& target, milliseconds timeout = 10s,
                                     milliseconds connect_timeout = 5s);

}  // namespace pylon::it

#define SKIP_IF_REFERENCE(why)                                                     \
  do {                                                                             \
    if (::pylon::it::using_reference_server()) GTEST_SKIP() << "reference server: " \
                                                            << why;                \
  } while (0)
