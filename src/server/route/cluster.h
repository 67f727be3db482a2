// Cluster mode: the route listener, solicited routes and their redial, the registry of
// routes by remote server id, gossip of new members, propagation of local interest, and the
// client URLs (connect_urls) that clients learn. Wire format: nats-server 2.9's route
// protocol (shared/ROUTE-PROTOCOL.md), so Pylon and nats-server nodes mesh together. The
// interest propagation is in cluster_interest.cc, the rest in cluster.cc.
//
// Invariants:
//  - at most one registered route per remote server id (a second one is a "Duplicate Route");
//  - messages that arrive on a route are delivered locally only (full mesh, one hop);
//  - every registered route has been sent our whole local interest, and every change of it
//    afterwards (RS+ on 0->1 for plain subjects, RS+ with the new weight for queues, RS- at 0).
//    A large interest goes out in chunks on the route's loop (send_local_interest), and the
//    changes made meanwhile wait in the route's sync tail until the last chunk is queued: the
//    peer gets a snapshot and then every later change in order. Applying a change after a
//    snapshot that may already show it is harmless, as RS+ and RS- set a state (a queue's RS+
//    carries its whole weight), so the peer ends with our interest as it is now.
//
// Locking: `mu_` guards the registry, the interest counts and the URL sets. It is never held
// while calling into a connection that could call back into the cluster; enqueueing bytes into
// a route (Connection::enqueue) is fine under it (that takes only the route's outbound lock).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "pylon/options.h"
#include "server/accept_backoff.h"
#include "server/route/route_info.h"
#include "server/sub_index.h"
#include "server/config/url.h"

namespace pylon::server {

class EventLoop;
class RouteConn;
class Account;
class Server;
namespace tls {
class Context;
}

// How long to wait before dialling a route again after `failed` dials in a row have failed:
// every second at first (the reference's DEFAULT_ROUTE_RECONNECT), then every 2 s from the 10th
// failure and every 5 s from the 30th, so a peer that stays away costs little and one that
// returns rejoins within 5 s.
std::chrono::milliseconds route_redial_wait(int failed);

// A route, as monitoring shows it.
// Route connections over the server's life, for /routez (Pylon extras: the reference counts
// none of these; its log says "Route connection created" and "Router connection closed: ...").
// A full mesh of n nodes started at once needs n-1 opened on each node; anything beyond that
// is churn, and `duplicates` says how much of it was two connections to one server.
struct RouteChurn {
  uint64_t opened = 0;      // route connections made: accepted, or dialled and connected
  uint64_t closed = 0;      // route connections closed, for any reason
  uint64_t duplicates = 0;  // of those, closed because another connection to that server was registered
};

struct RouteSnapshot {
  uint64_t rid = 0;
  std::string remote_id, remote_name, ip;
  std::string monitor_url;  // RouteInfo::monitor_url (a Pylon extra in /routez)
  int port = 0;
  bool did_solicit = false;
  bool is_configured = false;  // dialled because it is in the configured routes
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  size_t pending_size = 0;
  size_t num_subs = 0;            // remote interest entries
  std::vector<std::string> subs;  // remote interest: "subject" or "subject queue" (when asked for)
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point last_activity;  // last RMSG/RS+/RS- read (start until then)
  std::chrono::nanoseconds rtt{0};                        // of our last answered PING; 0 before the first
};

class Cluster {
 public:
  explicit Cluster(Server& server);
  ~Cluster();

  // Starts the route listener (when cluster.port != 0) and dials the configured routes.
  // Throws std::runtime_error when the listener cannot bind.
  void start();
  void stop();

  bool enabled() const noexcept { return enabled_; }
  int port() const noexcept { return port_; }
  std::string cluster_name() const;
  bool name_dynamic() const;

  // Our route INFO JSON (for a new route connection); `no_gossip` on a dial made because of
  // gossip that said so (the reference's generateRouteInitialInfoJSON).
  std::string route_info_json(bool no_gossip = false) const;

  // Routes call these (from their loops).
  // Registers a route after its INFO; false when one to that server exists (duplicate).
  bool register_route(const std::shared_ptr<RouteConn>& r, const RouteInfo& info);
  void route_closed(RouteConn& r);
  // An INFO on route `from` about another server: dial it unless known.
  void gossip_received(RouteConn& from, const RouteInfo& info);
  // Cluster-name negotiation as the reference: adopt the peer's name when ours is dynamic
  // (and theirs is fixed or sorts higher). Returns false when the names conflict.
  bool check_cluster_name(RouteConn& r, const std::string& remote, bool remote_dynamic);
  // The peer's client URLs changed (INFO update, e.g. lame duck).
  void update_remote_urls(const std::string& remote_id, const std::vector<std::string>& urls,
                          const std::vector<std::string>& ws_urls, bool ldm);

  // Config reload: the explicit routes are now `routes`; dial the new, drop the removed.
  void reload_routes(const std::vector<std::string>& routes);
  // Lame duck: tell every route (INFO with "ldm") so peers stop advertising our URLs.
  void send_lame_duck();

  // Local interest changes (client subscriptions in `account`). Any thread.
  void local_sub_added(const Account& account, const Subscription& sub);
  void local_sub_removed(const Account& account, const Subscription& sub);
  // Our interest in `subject` (and `queue`) of `account` changed by `delta`: a subscription
  // counts 1, a leaf's queue subscription its weight (a leaf's interest is ours to the cluster).
  void interest_changed(const Account& account, std::string_view subject, std::string_view queue, int delta);

  // Every client URL of the cluster (ours first), for client INFO connect_urls.
  std::vector<std::string> connect_urls() const;
  // The other members' leafnode URLs (their INFO's leafnode_urls), for our leafs' INFO; and an
  // update of one member's (INFO update, lame duck), which our leafs are told at once.
  std::vector<std::string> remote_leafnode_urls() const;
  void update_remote_leaf_urls(const std::string& remote_id, const std::vector<std::string>& urls, bool ldm);
  // Every WebSocket URL of the cluster (ours first), for WebSocket clients' INFO connect_urls.
  std::vector<std::string> websocket_connect_urls() const;
  // The registered routes, by rid. `with_interest` copies each route's interest list (costly
  // with many subscriptions; /metrics needs only the counts).
  std::vector<RouteSnapshot> routes(bool with_interest = true) const;
  size_t num_routes() const;
  RouteChurn churn() const;

  // Route TLS (cluster { tls {} }): the context a new route handshakes with, both ways; null
  // without TLS. A reload swaps it (new routes get the new certificates, as in the reference);
  // a route keeps the one it started with. Any thread.
  std::shared_ptr<const tls::Context> route_tls() const;
  // Builds the route context of `o` (null without a cluster tls block). Throws
  // std::runtime_error in the reference's words when a file is bad.
  static std::shared_ptr<const tls::Context> make_route_tls(const Options& o);
  // The name a dialled route's certificate must carry (and our SNI): the URL's host, or, when
  // that is an IP address (gossiped routes always are), the first host name among the
  // configured route URLs (the reference's routeTLSName).
  std::string route_tls_name(const Url& url) const;
  // Config reload: new routes use `next` (null: plaintext) from now on; connected routes stay.
  void reload_tls(const Options& now, const Options& old, std::shared_ptr<const tls::Context> next);

  // Credentials we present when dialling a route whose URL has none.
  const std::string& route_user() const;
  const std::string& route_password() const;

 private:
  void do_accept();
  void solicit(const Url& url, bool explicit_route, int attempt, bool no_gossip = false);
  void dial_later(const Url& url, bool explicit_route, int attempt, std::chrono::milliseconds delay,
                  bool no_gossip = false);
  void end_gossip_dial(const Url& url);
  bool is_explicit(const Url& url) const;
  bool is_explicit_locked(const Url& url) const;  // mu_ held
  bool configured_route_for(const std::string& host, int port) const;
  void send_local_interest(const std::shared_ptr<RouteConn>& r);
  struct InterestSync;
  void send_interest_chunk(std::shared_ptr<RouteConn> r, std::shared_ptr<InterestSync> sync);
  void broadcast(const std::string& bytes, const RouteConn* except = nullptr);
  void notify_clients();  // async INFO with the new connect_urls
  void save_tls_name_locked(const std::vector<Url>& routes);  // mu_ held

  Server& server_;
  bool enabled_ = false;
  int port_ = 0;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  AcceptBackoff accept_backoff_;  // only in do_accept's handler
  std::vector<Url> explicit_routes_;

  mutable std::mutex mu_;
  bool running_ = false;
  std::string name_;
  bool dynamic_ = false;
  std::unordered_map<std::string, std::shared_ptr<RouteConn>> by_id_;  // registered routes
  // A route we dialled that was closed as a duplicate of an accepted one: its URL, redialled
  // when that accepted route closes (the reference's "upgrade to solicited"). Both sides of
  // a crossed dial may keep the connection the other closes; without this, neither redials.
  struct AdoptedDial {
    Url url;
    bool explicit_route = false;
  };
  std::unordered_map<std::string, AdoptedDial> adopted_dials_;  // remote id -> dial
  // "host:port" of members we dial because of gossip, from the gossip until that dial ends
  // (registered, closed, or given up): several routes gossiping one newcomer make one dial.
  std::set<std::string> dialing_;
  // Local interest: key "<account> <subject>" or "<account> <subject> <queue>" -> local
  // subscription count.
  std::unordered_map<std::string, int> interest_;
  // Routes whose interest sync is under way -> the interest changes (RS+/RS- lines) made since
  // its snapshot, queued after its last chunk (see the invariants above).
  std::unordered_map<const RouteConn*, std::string> sync_tails_;
  std::map<std::string, std::vector<std::string>> remote_urls_;  // remote id -> client URLs
  std::map<std::string, std::vector<std::string>> remote_ws_urls_;  // remote id -> WebSocket URLs
  std::map<std::string, std::vector<std::string>> remote_leaf_urls_;  // remote id -> leafnode URLs
  std::vector<std::shared_ptr<boost::asio::steady_timer>> timers_;
  std::atomic<uint64_t> routes_opened_{0}, routes_closed_{0}, duplicate_routes_closed_{0};
  std::shared_ptr<const tls::Context> route_tls_;  // null: plaintext routes
  std::string tls_name_;                            // routeTLSName: first host name of the routes
};

}  // namespace pylon::server
