// Per-connection facts for /connz, taken on the connection's own loop (ClientConn state is
// loop-owned), and the bounded ring of recently closed connections the server keeps, as the
// reference does (its closedRingBuffer, 10000 entries).
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/core/close_reason.h"

namespace pylon::server {
class ClientConn;
}

namespace pylon::server::monitor {

using SysTime = std::chrono::system_clock::time_point;

// One subscription as the reference's SubDetail.
struct SubDetail {
  std::string account;  // empty: $G
  std::string subject, queue, sid;
  int64_t msgs = 0;
  int64_t max = 0;
  uint64_t cid = 0;
};

// One connection as the reference's ConnInfo (open or closed).
struct ConnSnapshot {
  uint64_t cid = 0;
  std::string ip;
  int port = 0;
  SysTime start{}, last_activity{};
  std::optional<SysTime> stop;  // closed connections only
  std::string reason;           // closed connections only
  std::chrono::nanoseconds rtt{0};
  uint64_t pending_bytes = 0;
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  uint32_t num_subs = 0;
  std::string name, lang, version;
  std::string tls_version, tls_cipher_suite;  // TLS clients only
  std::string user;               // authorized user, when known
  std::string account;            // the account the client is bound to
  std::vector<SubDetail> subs;    // filled when asked for (always for closed connections)
};

// On the connection's loop (or in its on_closed). `with_subs` also copies its subscriptions.
ConnSnapshot snapshot(const ClientConn& c, bool with_subs);
// In its on_closed: with its subscriptions, `stop` now and the reason's text.
ConnSnapshot closed_snapshot(const ClientConn& c, CloseReason reason);

// The ConnInfo JSON object. `subs`: 0 none, 1 subscriptions_list, 2 subscriptions_list_detail.
// `sub_account` adds "account" to each detail (the reference does so for closed connections).
// `auth` (/connz?auth=true) adds "authorized_user" and, outside $G, "account".
boost::json::object to_json(const ConnSnapshot& s, SysTime now, int subs, bool sub_account, bool auth = false);
boost::json::object to_json(const SubDetail& d, bool with_account);

// Recently closed client connections, oldest first; at most `capacity`. Thread-safe.
class ClosedConns {
 public:
  static constexpr size_t kDefaultCapacity = 10000;  // DEFAULT_MAX_CLOSED_CLIENTS
  explicit ClosedConns(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Records a connection that is closing (call from its on_closed, before its subscriptions
  // are dropped).
  void add(const ClientConn& c, CloseReason reason);
  void add(ConnSnapshot s);
  std::vector<ConnSnapshot> list() const;
  uint64_t total() const;  // closed since start, including those that fell off the ring

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<ConnSnapshot> ring_;
  uint64_t total_ = 0;
};

}  // namespace pylon::server::monitor
