// `pylon bench`: see bench.h and docs/performance.md.
//
// Each client owns one non-blocking TCP socket and one thread. Every wait is a
// poll() in short slices that also watches the global stop flag, so the whole run
// ends by itself at --timeout (or on SIGINT/SIGTERM) and still reports what arrived.
//
// Timing, as `nats bench` does it:
//  - a publisher runs from the common start signal to the PONG that answers the PING
//    it sends after its last PUB (so the server has processed every message);
//  - a subscriber runs from the read that brought its first message to the read that
//    brought its last one;
//  - "overall" runs from the start signal to the last PONG or delivery, and counts each
//    published message once (end-to-end throughput of the system).
#include "bench.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "proto/parser.h"

#ifndef PYLON_VERSION
#define PYLON_VERSION "0.0.0"
#endif

namespace pylon::tools {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kReadBufBytes = 256 * 1024;
constexpr auto kPollSlice = 100ms;  // how often blocked threads look at the stop flag

// Set on timeout or signal; every wait loop watches it.
std::atomic<bool> g_stop{false};
volatile sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  g_signal = sig;
  g_stop.store(true, std::memory_order_relaxed);
}

bool stopping() { return g_stop.load(std::memory_order_relaxed); }

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- server URL -----------------------------------------------------------------------

struct ServerUrl {
  std::string host = "127.0.0.1";
  std::string port = "4222";
  std::string user, pass, token;
};

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// "nats://[user:pass@|token@]host[:port]", the scheme optional; for a comma-separated
// list the first URL is used.
std::optional<ServerUrl> parse_url(std::string_view s, std::string& err) {
  if (auto c = s.find(','); c != std::string_view::npos) s = s.substr(0, c);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '/')) s.remove_suffix(1);
  if (auto p = s.find("://"); p != std::string_view::npos) {
    if (s.substr(0, p) != "nats") {
      err = "unsupported URL scheme '" + std::string(s.substr(0, p)) + "' (only nats:// is supported)";
      return std::nullopt;
    }
    s.remove_prefix(p + 3);
  }
  ServerUrl u;
  if (auto at = s.rfind('@'); at != std::string_view::npos) {
    std::string_view info = s.substr(0, at);
    s.remove_prefix(at + 1);
    if (auto colon = info.find(':'); colon != std::string_view::npos) {
      u.user = percent_decode(info.substr(0, colon));
      u.pass = percent_decode(info.substr(colon + 1));
    } else {
      u.token = percent_decode(info);
    }
  }
  std::string_view host = s, port;
  if (s.starts_with('[')) {  // [IPv6]:port
    auto close = s.find(']');
    if (close == std::string_view::npos) {
      err = "bad server URL: unterminated '['";
      return std::nullopt;
    }
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (rest.starts_with(':')) port = rest.substr(1);
  } else if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (!host.empty()) u.host = host;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
      err = "bad port in server URL: '" + std::string(port) + "'";
      return std::nullopt;
    }
    u.port = port;
  }
  return u;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out + "\"";
}

// Value of a numeric or boolean field in the server's INFO (a flat JSON object).
std::string_view info_field(std::string_view json, std::string_view key) {
  std::string pat = "\"" + std::string(key) + "\"";
  auto p = json.find(pat);
  if (p == std::string_view::npos) return {};
  p = json.find(':', p + pat.size());
  if (p == std::string_view::npos) return {};
  ++p;
  while (p < json.size() && json[p] == ' ') ++p;
  auto e = p;
  while (e < json.size() && json[e] != ',' && json[e] != '}' && json[e] != ' ') ++e;
  return json.substr(p, e - p);
}

// ---- one client connection ------------------------------------------------------------

struct Counter final : proto::ParserHandler {
  bool got_info = false;
  std::string info;
  int64_t pongs = 0;
  int64_t pings = 0;  // PINGs from the server not answered yet
  std::string err;    // first -ERR text
  int64_t msgs = 0;

  bool on_info(std::string_view json) override {
    got_info = true;
    info.assign(json);
    return true;
  }
  bool on_ping() override {
    ++pings;
    return true;
  }
  bool on_pong() override {
    ++pongs;
    return true;
  }
  bool on_err(std::string_view text) override {
    if (err.empty()) err.assign(text);
    return true;
  }
  bool on_msg(const proto::MsgArgs&, std::string_view) override {
    ++msgs;
    return true;
  }
};

class Conn {
 public:
  explicit Conn(std::string name)
      : name_(std::move(name)),
        // Client side: INFO may be long (connect_urls), payloads are whatever the server allows.
        parser_(proto::Role::kClient, proto::ParserLimits{1 << 20, -1}),
        rbuf_(new char[kReadBufBytes]) {}
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  const std::string& name() const { return name_; }
  const std::string& error() const { return err_; }
  Counter& counter() { return h_; }
  // When the last read returned (for subscriber timing).
  Clock::time_point last_read() const { return last_read_; }

  // TCP connect, INFO, CONNECT + PING, PONG.
  bool open(const ServerUrl& url, Clock::time_point deadline) {
    if (!connect_tcp(url, deadline)) return false;
    while (!h_.got_info) {
      if (!read_some(deadline)) return fail_ctx("waiting for INFO");
    }
    if (info_field(h_.info, "tls_required") == "true") {
      return fail("the server requires TLS, which pylon bench does not speak yet");
    }
    std::string c = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1";
    c += ",\"name\":" + json_string(name_) + ",\"lang\":\"cpp\",\"version\":\"" PYLON_VERSION "\"";
    if (!url.user.empty() || !url.pass.empty()) {
      c += ",\"user\":" + json_string(url.user) + ",\"pass\":" + json_string(url.pass);
    }
    if (!url.token.empty()) c += ",\"auth_token\":" + json_string(url.token);
    c += "}\r\n";
    if (!send(c, deadline)) return false;
    return flush(deadline) || fail_ctx("waiting for the PONG after CONNECT");
  }

  int64_t max_payload() const {
    auto v = info_field(h_.info, "max_payload");
    return v.empty() ? -1 : std::atoll(std::string(v).c_str());
  }

  // Writes all of `data`, reading (and parsing) whatever the server sends meanwhile;
  // answers server PINGs after the data, at an operation boundary.
  bool send(std::string_view data, Clock::time_point deadline) {
    if (!write_raw(data, deadline)) return false;
    return answer_pings(deadline);
  }

  // PING, then read until its PONG: the server has processed all we sent before.
  bool flush(Clock::time_point deadline) {
    const int64_t want = h_.pongs + 1;
    if (!send("PING\r\n", deadline)) return false;
    while (h_.pongs < want) {
      if (!read_some(deadline)) return false;
      if (!answer_pings(deadline)) return false;
    }
    return true;
  }

  // Reads once (waiting up to the deadline) and parses. False on EOF, error, -ERR,
  // deadline or stop; error() says which.
  bool read_some(Clock::time_point deadline) {
    for (;;) {
      ssize_t n = ::recv(fd_, rbuf_.get(), kReadBufBytes, 0);
      if (n > 0) {
        last_read_ = Clock::now();
        return parse(static_cast<size_t>(n));
      }
      if (n == 0) return fail_closed();
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return fail_errno("read");
      if (!wait(POLLIN, deadline)) return false;
    }
  }

  // Reads and parses whatever is already there, without waiting.
  bool poll_input(Clock::time_point deadline) {
    for (;;) {
      ssize_t n = ::recv(fd_, rbuf_.get(), kReadBufBytes, MSG_DONTWAIT);
      if (n > 0) {
        if (!parse(static_cast<size_t>(n))) return false;
        continue;
      }
      if (n == 0) return fail_closed();
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return answer_pings(deadline);
      return fail_errno("read");
    }
  }

  bool answer_pings(Clock::time_point deadline) {
    while (h_.pings > 0) {
      --h_.pings;
      if (!write_raw("PONG\r\n", deadline)) return false;
    }
    return true;
  }

 private:
  bool connect_tcp(const ServerUrl& url, Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &res);
    if (rc != 0) return fail("cannot resolve " + url.host + ": " + ::gai_strerror(rc));
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
    std::string last = "no address";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        last = std::strerror(errno);
        continue;
      }
      fd_ = fd;
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
          last = std::strerror(errno);
          ::close(fd);
          fd_ = -1;
          continue;
        }
        if (!wait(POLLOUT, deadline)) {
          last = err_;
          ::close(fd);
          fd_ = -1;
          continue;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) {
          last = std::strerror(soerr);
          ::close(fd);
          fd_ = -1;
          continue;
        }
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      err_.clear();
      return true;
    }
    return fail("cannot connect to " + url.host + ":" + url.port + ": " + last);
  }

  bool write_raw(std::string_view data, Clock::time_point deadline) {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::send(fd_, p, left, MSG_NOSIGNAL);
      if (n > 0) {
        p += n;
        left -= static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // The server is not reading: meanwhile, take in what it sends (PINGs, -ERR).
        short ev = 0;
        if (!wait(POLLOUT | POLLIN, deadline, &ev)) return false;
        if ((ev & POLLIN) != 0 && !drain()) return false;
        continue;
      }
      std::string e = std::strerror(errno);
      drain();  // the server may have said why it closed (-ERR ...)
      if (!h_.err.empty()) return fail("server error: -ERR '" + h_.err + "'");
      return fail("write: " + e);
    }
    return true;
  }

  // Parses what is readable now, without answering (we may be mid-batch).
  bool drain() {
    for (;;) {
      ssize_t n = ::recv(fd_, rbuf_.get(), kReadBufBytes, MSG_DONTWAIT);
      if (n > 0) {
        if (!parse(static_cast<size_t>(n))) return false;
        continue;
      }
      if (n == 0) return fail_closed();
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      return fail_errno("read");
    }
  }

  bool parse(size_t n) {
    proto::ParseResult r = parser_.parse(std::string_view(rbuf_.get(), n), h_);
    if (r.error != proto::ParseError::kNone) {
      std::string_view what = proto::error_text(r.error);
      return fail("protocol error from server: " + std::string(what.empty() ? "malformed operation" : what) +
                  (r.detail.empty() ? "" : " (" + r.detail + ")"));
    }
    // Any -ERR means the run is broken (auth, permissions, payload size, ...).
    if (!h_.err.empty()) return fail("server error: -ERR '" + h_.err + "'");
    return true;
  }

  // Waits for `events` until the deadline, in slices that watch the stop flag.
  bool wait(short events, Clock::time_point deadline, short* revents = nullptr) {
    for (;;) {
      if (stopping()) return fail(g_signal != 0 ? "interrupted" : "timed out");
      auto now = Clock::now();
      if (now >= deadline) return fail("timed out");
      auto slice = std::min<Clock::duration>(deadline - now, kPollSlice);
      int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count());
      pollfd pfd{fd_, events, 0};
      int rc = ::poll(&pfd, 1, ms);
      if (rc < 0) {
        if (errno == EINTR) continue;
        return fail_errno("poll");
      }
      if (rc == 0) continue;
      if (revents != nullptr) *revents = pfd.revents;
      // POLLERR/POLLHUP: let the following read/write report the real error.
      return true;
    }
  }

  bool fail(std::string e) {
    if (err_.empty()) err_ = std::move(e);
    return false;
  }
  bool fail_ctx(const char* ctx) {
    if (err_.empty()) err_ = "failed";
    err_ += std::string(" (") + ctx + ")";
    return false;
  }
  bool fail_errno(const char* what) { return fail(std::string(what) + ": " + std::strerror(errno)); }
  bool fail_closed() {
    if (!h_.err.empty()) return fail("server error: -ERR '" + h_.err + "'");
    return fail("connection closed by the server");
  }

  std::string name_;
  int fd_ = -1;
  proto::Parser parser_;
  Counter h_;
  std::unique_ptr<char[]> rbuf_;
  std::string err_;
  Clock::time_point last_read_{};
};

// ---- the clients ----------------------------------------------------------------------

struct ClientResult {
  alignas(64) std::atomic<int64_t> msgs{0};  // progress, read by the main thread
  int64_t target = 0;
  Clock::time_point start{}, end{};
  bool started = false;
  bool complete = false;
  std::string error;
  std::atomic<bool> finished{false};
};

void run_publisher(Conn& c, const BenchOptions& o, int64_t count, std::latch& go, Clock::time_point deadline,
                   ClientResult& r) {
  // One batch: as many whole PUBs as fit in --batch bytes (at least one). The last
  // batch is a prefix of it: every message is identical.
  std::string one = "PUB " + o.subject + " " + std::to_string(o.size) + "\r\n";
  one.append(static_cast<size_t>(o.size), 'x');
  one += "\r\n";
  const int64_t per_batch = std::max<int64_t>(1, static_cast<int64_t>(o.batch_bytes / one.size()));
  std::string batch;
  batch.reserve(one.size() * static_cast<size_t>(std::min(per_batch, count)));
  for (int64_t i = 0; i < std::min(per_batch, count); ++i) batch += one;

  go.wait();
  r.start = Clock::now();
  r.started = true;
  auto next_input_check = r.start + kPollSlice;
  int64_t sent = 0;
  bool ok = true;
  while (sent < count && !stopping()) {
    int64_t n = std::min(per_batch, count - sent);
    if (!c.send(std::string_view(batch.data(), one.size() * static_cast<size_t>(n)), deadline)) {
      ok = false;
      break;
    }
    sent += n;
    r.msgs.store(sent, std::memory_order_relaxed);
    // A server that keeps up never blocks our writes, so look for its PINGs or -ERR now and then.
    if (auto now = Clock::now(); now >= next_input_check) {
      if (!c.poll_input(deadline)) {
        ok = false;
        break;
      }
      next_input_check = now + kPollSlice;
    }
  }
  if (ok && sent == count) ok = c.flush(deadline);
  r.end = Clock::now();
  r.complete = ok && sent == count;
  if (!r.complete) r.error = c.error().empty() ? (g_signal != 0 ? "interrupted" : "timed out") : c.error();
  r.finished.store(true, std::memory_order_release);
}

void run_subscriber(Conn& c, int64_t expected, Clock::time_point deadline, ClientResult& r) {
  Counter& h = c.counter();
  bool ok = true;
  while (h.msgs < expected) {
    if (!c.read_some(deadline) || !c.answer_pings(deadline)) {
      ok = false;
      break;
    }
    if (!r.started && h.msgs > 0) {
      r.started = true;
      r.start = c.last_read();
    }
    r.msgs.store(h.msgs, std::memory_order_relaxed);
  }
  r.end = ok ? c.last_read() : Clock::now();
  r.msgs.store(h.msgs, std::memory_order_relaxed);
  r.complete = ok;
  if (!ok) r.error = c.error();
  r.finished.store(true, std::memory_order_release);
}

// ---- reporting ------------------------------------------------------------------------

std::string commas(double v) {
  auto n = static_cast<long long>(std::llround(v));
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return n < 0 ? "-" + s : s;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

struct Stat {
  int64_t msgs = 0;
  double secs = 0;
  int64_t size = 0;
  double rate() const { return secs > 0 ? static_cast<double>(msgs) / secs : 0; }
  double mb() const { return rate() * static_cast<double>(size) / (1024.0 * 1024.0); }  // MiB, as nats bench
};

Stat client_stat(const ClientResult& r, int64_t size) {
  Stat s;
  s.msgs = r.msgs.load();
  s.size = size;
  s.secs = r.started ? seconds(r.end - r.start) : 0;
  return s;
}

// All clients of one side as one: their messages over earliest start to latest end.
Stat side_stat(const std::vector<std::unique_ptr<ClientResult>>& rs, int64_t size) {
  Stat s;
  s.size = size;
  std::optional<Clock::time_point> first, last;
  for (const auto& r : rs) {
    s.msgs += r->msgs.load();
    if (!r->started) continue;
    if (!first || r->start < *first) first = r->start;
    if (!last || r->end > *last) last = r->end;
  }
  if (first) s.secs = seconds(*last - *first);
  return s;
}

std::string stat_line(const Stat& s) {
  return commas(s.rate()) + " msgs/sec ~ " + fmt("%.2f", s.mb()) + " MB/sec";
}

std::string stat_json(const Stat& s) {
  return "\"msgs\":" + std::to_string(s.msgs) + ",\"bytes\":" + std::to_string(s.msgs * s.size) +
         ",\"seconds\":" + fmt("%.6f", s.secs) + ",\"msgs_per_sec\":" + fmt("%.1f", s.rate()) +
         ",\"mb_per_sec\":" + fmt("%.3f", s.mb());
}

void print_side(const char* label, const std::vector<std::unique_ptr<ClientResult>>& rs, int64_t size) {
  if (rs.empty()) return;
  std::printf(" %s stats: %s\n", label, stat_line(side_stat(rs, size)).c_str());
  if (rs.size() < 2) return;
  std::vector<double> rates;
  for (size_t i = 0; i < rs.size(); ++i) {
    Stat s = client_stat(*rs[i], size);
    rates.push_back(s.rate());
    std::printf("  [%zu] %s (%s msgs)%s\n", i + 1, stat_line(s).c_str(), commas(static_cast<double>(s.msgs)).c_str(),
                rs[i]->complete ? "" : " INCOMPLETE");
  }
  double sum = 0, sq = 0;
  for (double r : rates) sum += r;
  double avg = sum / static_cast<double>(rates.size());
  for (double r : rates) sq += (r - avg) * (r - avg);
  std::printf("  min %s | avg %s | max %s | stddev %s msgs/sec\n",
              commas(*std::min_element(rates.begin(), rates.end())).c_str(), commas(avg).c_str(),
              commas(*std::max_element(rates.begin(), rates.end())).c_str(),
              commas(std::sqrt(sq / static_cast<double>(rates.size()))).c_str());
}

std::string side_json(const std::vector<std::unique_ptr<ClientResult>>& rs, int64_t size) {
  std::string j = "{" + stat_json(side_stat(rs, size)) + ",\"clients\":[";
  for (size_t i = 0; i < rs.size(); ++i) {
    if (i > 0) j += ",";
    j += "{" + stat_json(client_stat(*rs[i], size)) + ",\"target\":" + std::to_string(rs[i]->target) +
         ",\"complete\":" + (rs[i]->complete ? "true" : "false") + ",\"error\":" + json_string(rs[i]->error) + "}";
  }
  return j + "]}";
}

bool write_csv(const std::string& path, const BenchOptions& o, const Stat& overall,
               const std::vector<std::unique_ptr<ClientResult>>& pubs,
               const std::vector<std::unique_ptr<ClientResult>>& subs) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "pylon bench: cannot write %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::fprintf(f, "side,client,msgs,bytes,seconds,msgs_per_sec,mb_per_sec,complete\n");
  auto row = [&](const char* side, const std::string& client, const Stat& s, bool complete) {
    std::fprintf(f, "%s,%s,%lld,%lld,%.6f,%.1f,%.3f,%s\n", side, client.c_str(), static_cast<long long>(s.msgs),
                 static_cast<long long>(s.msgs * s.size), s.secs, s.rate(), s.mb(), complete ? "true" : "false");
  };
  auto all_complete = [](const auto& rs) {
    return std::all_of(rs.begin(), rs.end(), [](const auto& r) { return r->complete; });
  };
  row("overall", "all", overall, all_complete(pubs) && all_complete(subs));
  if (!pubs.empty()) row("pub", "all", side_stat(pubs, o.size), all_complete(pubs));
  if (!subs.empty()) row("sub", "all", side_stat(subs, o.size), all_complete(subs));
  for (size_t i = 0; i < pubs.size(); ++i) row("pub", std::to_string(i + 1), client_stat(*pubs[i], o.size), pubs[i]->complete);
  for (size_t i = 0; i < subs.size(); ++i) row("sub", std::to_string(i + 1), client_stat(*subs[i], o.size), subs[i]->complete);
  bool ok = std::fclose(f) == 0;
  if (!ok) std::fprintf(stderr, "pylon bench: cannot write %s\n", path.c_str());
  return ok;
}

bool valid_subject(std::string_view s, bool for_pub) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  if (for_pub) {  // no wildcard tokens
    size_t b = 0;
    while (b <= s.size()) {
      size_t e = s.find('.', b);
      if (e == std::string_view::npos) e = s.size();
      std::string_view t = s.substr(b, e - b);
      if (t == "*" || t == ">") return false;
      b = e + 1;
    }
  }
  return true;
}

}  // namespace

int run_bench(const BenchOptions& o) {
  if (!valid_subject(o.subject, o.pubs > 0)) {
    std::fprintf(stderr, "pylon bench: invalid subject '%s'%s\n", o.subject.c_str(),
                 o.pubs > 0 ? " (publishers need a literal subject, no wildcards)" : "");
    return 2;
  }
  if (o.pubs <= 0 && o.subs <= 0) {
    std::fprintf(stderr, "pylon bench: need at least one publisher or subscriber\n");
    return 2;
  }
  std::string err;
  auto url = parse_url(o.server, err);
  if (!url) {
    std::fprintf(stderr, "pylon bench: %s\n", err.c_str());
    return 2;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));

  // Connect everyone first, subscribers subscribed (their PONG proves the server has
  // the interest), so publishing starts on a ready system.
  std::vector<std::unique_ptr<Conn>> pub_conns, sub_conns;
  std::vector<std::unique_ptr<ClientResult>> pubs, subs;
  for (int i = 0; i < o.subs; ++i) {
    auto c = std::make_unique<Conn>("pylon-bench-sub-" + std::to_string(i + 1));
    if (!c->open(*url, deadline) || !c->send("SUB " + o.subject + " 1\r\n", deadline) || !c->flush(deadline)) {
      std::fprintf(stderr, "pylon bench: subscriber %d: %s\n", i + 1, c->error().c_str());
      return 2;
    }
    sub_conns.push_back(std::move(c));
    subs.push_back(std::make_unique<ClientResult>());
    subs.back()->target = o.msgs;
  }
  for (int i = 0; i < o.pubs; ++i) {
    auto c = std::make_unique<Conn>("pylon-bench-pub-" + std::to_string(i + 1));
    if (!c->open(*url, deadline)) {
      std::fprintf(stderr, "pylon bench: publisher %d: %s\n", i + 1, c->error().c_str());
      return 2;
    }
    if (int64_t mp = c->max_payload(); mp >= 0 && o.size > mp) {
      std::fprintf(stderr, "pylon bench: --size %lld exceeds the server's max_payload %lld\n",
                   static_cast<long long>(o.size), static_cast<long long>(mp));
      return 2;
    }
    pub_conns.push_back(std::move(c));
    pubs.push_back(std::make_unique<ClientResult>());
    pubs.back()->target = o.msgs / o.pubs + (i < o.msgs % o.pubs ? 1 : 0);
  }

  std::fprintf(stderr,
               "Starting pylon bench [server=%s:%s, subject=%s, msgs=%s, size=%lld B, pubs=%d, subs=%d]\n",
               url->host.c_str(), url->port.c_str(), o.subject.c_str(), commas(static_cast<double>(o.msgs)).c_str(),
               static_cast<long long>(o.size), o.pubs, o.subs);

  std::latch go(1);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < sub_conns.size(); ++i) {
    threads.emplace_back(run_subscriber, std::ref(*sub_conns[i]), o.msgs, deadline, std::ref(*subs[i]));
  }
  for (size_t i = 0; i < pub_conns.size(); ++i) {
    threads.emplace_back(run_publisher, std::ref(*pub_conns[i]), std::cref(o), pubs[i]->target, std::ref(go), deadline,
                         std::ref(*pubs[i]));
  }
  const auto start = Clock::now();
  go.count_down();

  // Watch: progress once a second, the deadline, signals.
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  bool progress_shown = false;
  auto next_progress = start + 1s;
  bool timed_out = false;
  auto all_finished = [&] {
    for (auto* side : {&pubs, &subs})
      for (auto& r : *side)
        if (!r->finished.load(std::memory_order_acquire)) return false;
    return true;
  };
  while (!all_finished()) {
    std::this_thread::sleep_for(20ms);
    auto now = Clock::now();
    if (now >= deadline && !stopping()) {
      timed_out = true;
      g_stop.store(true);
    }
    if (o.progress && now >= next_progress) {
      next_progress += 1s;
      int64_t p = 0, s = 0;
      for (auto& r : pubs) p += r->msgs.load(std::memory_order_relaxed);
      for (auto& r : subs) s += r->msgs.load(std::memory_order_relaxed);
      std::string line = fmt("%5.1fs", seconds(now - start));
      if (!pubs.empty()) line += "  published " + commas(static_cast<double>(p)) + "/" + commas(static_cast<double>(o.msgs));
      if (!subs.empty()) {
        line += "  received " + commas(static_cast<double>(s)) + "/" +
                commas(static_cast<double>(o.msgs) * static_cast<double>(subs.size()));
      }
      std::fprintf(stderr, tty ? "\r%s\033[K" : "%s\n", line.c_str());
      progress_shown = true;
    }
  }
  for (auto& t : threads) t.join();
  if (progress_shown && tty) std::fprintf(stderr, "\r\033[K");

  // Overall: from the start signal (or, with no publishers here, the first delivery)
  // to the last PONG or delivery; each published message counted once.
  Stat overall;
  overall.size = o.size;
  {
    Stat ps = side_stat(pubs, o.size), ss = side_stat(subs, o.size);
    std::optional<Clock::time_point> first, last;
    auto take = [&](const std::vector<std::unique_ptr<ClientResult>>& rs) {
      for (auto& r : rs) {
        if (!r->started) continue;
        if (!first || r->start < *first) first = r->start;
        if (!last || r->end > *last) last = r->end;
      }
    };
    take(pubs);
    take(subs);
    if (!pubs.empty()) first = start;
    if (first && last) overall.secs = seconds(*last - *first);
    if (!pubs.empty()) {
      overall.msgs = ps.msgs;
    } else {  // subscribers only: messages that reached every subscriber
      overall.msgs = subs.empty() ? 0 : subs.front()->msgs.load();
      for (auto& r : subs) overall.msgs = std::min(overall.msgs, r->msgs.load());
    }
    (void)ss;
  }

  bool complete = true;
  for (auto* side : {&pubs, &subs})
    for (auto& r : *side) complete = complete && r->complete;
  // A client may have hit the deadline in its own wait before this thread noticed it.
  if (!complete && g_signal == 0 && Clock::now() >= deadline) timed_out = true;

  if (o.json) {
    std::string j = "{\"overall\":{" + stat_json(overall) + "},\"complete\":" + (complete ? "true" : "false") +
                    ",\"timed_out\":" + (timed_out ? "true" : "false") + ",\"server\":" +
                    json_string(url->host + ":" + url->port) + ",\"subject\":" + json_string(o.subject) +
                    ",\"pubs\":" + std::to_string(o.pubs) + ",\"subs\":" + std::to_string(o.subs) +
                    ",\"msgs\":" + std::to_string(o.msgs) + ",\"size\":" + std::to_string(o.size);
    if (!pubs.empty()) j += ",\"pub\":" + side_json(pubs, o.size);
    if (!subs.empty()) j += ",\"sub\":" + side_json(subs, o.size);
    j += "}";
    std::printf("%s\n", j.c_str());
  } else {
    std::printf("\nOverall: %s (%s msgs in %.3f s%s)\n", stat_line(overall).c_str(),
                commas(static_cast<double>(overall.msgs)).c_str(), overall.secs,
                subs.empty() ? "" : pubs.empty() ? ", to every subscriber" : ", first publish to last delivery");
    print_side("Pub", pubs, o.size);
    print_side("Sub", subs, o.size);
  }
  std::fflush(stdout);

  bool csv_ok = o.csv_file.empty() || write_csv(o.csv_file, o, overall, pubs, subs);

  if (!complete) {
    std::fprintf(stderr, "pylon bench: INCOMPLETE%s\n",
                 timed_out ? fmt(" (timed out after %g s)", o.timeout_s).c_str()
                           : g_signal != 0 ? " (interrupted)" : "");
    for (size_t i = 0; i < pubs.size(); ++i) {
      if (pubs[i]->complete) continue;
      std::fprintf(stderr, "  publisher %zu: sent %s/%s msgs: %s\n", i + 1, commas(static_cast<double>(pubs[i]->msgs.load())).c_str(),
                   commas(static_cast<double>(pubs[i]->target)).c_str(), pubs[i]->error.c_str());
    }
    for (size_t i = 0; i < subs.size(); ++i) {
      if (subs[i]->complete) continue;
      std::fprintf(stderr, "  subscriber %zu: received %s/%s msgs: %s\n", i + 1,
                   commas(static_cast<double>(subs[i]->msgs.load())).c_str(),
                   commas(static_cast<double>(subs[i]->target)).c_str(), subs[i]->error.c_str());
    }
    return 1;
  }
  return csv_ok ? 0 : 1;
}

}  // namespace pylon::tools
