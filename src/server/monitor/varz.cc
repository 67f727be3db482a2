// /varz: server identity, configuration and counters; /healthz; the counters /varz and
// /metrics share.
#include <boost/json.hpp>

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "server/route/cluster.h"
#include "server/monitor/endpoints.h"
#include "server/monitor/format.h"
#include "server/monitor/monitor.h"
#include "server/leafnode/leafnodes.h"
#include "server/server.h"
#include "server/config/url.h"

namespace pylon::server::monitor {

namespace json = boost::json;

namespace {
// Go's time.Duration marshals as an integer count of nanoseconds.
int64_t ns(std::chrono::nanoseconds d) { return d.count(); }
// The reference reports auth and TLS timeouts as float seconds.
double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

constexpr double kDefaultTlsTimeoutSecs = 2;  // TLS_TIMEOUT: the reference reports it without TLS (routes)

// "host:port" of a route URL, as the reference lists configured routes (urlsToStrings).
std::string route_host_port(const std::string& u) {
  try {
    Url url = parse_url(u);
    return url.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", url.host, url.port)
                                                   : fmt::format("{}:{}", url.host, url.port);
  } catch (const std::exception&) {
    return u;
  }
}
}  // namespace

ServerCounters gather_counters(Server& server) {
  ServerCounters c;
  ServerStats& st = server.stats();
  c.connections = server.num_clients();
  c.total_connections = st.total_connections.load(std::memory_order_relaxed);
  c.routes = server.cluster().num_routes();
  c.subscriptions = 0;
  for (const auto& a : server.accounts().all()) c.subscriptions += a->index().count();
  c.slow_consumers = st.slow_consumers.load(std::memory_order_relaxed);
  MessageTotals mt = server.message_totals();
  c.in_msgs = mt.in_msgs;
  c.out_msgs = mt.out_msgs;
  c.in_bytes = mt.in_bytes;
  c.out_bytes = mt.out_bytes;
  return c;
}

json::object build_varz(Server& server, SysTime now, int http_port, int https_port, const ProcessUsage& usage,
                        const std::map<std::string, uint64_t>& http_req_stats) {
  const Options& opts = server.options();
  Cluster& cluster = server.cluster();
  json::object v;
  v["server_id"] = server.id();
  v["server_name"] = server.name();
  v["version"] = kNatsCompatVersion;
  v["proto"] = 1;
  v["go"] = "c++20";  // as our INFO says; the reference puts its Go version here
  v["host"] = opts.host;
  v["port"] = server.port();
  if (opts.auth_required()) v["auth_required"] = true;
  if (opts.tls.enabled) {
    v["tls_required"] = true;
    if (opts.tls.verify) v["tls_verify"] = true;
  }
  if (cluster.enabled() && !opts.cluster.no_advertise) {
    json::array urls;
    for (auto& u : cluster.connect_urls()) urls.emplace_back(u);
    if (!urls.empty()) v["connect_urls"] = std::move(urls);
  }
  v["max_connections"] = opts.max_connections;
  if (opts.max_subscriptions > 0) v["max_subscriptions"] = opts.max_subscriptions;
  v["ping_interval"] = ns(opts.ping_interval);
  v["ping_max"] = opts.ping_max;
  v["http_host"] = opts.http_host.empty() ? opts.host : opts.http_host;
  v["http_port"] = http_port;
  v["http_base_path"] = "";
  v["https_port"] = https_port;
  v["auth_timeout"] = seconds(opts.auth_timeout);
  v["max_control_line"] = opts.max_control_line;
  v["max_payload"] = opts.max_payload;
  v["max_pending"] = opts.max_pending;

  json::object cl;
  if (cluster.enabled()) {
    const auto& c = opts.cluster;
    if (auto name = cluster.cluster_name(); !name.empty()) cl["name"] = name;
    if (!c.host.empty()) cl["addr"] = c.host;
    if (cluster.port() != 0) cl["cluster_port"] = cluster.port();
    cl["auth_timeout"] = seconds(c.auth_timeout);
    if (!c.routes.empty()) {
      json::array urls;
      for (const auto& r : c.routes) urls.emplace_back(route_host_port(r));
      cl["urls"] = std::move(urls);
    }
    cl["tls_timeout"] = seconds(c.tls.timeout);  // the default (2) without TLS, as the reference
    if (c.tls.enabled) {
      // A cluster's tls block always verifies the peer (the reference's getTLSConfig).
      cl["tls_required"] = true;
      cl["tls_verify"] = true;
    }
  }
  v["cluster"] = std::move(cl);
  // Gateways, MQTT and JetStream are not part of Pylon: the reference shows them as empty
  // objects when they are not configured, and so do we. Leaf nodes: its LeafNodeOptsVarz,
  // every field omitted when empty.
  v["gateway"] = json::object();
  json::object leaf;
  if (const LeafNodeOptions& l = opts.leafnodes; l.port != 0) {
    leaf["host"] = l.host.empty() ? std::string(defaults::kHost) : l.host;
    leaf["port"] = server.leafnodes().port();
    Duration at = l.auth_timeout > Duration::zero() ? l.auth_timeout : opts.auth_timeout;
    leaf["auth_timeout"] = seconds(at);
  }
  if (!opts.leafnodes.remotes.empty()) {
    json::array remotes;
    for (const auto& r : opts.leafnodes.remotes) {
      json::object ro;
      if (!r.account.empty()) ro["local_account"] = r.account;
      json::array urls;
      for (const auto& u : r.urls) {
        try {
          urls.emplace_back(parse_url(u).str());  // never the credentials
        } catch (const std::exception&) {
        }
      }
      ro["urls"] = std::move(urls);
      remotes.emplace_back(std::move(ro));
    }
    leaf["remotes"] = std::move(remotes);
  }
  v["leaf"] = std::move(leaf);
  v["mqtt"] = json::object();
  // The reference's WebsocketOptsVarz: every field omitted when empty, so {} without a listener.
  json::object ws;
  if (const WebsocketOptions& w = opts.websocket; w.enabled()) {
    ws["host"] = w.host.empty() ? std::string(defaults::kHost) : w.host;
    ws["port"] = server.websocket_port();
    if (!w.advertise.empty()) ws["advertise"] = w.advertise;
    if (!w.no_auth_user.empty()) ws["no_auth_user"] = w.no_auth_user;
    if (w.handshake_timeout > Duration::zero()) ws["handshake_timeout"] = ns(w.handshake_timeout);
    if (w.auth_timeout > Duration::zero()) ws["auth_timeout"] = seconds(w.auth_timeout);
    if (w.no_tls) ws["no_tls"] = true;
    if (w.tls.map) ws["tls_map"] = true;
    if (!w.tls.pinned_certs.empty()) {
      json::array pins;
      for (const auto& p : w.tls.pinned_certs) pins.emplace_back(p);
      ws["tls_pinned_certs"] = std::move(pins);
    }
    if (w.same_origin) ws["same_origin"] = true;
    if (!w.allowed_origins.empty()) {
      json::array origins;
      for (const auto& o : w.allowed_origins) origins.emplace_back(o);
      ws["allowed_origins"] = std::move(origins);
    }
    if (w.compression) ws["compression"] = true;
  }
  v["websocket"] = std::move(ws);
  v["jetstream"] = json::object();
  v["tls_timeout"] = seconds(opts.tls.timeout);  // the default (2) when TLS is off, as the reference
  v["write_deadline"] = ns(opts.write_deadline);
  v["start"] = rfc3339(server.start_time());
  v["now"] = rfc3339(now);
  v["uptime"] = uptime(now - server.start_time());
  v["mem"] = usage.rss_bytes;
  v["cores"] = std::max(1u, std::thread::hardware_concurrency());
  v["gomaxprocs"] = server.num_loops();  // the threads serving connections: our event loops
  v["cpu"] = usage.cpu_percent;
  ServerCounters counts = gather_counters(server);
  v["connections"] = counts.connections;
  v["total_connections"] = counts.total_connections;
  v["routes"] = counts.routes;
  v["remotes"] = counts.routes;  // servers we have a route to: one route per remote server
  v["leafnodes"] = server.leafnodes().num_leafs();
  v["in_msgs"] = counts.in_msgs;
  v["out_msgs"] = counts.out_msgs;
  v["in_bytes"] = counts.in_bytes;
  v["out_bytes"] = counts.out_bytes;
  v["slow_consumers"] = counts.slow_consumers;
  v["subscriptions"] = counts.subscriptions;
  json::object req;
  for (const auto& [path, n] : http_req_stats) req[path] = n;
  v["http_req_stats"] = std::move(req);
  v["config_load_time"] = rfc3339(server.start_time());
  if (auto sys = opts.effective_system_account(); !sys.empty()) v["system_account"] = sys;
  v["pylon"] = kPylonVersion;
  return v;
}

json::object current_varz(Server& server, SysTime now) {
  int http_port = 0, https_port = 0;
  std::map<std::string, uint64_t> req_stats;
  if (monitor::Monitor* m = server.monitor()) {
    (m->secure() ? https_port : http_port) = m->port();
    req_stats = m->req_stats();
  }
  return build_varz(server, now, http_port, https_port, server.usage_sampler().sample(), req_stats);
}

json::object build_healthz(Server& server) {
  json::object o;
  if (server.running()) {
    o["status"] = "ok";
  } else {
    o["status"] = "error";
    o["error"] = "server is not running";
  }
  return o;
}

}  // namespace pylon::server::monitor
