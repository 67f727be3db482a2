#include "server/monitor/conn_info.h"

#include <boost/json.hpp>

#include "server/client/client_conn.h"
#include "server/config/duration.h"
#include "server/monitor/format.h"

namespace pylon::server::monitor {

namespace json = boost::json;

ConnSnapshot snapshot(const ClientConn& c, bool with_subs) {
  ConnSnapshot s;
  s.cid = c.cid();
  s.ip = c.remote_ip();
  s.port = c.remote_port();
  s.start = c.started_at();
  s.last_activity = c.last_activity_at();
  s.rtt = c.rtt();
  s.pending_bytes = c.pending_bytes();
  s.in_msgs = c.in_msgs.load(std::memory_order_relaxed);
  s.out_msgs = c.out_msgs.load(std::memory_order_relaxed);
  s.in_bytes = c.in_bytes.load(std::memory_order_relaxed);
  s.out_bytes = c.out_bytes.load(std::memory_order_relaxed);
  s.name = c.name();
  s.lang = c.lang();
  s.version = c.version();
  s.tls_version = c.tls_version();
  s.tls_cipher_suite = c.tls_cipher_suite();
  s.user = c.user();
  s.account = c.account().name();
  auto subs = c.subscriptions();
  s.num_subs = static_cast<uint32_t>(subs.size());
  if (with_subs) {
    s.subs.reserve(subs.size());
    for (const auto& sub : subs) {
      SubDetail d;
      d.account = s.account;
      d.subject = sub->subject();
      d.queue = sub->queue();
      d.sid = sub->sid();
      d.msgs = sub->delivered.load(std::memory_order_relaxed);
      d.max = sub->max_msgs.load(std::memory_order_relaxed);
      d.cid = s.cid;
      s.subs.push_back(std::move(d));
    }
  }
  return s;
}

json::object to_json(const SubDetail& d, bool with_account) {
  json::object o;
  if (with_account) o["account"] = d.account.empty() ? std::string(kGlobalAccount) : d.account;
  o["subject"] = d.subject;
  if (!d.queue.empty()) o["qgroup"] = d.queue;
  o["sid"] = d.sid;
  // Deliveries past an auto-unsubscribe limit are refused, not delivered: report at most max.
  o["msgs"] = d.max > 0 && d.msgs > d.max ? d.max : d.msgs;
  if (d.max > 0) o["max"] = d.max;
  o["cid"] = d.cid;
  return o;
}

json::object to_json(const ConnSnapshot& s, SysTime now, int subs, bool sub_account, bool auth) {
  json::object o;
  o["cid"] = s.cid;
  o["kind"] = "Client";
  o["type"] = "nats";
  o["ip"] = s.ip;
  o["port"] = s.port;
  o["start"] = rfc3339(s.start);
  o["last_activity"] = rfc3339(s.last_activity);
  if (s.stop) o["stop"] = rfc3339(*s.stop);
  if (!s.reason.empty()) o["reason"] = s.reason;
  o["rtt"] = format_duration(s.rtt);
  // A closed connection's uptime and idle time end at its close, as the reference reports them.
  SysTime end = s.stop ? *s.stop : now;
  o["uptime"] = uptime(end - s.start);
  o["idle"] = uptime(end - s.last_activity);
  o["pending_bytes"] = s.pending_bytes;
  o["in_msgs"] = s.in_msgs;
  o["out_msgs"] = s.out_msgs;
  o["in_bytes"] = s.in_bytes;
  o["out_bytes"] = s.out_bytes;
  o["subscriptions"] = s.num_subs;
  if (!s.name.empty()) o["name"] = s.name;
  if (!s.lang.empty()) o["lang"] = s.lang;
  if (!s.version.empty()) o["version"] = s.version;
  if (!s.tls_version.empty()) o["tls_version"] = s.tls_version;
  if (!s.tls_cipher_suite.empty()) o["tls_cipher_suite"] = s.tls_cipher_suite;
  if (auth) {
    // As the reference's Connz: the account only when it is not the global one.
    if (!s.user.empty()) o["authorized_user"] = s.user;
    if (!s.account.empty() && s.account != kGlobalAccount) o["account"] = s.account;
  }
  if (subs == 1 && !s.subs.empty()) {
    json::array a;
    for (const auto& d : s.subs) a.emplace_back(d.subject);
    o["subscriptions_list"] = std::move(a);
  } else if (subs == 2 && !s.subs.empty()) {
    json::array a;
    for (const auto& d : s.subs) a.emplace_back(to_json(d, sub_account));
    o["subscriptions_list_detail"] = std::move(a);
  }
  return o;
}

ConnSnapshot closed_snapshot(const ClientConn& c, CloseReason reason) {
  ConnSnapshot s = snapshot(c, /*with_subs=*/true);
  s.stop = std::chrono::system_clock::now();
  s.reason = std::string(to_string(reason));
  return s;
}

void ClosedConns::add(const ClientConn& c, CloseReason reason) { add(closed_snapshot(c, reason)); }

void ClosedConns::add(ConnSnapshot s) {
  if (capacity_ == 0) return;
  std::lock_guard lk(mu_);
  if (ring_.size() >= capacity_) ring_.pop_front();
  ring_.push_back(std::move(s));
  ++total_;
}

std::vector<ConnSnapshot> ClosedConns::list() const {
  std::lock_guard lk(mu_);
  return {ring_.begin(), ring_.end()};
}

uint64_t ClosedConns::total() const {
  std::lock_guard lk(mu_);
  return total_;
}

}  // namespace pylon::server::monitor
