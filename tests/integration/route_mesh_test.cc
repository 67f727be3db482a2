// Seven nodes started at once, each routing to one seed, form a full mesh without
// duplicate-route churn (issue 14 §4, nats-server issue #5483).
//
// How the mesh forms: each node dials the seed; the seed tells the routes it already has about
// each newcomer (gossip) and they dial it. Before the fix every node that registered a route
// gossiped its peer again, so two nodes could learn of each other from different members at
// the same time and dial each other at once: two connections, one closed as "Duplicate Route"
// on each side, and with 7 nodes that happened on most runs. Now, as the reference since 2.10.17
// (route.go addRoute, `fromGossip`/`NoGossip`), only the node that accepted a newcomer's
// configured (explicit) route gossips it, and it marks the gossip `no_gossip`: a route dialled
// because of gossip, or whose peer said `no_gossip`, is not gossiped again.
//
// The bound, from that rule: the seed registers its routes one at a time under one lock and
// tells each newcomer's INFO only to the routes registered before it, so of every two
// non-seed nodes exactly one is told about the other and dials it; the seed itself dials no
// one; and no gossip is repeated. Hence no two connections are ever made between one pair of
// nodes: kMaxDuplicateRoutes is 0 whatever the timing, and every node opens exactly n-1
// route connections (a dial to a seed not yet listening fails before it connects and opens
// nothing). The counters are Pylon's /routez extras (Cluster::churn).
//
// The mixed set (Pylon and nats-server 2.9 alternating, a Pylon seed): 2.9 gossips every route
// it registers, so duplicates can happen there and are only reported; what must hold is the
// full mesh, with every route connection accounted for.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cluster_harness.h"
#include "harness.h"

namespace pylon::it::cluster {
namespace {

constexpr int kNodes = 7;
constexpr uint64_t kMaxDuplicateRoutes = 0;  // see the reasoning above

struct Churn {
  uint64_t opened = 0, closed = 0, duplicates = 0;
};

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// Pylon: /routez's counters. nats-server counts nothing, so its log lines (-D): "Route
// connection created" (createRoute, both directions) and "Router connection closed: <reason>".
std::optional<Churn> churn_of(Node& n) {
  Churn c;
  if (n.is_pylon()) {
    auto rz = n.routez();
    if (!rz || !rz->contains("route_connections_opened")) return std::nullopt;
    c.opened = rz->at("route_connections_opened").to_number<uint64_t>();
    c.closed = rz->at("route_connections_closed").to_number<uint64_t>();
    c.duplicates = rz->at("duplicate_routes_closed").to_number<uint64_t>();
    return c;
  }
  std::string log = n.log();
  c.opened = count_of(log, "Route connection created");
  c.closed = count_of(log, "Router connection closed");
  c.duplicates = count_of(log, "Router connection closed: Duplicate Route");
  return c;
}

// Every node's connections are accounted for: none is in its handshake or closing, so the
// counters will not move any more.
bool settled(const NodeList& nodes) {
  for (auto* n : nodes) {
    auto c = churn_of(*n);
    if (!c || c->opened != c->closed + (kNodes - 1)) return false;
  }
  return true;
}

class SevenNodes {
 public:
  explicit SevenNodes(const std::vector<Kind>& kinds) {
    for (int i = 0; i < kNodes; ++i) {
      auto cfg = single_config(kinds[i], "m" + std::to_string(i + 1), "mesh7");
      nodes_.push_back(std::make_unique<Node>(std::move(cfg)));
    }
    for (int i = 1; i < kNodes; ++i) nodes_[i]->mutable_config().routes = {route_url(nodes_[0]->route_port())};
    for (auto& n : nodes_) list_.push_back(n.get());
  }
  ~SevenNodes() { stop_all(list_); }

  // All at once: every process is spawned before any is waited for.
  bool start() {
    for (auto& n : nodes_)
      if (!n->spawn()) return false;
    for (auto& n : nodes_)
      if (!n->wait_ready(30s)) return false;
    return true;
  }
  const NodeList& list() const { return list_; }

  std::string table() {
    std::string out;
    for (auto* n : list_) {
      auto c = churn_of(*n);
      out += n->name() + " (" + kind_name(n->is_pylon() ? Kind::kPylon : Kind::kNats) + "): ";
      out += c ? "opened " + std::to_string(c->opened) + ", closed " + std::to_string(c->closed) + ", duplicates " +
                     std::to_string(c->duplicates)
               : std::string("no counters");
      out += "\n";
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  NodeList list_;
};

TEST(RouteMesh, SevenNodesStartedAtOnceFormAFullMeshWithoutDuplicateRoutes) {
  SKIP_IF_REFERENCE("the route counters are Pylon's /routez extras");
  SevenNodes c(std::vector<Kind>(kNodes, Kind::kPylon));
  ASSERT_TRUE(c.start());
  std::string why;
  ASSERT_TRUE(wait_mesh(c.list(), 60s, &why)) << why;
  ASSERT_TRUE(wait_for([&] { return settled(c.list()); }, 30s)) << c.table();
  std::printf("[ MESH     ] 7 Pylon nodes:\n%s", c.table().c_str());
  for (auto* n : c.list()) {
    auto churn = churn_of(*n);
    ASSERT_TRUE(churn);
    EXPECT_LE(churn->duplicates, kMaxDuplicateRoutes) << n->name() << "\n" << c.table();
    EXPECT_EQ(churn->opened, static_cast<uint64_t>(kNodes - 1)) << n->name() << "\n" << c.table();
  }
}

TEST(RouteMesh, SevenMixedNodesStartedAtOnceFormAFullMesh) {
  SKIP_IF_REFERENCE("the route counters are Pylon's /routez extras");
  constexpr Kind P = Kind::kPylon, N = Kind::kNats;
  SevenNodes c({P, N, P, N, P, N, P});
  ASSERT_TRUE(c.start());
  std::string why;
  ASSERT_TRUE(wait_mesh(c.list(), 60s, &why)) << why;
  EXPECT_TRUE(wait_for([&] { return settled(c.list()); }, 30s)) << c.table();
  std::printf("[ MESH     ] 4 Pylon and 3 nats-server nodes:\n%s", c.table().c_str());
}

}  // namespace
}  // namespace pylon::it::cluster
