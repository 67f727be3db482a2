#include "fault_cluster.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <set>
#include <sstream>

namespace pylon::faults {
namespace {

std::optional<int64_t> int_field(const std::optional<json::object>& o, const char* key) {
  if (!o) return std::nullopt;
  auto* v = o->if_contains(key);
  if (!v || !v->is_number()) return std::nullopt;
  return v->to_number<int64_t>();
}

}  // namespace

std::vector<Kind> default_kinds(size_t n) {
  Kind k = it::using_reference_server() ? Kind::kNats : Kind::kPylon;
  std::vector<Kind> kinds(n, k);
  const char* mixed = std::getenv("PYLON_FAULTS_MIXED");
  if (mixed && *mixed && std::string(mixed) != "0" && n > 0) kinds[0] = Kind::kNats;
  return kinds;
}

FaultCluster::FaultCluster(Lan& lan, FaultClusterOptions opts) : lan_(lan), opts_(std::move(opts)) {
  const size_t n = opts_.kinds.size();
  std::vector<it::cluster::NodeConfig> cfgs;
  {
    // Ports are leased in the root namespace, where the leases mean something to other tests.
    NsScope root(original_namespace_fd(), "original");
    for (size_t i = 0; i < n; ++i)
      cfgs.push_back(it::cluster::single_config(opts_.kinds[i], "n" + std::to_string(i + 1), "pylon-faults"));
  }
  for (size_t i = 0; i < n; ++i) lan_.add(ns_name(static_cast<int>(i + 1)), static_cast<int>(i + 1));
  std::string conf = tmp_.write("server.conf", opts_.config);
  for (size_t i = 0; i < n; ++i) {
    auto& c = cfgs[i];
    c.host = "0.0.0.0";  // inside its own namespace: its loopback and its eth0, nothing else
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      bool listed = opts_.topology == Topology::kFullMesh || (i > 0 && j == 0);
      if (listed) c.routes.push_back(it::cluster::route_url(address(static_cast<int>(j + 1)), cfgs[j].route_port));
    }
    if (i < opts_.routes_override.size() && opts_.routes_override[i]) c.routes = *opts_.routes_override[i];
    if (!opts_.config.empty()) c.extra_args = {"-c", conf};
    nodes_.push_back(std::make_unique<Node>(c));
  }
}

FaultCluster::~FaultCluster() {
  for (auto& n : nodes_) n->send_signal(SIGTERM);
  nodes_.clear();  // each waits for its process
}

std::string FaultCluster::client_url(int i) const {
  return "nats://" + address(i) + ":" + std::to_string(nodes_.at(static_cast<size_t>(i - 1))->client_port());
}

std::string FaultCluster::route_url(int i) const {
  return it::cluster::route_url(address(i), nodes_.at(static_cast<size_t>(i - 1))->route_port());
}

std::vector<std::string> FaultCluster::client_urls(int first) const {
  std::vector<std::string> out{client_url(first)};
  for (int i = 1; i <= static_cast<int>(nodes_.size()); ++i)
    if (i != first) out.push_back(client_url(i));
  return out;
}

bool FaultCluster::start(int i) {
  // The child inherits the forking thread's namespace.
  return in_node(i, [](Node& n) { return n.start(); });
}

bool FaultCluster::start_all() {
  for (int i = 1; i <= static_cast<int>(nodes_.size()); ++i)
    if (!start(i)) return false;
  return true;
}

void FaultCluster::stop(int i) { node(i).stop(); }

std::vector<int> FaultCluster::all() const {
  std::vector<int> out;
  for (int i = 1; i <= static_cast<int>(nodes_.size()); ++i) out.push_back(i);
  return out;
}

std::optional<json::object> FaultCluster::monitor(int i, const std::string& path) {
  auto body = in_node(i, [&](Node& n) { return it::cluster::http_get_body(n.http_port(), path); });
  if (!body) return std::nullopt;
  try {
    auto v = json::parse(*body);
    if (v.is_object()) return v.as_object();
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::optional<int64_t> FaultCluster::num_subscriptions(int i) {
  return int_field(monitor(i, "/subsz"), "num_subscriptions");
}
std::optional<int64_t> FaultCluster::num_connections(int i) {
  return int_field(monitor(i, "/connz"), "num_connections");
}
std::optional<int64_t> FaultCluster::slow_consumers(int i) { return int_field(monitor(i, "/varz"), "slow_consumers"); }

std::string FaultCluster::server_id(int i) {
  return in_node(i, [](Node& n) { return n.server_id(); });
}

std::optional<std::multimap<std::string, int64_t>> FaultCluster::routes_of(int i) {
  auto r = monitor(i, "/routez");
  if (!r) return std::nullopt;
  std::multimap<std::string, int64_t> out;
  if (auto* routes = r->if_contains("routes"); routes && routes->is_array()) {
    for (auto& e : routes->as_array()) {
      if (!e.is_object()) continue;
      auto& o = e.as_object();
      auto* id = o.if_contains("remote_id");
      auto* rid = o.if_contains("rid");
      out.emplace(id && id->is_string() ? std::string(id->as_string()) : "?",
                  rid && rid->is_number() ? rid->to_number<int64_t>() : -1);
    }
  }
  return out;
}

bool FaultCluster::mesh_complete(const std::vector<int>& which, std::string* why) {
  std::map<int, std::string> ids;
  for (int i : which) ids[i] = server_id(i);
  bool ok = true;
  std::ostringstream state;
  for (int i : which) {
    std::multiset<std::string> expected;
    for (int j : which)
      if (j != i) expected.insert(ids[j]);
    auto got = in_node(i, [](Node& n) { return n.routez_remote_ids(); });
    bool node_ok = !ids[i].empty() && got && *got == expected;
    if (node_ok && node(i).is_pylon()) node_ok = node(i).log_live_route_ids() == expected;
    ok = ok && node_ok;
    if (why) state << in_node(i, [](Node& n) { return n.describe(); }) << "\n";
  }
  if (why) *why = state.str();
  return ok;
}

bool FaultCluster::wait_mesh(const std::vector<int>& which, milliseconds timeout, std::string* why) {
  bool ok = it::wait_for([&] { return mesh_complete(which); }, timeout, milliseconds(25));
  if (why) mesh_complete(which, why);
  return ok;
}

}  // namespace pylon::faults
