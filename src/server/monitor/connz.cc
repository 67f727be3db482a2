// /connz: open and recently closed client connections, sorted and paged as the reference does.
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <fmt/format.h>
#include <mutex>
#include <unordered_map>

#include "server/client/client_conn.h"
#include "server/core/event_loop.h"
#include "server/monitor/endpoints.h"
#include "server/monitor/format.h"
#include "server/server.h"

namespace pylon::server::monitor {

namespace json = boost::json;

namespace {
bool valid_sort(const std::string& s) {
  static const char* const kSorts[] = {"cid",       "start",    "subs", "pending", "msgs_to", "msgs_from", "bytes_to",
                                       "bytes_from", "last",    "idle", "uptime",  "stop",    "reason"};
  for (const char* k : kSorts) {
    if (s == k) return true;
  }
  return false;
}

SysTime end_of(const ConnSnapshot& c, SysTime now) { return c.stop ? *c.stop : now; }
}  // namespace

bool parse_connz(const Query& q, ConnzOptions* o, std::string* err) {
  o->sort = q.get("sort");
  auto auth = q.get_bool("auth", err);
  if (!auth) return false;
  o->auth = *auth;
  o->account = q.get("acc");
  std::string subs = q.get("subs");
  std::transform(subs.begin(), subs.end(), subs.begin(), [](unsigned char c) { return std::tolower(c); });
  if (subs == "detail") {
    o->subs = 2;
  } else {
    auto b = q.get_bool("subs", err);
    if (!b) return false;
    o->subs = *b ? 1 : 0;
  }
  auto offset = q.get_int("offset", err);
  if (!offset) return false;
  auto limit = q.get_int("limit", err);
  if (!limit) return false;
  auto cid = q.get_uint("cid", err);
  if (!cid) return false;
  std::string state = q.get("state");
  std::string lower = state;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.empty() || lower == "open") {
    o->state = ConnState::kOpen;
  } else if (lower == "closed") {
    o->state = ConnState::kClosed;
  } else if (lower == "any" || lower == "all") {
    o->state = ConnState::kAll;
  } else {
    *err = "Error decoding state for " + state;
    return false;
  }
  o->offset = *offset;
  o->limit = *limit;
  o->cid = *cid;
  return check_connz(o, err);
}

bool check_connz(ConnzOptions* o, std::string* err) {
  if (o->sort.empty()) o->sort = "cid";
  if (!valid_sort(o->sort)) {
    *err = "invalid sorting option: " + o->sort;
    return false;
  }
  o->offset = std::max<int64_t>(o->offset, 0);
  if (o->limit <= 0) o->limit = kDefaultListSize;
  if (o->cid > 0) o->limit = 1;
  if (o->sort == "stop" && o->state != ConnState::kClosed) {
    *err = "sort by stop only valid on closed connections";
    return false;
  }
  if (o->sort == "reason" && o->state != ConnState::kClosed) {
    *err = "sort by reason only valid on closed connections";
    return false;
  }
  return true;
}

json::object build_connz(const std::string& server_id, SysTime now, const ConnzOptions& opts,
                         std::vector<ConnSnapshot> open, size_t num_open, std::vector<ConnSnapshot> closed) {
  // acc=: the account's open connections only; the reference does not filter closed ones.
  if (!opts.account.empty()) {
    std::erase_if(open, [&](const ConnSnapshot& c) { return c.account != opts.account; });
    num_open = open.size();
  }
  // "total" counts every connection in the requested state(s), before the cid filter and
  // paging (as the reference reports it).
  size_t total = 0;
  if (opts.state != ConnState::kClosed) total += num_open;
  if (opts.state != ConnState::kOpen) total += closed.size();

  std::vector<ConnSnapshot> conns;
  auto take = [&](std::vector<ConnSnapshot>& from) {
    for (auto& c : from) {
      if (opts.cid == 0 || c.cid == opts.cid) conns.push_back(std::move(c));
    }
  };
  if (opts.state != ConnState::kClosed) take(open);
  if (opts.state != ConnState::kOpen) take(closed);

  // Ascending by cid first, so every other order breaks ties by cid. Only cid/start, uptime
  // and reason sort ascending; the rest put the largest first, as the reference does.
  std::sort(conns.begin(), conns.end(), [](const auto& a, const auto& b) { return a.cid < b.cid; });
  auto by = [&](auto key, bool descending) {
    std::stable_sort(conns.begin(), conns.end(), [&](const ConnSnapshot& a, const ConnSnapshot& b) {
      return descending ? key(b) < key(a) : key(a) < key(b);
    });
  };
  const std::string& s = opts.sort;
  if (s == "subs") by([](const ConnSnapshot& c) { return c.num_subs; }, true);
  else if (s == "pending") by([](const ConnSnapshot& c) { return c.pending_bytes; }, true);
  else if (s == "msgs_to") by([](const ConnSnapshot& c) { return c.out_msgs; }, true);
  else if (s == "msgs_from") by([](const ConnSnapshot& c) { return c.in_msgs; }, true);
  else if (s == "bytes_to") by([](const ConnSnapshot& c) { return c.out_bytes; }, true);
  else if (s == "bytes_from") by([](const ConnSnapshot& c) { return c.in_bytes; }, true);
  else if (s == "last") by([](const ConnSnapshot& c) { return c.last_activity; }, true);
  else if (s == "idle") by([&](const ConnSnapshot& c) { return end_of(c, now) - c.last_activity; }, true);
  else if (s == "uptime") by([&](const ConnSnapshot& c) { return end_of(c, now) - c.start; }, false);
  else if (s == "stop") by([](const ConnSnapshot& c) { return c.stop.value_or(SysTime{}); }, true);
  else if (s == "reason") by([](const ConnSnapshot& c) { return c.reason; }, false);

  size_t minoff = std::min<size_t>(static_cast<size_t>(opts.offset), conns.size());
  size_t maxoff = minoff + std::min<size_t>(static_cast<size_t>(opts.limit), conns.size() - minoff);
  json::array list;
  for (size_t i = minoff; i < maxoff; ++i) {
    bool closed_conn = conns[i].stop.has_value();
    list.emplace_back(to_json(conns[i], now, opts.subs, /*sub_account=*/closed_conn, opts.auth));
  }

  json::object o;
  o["server_id"] = server_id;
  o["now"] = rfc3339(now);
  o["num_connections"] = list.size();
  o["total"] = total;
  o["offset"] = opts.offset;
  o["limit"] = opts.limit;
  o["connections"] = std::move(list);
  return o;
}

void gather_clients(Server& server, uint64_t cid, bool with_subs, EventLoop& home,
                    std::function<void(std::vector<ConnSnapshot>, size_t)> done) {
  auto clients = server.clients();
  size_t num_open = clients.size();
  std::unordered_map<EventLoop*, std::vector<std::shared_ptr<ClientConn>>> by_loop;
  for (auto& c : clients) {
    if (cid != 0 && c->cid() != cid) continue;
    by_loop[&c->loop()].push_back(std::move(c));
  }
  if (by_loop.empty()) {
    boost::asio::post(home.ctx(), [done = std::move(done), num_open] { done({}, num_open); });
    return;
  }
  // Shared by the loops' tasks; each holds its clients strongly until it has snapshotted them.
  struct State {
    std::mutex mu;
    std::vector<ConnSnapshot> out;
    size_t left;
    std::function<void(std::vector<ConnSnapshot>, size_t)> done;
    EventLoop* home;
    size_t num_open;
  };
  auto st = std::make_shared<State>();
  st->left = by_loop.size();
  st->done = std::move(done);
  st->home = &home;
  st->num_open = num_open;
  for (auto& [loop, conns] : by_loop) {
    boost::asio::post(loop->ctx(), [st, with_subs, conns = std::move(conns)] {
      std::vector<ConnSnapshot> part;
      part.reserve(conns.size());
      for (const auto& c : conns) part.push_back(snapshot(*c, with_subs));
      bool last;
      {
        std::lock_guard lk(st->mu);
        for (auto& p : part) st->out.push_back(std::move(p));
        last = --st->left == 0;
      }
      if (last) {
        boost::asio::post(st->home->ctx(), [st] { st->done(std::move(st->out), st->num_open); });
      }
    });
  }
}

void build_connz_async(Server& server, const ConnzOptions& opts, EventLoop& home,
                       std::function<void(json::object)> done) {
  auto finish = [&server, opts, done = std::move(done)](std::vector<ConnSnapshot> open, size_t num_open) {
    std::vector<ConnSnapshot> closed;
    if (opts.state != ConnState::kOpen) closed = server.closed_clients().list();
    done(build_connz(server.id(), std::chrono::system_clock::now(), opts, std::move(open), num_open,
                     std::move(closed)));
  };
  if (opts.state != ConnState::kClosed) {
    gather_clients(server, opts.cid, opts.subs != 0, home, std::move(finish));
  } else {
    size_t n = server.num_clients();
    boost::asio::post(home.ctx(), [finish = std::move(finish), n]() mutable { finish({}, n); });
  }
}

}  // namespace pylon::server::monitor
