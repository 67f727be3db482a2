// Cluster test helpers: server nodes with fixed ports (so a node can be
// restarted on the same client/route/monitoring ports), route-state checks
// through /routez and the route log lines, and libnats clients with failover
// options, connection-event counters and message collectors.
//
// Node binaries: "pylon" nodes run the binary under test (server_binary():
// build/pylon-server, or whatever PYLON_TEST_SERVER selects), "nats" nodes run
// the reference nats-server (PYLON_NATS_SERVER_BIN or /usr/sbin/nats-server).
// Log-line checks are only made on nodes that run Pylon; /routez is checked on
// every node.
#pragma once

#include <nats/nats.h>
#include <sys/types.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "harness.h"

namespace pylon::it::cluster {

namespace json = boost::json;

std::string pylon_binary();  // the binary under test
std::string nats_binary();   // the reference server
bool is_reference(const std::string& binary);

enum class Kind { kPylon, kNats };
inline std::string binary_of(Kind k) { return k == Kind::kPylon ? pylon_binary() : nats_binary(); }
inline const char* kind_name(Kind k) { return k == Kind::kPylon ? "pylon" : "nats"; }

// One GET over HTTP/1.0; body of a 200 answer, nullopt otherwise.
std::optional<std::string> http_get_body(int port, const std::string& target, milliseconds timeout = 3s);

struct NodeConfig {
  std::string name;
  std::string binary;
  int client_port = 0, http_port = 0, route_port = 0;
  std::string cluster_name = "pylon-it";
  // The address the node listens on (clients, routes, monitoring). tests/faults runs each
  // node in a network namespace of its own and listens on 0.0.0.0 there.
  std::string host = "127.0.0.1";
  std::string listen_userinfo;      // "user:pass" in the --cluster URL (route authorization)
  std::vector<std::string> routes;  // full route URLs (--routes)
  std::vector<std::string> extra_args;
  // Config file text (nats-server syntax); when set, written next to the node's log and given
  // with -c. The flags above still win over it, field by field, as they do in the reference
  // (so a file holding only `cluster { tls {...} }` adds TLS to the flag-made cluster).
  std::string config;
};

// Route URL of a listener on 127.0.0.1:port (or host:port), with optional "user:pass@".
std::string route_url(int port, const std::string& userinfo = "");
std::string route_url(const std::string& host, int port, const std::string& userinfo = "");

class Node {
 public:
  explicit Node(NodeConfig cfg);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Spawns the server (a fresh log file per incarnation) and waits until it
  // accepts clients and logs its route listener. Records a gtest failure and
  // returns false otherwise.
  bool start(milliseconds timeout = 15s);
  // start() in two halves, so several nodes can be spawned at once before any is waited for.
  bool spawn();
  bool wait_ready(milliseconds timeout = 15s);
  bool running();
  int stop(milliseconds timeout = 10s);  // SIGTERM (SIGKILL after timeout)
  void kill();                           // SIGKILL
  void send_signal(int sig);             // no wait (stop() or kill() reaps)

  const NodeConfig& config() const { return cfg_; }
  NodeConfig& mutable_config() { return cfg_; }
  const std::string& name() const { return cfg_.name; }
  bool is_pylon() const { return !is_reference(cfg_.binary); }
  int client_port() const { return cfg_.client_port; }
  int http_port() const { return cfg_.http_port; }
  int route_port() const { return cfg_.route_port; }
  std::string client_url() const;
  int incarnation() const { return incarnation_; }
  pid_t pid() const { return pid_; }  // -1 when not running

  std::string log() const;       // current incarnation
  std::string log_path() const;  // current incarnation
  // The -c file of the current incarnation (NodeConfig::config); rewrite it, then SIGHUP, to
  // reload.
  std::string config_path() const;
  bool wait_for_log(const std::string& needle, milliseconds timeout) const;
  // Lines of the current log containing `needle` (case-sensitive).
  std::vector<std::string> log_lines(const std::string& needle) const;

  // /routez, parsed; nullopt when the monitoring endpoint does not answer JSON.
  std::optional<json::object> routez() const;
  // Server ID of the current incarnation (from /routez, cached).
  std::string server_id();
  // Remote server IDs of the registered routes per /routez (nullopt if
  // unavailable).
  std::optional<std::multiset<std::string>> routez_remote_ids() const;
  // Remote server IDs of the routes that are registered and not closed per the
  // log lines "rid:N - Route connection to NAME (ID) registered" / "rid:N - Router
  // connection closed: ..." (Pylon only).
  std::multiset<std::string> log_live_route_ids() const;

  std::string describe();  // one-line route state for failure messages

 private:
  NodeConfig cfg_;
  TempDir tmp_;
  pid_t pid_ = -1;
  int incarnation_ = 0;
  std::string id_;
};

using NodeList = std::vector<Node*>;

// True when every node in `nodes` has exactly one route to every other node in
// `nodes` (and nothing else): /routez on every node and, on Pylon nodes, the
// route log lines. `why` (if given) receives a description of the state when
// false.
bool mesh_complete(const NodeList& nodes, std::string* why = nullptr);
// Polls mesh_complete until true or the deadline.
bool wait_mesh(const NodeList& nodes, milliseconds timeout, std::string* why = nullptr);
// SIGTERM to every node at once, then waits for each to exit.
void stop_all(const NodeList& nodes);

// Configs of `kinds.size()` nodes on fresh ports, each routing explicitly to
// every other one.
std::vector<NodeConfig> mesh_configs(const std::vector<Kind>& kinds, const std::string& cluster = "pylon-it",
                                     const std::string& name_prefix = "n");
NodeConfig single_config(Kind kind, const std::string& name, const std::string& cluster = "pylon-it");

// ------------------------------------------------------------------ clients

struct ClientEvents {
  std::mutex mu;
  std::condition_variable cv;
  int disconnected = 0, reconnected = 0, closed = 0, discovered = 0;
  Clock::time_point first_disconnected{}, last_disconnected{}, first_closed{};
  // Waits (deadline) until pred() holds; pred runs under mu.
  bool wait(const std::function<bool()>& pred, milliseconds timeout);
  int get(int ClientEvents::*field);
};

struct ClientOptions {
  std::string name;
  bool allow_reconnect = true;
  int max_reconnect = 100;
  int reconnect_wait_ms = 100;
  int reconnect_buf = 0;  // 0: library default
  int timeout_ms = 2000;
  int ping_interval_ms = 0;  // 0: library default (the client's own stale-server detection)
  int max_pings_out = 0;     // 0: library default
  std::string creds_file;    // a .creds file (user JWT and nkey seed) to authenticate with
};

class Client {
 public:
  // Connects with the given server list, no-randomize and the options; null
  // (and a gtest failure unless `quiet`) on failure.
  static std::unique_ptr<Client> connect(const std::vector<std::string>& urls, const ClientOptions& o = {},
                                         bool quiet = false, natsStatus* status = nullptr);
  ~Client();
  natsConnection* nc() const { return nc_; }
  ClientEvents& events() { return *ev_; }
  std::vector<std::string> servers() const;  // natsConnection_GetServers
  std::string connected_url() const;
  std::string name() const { return name_; }
  bool flush(milliseconds timeout = 5s);

 private:
  Client() = default;
  natsConnection* nc_ = nullptr;
  std::shared_ptr<ClientEvents> ev_;
  std::string name_;
};

struct Received {
  std::string subject, reply, data;
  std::map<std::string, std::string> headers;
  int tag = 0;  // of the subscription that got it
};

// A client of node `n` named `name` (the name shows in /connz and the server's log); null,
// with a gtest failure, when it cannot connect.
std::unique_ptr<Client> client_of(Node& n, const std::string& name);

// Thread-safe sink for async subscriptions. Payloads starting with "__probe__:"
// are kept apart (see await_interest) and never show up in messages().
class Collector {
 public:
  void add(Received r);
  std::vector<Received> messages() const;
  size_t count() const;
  bool wait_count(size_t n, milliseconds timeout) const;
  bool wait(const std::function<bool(const std::vector<Received>&)>& pred, milliseconds timeout) const;
  // Waits until no message arrived for `quiet`, bounded by `timeout`; returns
  // the count.
  size_t wait_quiet(milliseconds quiet, milliseconds timeout) const;
  bool saw_probe(const std::string& key) const;
  bool wait_probe(const std::string& key, milliseconds timeout) const;
  void clear();

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Received> msgs_;
  std::set<std::string> probes_;
  Clock::time_point last_{Clock::now()};
};

// An async subscription delivering into a Collector; when `responder` is set it
// answers every request with "<responder>|<payload>" (copying the request's
// headers).
class AsyncSub {
 public:
  static std::unique_ptr<AsyncSub> make(Client& c, const std::string& subject, std::shared_ptr<Collector> col,
                                        int tag = 0, const std::string& queue = "", const std::string& responder = "");
  ~AsyncSub();
  natsSubscription* sub() const { return sub_; }
  void unsubscribe();

 private:
  natsSubscription* sub_ = nullptr;
};

// Publishes "__probe__:<key>:<n>" on `subject` through `pub` until `col` has
// seen a probe with that key (route interest has reached the publisher's node)
// or the deadline passes.
bool await_interest(Client& pub, const std::string& subject, Collector& col, const std::string& key,
                    milliseconds timeout = 10s);
// The same, until the subscription with this tag saw one: with one collector behind
// several subscriptions, the untagged form is satisfied by whichever sees a probe first.
bool await_interest(Client& pub, const std::string& subject, Collector& col, const std::string& key,
                    std::optional<int> tag, milliseconds timeout = 10s);

// Publishes with an optional header set.
natsStatus publish(Client& c, const std::string& subject, const std::string& data, const std::string& reply = "",
                   const std::map<std::string, std::string>& headers = {});

std::string join(const std::vector<std::string>& v, const std::string& sep = ",");

}  // namespace pylon::it::cluster
