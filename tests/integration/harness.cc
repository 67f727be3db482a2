#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "../common/test_ports.h"

#ifndef PYLON_SERVER_BIN
#define PYLON_SERVER_BIN "build/pylon-server"
#endif

namespace pylon::it {
namespace {

// Writes to a socket whose peer has gone must not kill the test binary.
const bool kIgnoreSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

sockaddr_in loopback(int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in sa = loopback(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

std::string sanitize(std::string s) {
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  if (s.size() > 60) s.resize(60);
  return s;
}

bool current_test_failed() {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info && info->result() && info->result()->Failed();
}

}  // namespace

bool wait_for(const std::function<bool()>& pred, milliseconds timeout, milliseconds poll) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(poll);
  }
}

bool using_reference_server() {
  const char* v = std::getenv("PYLON_TEST_SERVER");
  if (!v) return false;
  std::string s(v);
  return s == "nats-server" || s == "nats" || s == "reference" ||
         (s.size() >= 11 && s.compare(s.size() - 11, 11, "nats-server") == 0);
}

std::string server_binary() {
  const char* v = std::getenv("PYLON_TEST_SERVER");
  std::string s = v ? v : "";
  if (s == "nats-server" || s == "nats" || s == "reference") {
    const char* ref = std::getenv("PYLON_NATS_SERVER_BIN");
    return ref ? ref : "/usr/sbin/nats-server";
  }
  if (!s.empty() && s != "pylon") return s;
  return PYLON_SERVER_BIN;
}

int pick_free_port() { return pylon::testing::lease_port(); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------- TempDir

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string name = "pylon-it";
  if (auto* info = ::testing::UnitTest::GetInstance()->current_test_info())
    name += "-" + sanitize(std::string(info->test_suite_name()) + "." + info->name());
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + name + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  if (current_test_failed() || std::getenv("PYLON_TEST_KEEP_TMP")) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(std::string_view name, std::string_view text) const {
  std::string p = file(name);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  return p;
}

// ---------------------------------------------------------------- ServerProcess

ServerProcess::ServerProcess(ServerOptions opts) : opts_(std::move(opts)) {
  log_path_ = tmp_.file("server.log");
}

ServerProcess::~ServerProcess() {
  stop();
  if (current_test_failed()) {
    std::string text = log();
    if (text.size() > 6000) text = "...\n" + text.substr(text.size() - 6000);
    std::string cmd = read_file(tmp_.file("cmdline.txt"));
    std::fprintf(stderr, "---- server log (%s) ----\n$ %s%s\n---- end of server log ----\n",
                 log_path_.c_str(), cmd.c_str(), text.c_str());
  }
}

std::string ServerProcess::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

std::string ServerProcess::log() const { return read_file(log_path_); }

bool ServerProcess::wait_for_log(std::string_view needle, milliseconds timeout) const {
  return wait_for([&] { return log().find(needle) != std::string::npos; }, timeout, 10ms);
}

bool ServerProcess::start() {
  std::string why;
  // A picked port can be taken by someone else before the server binds it: retry.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (spawn_once(&why)) return true;
    if (why.find("address already in use") == std::string::npos &&
        why.find("Address already in use") == std::string::npos)
      break;
  }
  ADD_FAILURE() << "server " << server_binary() << " did not start: " << why;
  return false;
}

bool ServerProcess::spawn_once(std::string* why) {
  port_ = pick_free_port();
  auto substitute = [&](std::string text) {
    for (size_t at; (at = text.find("{PORT}")) != std::string::npos;) text.replace(at, 6, std::to_string(port_));
    for (size_t at; (at = text.find("{DIR}")) != std::string::npos;) text.replace(at, 5, tmp_.path());
    return text;
  };
  std::vector<std::string> argv{server_binary()};
  if (!opts_.config.empty()) {
    config_path_ = tmp_.write("server.conf", substitute(opts_.config));
    argv.insert(argv.end(), {"-c", config_path_});
  }
  if (opts_.port_flag) argv.insert(argv.end(), {"-a", "127.0.0.1", "-p", std::to_string(port_)});
  for (auto& a : opts_.args) argv.push_back(substitute(a));

  {
    std::string cmd;
    for (auto& a : argv) cmd += a + " ";
    tmp_.write("cmdline.txt", cmd + "\n");
  }
  pid_t pid = spawn_logged(argv, log_path_, why);
  if (pid < 0) return false;
  pid_ = pid;

  auto deadline = Clock::now() + opts_.start_timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      *why = "exited early (status " + std::to_string(status) + "), log:\n" + log();
      return false;
    }
    if (port_accepts(port_)) return true;
    std::this_thread::sleep_for(5ms);
  }
  *why = "port " + std::to_string(port_) + " not accepting within deadline, log:\n" + log();
  kill();
  return false;
}

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

bool ServerProcess::reap(milliseconds timeout, int* status) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    pid_t r = ::waitpid(pid_, status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

int ServerProcess::stop(milliseconds timeout) { return terminate(SIGTERM, timeout); }

int ServerProcess::terminate(int sig, milliseconds timeout) {
  if (pid_ <= 0) return -1;
  int status = 0;
  ::kill(pid_, sig);
  if (!reap(timeout, &status)) {
    ADD_FAILURE() << "server pid " << pid_ << " did not exit on signal " << sig << " within "
                  << timeout.count() << " ms; killing";
    ::kill(pid_, SIGKILL);
    reap(10s, &status);
  }
  pid_ = -1;
  return status;
}

void ServerProcess::kill() {
  if (pid_ <= 0) return;
  int status = 0;
  ::kill(pid_, SIGKILL);
  reap(10s, &status);
  pid_ = -1;
}

std::optional<int> ServerProcess::wait_exit(milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

// ---------------------------------------------------------------- RawClient

RawClient::~RawClient() { close(); }

RawClient::RawClient(RawClient&& o) noexcept
    : fd_(o.fd_), buf_(std::move(o.buf_)), eof_(o.eof_) {
  o.fd_ = -1;
}

RawClient& RawClient::operator=(RawClient&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    buf_ = std::move(o.buf_);
    eof_ = o.eof_;
    o.fd_ = -1;
  }
  return *this;
}

void RawClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawClient::connect(int port, milliseconds timeout, int rcvbuf) {
  close();
  buf_.clear();
  eof_ = false;
  auto deadline = Clock::now() + timeout;
  do {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa = loopback(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
      return true;
    }
    close();
    std::this_thread::sleep_for(5ms);
  } while (Clock::now() < deadline);
  return false;
}

bool RawClient::send(std::string_view data, milliseconds timeout) {
  if (fd_ < 0) return false;
  auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int left = remaining_ms(deadline);
      if (left == 0 || ::poll(&p, 1, left) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool RawClient::fill(Clock::time_point deadline) {
  if (fd_ < 0 || eof_) return false;
  for (;;) {
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      eof_ = true;  // ECONNRESET and friends: the server closed us.
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    int left = remaining_ms(deadline);
    if (left == 0) return false;
    int r = ::poll(&p, 1, left);
    if (r == 0) return false;
    if (r < 0 && errno != EINTR) return false;
  }
}

std::optional<std::string> RawClient::read_line(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto at = buf_.find("\r\n");
    if (at != std::string::npos) {
      std::string line = buf_.substr(0, at);
      buf_.erase(0, at + 2);
      return line;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<std::string> RawClient::read_until(std::string_view needle, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto at = buf_.find(needle);
    if (at != std::string::npos) {
      std::string out = buf_.substr(0, at + needle.size());
      buf_.erase(0, at + needle.size());
      return out;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<std::string> RawClient::read_exact(size_t n, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (buf_.size() < n)
    if (!fill(deadline)) return std::nullopt;
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

bool RawClient::expect_closed(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!eof_) {
    if (!fill(deadline) && !eof_) return false;
  }
  return true;
}

std::vector<std::string> RawClient::read_all_lines(milliseconds timeout) {
  expect_closed(timeout);
  std::vector<std::string> lines;
  size_t pos = 0;
  for (;;) {
    auto at = buf_.find("\r\n", pos);
    if (at == std::string::npos) break;
    lines.push_back(buf_.substr(pos, at - pos));
    pos = at + 2;
  }
  if (pos < buf_.size()) lines.push_back(buf_.substr(pos));
  buf_.clear();
  return lines;
}

std::optional<std::string> RawClient::read_info(milliseconds timeout) {
  auto line = read_line(timeout);
  if (!line || line->rfind("INFO ", 0) != 0) return std::nullopt;
  return line->substr(5);
}

bool RawClient::handshake(std::string_view connect_json, std::string* got, milliseconds timeout) {
  if (!send("CONNECT " + std::string(connect_json) + "\r\nPING\r\n")) {
    if (got) *got = "<send failed>";
    return false;
  }
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto line = read_line(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    if (!line) {
      if (got) *got = eof_ ? "<closed>" : "<timeout>";
      return false;
    }
    if (*line == "+OK") continue;
    if (*line == "PING") {
      send("PONG\r\n");
      continue;
    }
    if (*line == "PONG") return true;
    if (got) *got = *line;
    return false;
  }
}

bool RawClient::ping_pong(milliseconds timeout, std::vector<std::string>* before) {
  if (!send("PING\r\n")) return false;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto line = read_line(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    if (!line) return false;
    if (*line == "PONG") return true;
    if (*line == "PING") send("PONG\r\n");
    if (before) before->push_back(*line);
  }
}

RunResult run_server_binary(const std::vector<std::string>& args, milliseconds timeout) {
  RunResult result;
  TempDir tmp;
  std::string out_path = tmp.file("output.txt");
  std::vector<std::string> argv{server_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string why;
  pid_t pid = spawn_logged(argv, out_path, &why);
  if (pid < 0) return result;
  int status = 0;
  auto deadline = Clock::now() + timeout;
  bool done = false;
  while (!(done = ::waitpid(pid, &status, WNOHANG) == pid) && Clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  }
  result.output = read_file(out_path);
  return result;
}

pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log_path, std::string* why) {
  std::vector<std::string> args = argv;  // execv wants char*, not const char*
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int logfd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (logfd < 0) {
    *why = "cannot open log " + log_path;
    return -1;
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(logfd);
    *why = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(logfd, 1);
    ::dup2(logfd, 2);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execv(cargv[0], cargv.data());
    const char msg[] = "harness: execv failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(logfd);
  return pid;
}

ShellResult run_shell(const std::string& command) {
  ShellResult r;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  int status = ::pclose(p);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

RawClient raw_connect(int port) {
  RawClient c;
  EXPECT_TRUE(c.connect(port)) << "cannot connect to port " << port;
  EXPECT_TRUE(c.read_info().has_value()) << "no INFO from server on port " << port;
  return c;
}

std::optional<HttpResponse> http_get(int port, const std::string& target, milliseconds timeout,
                                     milliseconds connect_timeout) {
  RawClient c;
  if (!c.connect(port, connect_timeout)) return std::nullopt;
  if (!c.send("GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")) return std::nullopt;
  if (!c.expect_closed(timeout)) return std::nullopt;
  const std::string& all = c.buffer();
  auto end = all.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  HttpResponse r;
  std::string head = all.substr(0, end);
  if (std::sscanf(head.c_str(), "HTTP/1.%*d %d", &r.status) != 1) return std::nullopt;
  for (size_t pos = 0; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    std::string line = head.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? head.size() : eol + 2;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto value = line.find_first_not_of(' ', colon + 1);
    if (key == "content-type" && value != std::string::npos) r.content_type = line.substr(value);
  }
  r.headers = std::move(head);
  for (auto& ch : r.headers) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  r.body = all.substr(end + 4);
  return r;
}

bool reload_with(ServerProcess& srv, const std::string& config) {
  std::string before = srv.log();
  auto count = [](const std::string& log) {
    size_t n = 0;
    for (size_t at = log.find("Reloaded server configuration"); at != std::string::npos;
         at = log.find("Reloaded server configuration", at + 1)) {
      ++n;
    }
    return n;
  };
  size_t n0 = count(before);
  std::ofstream(srv.dir() + "/server.conf", std::ios::trunc) << config;
  if (::kill(srv.pid(), SIGHUP) != 0) return false;
  return wait_for([&] { return count(srv.log()) > n0; }, 10s, 10ms);
}

}  // namespace pylon::it
