// The monitoring endpoints' JSON, built from server state with Boost.JSON. Field names, types
// and units are the reference server's (nats-server 2.9 monitor.go); docs/monitoring.md lists
// them and the few we leave out.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "server/monitor/conn_info.h"
#include "server/monitor/process_stats.h"
#include "server/monitor/query.h"

namespace pylon::server {
class Account;
class EventLoop;
class Server;
}

namespace pylon::server::monitor {

// ---- /connz ------------------------------------------------------------------------------
enum class ConnState { kOpen, kClosed, kAll };

struct ConnzOptions {
  std::string sort = "cid";
  int subs = 0;  // 0 none, 1 subscriptions_list, 2 subscriptions_list_detail (subs=detail)
  int64_t offset = 0;
  int64_t limit = 1024;  // DefaultConnListSize
  uint64_t cid = 0;
  ConnState state = ConnState::kOpen;
  bool auth = false;  // auth=true: authorized_user and account
  std::string account;  // acc=NAME: only that account's open connections (as the reference)
};

inline constexpr int64_t kDefaultListSize = 1024;  // DefaultConnListSize, DefaultSubListSize

// Parses and checks /connz's parameters; false with the reference's 400 text in *err.
bool parse_connz(const Query& q, ConnzOptions* out, std::string* err);
// The checks and defaults every source of options gets (HTTP query, $SYS request body), as the
// reference's Connz(): the limit's default, cid's limit of one, the sort orders valid for the
// state. False with the reference's text in *err.
bool check_connz(ConnzOptions* o, std::string* err);

// `open`: snapshots of the open connections asked for (all, or the one with opts.cid);
// `num_open`: how many are open in total; `closed`: the closed ring (all of it).
boost::json::object build_connz(const std::string& server_id, SysTime now, const ConnzOptions& opts,
                                std::vector<ConnSnapshot> open, size_t num_open, std::vector<ConnSnapshot> closed);

// Snapshots of the open client connections (all, or the one with `cid`), each taken on its own
// loop (a client's facts are its loop's); `done(snapshots, number_open)` runs on `home`.
void gather_clients(Server& server, uint64_t cid, bool with_subs, EventLoop& home,
                    std::function<void(std::vector<ConnSnapshot>, size_t)> done);
// /connz as a whole: gathers (above), then `done(connz)` on `home`. HTTP and the $SYS CONNZ
// request both answer through it.
void build_connz_async(Server& server, const ConnzOptions& opts, EventLoop& home,
                       std::function<void(boost::json::object)> done);

// ---- /varz -------------------------------------------------------------------------------
// The server-wide counters, gathered once for /varz and /metrics alike. Cheap: atomics, the
// per-loop message counters summed, and two short registry locks (clients, routes); nothing
// a message's path takes.
struct ServerCounters {
  size_t connections = 0;          // open client connections
  uint64_t total_connections = 0;  // client connections accepted since the start
  size_t routes = 0;
  size_t subscriptions = 0;  // in the index: client subscriptions and route interest
  uint64_t slow_consumers = 0;
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
};
ServerCounters gather_counters(Server& server);

boost::json::object build_varz(Server& server, SysTime now, int http_port, int https_port, const ProcessUsage& usage,
                               const std::map<std::string, uint64_t>& http_req_stats);
// /varz as this server's state has it now: the monitor's ports and request counts (none without
// HTTP monitoring), the server's CPU sampler. HTTP and the $SYS VARZ request both answer with it.
boost::json::object current_varz(Server& server, SysTime now);

// ---- /routez -----------------------------------------------------------------------------
// `subs`: 0 none, 1 subscriptions_list, 2 subscriptions_list_detail.
boost::json::object build_routez(Server& server, SysTime now, int subs);
// /leafz: the leaf connections (`subs`: each one's interest; `account`: only that account's).
boost::json::object build_leafz(Server& server, SysTime now, bool subs, const std::string& account);

// ---- /subsz ------------------------------------------------------------------------------
struct SubszOptions {
  bool subs = false;
  int64_t offset = 0;
  int64_t limit = kDefaultListSize;
  std::string test;  // a literal subject: only subscriptions it would be delivered to
  std::string account;  // acc=NAME: that account's index only
};
bool parse_subsz(const Query& q, SubszOptions* out, std::string* err);
// The reference's Subsz. `stats_alone_without_list`: HTTP's form, where an answer without a
// subscriptions list is the index statistics alone (its HandleSubsz); the $SYS request
// always gets the whole object.
bool check_subsz(SubszOptions* o, std::string* err);
boost::json::object build_subsz(Server& server, SysTime now, const SubszOptions& opts,
                                bool stats_alone_without_list = true);

// ---- /accountz, /accstatz ---------------------------------------------------------------
// `account` empty: the list of account names; else that account's detail, or *err (400) when
// it does not exist (the reference's words).
boost::json::object build_accountz(Server& server, SysTime now, const std::string& account, std::string* err);
// Accounts with open client connections (all with `include_unused`, ?unused=true); only those
// named in `accounts` when it is not empty (the $SYS STATZ requests' AccountStatzOptions).
boost::json::object build_accstatz(Server& server, SysTime now, bool include_unused,
                                   const std::vector<std::string>& accounts = {});
// One account's entry of /accstatz (the reference's AccountStat), also the body of its
// account_connections event. Walks the open clients (their own counters).
boost::json::object build_account_stat(Server& server, const Account& account);

// ---- /healthz ----------------------------------------------------------------------------
boost::json::object build_healthz(Server& server);

}  // namespace pylon::server::monitor
