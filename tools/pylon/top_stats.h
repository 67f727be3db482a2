// `pylon top`'s data: one poll of /varz and /connz, turned into totals and per-second
// rates by comparing with the previous poll (the server only reports counters).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_get.h"

namespace pylon::tools::top {

// Per-second rates between two polls. `known` is false on a first sighting (one sample
// has no rate) and after the server restarted.
struct Rates {
  bool known = false;
  double msgs_to = 0, msgs_from = 0;    // to the client = server's out_msgs; from = in_msgs
  double bytes_to = 0, bytes_from = 0;
  double msgs() const { return msgs_to + msgs_from; }
  double bytes() const { return bytes_to + bytes_from; }
};

// Message counters as the server reports them. For the server, in = from clients and
// routes, out = to them; for a connection, "to" is what the server sent it.
struct Counters {
  int64_t msgs_to = 0, msgs_from = 0, bytes_to = 0, bytes_from = 0;
};

struct ServerInfo {
  bool is_pylon = false;         // /varz has "pylon" (else: a reference nats-server)
  std::string server_id, server_name, version, pylon_version, host, start, uptime;
  int port = 0;
  double cpu = 0;                // percent of one core
  int64_t mem = 0, cores = 0;
  int64_t connections = 0, total_connections = 0, routes = 0, subscriptions = 0, slow_consumers = 0;
  Counters totals;               // msgs_to = out_msgs, msgs_from = in_msgs
  Rates rates;
};

struct ConnInfo {
  uint64_t cid = 0;
  std::string name, ip, lang, version, uptime, idle, last_activity;
  int port = 0;
  int64_t subs = 0, pending = 0;
  Counters totals;
  Rates rates;
  std::vector<std::string> subjects;  // with subscriptions shown
  std::string account;                // empty for the global account $G (as /connz?auth=1 says)
};

// How the connection table is ordered. Server keys are /connz's own `sort` values (the
// server sorts, and `limit` then takes its first N); rate keys are computed here, so every
// connection is fetched and ranked before the first N are kept.
struct SortKey {
  std::string_view name;
  std::string_view server_param;  // empty: a rate key
  std::string_view description;
};
const std::vector<SortKey>& sort_keys();
const SortKey* find_sort_key(std::string_view name);
inline constexpr std::string_view kDefaultSort = "msgs_rate";

// What to ask the server for; the UI changes these between polls.
struct Query {
  std::string sort{kDefaultSort};
  int limit = 1024;
  bool subs = false;
  std::string account;  // only this account's connections (/connz?acc=); empty: every one
};

struct Snapshot {
  ServerInfo server;
  std::vector<ConnInfo> conns;   // in display order, at most query.limit
  int64_t conns_total = 0;       // open connections per /connz
  Query query;                   // what this snapshot answers
  std::chrono::system_clock::time_point taken;
  int polls = 0;                 // successful polls so far (1: no rates yet)
};

// Polls one server's monitoring port and keeps what rates need between polls.
class Poller {
 public:
  // GET of a monitoring path ("/connz?..."): the body of a 200 answer; throws otherwise.
  using Fetch = std::function<std::string(const std::string& target)>;
  Poller(std::string host, int port, std::chrono::milliseconds timeout, HttpTls tls = {});
  explicit Poller(Fetch fetch);
  // One /varz + /connz round. Throws HttpError (unreachable) or std::runtime_error (bad
  // status, not JSON) with a message fit for the screen.
  Snapshot poll(const Query& q);
  // Only /varz: the start-up check that the monitoring port answers.
  void check();

 private:
  std::string get(const std::string& target) { return fetch_(target); }

  struct Sample {
    Counters totals;
    double at = 0;   // server's `now`, seconds since the epoch
    int seen = 0;    // poll number of the last sighting
  };
  Fetch fetch_;
  std::string server_start_;  // a new value means a restart: counters began again
  std::optional<Sample> server_prev_;
  std::map<uint64_t, Sample> conn_prev_;
  int polls_ = 0;
};

// Seconds since the epoch of an RFC 3339 time ("2024-05-01T10:02:03.10432Z", also with
// a "+01:00" offset); nullopt when it is not one.
std::optional<double> parse_rfc3339(std::string_view s);

// Rates from two counter samples `seconds` apart; unknown when time did not advance or a
// counter went backwards.
Rates rates_between(const Counters& before, const Counters& after, double seconds);

}  // namespace pylon::tools::top
