#include "server/route/cluster.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <future>
#include <random>

#include "proto/go_quote.h"
#include "proto/writer.h"
#include "server/accept_peer.h"
#include "server/client/client_conn.h"
#include "server/core/event_loop.h"
#include "server/core/listen_address.h"
#include "server/route/route_conn.h"
#include "server/leafnode/leafnodes.h"
#include "server/server.h"
#include "server/tls/tls_context.h"

namespace pylon::server {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;

namespace {
constexpr auto kRouteReconnect = std::chrono::seconds(1);   // DEFAULT_ROUTE_RECONNECT
constexpr auto kRouteDialTimeout = std::chrono::seconds(1);  // DEFAULT_ROUTE_DIAL
// route.go clusterTLSInsecureWarning.
constexpr std::string_view kClusterTlsInsecureWarning =
    "TLS certificate chain and hostname of solicited routes will not be verified. DO NOT USE IN PRODUCTION!";

std::chrono::milliseconds jitter(int max_ms) {
  thread_local std::mt19937 rng{std::random_device{}()};
  return std::chrono::milliseconds(std::uniform_int_distribution<int>(0, max_ms)(rng));
}

// Go's net.JoinHostPort: an IPv6 host in brackets.
std::string join_host_port(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::string go_quoted(std::string_view s) {
  std::string out;
  proto::append_go_quoted(out, s);
  return out;
}

std::string host_port_key(const std::string& host, int port) {
  std::string h = host;
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (h == "localhost") h = "127.0.0.1";
  return fmt::format("{}:{}", h, port);
}

std::string random_cluster_name() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 22; ++i) s += kAlphabet[rd() % 36];
  return s;
}
}  // namespace

std::chrono::milliseconds route_redial_wait(int failed) {
  if (failed < 10) return std::chrono::duration_cast<std::chrono::milliseconds>(kRouteReconnect);
  if (failed < 30) return std::chrono::milliseconds(2000);
  return std::chrono::milliseconds(5000);
}

Cluster::Cluster(Server& server) : server_(server) {
  const auto& c = server_.options().cluster;
  enabled_ = c.port != 0 || !c.routes.empty();
  name_ = c.name;
  dynamic_ = name_.empty();
  if (dynamic_) name_ = random_cluster_name();
  route_tls_ = make_route_tls(server_.options());  // a bad certificate stops the start
}

std::shared_ptr<const tls::Context> Cluster::make_route_tls(const Options& o) {
  if (!o.cluster.tls.enabled) return nullptr;
  return tls::Context::make(o.cluster.tls, tls::ContextKind::kRoute);
}

std::shared_ptr<const tls::Context> Cluster::route_tls() const {
  std::lock_guard lk(mu_);
  return route_tls_;
}

void Cluster::save_tls_name_locked(const std::vector<Url>& routes) {
  for (const auto& u : routes) {
    boost::system::error_code ec;
    asio::ip::make_address(u.host, ec);
    if (tls_name_.empty() && ec) tls_name_ = u.host;
  }
}

std::string Cluster::route_tls_name(const Url& url) const {
  boost::system::error_code ec;
  asio::ip::make_address(url.host, ec);
  if (ec) return url.host;  // a host name: it is the name
  std::lock_guard lk(mu_);
  return tls_name_.empty() ? url.host : tls_name_;
}

void Cluster::reload_tls(const Options& now, const Options& old, std::shared_ptr<const tls::Context> next) {
  {
    std::lock_guard lk(mu_);
    route_tls_ = std::move(next);
  }
  const auto& t = now.cluster.tls;
  if (t.enabled == old.cluster.tls.enabled && (!t.enabled || t == old.cluster.tls)) return;
  server_.log().info("Reloaded: cluster tls = {}", t.enabled ? "enabled" : "disabled");
  if (t.enabled && t.insecure) server_.log().warn("{}", kClusterTlsInsecureWarning);
}

Cluster::~Cluster() = default;

std::string Cluster::cluster_name() const {
  std::lock_guard lk(mu_);
  return name_;
}

bool Cluster::name_dynamic() const {
  std::lock_guard lk(mu_);
  return dynamic_;
}

const std::string& Cluster::route_user() const { return server_.options().cluster.user; }
const std::string& Cluster::route_password() const {
  const auto& c = server_.options().cluster;
  return c.token.empty() ? c.password : c.token;
}

void Cluster::start() {
  if (!enabled_) return;
  const auto& c = server_.options().cluster;
  auto& log = server_.log();
  {
    std::lock_guard lk(mu_);
    running_ = true;
  }
  log.info("Cluster name is {}", cluster_name());
  if (dynamic_) log.warn("Cluster name was dynamically generated, consider setting one");
  if (c.port != 0) {
    auto& ctx = server_.loop(0).ctx();
    boost::system::error_code ec;
    std::string host = c.host.empty() ? "0.0.0.0" : c.host;
    auto addr = listen_address(ctx, host, ec);
    if (ec) {
      throw std::runtime_error(
          fmt::format("Error listening on router port: {} - listen tcp: lookup {}: {}", c.port, host, ec.message()));
    }
    tcp::endpoint ep(addr, static_cast<unsigned short>(c.port < 0 ? 0 : c.port));
    acceptor_ = std::make_unique<tcp::acceptor>(ctx);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptor_.reset();
      throw std::runtime_error(fmt::format("Error listening on router port: {} - {}", c.port, ec.message()));
    }
    port_ = acceptor_->local_endpoint().port();
    log.info("Listening for route connections on {}:{}", host, port_);
    if (c.tls.enabled && c.tls.insecure) log.warn("{}", kClusterTlsInsecureWarning);
    asio::post(ctx, [this] { do_accept(); });
  }
  for (const auto& r : c.routes) {
    try {
      explicit_routes_.push_back(parse_url(r));
    } catch (const std::exception& e) {
      log.error("Error parsing route URL {}: {}", r, e.what());
    }
  }
  {
    std::lock_guard lk(mu_);
    save_tls_name_locked(explicit_routes_);
  }
  for (const auto& u : explicit_routes_) solicit(u, true, 0);
}

void Cluster::stop() {
  std::vector<std::shared_ptr<RouteConn>> routes;
  {
    std::lock_guard lk(mu_);
    if (!running_) return;
    running_ = false;
    for (auto& [id, r] : by_id_) routes.push_back(r);
    // Under mu_, as every arming of a timer in timers_ (from whichever loop), so a cancel
    // never touches a timer another thread is arming (the leaf nodes' twin raced so, TSan).
    for (auto& t : timers_) t->cancel();
    timers_.clear();
  }
  if (acceptor_) {
    std::promise<void> done;
    asio::post(server_.loop(0).ctx(), [this, &done] {
      boost::system::error_code ec;
      acceptor_->close(ec);
      done.set_value();
    });
    done.get_future().wait();
  }
  for (auto& r : routes) r->close(CloseReason::kServerShutdown, false);
}

void Cluster::do_accept() {
  EventLoop& loop = server_.next_loop();
  async_accept_with_peer(*acceptor_, loop.ctx(), [this, &loop](const boost::system::error_code& ec, tcp::socket sock,
                                                                const tcp::endpoint& peer) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // The connection stays in the backlog: retrying at once would spin (accept_backoff.h).
      auto sleep = accept_backoff_.next_sleep();
      server_.log().error("Temporary Route Accept Error({}), sleeping {}ms", ec.message(), sleep.count());
      // On loop 0, where stop() closes the acceptor; in timers_, so stop() cancels it.
      auto t = std::make_shared<asio::steady_timer>(server_.loop(0).ctx(), sleep);
      std::lock_guard lk(mu_);  // armed under mu_, as stop() cancels
      if (!running_) return;
      timers_.push_back(t);
      t->async_wait([this, t](const boost::system::error_code& tec) {
        {
          std::lock_guard lk(mu_);
          std::erase(timers_, t);
          if (tec || !running_) return;
        }
        if (acceptor_ && acceptor_->is_open()) do_accept();
      });
      return;
    } else {
      accept_backoff_.reset();
      bool running;
      {
        std::lock_guard lk(mu_);
        running = running_;
      }
      if (!running) return;
      auto r = std::make_shared<RouteConn>(server_, loop, std::move(sock), server_.next_cid(), std::nullopt, false,
                                           false, &peer);
      routes_opened_.fetch_add(1, std::memory_order_relaxed);
      server_.track_connection(r);
      r->start();
    }
    if (acceptor_ && acceptor_->is_open()) do_accept();
  });
}

bool Cluster::is_explicit(const Url& url) const {
  std::lock_guard lk(mu_);
  return is_explicit_locked(url);
}

bool Cluster::is_explicit_locked(const Url& url) const {
  std::string key = host_port_key(url.host, url.port);
  for (const auto& e : explicit_routes_) {
    if (host_port_key(e.host, e.port) == key) return true;
  }
  return false;
}

bool Cluster::configured_route_for(const std::string& host, int port) const {
  return is_explicit_locked(Url{"", "", "", host, port});
}

void Cluster::dial_later(const Url& url, bool explicit_route, int attempt, std::chrono::milliseconds delay,
                         bool no_gossip) {
  auto& loop = server_.loop(0);
  auto t = std::make_shared<asio::steady_timer>(loop.ctx(), delay);
  std::lock_guard lk(mu_);  // armed under mu_, as stop() cancels
  if (!running_) return;
  timers_.push_back(t);
  t->async_wait([this, t, url, explicit_route, attempt, no_gossip](const boost::system::error_code& ec) {
    {
      std::lock_guard lk(mu_);
      std::erase(timers_, t);
      if (ec || !running_) return;
      if (explicit_route && !is_explicit_locked(url)) return;  // removed by a reload
    }
    solicit(url, explicit_route, attempt, no_gossip);
  });
}

void Cluster::solicit(const Url& url, bool explicit_route, int attempt, bool no_gossip) {
  {
    std::lock_guard lk(mu_);
    if (!running_) return;
  }
  EventLoop& loop = server_.next_loop();
  auto sock = std::make_shared<tcp::socket>(loop.ctx());
  auto resolver = std::make_shared<tcp::resolver>(loop.ctx());
  auto deadline = std::make_shared<asio::steady_timer>(loop.ctx(), kRouteDialTimeout);
  auto on_fail = [this, url, explicit_route, attempt, no_gossip](const std::string& why) {
    int n = attempt + 1;
    // The reference reports the first failure and then only now and then.
    if (n == 1 || n % 3600 == 0) {
      server_.log().error("Error trying to connect to route (attempt {}): {}", n, why);
    } else {
      server_.log().debugf("Error trying to connect to route (attempt {}): {}", n, why);
    }
    if (!explicit_route) {
      int retries = server_.options().cluster.connect_retries;
      if (retries <= 0 || n > retries) {
        end_gossip_dial(url);  // given up: the next gossip about this member dials again
        return;
      }
    }
    dial_later(url, explicit_route, n, route_redial_wait(n) + jitter(100), no_gossip);
  };
  deadline->async_wait([sock](const boost::system::error_code& ec) {
    if (!ec) {
      boost::system::error_code ignore;
      sock->close(ignore);
    }
  });
  resolver->async_resolve(
      url.host, std::to_string(url.port),
      [this, sock, resolver, deadline, url, explicit_route, no_gossip, &loop, on_fail](const boost::system::error_code& ec,
                                                                             tcp::resolver::results_type results) {
        if (ec) {
          deadline->cancel();
          on_fail(fmt::format("lookup for host {}: {}", go_quoted(url.host), ec.message()));
          return;
        }
        // Each address dialled is logged first, as the reference logs the one it picked
        // ("Trying to connect to route on <url host:port> (<address>)"). Unlike the reference,
        // which dials one resolved address at random, every address is tried in turn: a
        // `localhost` route reaches a listener on 127.0.0.1 even though ::1 resolves first.
        auto log_dial = [this, url](const boost::system::error_code&, const tcp::endpoint& ep) {
          server_.log().debugf("Trying to connect to route on {} ({})", join_host_port(url.host, url.port),
                               join_host_port(ep.address().to_string(), ep.port()));
          return true;
        };
        asio::async_connect(*sock, results, log_dial,
                            [this, sock, deadline, url, explicit_route, no_gossip, &loop, on_fail](
                                const boost::system::error_code& ec2, const tcp::endpoint&) {
                              deadline->cancel();
                              if (ec2) {
                                on_fail(ec2 == asio::error::operation_aborted ? "i/o timeout" : ec2.message());
                                return;
                              }
                              {
                                std::lock_guard lk(mu_);
                                if (!running_) return;
                              }
                              auto r = std::make_shared<RouteConn>(server_, loop, std::move(*sock),
                                                                   server_.next_cid(), url, explicit_route, no_gossip);
                              routes_opened_.fetch_add(1, std::memory_order_relaxed);
                              server_.track_connection(r);
                              r->start();
                            });
      });
}

std::string Cluster::route_info_json(bool no_gossip) const {
  const auto& o = server_.options();
  json::object j;
  j["server_id"] = server_.id();
  j["server_name"] = server_.name();
  j["version"] = kNatsCompatVersion;
  j["proto"] = 2;  // RouteProtoV2: interest carries the account
  j["go"] = "c++20";
  std::string host = o.cluster.host.empty() ? "0.0.0.0" : o.cluster.host;
  int port = port_;
  if (!o.cluster.advertise.empty()) {
    try {
      std::string h;
      int p = 0;
      split_host_port(o.cluster.advertise, h, p);
      host = h;
      if (p) port = p;
      j["ip"] = fmt::format("nats-route://{}:{}/", h, port);
    } catch (const std::exception&) {
    }
  }
  j["host"] = host;
  j["port"] = port;
  j["headers"] = true;
  if (!o.cluster.user.empty() || !o.cluster.token.empty()) j["auth_required"] = true;
  if (route_tls()) {
    // As the reference's routeInfo: a cluster tls block always verifies the peer.
    j["tls_required"] = true;
    j["tls_verify"] = true;
  }
  j["max_payload"] = o.max_payload;
  {
    std::lock_guard lk(mu_);
    j["cluster"] = name_;
    if (dynamic_) j["cluster_dynamic"] = true;
  }
  if (!o.cluster.no_advertise) {
    json::array urls;
    for (const auto& u : server_.own_client_urls()) urls.emplace_back(u);
    j["connect_urls"] = std::move(urls);
    if (auto ws = server_.own_websocket_urls(); !ws.empty()) {
      json::array wurls;
      for (const auto& u : ws) wurls.emplace_back(u);
      j["ws_connect_urls"] = std::move(wurls);
    }
  }
  if (auto leaf_urls = server_.leafnodes().own_urls(); !leaf_urls.empty()) {
    json::array a;
    for (const auto& u : leaf_urls) a.emplace_back(u);
    j["leafnode_urls"] = std::move(a);
  }
  if (server_.lame_duck()) j["ldm"] = true;
  j["lnoc"] = true;
  if (no_gossip) j["no_gossip"] = true;
  // A Pylon extra (nats-server 2.9 unmarshals INFO into its Info struct, which drops unknown
  // fields): where our HTTP monitoring answers, so /dashboard on any node finds all the others.
  if (int http_port = server_.http_port(); http_port > 0) {
    std::string h = o.http_host.empty() ? o.host : o.http_host;
    if (h.empty()) h = "0.0.0.0";
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    j["monitor_url"] = fmt::format("{}://{}:{}", o.https_port != 0 ? "https" : "http", h, http_port);
  }
  return json::serialize(j);
}

bool Cluster::check_cluster_name(RouteConn& r, const std::string& remote, bool remote_dynamic) {
  std::vector<std::shared_ptr<RouteConn>> to_close;
  {
    std::lock_guard lk(mu_);
    if (remote == name_) return true;
    // A dynamic name yields to a fixed one, or to the greater of two dynamic ones.
    if (!dynamic_ || (remote_dynamic && remote < name_)) return false;
    server_.log().info("Cluster name updated to {}", remote);
    name_ = remote;
    dynamic_ = remote_dynamic;
    for (auto& [id, other] : by_id_) {
      if (other.get() != &r) to_close.push_back(other);
    }
  }
  // Routes that negotiated the old name start over (they redial) under the new one.
  for (auto& o : to_close) o->close(CloseReason::kClusterNameConflict, false);
  return true;
}

bool Cluster::register_route(const std::shared_ptr<RouteConn>& r, const RouteInfo& info) {
  std::string forward;
  std::vector<std::shared_ptr<RouteConn>> others;
  {
    std::lock_guard lk(mu_);
    if (!running_) return false;
    auto it = by_id_.find(info.id);
    if (it != by_id_.end()) {
      // Two connections to one server (both sides dialled at once): as the reference, the
      // route already carrying traffic stays and the newcomer is closed. (Swapping to the new
      // one loses messages until the peer's interest has crossed it.) The peer may choose
      // the other way round and close the one we keep: then we must dial again, so the
      // kept route inherits our dial (solicit_url is fixed at construction: safe to read).
      if (r->solicited() && !it->second->solicited()) {
        adopted_dials_[info.id] = AdoptedDial{*r->solicit_url(), r->explicit_route()};
      }
      return false;
    } else {
      by_id_.emplace(info.id, r);
    }
    for (auto& [id, o] : by_id_) {
      if (o != r) others.push_back(o);
    }
    remote_urls_[info.id] = info.ldm ? std::vector<std::string>{} : info.connect_urls;
    remote_ws_urls_[info.id] = info.ldm ? std::vector<std::string>{} : info.ws_connect_urls;
    remote_leaf_urls_[info.id] = info.ldm ? std::vector<std::string>{} : info.leafnode_urls;
    dialing_.erase(host_port_key(info.host, info.port));
    if (r->solicited()) dialing_.erase(host_port_key(r->solicit_url()->host, r->solicit_url()->port));
    // Gossip, as the reference since 2.10.17 (route.go addRoute; nats-server issue #5483): a
    // route we dialled because of gossip, or whose peer says no_gossip, is not gossiped again,
    // since the member that told us (or it) about the other told everyone. Gossiping it again
    // made two members learn of each other from different nodes at once and dial each other:
    // duplicate routes, growing fast with the cluster's size (tests/integration/route_mesh_test.cc).
    const bool from_gossip = r->solicited() && !r->explicit_route();
    if (!others.empty() && !from_gossip && !info.no_gossip) {
      // Tell every other member about the newcomer, so they route to it. When the newcomer
      // dialled us, they dial it with no_gossip, so it does not gossip them back (it may,
      // when we dialled it: it may be joining another group of nodes to ours).
      json::object j;
      j["server_id"] = info.id;
      j["server_name"] = info.name;
      j["version"] = info.version;
      j["proto"] = info.proto;
      j["host"] = info.host;
      j["port"] = info.port;
      j["headers"] = info.headers;
      if (info.auth_required) j["auth_required"] = true;
      j["max_payload"] = info.max_payload;
      j["ip"] = info.ip;
      j["cluster"] = info.cluster;
      if (info.dynamic) j["cluster_dynamic"] = true;
      if (!info.connect_urls.empty()) {
        json::array urls;
        for (auto& u : info.connect_urls) urls.emplace_back(u);
        j["connect_urls"] = std::move(urls);
      }
      if (!info.ws_connect_urls.empty()) {
        json::array urls;
        for (auto& u : info.ws_connect_urls) urls.emplace_back(u);
        j["ws_connect_urls"] = std::move(urls);
      }
      j["lnoc"] = info.lnoc;
      if (!r->solicited()) j["no_gossip"] = true;
      proto::append_info(forward, json::serialize(j));
    }
  }
  auto& log = server_.log();
  log.info("{} - Route connection to {} ({}) registered", r->log_prefix(), info.name, info.id);
  send_local_interest(r);
  if (!forward.empty()) {
    for (auto& o : others) {
      if (o->enqueue(forward)) o->flush_signal();
    }
  }
  if (!server_.options().cluster.no_advertise) notify_clients();
  server_.leafnodes().send_async_info();  // our leafs learn the member's leafnode URLs
  return true;
}

void Cluster::route_closed(RouteConn& r) {
  bool was_registered = false;
  bool connected_elsewhere = false;
  bool running;
  std::optional<AdoptedDial> adopted;
  const RouteInfo& info = r.remote();
  routes_closed_.fetch_add(1, std::memory_order_relaxed);
  // A route to ourselves closes as "Duplicate Route" too (as in the reference), but it is a
  // configuration's echo, not churn between two servers.
  if (r.close_reason() == CloseReason::kDuplicateRoute && info.id != server_.id()) {
    duplicate_routes_closed_.fetch_add(1, std::memory_order_relaxed);
  }
  {
    std::lock_guard lk(mu_);
    running = running_;
    auto it = info.id.empty() ? by_id_.end() : by_id_.find(info.id);
    if (it != by_id_.end() && it->second.get() == &r) {
      by_id_.erase(it);
      remote_urls_.erase(info.id);
      remote_ws_urls_.erase(info.id);
      remote_leaf_urls_.erase(info.id);
      was_registered = true;
      if (auto a = adopted_dials_.find(info.id); a != adopted_dials_.end()) {
        adopted = std::move(a->second);
        adopted_dials_.erase(a);
      }
    }
    connected_elsewhere = !info.id.empty() && by_id_.count(info.id) > 0;
    sync_tails_.erase(&r);
    // A dial that ends here (registered or not) no longer holds back gossip about its peer.
    if (r.solicited()) dialing_.erase(host_port_key(r.solicit_url()->host, r.solicit_url()->port));
  }
  server_.untrack_connection(r.cid());
  if (was_registered && running && !server_.options().cluster.no_advertise) notify_clients();
  if (was_registered && running) server_.leafnodes().send_async_info();
  if (!running || connected_elsewhere || info.id == server_.id()) return;
  // A route a reload removed is not dialled again (the reference's setNoReconnect); below it
  // would count as a registered implicit route and be redialled at once.
  if (r.close_reason() == CloseReason::kRouteRemoved) return;
  if (!r.solicited() && !adopted) return;  // the peer dialled us: it redials
  const Url& url = r.solicited() ? *r.solicit_url() : adopted->url;
  bool explicit_route = r.solicited() ? r.explicit_route() : adopted->explicit_route;
  if (explicit_route && is_explicit(url)) {
    server_.log().debugf("Attempting reconnect for solicited route \"{}\"", url.str());
    dial_later(url, true, 0, std::chrono::duration_cast<std::chrono::milliseconds>(kRouteReconnect) + jitter(100));
  } else if (was_registered) {
    dial_later(url, false, 0, jitter(100));
  }
}

void Cluster::gossip_received(RouteConn& from, const RouteInfo& info) {
  Url url;
  {
    std::lock_guard lk(mu_);
    if (!running_ || info.id == server_.id() || by_id_.count(info.id)) return;
    if (configured_route_for(info.host, info.port)) return;  // our explicit dialer handles it
    try {
      url = parse_url(info.ip);
    } catch (const std::exception& e) {
      server_.log().error("Error parsing URL from INFO: {}", e.what());
      return;
    }
    if (!dialing_.insert(host_port_key(url.host, url.port)).second) return;
  }
  if (info.auth_required) {
    url.user = route_user();
    url.password = route_password();
  }
  server_.log().info("Learned of cluster member {} ({}) at {}:{} from {}; connecting", info.name, info.id, url.host,
                     url.port, from.remote().name);
  solicit(url, false, 0, info.no_gossip);
}

void Cluster::end_gossip_dial(const Url& url) {
  std::lock_guard lk(mu_);
  dialing_.erase(host_port_key(url.host, url.port));
}

void Cluster::update_remote_urls(const std::string& remote_id, const std::vector<std::string>& urls,
                                 const std::vector<std::string>& ws_urls, bool ldm) {
  {
    std::lock_guard lk(mu_);
    auto it = remote_urls_.find(remote_id);
    if (it == remote_urls_.end()) return;
    std::vector<std::string> now = ldm ? std::vector<std::string>{} : urls;
    std::vector<std::string> ws_now = ldm ? std::vector<std::string>{} : ws_urls;
    auto& ws = remote_ws_urls_[remote_id];
    if (it->second == now && ws == ws_now) return;
    it->second = std::move(now);
    ws = std::move(ws_now);
  }
  if (!server_.options().cluster.no_advertise) notify_clients();
}

void Cluster::reload_routes(const std::vector<std::string>& routes) {
  if (!enabled_) return;
  std::vector<Url> next;
  for (const auto& r : routes) {
    try {
      next.push_back(parse_url(r));
    } catch (const std::exception& e) {
      server_.log().error("Error parsing route URL {}: {}", r, e.what());
    }
  }
  auto key = [](const Url& u) { return host_port_key(u.host, u.port); };
  std::vector<Url> added;
  std::vector<std::shared_ptr<RouteConn>> removed;
  {
    std::lock_guard lk(mu_);
    for (const auto& n : next) {
      bool known = std::any_of(explicit_routes_.begin(), explicit_routes_.end(),
                               [&](const Url& e) { return key(e) == key(n); });
      if (!known) added.push_back(n);
    }
    for (auto& [id, r] : by_id_) {
      if (!r->solicited() || !r->explicit_route()) continue;
      bool kept = std::any_of(next.begin(), next.end(), [&](const Url& n) { return key(n) == key(*r->solicit_url()); });
      if (!kept) removed.push_back(r);
    }
    explicit_routes_ = next;
    save_tls_name_locked(added);
  }
  for (auto& r : removed) {
    server_.log().info("{} - Removing route {} (no longer configured)", r->log_prefix(), r->solicit_url()->str());
    r->close(CloseReason::kRouteRemoved, false);
  }
  for (const auto& u : added) {
    server_.log().info("Adding route {}", u.str());
    solicit(u, true, 0);
  }
}

void Cluster::send_lame_duck() {
  if (!enabled_) return;
  std::string line;
  proto::append_info(line, route_info_json());
  std::lock_guard lk(mu_);
  broadcast(line);
}

std::vector<std::string> Cluster::connect_urls() const {
  std::vector<std::string> out = server_.own_client_urls();
  std::lock_guard lk(mu_);
  for (const auto& [id, urls] : remote_urls_) {
    for (const auto& u : urls) {
      if (std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
    }
  }
  return out;
}

std::vector<std::string> Cluster::remote_leafnode_urls() const {
  std::vector<std::string> out;
  std::lock_guard lk(mu_);
  for (const auto& [id, urls] : remote_leaf_urls_) {
    for (const auto& u : urls) {
      if (std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
    }
  }
  return out;
}

void Cluster::update_remote_leaf_urls(const std::string& remote_id, const std::vector<std::string>& urls, bool ldm) {
  {
    std::lock_guard lk(mu_);
    auto it = remote_leaf_urls_.find(remote_id);
    if (it == remote_leaf_urls_.end()) return;
    std::vector<std::string> now = ldm ? std::vector<std::string>{} : urls;
    if (it->second == now) return;
    it->second = std::move(now);
  }
  server_.leafnodes().send_async_info();
}

std::vector<std::string> Cluster::websocket_connect_urls() const {
  std::vector<std::string> out = server_.own_websocket_urls();
  std::lock_guard lk(mu_);
  for (const auto& [id, urls] : remote_ws_urls_) {
    for (const auto& u : urls) {
      if (std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
    }
  }
  return out;
}

void Cluster::notify_clients() { server_.send_async_info_to_clients(); }

std::vector<RouteSnapshot> Cluster::routes(bool with_interest) const {
  std::vector<std::shared_ptr<RouteConn>> rs;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, r] : by_id_) rs.push_back(r);
  }
  std::vector<RouteSnapshot> out;
  for (auto& r : rs) {
    RouteSnapshot s;
    s.rid = r->cid();
    s.remote_id = r->remote().id;
    s.remote_name = r->remote().name;
    s.monitor_url = r->remote().monitor_url;
    s.ip = r->remote_ip();
    s.port = r->remote_port();
    s.did_solicit = r->solicited();
    s.is_configured = r->explicit_route();
    s.in_msgs = r->in_msgs.load();
    s.out_msgs = r->out_msgs.load();
    s.in_bytes = r->in_bytes.load();
    s.out_bytes = r->out_bytes.load();
    s.pending_size = r->pending_bytes();
    if (with_interest) {
      s.subs = r->remote_interest();
      s.num_subs = s.subs.size();
    } else {
      s.num_subs = r->remote_interest_count();
    }
    s.start = r->started_at();
    s.last_activity = r->last_activity_at();
    s.rtt = r->rtt();
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const RouteSnapshot& a, const RouteSnapshot& b) { return a.rid < b.rid; });
  return out;
}

RouteChurn Cluster::churn() const {
  return RouteChurn{routes_opened_.load(std::memory_order_relaxed), routes_closed_.load(std::memory_order_relaxed),
                    duplicate_routes_closed_.load(std::memory_order_relaxed)};
}

size_t Cluster::num_routes() const {
  std::lock_guard lk(mu_);
  return by_id_.size();
}

}  // namespace pylon::server
