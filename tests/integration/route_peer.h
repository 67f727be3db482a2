// A route peer played by the test over a raw socket: it dials a server's route port and speaks
// just enough of the 2.9 route protocol (CONNECT + INFO, RS+, PING/PONG) to be registered as a
// route, and then does whatever the test needs, including nothing (a stalled or silent peer).
// Also a loopback listener standing in for a route port, to see who dials it and when.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "../common/loopback_listener.h"
#include "harness.h"

namespace pylon::it {

// Server IDs are 56 characters in the reference; any unique text works.
inline std::string peer_id(const std::string& tag) {
  std::string id = "NPEER" + tag;
  id.resize(56, 'X');
  return id;
}

// The INFO a route peer sends: `id` listening for routes on 127.0.0.1:`route_port`; `ip` (if
// set) is the URL it asks to be dialled on.
inline std::string route_info_line(const std::string& id, int route_port, const std::string& cluster,
                                   const std::string& ip = "", const std::string& extra = "") {
  boost::json::object j;
  j["server_id"] = id;
  j["server_name"] = id.substr(0, 12);
  j["version"] = "2.9.10";
  j["proto"] = 1;
  j["host"] = "127.0.0.1";
  j["port"] = route_port;
  j["headers"] = true;
  j["max_payload"] = 1048576;
  j["cluster"] = cluster;
  j["lnoc"] = true;
  if (!ip.empty()) j["ip"] = ip;
  std::string s = "INFO " + boost::json::serialize(j);
  if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
  return s + "\r\n";
}

class RoutePeer {
 public:
  // Dials 127.0.0.1:`route_port` (rcvbuf > 0: a small receive buffer, to stall it) and reads
  // the server's route INFO into info().
  bool dial(int route_port, int rcvbuf = 0) {
    if (!conn_.connect(route_port, 5s, rcvbuf)) return false;
    auto line = conn_.read_line(5s);
    if (!line || line->rfind("INFO ", 0) != 0) return false;
    info_text_ = line->substr(5);
    boost::system::error_code ec;
    auto v = boost::json::parse(info_text_, ec);
    if (ec || !v.is_object()) return false;
    info_ = v.as_object();
    return true;
  }
  // Sends CONNECT (with `auth`: extra JSON members such as "user":"u","pass":"p") and our INFO.
  bool handshake(const std::string& id, const std::string& cluster, const std::string& auth = "",
                 int own_route_port = 1) {
    std::string connect = R"(CONNECT {"echo":false,"verbose":false,"pedantic":false,"tls_required":false,)"
                          R"("headers":true,"name":")" + id + R"(","cluster":")" + cluster + R"(","lnoc":true)" +
                          (auth.empty() ? "" : "," + auth) + "}\r\n";
    return conn_.send(connect + route_info_line(id, own_route_port, cluster));
  }

  RawClient& conn() { return conn_; }
  const std::string& info_text() const { return info_text_; }
  const boost::json::object& info() const { return info_; }

 private:
  RawClient conn_;
  std::string info_text_;
  boost::json::object info_;
};

// A listening socket standing in for a server's route port, to see who dials it. It stays bound
// for its whole life, so its kernel-chosen port is never handed to anyone else meanwhile.
class DialRecorder {
 public:
  DialRecorder() { fd_ = pylon::testing::listen_loopback(&port_, 64); }
  ~DialRecorder() {
    for (int c : accepted_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }
  DialRecorder(const DialRecorder&) = delete;
  DialRecorder& operator=(const DialRecorder&) = delete;

  int port() const { return port_; }
  // The next dial (kept open), or -1 after `timeout`.
  int accept(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) accepted_.push_back(c);
    return c;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> accepted_;
};

// Reads what the dialler on `fd` says until `needle` shows up; false on close or deadline.
inline bool fd_read_until(int fd, std::string& buf, std::string_view needle, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (buf.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
  }
  return true;
}

// The times of day (seconds since midnight, from the log's "YYYY/MM/DD HH:MM:SS.ffffff" stamp;
// both servers write it) of the log lines containing `needle`.
inline std::vector<double> log_times(const std::string& log, const std::string& needle) {
  std::vector<double> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) == std::string::npos) continue;
    // "[pid] 2026/12/05 07:35:00.123456 [DBG] ..."
    auto sp = line.find("] ");
    if (sp == std::string::npos) continue;
    int y, mo, d, h, mi;
    double s;
    if (std::sscanf(line.c_str() + sp + 2, "%d/%d/%d %d:%d:%lf", &y, &mo, &d, &h, &mi, &s) != 6) continue;
    double t = h * 3600.0 + mi * 60.0 + s;
    if (!out.empty() && t < out.back()) t += 86400.0;  // past midnight
    out.push_back(t);
  }
  return out;
}

}  // namespace pylon::it
