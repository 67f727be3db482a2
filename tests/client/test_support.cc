#include "test_support.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "../common/test_ports.h"
#include "server/core/log.h"
#include "server/server.h"

namespace pylon::test {

void expect_every_publish_before_close_arrives(const ClientOptions& o, int messages, int rounds) {
  Connection sub_conn(o);
  sub_conn.connect();
  std::atomic<int> got{0};
  auto sub = sub_conn.subscribe("close.tail", [&](Message&) { ++got; });
  sub_conn.flush();
  const std::string payload(1024, 'x');
  for (int round = 0; round < rounds; ++round) {
    got = 0;
    Connection pub(o);
    pub.connect();
    auto echo = pub.subscribe("close.tail", [](Message&) {});
    pub.flush();
    for (int i = 0; i < messages; ++i) pub.publish("close.tail", payload);
    pub.close();
    EXPECT_EQ(pub.status(), Status::kClosed);
    EXPECT_FALSE(pub.last_error()) << pub.last_error().message;
    EXPECT_TRUE(wait_for([&] { return got.load() == messages; }))
        << "round " << round << ": " << got.load() << " of " << messages << " arrived";
  }
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

int free_port() { return pylon::testing::lease_port(); }

namespace {

// The TLS handshake's bound on both servers (`tls { timeout }`, seconds). Not what these tests
// test, and the default 2 s was too short for a sanitizer build at load 19: the server cut
// the handshake, and the test saw that instead of the error it was written for.
constexpr std::chrono::seconds kTlsHandshakeBound(10);

bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/pylon-client-test-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? d : "/tmp";
}

class PylonServer final : public TestServer {
 public:
  explicit PylonServer(ServerSetup s) : setup_(std::move(s)) {}
  ~PylonServer() override { stop(); }

  void start(int port) override {
    Options o;
    // Leased ports, never the kernel's pick (-1): a restart comes back on the same
    // numbers, and between stop() and start() a kernel-chosen port is free for anyone.
    if (port <= 0) port = port_ > 0 ? port_ : free_port();
    if (setup_.cluster && cluster_port_ == 0) cluster_port_ = free_port();
    if (setup_.websocket && ws_port_ == 0) ws_port_ = free_port();
    o.host = "127.0.0.1";
    o.port = port;
    o.event_loops = 2;
    if (setup_.publish_deny.empty()) {
      o.user = setup_.user;
      o.password = setup_.password;
    } else {
      User u;
      u.user = setup_.user;
      u.password = setup_.password;
      u.permissions.publish.deny = setup_.publish_deny;
      o.users.push_back(std::move(u));
    }
    o.token = setup_.token;
    for (const auto& k : setup_.nkey_users) o.nkeys.push_back({k, {}, {}});
    if (setup_.max_payload > 0) o.max_payload = setup_.max_payload;
    if (setup_.ping_interval.count() > 0) o.ping_interval = setup_.ping_interval;
    if (setup_.ping_max > 0) o.ping_max = setup_.ping_max;
    if (!setup_.tls_cert.empty()) {  // the same block the nats-server instance is given
      o.tls.enabled = true;
      o.tls.cert_file = setup_.tls_cert;
      o.tls.key_file = setup_.tls_key;
      o.tls.ca_file = setup_.tls_ca;
      o.tls.verify = setup_.tls_verify;
      o.tls.timeout = kTlsHandshakeBound;
    }
    if (setup_.websocket) {
      o.websocket.host = "127.0.0.1";
      o.websocket.port = ws_port_;
      o.websocket.no_tls = setup_.ws_tls_cert.empty();
      o.websocket.compression = setup_.ws_compression;
      if (!setup_.ws_tls_cert.empty()) {
        o.websocket.tls.enabled = true;
        o.websocket.tls.cert_file = setup_.ws_tls_cert;
        o.websocket.tls.key_file = setup_.ws_tls_key;
      }
    }
    if (setup_.cluster) {
      o.cluster.host = "127.0.0.1";
      o.cluster.port = cluster_port_;
      o.cluster.name = "client-tests";
      for (int r : setup_.routes) o.cluster.routes.push_back("nats-route://127.0.0.1:" + std::to_string(r));
    }
    if (std::getenv("PYLON_TEST_TRACE")) o.debug = o.trace = true;
    server_ = std::make_unique<Server>(o);
    if (!std::getenv("PYLON_TEST_VERBOSE")) server_->log().open("/dev/null");
    server_->start();
    port_ = server_->port();
  }
  void stop() override {
    if (!server_) return;
    server_->shutdown();
    server_.reset();
  }
  bool running() const override { return server_ != nullptr; }
  int port() const override { return port_; }
  int cluster_port() const override { return cluster_port_; }
  int ws_port() const override { return ws_port_; }
  void enter_lame_duck() override { server_->core().enter_lame_duck(); }

 private:
  ServerSetup setup_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
  int cluster_port_ = 0;
  int ws_port_ = 0;
};

class NatsServerProcess final : public TestServer {
 public:
  explicit NatsServerProcess(ServerSetup s) : setup_(std::move(s)), dir_(temp_dir()) {}
  ~NatsServerProcess() override {
    stop();
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (dir_.rfind("/tmp/pylon-client-test-", 0) == 0) (void)std::system(cmd.c_str());
  }

  void start(int port) override {
    port_ = port > 0 ? port : (port_ > 0 ? port_ : free_port());
    if (setup_.cluster && cluster_port_ == 0) cluster_port_ = free_port();
    if (setup_.websocket && ws_port_ == 0) ws_port_ = free_port();
    std::string conf = dir_ + "/server.conf";
    {
      std::ofstream f(conf);
      f << "listen: 127.0.0.1:" << port_ << "\n";
      f << "log_file: \"" << dir_ << "/server.log\"\n";
      if (setup_.max_payload > 0) f << "max_payload: " << setup_.max_payload << "\n";
      if (setup_.ping_interval.count() > 0) f << "ping_interval: \"" << setup_.ping_interval.count() << "ms\"\n";
      if (setup_.ping_max > 0) f << "ping_max: " << setup_.ping_max << "\n";
      if (!setup_.tls_cert.empty()) {
        f << "tls { cert_file: \"" << setup_.tls_cert << "\", key_file: \"" << setup_.tls_key << "\"";
        if (!setup_.tls_ca.empty()) f << ", ca_file: \"" << setup_.tls_ca << "\"";
        if (setup_.tls_verify) f << ", verify: true";
        f << ", timeout: " << kTlsHandshakeBound.count() << " }\n";
      }
      if (!setup_.publish_deny.empty()) {
        f << "authorization { users = [ { user: \"" << setup_.user << "\", password: \"" << setup_.password
          << "\", permissions: { publish: { deny: [";
        for (size_t i = 0; i < setup_.publish_deny.size(); ++i) {
          f << (i ? ", " : "") << "\"" << setup_.publish_deny[i] << "\"";
        }
        f << "] } } } ] }\n";
      } else if (!setup_.user.empty()) {
        f << "authorization { user: \"" << setup_.user << "\", password: \"" << setup_.password << "\" }\n";
      } else if (!setup_.token.empty()) {
        f << "authorization { token: \"" << setup_.token << "\" }\n";
      } else if (!setup_.nkey_users.empty()) {
        f << "authorization { users = [";
        for (const auto& k : setup_.nkey_users) f << " { nkey: \"" << k << "\" }";
        f << " ] }\n";
      }
      if (setup_.websocket) {
        f << "websocket { listen: \"127.0.0.1:" << ws_port_ << "\"";
        if (setup_.ws_compression) f << ", compression: true";
        if (setup_.ws_tls_cert.empty()) {
          f << ", no_tls: true }\n";
        } else {
          f << ", tls { cert_file: \"" << setup_.ws_tls_cert << "\", key_file: \"" << setup_.ws_tls_key << "\" } }\n";
        }
      }
      if (setup_.cluster) {
        f << "cluster { name: client-tests, listen: 127.0.0.1:" << cluster_port_ << "\n  routes = [";
        for (size_t i = 0; i < setup_.routes.size(); ++i) {
          f << (i ? ", " : "") << "nats-route://127.0.0.1:" << setup_.routes[i];
        }
        f << "]\n}\n";
      }
    }
    const std::string bin = nats_server_bin();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(bin.c_str(), bin.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (!wait_for([this] { return port_accepts(port_) && (ws_port_ == 0 || port_accepts(ws_port_)); }, 15s)) {
      ADD_FAILURE() << "nats-server did not start on port " << port_;
    }
  }
  void stop() override {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  bool running() const override { return pid_ > 0; }
  int port() const override { return port_; }
  int cluster_port() const override { return cluster_port_; }
  int ws_port() const override { return ws_port_; }
  void enter_lame_duck() override { ::kill(pid_, SIGUSR2); }  // nats-server's "ldm" signal
  bool can_pause() const override { return true; }
  void pause() override {
    ::kill(pid_, SIGSTOP);
    // kill() returns before the stop takes effect: wait until the process is stopped
    // ("T" in /proc/<pid>/stat), so nothing sent after pause() is answered.
    const std::string stat = "/proc/" + std::to_string(pid_) + "/stat";
    if (!wait_for([&] {
          std::ifstream f(stat);
          std::string line;
          std::getline(f, line);
          auto p = line.rfind(')');
          return p != std::string::npos && p + 2 < line.size() && line[p + 2] == 'T';
        },
        5s)) {
      ADD_FAILURE() << "nats-server did not stop on SIGSTOP";
    }
  }
  void resume() override { ::kill(pid_, SIGCONT); }

 private:
  ServerSetup setup_;
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  int cluster_port_ = 0;
  int ws_port_ = 0;
};

}  // namespace

std::string nats_server_bin() {
  if (const char* b = std::getenv("PYLON_NATS_SERVER_BIN")) return b;
  return "/usr/sbin/nats-server";
}

bool have_nats_server() { return ::access(nats_server_bin().c_str(), X_OK) == 0; }

std::unique_ptr<TestServer> make_pylon(ServerSetup setup) { return std::make_unique<PylonServer>(std::move(setup)); }

std::unique_ptr<TestServer> make_nats_server(ServerSetup setup) {
  return std::make_unique<NatsServerProcess>(std::move(setup));
}

std::unique_ptr<TestServer> make_server(const std::string& kind, ServerSetup setup) {
  if (kind == "nats-server") return make_nats_server(std::move(setup));
  return make_pylon(std::move(setup));
}

ClientOptions client_options(const std::string& url) {
  ClientOptions o;
  o.servers = {url};
  o.no_randomize = true;
  o.reconnect_wait = 50ms;
  o.reconnect_jitter = 10ms;
  o.connect_timeout = 2s;
  o.max_reconnects = 200;
  o.name = "client-test";
  return o;
}

// Each counter goes up after its event is recorded: a test that waits for a counter may read
// errors() and log() at once.
void Events::attach(ClientOptions& o) {
  o.on_disconnected = [this](Connection&, const ErrorInfo& e) {
    add("disconnected", &e);
    ++disconnected;
  };
  o.on_reconnected = [this](Connection& c) {
    add("reconnected " + c.connected_url());
    ++reconnected;
  };
  o.on_closed = [this](Connection& c) {
    ErrorInfo e = c.last_error();
    add("closed", &e);
    ++closed;
  };
  o.on_discovered_servers = [this](Connection&) {
    add("discovered");
    ++discovered;
  };
  o.on_async_error = [this](Connection&, const Subscription*, const ErrorInfo& e) {
    add("async error", &e);
    ++async_errors;
  };
  o.on_lame_duck = [this](Connection&) {
    add("lame duck");
    ++lame_duck;
  };
}

void Events::add(std::string line, const ErrorInfo* e) {
  std::lock_guard lk(mu_);
  if (e && *e) {
    line += ": " + e->message;
    errors_.push_back(*e);
  }
  log_.push_back(std::move(line));
}

std::vector<ErrorInfo> Events::errors() const {
  std::lock_guard lk(mu_);
  return errors_;
}

std::vector<std::string> Events::log() const {
  std::lock_guard lk(mu_);
  return log_;
}

MessageHandler Inbox::handler() {
  return [this](Message& m) {
    std::lock_guard lk(mu_);
    msgs_.push_back(m);
  };
}

size_t Inbox::size() const {
  std::lock_guard lk(mu_);
  return msgs_.size();
}

std::vector<Message> Inbox::messages() const {
  std::lock_guard lk(mu_);
  return msgs_;
}

bool Inbox::wait_size(size_t n, std::chrono::milliseconds timeout) const {
  return wait_for([&] { return size() >= n; }, timeout);
}

Process::Process(std::vector<std::string> argv, std::string name) {
  static std::atomic<int> seq{0};
  out_path_ = "/tmp/pylon-client-test-proc-" + std::to_string(::getpid()) + "-" + std::to_string(seq++) + "-" +
              (name.empty() ? "p" : name) + ".out";
  pid_ = ::fork();
  if (pid_ == 0) {
    FILE* f = std::fopen(out_path_.c_str(), "w");
    if (f) {
      ::dup2(fileno(f), 1);
      ::dup2(fileno(f), 2);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (!std::getenv("PYLON_TEST_KEEP_TMP")) ::unlink(out_path_.c_str());
}

bool Process::running() {
  if (status_ >= 0) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return r == 0;
}

std::string Process::output() const {
  std::ifstream f(out_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Process::wait_output(const std::string& needle, std::chrono::milliseconds timeout, size_t from) const {
  return wait_for([&] { return output().find(needle, from) != std::string::npos; }, timeout);
}

size_t Process::count(const std::string& needle) const {
  std::string out = output();
  size_t n = 0;
  for (size_t p = out.find(needle); p != std::string::npos; p = out.find(needle, p + needle.size())) ++n;
  return n;
}

int Process::wait(std::chrono::milliseconds timeout) {
  wait_for([&] { return !running(); }, timeout);
  return status_;
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

TempDir::TempDir() : path_(temp_dir()) {}

TempDir::~TempDir() {
  if (std::getenv("PYLON_TEST_KEEP_TMP") || path_.rfind("/tmp/pylon-client-test-", 0) != 0) return;
  std::string cmd = "rm -rf '" + path_ + "'";
  (void)std::system(cmd.c_str());
}

}  // namespace pylon::test
