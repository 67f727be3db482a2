// A cluster whose nodes each live in a network namespace of their own on one Lan (netns.h):
// node i (1-based) in namespace "n<i>" at 10.250.0.<i>, listening on 0.0.0.0 there. Clients
// run in the "clients" namespace (10.250.0.100) and reach the nodes across the bridge, so a
// cut link cuts them off too.
//
// The nodes are tests/integration's cluster::Node (same binaries, logs and /routez checks);
// everything that opens a socket to a node's monitoring port enters that node's namespace
// first and uses its loopback, so a node can be inspected while its link is down.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster_harness.h"
#include "netns.h"

namespace pylon::faults {

namespace json = boost::json;
using it::cluster::Kind;
using it::cluster::Node;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum class Topology {
  kFullMesh,  // every node lists every other one in its routes (explicit routes)
  kSeed,      // n2..nN list only n1; they meet each other by gossip (implicit routes)
};

struct FaultClusterOptions {
  std::vector<Kind> kinds;  // one per node
  std::string config;       // server config file text (ping_interval, write_deadline, ...)
  Topology topology = Topology::kFullMesh;
  // routes_override[i] (when set) replaces node i+1's route URLs.
  std::vector<std::optional<std::vector<std::string>>> routes_override = {};
};

// The node kinds a test runs: PYLON_TEST_SERVER picks the binary of every node (the harness's
// switch), so `faults.*` runs Pylon and `faults.nats-server.*` the reference; with
// PYLON_FAULTS_MIXED=1 (`faults.mixed.*`) node 1 runs nats-server and the others Pylon.
std::vector<Kind> default_kinds(size_t n);

class FaultCluster {
 public:
  // Adds the nodes' namespaces to `lan` (which must outlive this) and leases their ports.
  FaultCluster(Lan& lan, FaultClusterOptions opts);
  ~FaultCluster();

  size_t size() const { return nodes_.size(); }
  Node& node(int i) { return *nodes_.at(static_cast<size_t>(i - 1)); }
  std::string ns_name(int i) const { return "n" + std::to_string(i); }
  NetNs& ns(int i) { return lan_.ns(ns_name(i)); }
  std::string address(int i) const { return lan_.address(ns_name(i)); }
  std::string client_url(int i) const;
  std::string route_url(int i) const;
  // Client URLs with node `first` first, then the others in order.
  std::vector<std::string> client_urls(int first) const;

  bool start(int i);
  bool start_all();
  void stop(int i);

  // Runs `fn` with the calling thread in node i's namespace.
  template <typename Fn>
  auto in_node(int i, Fn&& fn) {
    NsScope scope(ns(i));
    return fn(node(i));
  }
  std::optional<json::object> monitor(int i, const std::string& path);
  std::optional<int64_t> num_subscriptions(int i);  // /subsz
  std::optional<int64_t> num_connections(int i);    // /connz
  std::optional<int64_t> slow_consumers(int i);     // /varz
  std::string server_id(int i);
  // The registered routes of node i per /routez: remote server id -> rid.
  std::optional<std::multimap<std::string, int64_t>> routes_of(int i);

  // Every node in `which` has one route to every other node in `which` and to nothing else
  // (/routez, and the route log lines on Pylon nodes). `why` gets the state when not.
  bool mesh_complete(const std::vector<int>& which, std::string* why = nullptr);
  bool wait_mesh(const std::vector<int>& which, milliseconds timeout, std::string* why = nullptr);
  std::vector<int> all() const;

 private:
  Lan& lan_;
  FaultClusterOptions opts_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::string> config_paths_;
  it::TempDir tmp_;
};

}  // namespace pylon::faults
