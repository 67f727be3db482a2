#include "top_stats.h"

#include <cctype>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>
#include <stdexcept>

#include "http_get.h"

namespace pylon::tools::top {

namespace json = boost::json;

namespace {

// /connz answers at most this many per page unless asked for more; ranking by a rate
// pages through all connections with it.
constexpr int kPageSize = 1024;
constexpr int64_t kPageOverlap = 64;  // see Poller::poll
// A connection not seen for this many polls (it closed, or fell out of a limited,
// server-sorted page) is forgotten; seen again later it starts without a rate.
constexpr int kForgetAfterPolls = 10;

const json::value* field(const json::object& o, std::string_view key) { return o.if_contains(key); }

int64_t to_int(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return 0;
}

double to_double(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v) return 0;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return 0;
}

std::string to_str(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

json::object parse_object(const std::string& body, const std::string& target) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) throw std::runtime_error("GET " + target + ": the answer is not a JSON object");
  return std::move(v.as_object());
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// The message and byte counters, which /varz and each /connz entry name alike.
Counters parse_totals(const json::object& o) {
  Counters t;
  t.msgs_to = to_int(o, "out_msgs");
  t.msgs_from = to_int(o, "in_msgs");
  t.bytes_to = to_int(o, "out_bytes");
  t.bytes_from = to_int(o, "in_bytes");
  return t;
}

ServerInfo parse_varz(const json::object& v) {
  ServerInfo s;
  s.is_pylon = field(v, "pylon") != nullptr;
  s.server_id = to_str(v, "server_id");
  s.server_name = to_str(v, "server_name");
  s.version = to_str(v, "version");
  s.pylon_version = to_str(v, "pylon");
  s.host = to_str(v, "host");
  s.port = static_cast<int>(to_int(v, "port"));
  s.start = to_str(v, "start");
  s.uptime = to_str(v, "uptime");
  s.cpu = to_double(v, "cpu");
  s.mem = to_int(v, "mem");
  s.cores = to_int(v, "cores");
  s.connections = to_int(v, "connections");
  s.total_connections = to_int(v, "total_connections");
  s.routes = to_int(v, "routes");
  s.subscriptions = to_int(v, "subscriptions");
  s.slow_consumers = to_int(v, "slow_consumers");
  s.totals = parse_totals(v);
  return s;
}

// An account name as a query parameter value: RFC 3986's unreserved bytes as they are,
// every other byte %-encoded ("$G" -> "%24G").
std::string query_escape(std::string_view v) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

ConnInfo parse_conn(const json::object& c) {
  ConnInfo r;
  r.cid = static_cast<uint64_t>(to_int(c, "cid"));
  r.name = to_str(c, "name");
  r.ip = to_str(c, "ip");
  r.port = static_cast<int>(to_int(c, "port"));
  r.lang = to_str(c, "lang");
  r.version = to_str(c, "version");
  r.uptime = to_str(c, "uptime");
  r.idle = to_str(c, "idle");
  r.last_activity = to_str(c, "last_activity");
  r.subs = to_int(c, "subscriptions");
  r.pending = to_int(c, "pending_bytes");
  r.totals = parse_totals(c);
  r.account = to_str(c, "account");
  if (const json::value* list = field(c, "subscriptions_list"); list && list->is_array()) {
    for (const auto& s : list->get_array())
      if (s.is_string()) r.subjects.emplace_back(s.get_string());
  }
  return r;
}

double rate_of(const ConnInfo& c, std::string_view key) {
  if (!c.rates.known) return -1;  // unknown rates rank after every known one, zero included
  const Rates& r = c.rates;
  if (key == "msgs_rate") return r.msgs();
  if (key == "msgs_to_rate") return r.msgs_to;
  if (key == "msgs_from_rate") return r.msgs_from;
  if (key == "bytes_rate") return r.bytes();
  if (key == "bytes_to_rate") return r.bytes_to;
  return r.bytes_from;  // bytes_from_rate
}

int parse_digits(std::string_view s, size_t at, size_t n, bool* ok) {
  int v = 0;
  if (at + n > s.size()) {
    *ok = false;
    return 0;
  }
  auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + n, v);
  if (ec != std::errc() || p != s.data() + at + n) *ok = false;
  return v;
}

}  // namespace

const std::vector<SortKey>& sort_keys() {
  static const std::vector<SortKey> keys = {
      {"msgs_rate", "", "messages per second to + from the client"},
      {"msgs_to_rate", "", "messages per second sent to the client"},
      {"msgs_from_rate", "", "messages per second received from the client"},
      {"bytes_rate", "", "payload bytes per second to + from the client"},
      {"bytes_to_rate", "", "payload bytes per second sent to the client"},
      {"bytes_from_rate", "", "payload bytes per second received from the client"},
      {"cid", "cid", "connection id, oldest first"},
      {"start", "start", "connection start, oldest first"},
      {"subs", "subs", "number of subscriptions"},
      {"pending", "pending", "bytes waiting to be written to the client"},
      {"msgs_to", "msgs_to", "messages sent to the client"},
      {"msgs_from", "msgs_from", "messages received from the client"},
      {"bytes_to", "bytes_to", "payload bytes sent to the client"},
      {"bytes_from", "bytes_from", "payload bytes received from the client"},
      {"last", "last", "last activity, most recent first"},
      {"idle", "idle", "idle time, most idle first"},
      {"uptime", "uptime", "connection uptime, shortest first"},
  };
  return keys;
}

const SortKey* find_sort_key(std::string_view name) {
  for (const auto& k : sort_keys())
    if (k.name == name) return &k;
  return nullptr;
}

std::optional<double> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)
  bool ok = s.size() >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && s[13] == ':' &&
            s[16] == ':';
  if (!ok) return std::nullopt;
  std::tm tm{};
  tm.tm_year = parse_digits(s, 0, 4, &ok) - 1900;
  tm.tm_mon = parse_digits(s, 5, 2, &ok) - 1;
  tm.tm_mday = parse_digits(s, 8, 2, &ok);
  tm.tm_hour = parse_digits(s, 11, 2, &ok);
  tm.tm_min = parse_digits(s, 14, 2, &ok);
  tm.tm_sec = parse_digits(s, 17, 2, &ok);
  if (!ok) return std::nullopt;
  size_t at = 19;
  double fraction = 0;
  if (at < s.size() && s[at] == '.') {
    double scale = 0.1;
    for (++at; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at, scale /= 10) fraction += (s[at] - '0') * scale;
  }
  if (at >= s.size()) return std::nullopt;
  int offset = 0;
  if (s[at] == 'Z' || s[at] == 'z') {
    ++at;
  } else if (s[at] == '+' || s[at] == '-') {
    if (s.size() < at + 6 || s[at + 3] != ':') return std::nullopt;
    int sign = s[at] == '-' ? -1 : 1;
    offset = sign * (parse_digits(s, at + 1, 2, &ok) * 3600 + parse_digits(s, at + 4, 2, &ok) * 60);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (!ok || at != s.size()) return std::nullopt;
  return static_cast<double>(timegm(&tm)) - offset + fraction;
}

Rates rates_between(const Counters& a, const Counters& b, double seconds) {
  Rates r;
  if (!(seconds > 0) || b.msgs_to < a.msgs_to || b.msgs_from < a.msgs_from || b.bytes_to < a.bytes_to ||
      b.bytes_from < a.bytes_from)
    return r;
  r.known = true;
  r.msgs_to = static_cast<double>(b.msgs_to - a.msgs_to) / seconds;
  r.msgs_from = static_cast<double>(b.msgs_from - a.msgs_from) / seconds;
  r.bytes_to = static_cast<double>(b.bytes_to - a.bytes_to) / seconds;
  r.bytes_from = static_cast<double>(b.bytes_from - a.bytes_from) / seconds;
  return r;
}

Poller::Poller(std::string host, int port, std::chrono::milliseconds timeout, HttpTls tls)
    : Poller([host = std::move(host), port, timeout, tls = std::move(tls)](const std::string& target) {
        HttpReply r = http_get(host, port, target, timeout, tls);
        if (r.status != 200) {
          std::string body = r.body.substr(0, r.body.find('\n'));
          throw std::runtime_error("GET " + target + ": " + std::to_string(r.status) + " " + r.reason +
                                   (body.empty() ? "" : ": " + body));
        }
        return std::move(r.body);
      }) {}

Poller::Poller(Fetch fetch) : fetch_(std::move(fetch)) {}

void Poller::check() { parse_object(get("/varz"), "/varz"); }

Snapshot Poller::poll(const Query& q) {
  const SortKey* key = find_sort_key(q.sort);
  if (!key) throw std::runtime_error("invalid sort key: " + q.sort);
  const int limit = std::max(1, q.limit);
  // auth=1 makes both servers name each connection's account (but $G's); acc= filters.
  const std::string subs = std::string(q.subs ? "&subs=1" : "") + "&auth=1" +
                           (q.account.empty() ? "" : "&acc=" + query_escape(q.account));

  json::object varz = parse_object(get("/varz"), "/varz");
  Snapshot snap;
  snap.query = q;
  snap.server = parse_varz(varz);
  double varz_at = parse_rfc3339(to_str(varz, "now")).value_or(now_seconds());

  // A restarted server counts from zero again, and its cids start over: forget everything.
  if (!server_start_.empty() && snap.server.start != server_start_) {
    server_prev_.reset();
    conn_prev_.clear();
  }
  server_start_ = snap.server.start;

  // /connz, one page when the server sorts, every page when we rank by a rate.
  double connz_at = 0;
  if (!key->server_param.empty()) {
    std::string target = "/connz?sort=" + std::string(key->server_param) + "&limit=" + std::to_string(limit) + subs;
    json::object connz = parse_object(get(target), target);
    connz_at = parse_rfc3339(to_str(connz, "now")).value_or(now_seconds());
    snap.conns_total = to_int(connz, "total");
    if (const json::value* list = field(connz, "connections"); list && list->is_array())
      for (const auto& c : list->get_array())
        if (c.is_object()) snap.conns.push_back(parse_conn(c.get_object()));
  } else {
    // Pages by cid order. A connection that closes between two pages shifts the later ones
    // down by one, so each page starts kPageOverlap entries before where the last one ended
    // and the repeats are dropped: nothing is missed unless more than that many close
    // between two requests.
    std::set<uint64_t> seen;
    for (int64_t offset = 0;;) {
      std::string target = "/connz?sort=cid&limit=" + std::to_string(kPageSize) + "&offset=" + std::to_string(offset) + subs;
      json::object connz = parse_object(get(target), target);
      if (offset == 0) connz_at = parse_rfc3339(to_str(connz, "now")).value_or(now_seconds());
      snap.conns_total = to_int(connz, "total");
      int64_t got = 0;
      if (const json::value* list = field(connz, "connections"); list && list->is_array()) {
        for (const auto& c : list->get_array()) {
          if (!c.is_object()) continue;
          ++got;
          ConnInfo ci = parse_conn(c.get_object());
          if (seen.insert(ci.cid).second) snap.conns.push_back(std::move(ci));
        }
      }
      if (got == 0 || offset + got >= snap.conns_total) break;
      offset = std::max(offset + 1, offset + got - kPageOverlap);
    }
  }

  ++polls_;
  snap.polls = polls_;
  snap.taken = std::chrono::system_clock::now();

  if (server_prev_) snap.server.rates = rates_between(server_prev_->totals, snap.server.totals, varz_at - server_prev_->at);
  server_prev_ = Sample{snap.server.totals, varz_at, polls_};

  for (auto& c : snap.conns) {
    auto it = conn_prev_.find(c.cid);
    if (it != conn_prev_.end()) c.rates = rates_between(it->second.totals, c.totals, connz_at - it->second.at);
    conn_prev_[c.cid] = Sample{c.totals, connz_at, polls_};
  }
  std::erase_if(conn_prev_, [&](const auto& kv) { return kv.second.seen < polls_ - kForgetAfterPolls; });

  if (key->server_param.empty()) {
    std::stable_sort(snap.conns.begin(), snap.conns.end(), [&](const ConnInfo& a, const ConnInfo& b) {
      return rate_of(a, key->name) > rate_of(b, key->name);
    });
    if (snap.conns.size() > static_cast<size_t>(limit)) snap.conns.resize(static_cast<size_t>(limit));
  }
  return snap;
}

}  // namespace pylon::tools::top
