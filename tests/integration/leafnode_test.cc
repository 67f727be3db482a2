// Leaf nodes (issue 15), against real servers: a Pylon leaf on a nats-server hub, a nats-server
// leaf on a Pylon hub, Pylon on Pylon, and a leaf on a 3-node Pylon cluster. In each, messages
// flow both ways and a queue group with members on both sides gets each message exactly once.
// Also: bad leaf credentials get the reference's error, a leaf gets its interest back after its
// hub restarts, and two servers that are each other's leaf detect the loop.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cluster_harness.h"

namespace pylon::it {
namespace {

using cluster::AsyncSub;
using cluster::Client;
using cluster::client_of;
using cluster::Collector;
using cluster::Kind;
using cluster::Node;
using cluster::NodeConfig;

constexpr Kind P = Kind::kPylon;
constexpr Kind N = Kind::kNats;
constexpr int kMessages = 50;

std::string hub_config(int leaf_port, const std::string& auth = "") {
  return "leafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\"\n" + auth + "}\n";
}
std::string leaf_config(int leaf_port, const std::string& userinfo = "") {
  return "leafnodes { remotes = [ { url: \"nats-leaf://" + userinfo + "127.0.0.1:" + std::to_string(leaf_port) +
         "\" } ] }\n";
}

// Publishes kMessages numbered messages on `subject` and returns after `col` got them, or the
// deadline; the count of each payload seen is checked by the caller.
void publish_numbered(Client& pub, const std::string& subject, const std::string& prefix) {
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(NATS_OK, cluster::publish(pub, subject, prefix + std::to_string(i)));
  }
  ASSERT_TRUE(pub.flush());
}

// Each payload with `prefix` was received exactly once (none lost, none twice).
void expect_each_once(const Collector& col, const std::string& prefix) {
  std::map<std::string, int> seen;
  for (const auto& m : col.messages()) {
    if (m.data.rfind(prefix, 0) == 0) ++seen[m.data];
  }
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(1, seen[prefix + std::to_string(i)]) << prefix << i;
  }
}

class LeafPair : public ::testing::TestWithParam<std::pair<Kind, Kind>> {
 protected:
  void SetUp() override {
    leaf_port_ = pick_free_port();
    auto [hub_kind, leaf_kind] = GetParam();
    NodeConfig h = cluster::single_config(hub_kind, "hub", "hub-cluster");
    h.config = hub_config(leaf_port_);
    NodeConfig l = cluster::single_config(leaf_kind, "leaf", "leaf-cluster");
    l.config = leaf_config(leaf_port_);
    hub_ = std::make_unique<Node>(h);
    leaf_ = std::make_unique<Node>(l);
    ASSERT_TRUE(hub_->start());
    ASSERT_TRUE(leaf_->start());
    hc_ = client_of(*hub_, "hub-client");
    lc_ = client_of(*leaf_, "leaf-client");
    ASSERT_TRUE(hc_ && lc_);
  }
  void TearDown() override {
    hc_.reset();
    lc_.reset();
    if (leaf_) leaf_->stop();
    if (hub_) hub_->stop();
  }

  int leaf_port_ = 0;
  std::unique_ptr<Node> hub_, leaf_;
  std::unique_ptr<Client> hc_, lc_;
};

TEST_P(LeafPair, MessagesFlowBothWays) {
  auto at_leaf = std::make_shared<Collector>();
  auto at_hub = std::make_shared<Collector>();
  auto s1 = AsyncSub::make(*lc_, "to.leaf", at_leaf);
  auto s2 = AsyncSub::make(*hc_, "to.hub", at_hub);
  ASSERT_TRUE(s1 && s2);
  ASSERT_TRUE(cluster::await_interest(*hc_, "to.leaf", *at_leaf, "hub->leaf", 15s)) << "leaf interest never reached the hub";
  ASSERT_TRUE(cluster::await_interest(*lc_, "to.hub", *at_hub, "leaf->hub", 15s)) << "hub interest never reached the leaf";
  ASSERT_NO_FATAL_FAILURE(publish_numbered(*hc_, "to.leaf", "h"));
  ASSERT_NO_FATAL_FAILURE(publish_numbered(*lc_, "to.hub", "l"));
  EXPECT_TRUE(at_leaf->wait_count(kMessages, 10s)) << at_leaf->count();
  EXPECT_TRUE(at_hub->wait_count(kMessages, 10s)) << at_hub->count();
  at_leaf->wait_quiet(200ms, 2s);
  expect_each_once(*at_leaf, "h");
  expect_each_once(*at_hub, "l");
  EXPECT_EQ(static_cast<size_t>(kMessages), at_leaf->count());
  EXPECT_EQ(static_cast<size_t>(kMessages), at_hub->count());
  // Headers cross too (HMSG on the leaf connection), both ways.
  ASSERT_EQ(NATS_OK, cluster::publish(*hc_, "to.leaf", "with-headers", "", {{"X-Leaf", "down"}}));
  ASSERT_EQ(NATS_OK, cluster::publish(*lc_, "to.hub", "with-headers", "", {{"X-Leaf", "up"}}));
  ASSERT_TRUE(hc_->flush() && lc_->flush());
  auto header_of = [](const Collector& col) {
    for (const auto& m : col.messages()) {
      if (m.data == "with-headers" && m.headers.count("X-Leaf")) return m.headers.at("X-Leaf");
    }
    return std::string();
  };
  EXPECT_TRUE(wait_for([&] { return header_of(*at_leaf) == "down"; }, 10s));
  EXPECT_TRUE(wait_for([&] { return header_of(*at_hub) == "up"; }, 10s));
}

TEST_P(LeafPair, QueueGroupAcrossTheLeafGetsEachMessageOnce) {
  auto col = std::make_shared<Collector>();
  auto barriers = std::make_shared<Collector>();
  // A queue member on each side; a barrier subscription after it on the same connection tells
  // when the other side has the member's interest (interest travels in order).
  auto qh = AsyncSub::make(*hc_, "work", col, 1, "workers");
  auto bh = AsyncSub::make(*hc_, "barrier.hub", barriers, 1);
  auto ql = AsyncSub::make(*lc_, "work", col, 2, "workers");
  auto bl = AsyncSub::make(*lc_, "barrier.leaf", barriers, 2);
  ASSERT_TRUE(qh && bh && ql && bl);
  ASSERT_TRUE(cluster::await_interest(*hc_, "barrier.leaf", *barriers, "to-leaf", 15s));
  ASSERT_TRUE(cluster::await_interest(*lc_, "barrier.hub", *barriers, "to-hub", 15s));
  ASSERT_NO_FATAL_FAILURE(publish_numbered(*hc_, "work", "h"));
  ASSERT_NO_FATAL_FAILURE(publish_numbered(*lc_, "work", "l"));
  EXPECT_TRUE(col->wait_count(2 * kMessages, 10s)) << col->count();
  col->wait_quiet(300ms, 3s);
  expect_each_once(*col, "h");
  expect_each_once(*col, "l");
  EXPECT_EQ(static_cast<size_t>(2 * kMessages), col->count());
}

// The member is only on the other side: the message crosses the leaf connection, once.
TEST_P(LeafPair, QueueMemberOnlyAcrossTheLeaf) {
  auto col = std::make_shared<Collector>();
  auto barriers = std::make_shared<Collector>();
  auto ql = AsyncSub::make(*lc_, "job", col, 2, "workers");
  auto bl = AsyncSub::make(*lc_, "barrier.leaf", barriers, 2);
  ASSERT_TRUE(ql && bl);
  ASSERT_TRUE(cluster::await_interest(*hc_, "barrier.leaf", *barriers, "to-leaf", 15s));
  ASSERT_NO_FATAL_FAILURE(publish_numbered(*hc_, "job", "h"));
  EXPECT_TRUE(col->wait_count(kMessages, 10s)) << col->count();
  col->wait_quiet(300ms, 3s);
  expect_each_once(*col, "h");
}

// /leafz on both ends (the reference's fields, whichever server answers), and /varz's count.
TEST_P(LeafPair, LeafzShowsTheConnectionOnBothEnds) {
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*lc_, "mon.leaf", col);
  ASSERT_TRUE(s);
  ASSERT_TRUE(cluster::await_interest(*hc_, "mon.leaf", *col, "mon", 15s));
  std::set<std::string> keys[2];
  Node* ends[2] = {hub_.get(), leaf_.get()};
  for (int i = 0; i < 2; ++i) {
    auto body = cluster::http_get_body(ends[i]->http_port(), "/leafz?subs=1");
    ASSERT_TRUE(body) << ends[i]->name();
    auto o = boost::json::parse(*body).as_object();
    ASSERT_EQ(1, o.at("leafnodes").to_number<int>()) << *body;
    const auto& leaf = o.at("leafs").as_array().at(0).as_object();
    EXPECT_EQ("$G", leaf.at("account").as_string()) << *body;
    for (const auto& kv : leaf) keys[i].insert(std::string(kv.key()));
    if (i == 0) {
      // The hub lists what the leaf told it: the subscription above among it.
      bool listed = false;
      for (const auto& v : leaf.at("subscriptions_list").as_array()) listed = listed || v.as_string() == "mon.leaf";
      EXPECT_TRUE(listed) << *body;
    }
    auto varz = cluster::http_get_body(ends[i]->http_port(), "/varz");
    ASSERT_TRUE(varz);
    EXPECT_EQ(1, boost::json::parse(*varz).as_object().at("leafnodes").to_number<int>()) << ends[i]->name();
  }
  // The same fields on either end (rtt may come a second later on one of them; name and
  // is_spoke are 2.10's, which Pylon adds and 2.9 lacks).
  for (auto* k : {&keys[0], &keys[1]}) {
    k->erase("rtt");
    k->erase("name");
    k->erase("is_spoke");
  }
  keys[0].erase("subscriptions_list");
  keys[1].erase("subscriptions_list");
  EXPECT_EQ(keys[0], keys[1]);
  // Pylon's end names its peer and says which way the connection goes.
  for (int i = 0; i < 2; ++i) {
    if (!ends[i]->is_pylon()) continue;
    auto body = cluster::http_get_body(ends[i]->http_port(), "/leafz");
    ASSERT_TRUE(body);
    auto doc = boost::json::parse(*body);
    const auto& leaf = doc.as_object().at("leafs").as_array().at(0).as_object();
    EXPECT_EQ(i == 0 ? "leaf" : "hub", leaf.at("name").as_string()) << *body;
    EXPECT_EQ(i == 1, leaf.at("is_spoke").as_bool()) << *body;
  }
}

std::string pair_name(const ::testing::TestParamInfo<std::pair<Kind, Kind>>& info) {
  return std::string(cluster::kind_name(info.param.second)) + "LeafOn" + cluster::kind_name(info.param.first) + "Hub";
}

INSTANTIATE_TEST_SUITE_P(Interop, LeafPair,
                         ::testing::Values(std::make_pair(N, P), std::make_pair(P, N), std::make_pair(P, P)),
                         pair_name);

// The system account answers LEAFZ as /leafz does: $SYS.REQ.SERVER.PING.LEAFZ on the hub lists
// the leaf, and the account-scoped form counts it under its own account only.
class LeafzOverSystemAccount : public ::testing::TestWithParam<Kind> {};

TEST_P(LeafzOverSystemAccount, PingAndAccountLeafzListTheLeaf) {
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(GetParam(), "hub", "hub-cluster");
  h.config = hub_config(leaf_port) +
             "accounts {\n  SYS: { users: [ { user: sys, password: psys } ] }\n"
             "  A: { users: [ { user: a, password: pa } ] }\n  B: { users: [ { user: b, password: pb } ] }\n}\n"
             "system_account: SYS\nno_auth_user: a\n";
  NodeConfig l = cluster::single_config(P, "leaf", "leaf-cluster");
  l.config = leaf_config(leaf_port);
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  auto num_leafs = [](const boost::json::object& leafz) { return leafz.at("leafnodes").to_number<int>(); };
  ASSERT_TRUE(wait_for(
      [&] {
        auto b = cluster::http_get_body(hub.http_port(), "/leafz");
        return b && num_leafs(boost::json::parse(*b).as_object()) == 1;
      },
      15s))
      << "the leaf connects";
  auto sys = Client::connect({"nats://sys:psys@127.0.0.1:" + std::to_string(hub.client_port())});
  ASSERT_TRUE(sys);
  auto ask = [&](const std::string& subject) -> boost::json::object {
    natsMsg* m = nullptr;
    natsStatus st = natsConnection_RequestString(&m, sys->nc(), subject.c_str(), "", 5000);
    EXPECT_EQ(st, NATS_OK) << subject;
    if (st != NATS_OK) return {};
    std::string body(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
    return boost::json::parse(body).as_object().at("data").as_object();
  };
  auto all = ask("$SYS.REQ.SERVER.PING.LEAFZ");
  ASSERT_FALSE(all.empty());
  ASSERT_EQ(1, num_leafs(all)) << boost::json::serialize(all);
  EXPECT_EQ("A", all.at("leafs").as_array().at(0).as_object().at("account").as_string()) << boost::json::serialize(all);
  auto a = ask("$SYS.REQ.ACCOUNT.A.LEAFZ");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(1, num_leafs(a)) << boost::json::serialize(a);
  auto b = ask("$SYS.REQ.ACCOUNT.B.LEAFZ");
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(0, num_leafs(b)) << boost::json::serialize(b);
}

INSTANTIATE_TEST_SUITE_P(Hubs, LeafzOverSystemAccount, ::testing::Values(P, N),
                         [](const ::testing::TestParamInfo<Kind>& info) { return std::string(cluster::kind_name(info.param)); });

// A leaf on node 1 of a 3-node cluster: a client on node 3 reaches the leaf's client and back
// (request/reply), and a queue group with members on the leaf and on node 2 gets each of node
// 3's messages once, through both. The cluster: Pylon only; a Pylon hub with nats-server
// nodes (our leaf's interest must reach them as the hub's own); a nats-server hub with Pylon
// nodes (which then hear the leaf's messages as the hub's, LMSG with origin included).
class LeafOnCluster : public ::testing::TestWithParam<std::vector<Kind>> {};

TEST_P(LeafOnCluster, NonHubNodeReachesTheLeafAndBack) {
  int leaf_port = pick_free_port();
  auto cfgs = cluster::mesh_configs(GetParam(), "hub-cluster", "c");
  cfgs[0].config = hub_config(leaf_port);
  std::vector<std::unique_ptr<Node>> nodes;
  for (auto& c : cfgs) nodes.push_back(std::make_unique<Node>(c));
  for (auto& n : nodes) ASSERT_TRUE(n->start());
  std::string why;
  ASSERT_TRUE(cluster::wait_mesh({nodes[0].get(), nodes[1].get(), nodes[2].get()}, 20s, &why)) << why;
  NodeConfig l = cluster::single_config(P, "leaf", "leaf-cluster");
  l.config = leaf_config(leaf_port);
  Node leaf(l);
  ASSERT_TRUE(leaf.start());

  auto lc = client_of(leaf, "leaf-client");
  auto c3 = client_of(*nodes[2], "c3");
  auto c2 = client_of(*nodes[1], "c2");
  ASSERT_TRUE(lc && c3 && c2);

  // Request from node 3 to a responder on the leaf; the reply comes back the same way.
  auto served = std::make_shared<Collector>();
  auto responder = AsyncSub::make(*lc, "svc.echo", served, 0, "", "leaf");
  ASSERT_TRUE(responder);
  ASSERT_TRUE(cluster::await_interest(*c3, "svc.echo", *served, "c3->leaf", 20s));
  natsMsg* reply = nullptr;
  ASSERT_EQ(NATS_OK, natsConnection_RequestString(&reply, c3->nc(), "svc.echo", "ping", 5000));
  EXPECT_EQ("leaf|ping", std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);

  // And from the leaf to node 3.
  auto at3 = std::make_shared<Collector>();
  auto s3 = AsyncSub::make(*c3, "to.c3", at3);
  ASSERT_TRUE(s3);
  ASSERT_TRUE(cluster::await_interest(*lc, "to.c3", *at3, "leaf->c3", 20s));
  ASSERT_NO_FATAL_FAILURE(publish_numbered(*lc, "to.c3", "l"));
  EXPECT_TRUE(at3->wait_count(kMessages, 10s));
  at3->wait_quiet(200ms, 2s);
  expect_each_once(*at3, "l");

  // Queue group: members on the leaf and on node 2, publisher on node 3 (no member there).
  auto col = std::make_shared<Collector>();
  auto barriers = std::make_shared<Collector>();
  auto ql = AsyncSub::make(*lc, "work", col, 1, "workers");
  auto bl = AsyncSub::make(*lc, "barrier.leaf", barriers, 1);
  auto q2 = AsyncSub::make(*c2, "work", col, 2, "workers");
  auto b2 = AsyncSub::make(*c2, "barrier.c2", barriers, 2);
  ASSERT_TRUE(ql && bl && q2 && b2);
  ASSERT_TRUE(cluster::await_interest(*c3, "barrier.leaf", *barriers, "c3-leaf", 20s));
  ASSERT_TRUE(cluster::await_interest(*c3, "barrier.c2", *barriers, "c3-c2", 20s));
  ASSERT_NO_FATAL_FAILURE(publish_numbered(*c3, "work", "q"));
  EXPECT_TRUE(col->wait_count(kMessages, 10s)) << col->count();
  col->wait_quiet(300ms, 3s);
  expect_each_once(*col, "q");
  std::set<int> members;
  for (const auto& m : col->messages()) members.insert(m.tag);
  // 50 messages picked by weight 1:1: both members get some unless the pick is broken
  // (the chance of all 50 on one side is 2^-49).
  EXPECT_EQ(2u, members.size());

  lc.reset();
  c3.reset();
  c2.reset();
  leaf.stop();
  cluster::stop_all({nodes[0].get(), nodes[1].get(), nodes[2].get()});
}

INSTANTIATE_TEST_SUITE_P(Clusters, LeafOnCluster,
                         ::testing::Values(std::vector<Kind>{P, P, P}, std::vector<Kind>{P, N, N},
                                           std::vector<Kind>{N, P, P}),
                         [](const ::testing::TestParamInfo<std::vector<Kind>>& i) {
                           std::string n;
                           for (Kind k : i.param) n += cluster::kind_name(k);
                           return n;
                         });

// A leaf configured with one member of a 2-node hub cluster learns the other's leafnode URL
// (INFO leafnode_urls, gossiped over the routes) and, when its hub dies, moves there and
// tells it its interest. Pylon hubs (nats-server leaf too) and a mixed hub cluster.
struct FailoverCase {
  std::vector<Kind> hubs;
  Kind leaf;
};

class LeafFailover : public ::testing::TestWithParam<FailoverCase> {};

TEST_P(LeafFailover, LeafMovesToAnotherHubNodeWhenItsHubDies) {
  const auto& p = GetParam();
  auto cfgs = cluster::mesh_configs(p.hubs, "hub-cluster", "h");
  std::vector<int> leaf_ports;
  for (auto& c : cfgs) {
    leaf_ports.push_back(pick_free_port());
    c.config = hub_config(leaf_ports.back());
  }
  Node a(cfgs[0]), b(cfgs[1]);
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());
  std::string why;
  ASSERT_TRUE(cluster::wait_mesh({&a, &b}, 20s, &why)) << why;
  NodeConfig l = cluster::single_config(p.leaf, "leaf", "leaf-cluster");
  l.config = leaf_config(leaf_ports[0]);  // only the first hub node
  Node leaf(l);
  ASSERT_TRUE(leaf.start());
  auto lc = client_of(leaf, "leaf-client");
  auto bc = client_of(b, "b-client");
  ASSERT_TRUE(lc && bc);
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*lc, "fo.leaf", col);
  ASSERT_TRUE(s);
  ASSERT_TRUE(cluster::await_interest(*bc, "fo.leaf", *col, "via-a", 15s));
  // The leaf has heard of b's leafnode port by now: a's INFO (or its async INFO) named it.
  // Wait for that INFO: a's /leafz shows the leaf, and b's route to a is up since the mesh.
  a.stop();
  EXPECT_TRUE(cluster::await_interest(*bc, "fo.leaf", *col, "via-b", 20s)) << leaf.log();
  auto leafz = cluster::http_get_body(b.http_port(), "/leafz");
  ASSERT_TRUE(leafz);
  EXPECT_EQ(1, boost::json::parse(*leafz).as_object().at("leafnodes").to_number<int>()) << *leafz;
  lc.reset();
  bc.reset();
  leaf.stop();
  b.stop();
}

INSTANTIATE_TEST_SUITE_P(Hubs, LeafFailover,
                         ::testing::Values(FailoverCase{{P, P}, P}, FailoverCase{{P, N}, P}, FailoverCase{{P, P}, N},
                                           FailoverCase{{N, P}, P}),
                         [](const ::testing::TestParamInfo<FailoverCase>& i) {
                           std::string n;
                           for (Kind k : i.param.hubs) n += cluster::kind_name(k);
                           return n + "Hubs" + cluster::kind_name(i.param.leaf) + "Leaf";
                         });

// Bad credentials: the hub answers with the reference's -ERR 'Authorization Violation' and
// logs the reference's line; the leaf logs what it was told. Both ways against nats-server.
TEST(LeafAuth, NatsLeafWithBadPasswordOnPylonHub) {
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(P, "hub", "hub-cluster");
  h.config = hub_config(leaf_port, "authorization { user: leafy, password: s3cret }\n");
  NodeConfig l = cluster::single_config(N, "leaf", "leaf-cluster");
  l.config = leaf_config(leaf_port, "leafy:wrong@");
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  EXPECT_TRUE(leaf.wait_for_log("Leafnode Error 'Authorization Violation'", 10s)) << leaf.log();
  EXPECT_TRUE(hub.wait_for_log("authentication error", 10s)) << hub.log();
  leaf.stop();
  hub.stop();
}

TEST(LeafAuth, PylonLeafWithBadPasswordOnNatsHub) {
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(N, "hub", "hub-cluster");
  h.config = hub_config(leaf_port, "authorization { user: leafy, password: s3cret }\n");
  NodeConfig l = cluster::single_config(P, "leaf", "leaf-cluster");
  l.config = leaf_config(leaf_port, "leafy:wrong@");
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  EXPECT_TRUE(leaf.wait_for_log("Leafnode Error 'Authorization Violation'", 10s)) << leaf.log();
  // And with the right password the same leaf is let in: messages flow.
  leaf.stop();
  leaf.mutable_config().config = leaf_config(leaf_port, "leafy:s3cret@");
  ASSERT_TRUE(leaf.start());
  auto hc = client_of(hub, "hub-client");
  auto lc = client_of(leaf, "leaf-client");
  ASSERT_TRUE(hc && lc);
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*lc, "auth.ok", col);
  ASSERT_TRUE(s);
  EXPECT_TRUE(cluster::await_interest(*hc, "auth.ok", *col, "auth", 15s));
  hc.reset();
  lc.reset();
  leaf.stop();
  hub.stop();
}

// Without a leafnode authorization the hub checks a leaf as a client: one that presents nothing
// is the no_auth_user and is bound to that user's account. Both ways against nats-server.
class LeafAccount : public ::testing::TestWithParam<std::pair<Kind, Kind>> {};

TEST_P(LeafAccount, ALeafWithoutCredentialsIsTheNoAuthUserInItsAccount) {
  auto [hub_kind, leaf_kind] = GetParam();
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(hub_kind, "hub", "hub-cluster");
  h.config = "accounts { EDGE: { users = [ {user: e, password: p} ] } }\nno_auth_user: e\n" + hub_config(leaf_port);
  NodeConfig l = cluster::single_config(leaf_kind, "leaf", "leaf-cluster");
  l.config = leaf_config(leaf_port);
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  auto hc = client_of(hub, "edge-client");  // no credentials: EDGE too
  auto lc = client_of(leaf, "leaf-client");
  ASSERT_TRUE(hc && lc);
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*hc, "edge.in", col);
  ASSERT_TRUE(s);
  EXPECT_TRUE(cluster::await_interest(*lc, "edge.in", *col, "edge", 15s));
  auto leafz = cluster::http_get_body(hub.http_port(), "/leafz");
  ASSERT_TRUE(leafz);
  auto o = boost::json::parse(*leafz).as_object();
  ASSERT_EQ(1, o.at("leafnodes").to_number<int>()) << *leafz;
  EXPECT_EQ("EDGE", o.at("leafs").as_array().at(0).as_object().at("account").as_string()) << *leafz;
  hc.reset();
  lc.reset();
  leaf.stop();
  hub.stop();
}

INSTANTIATE_TEST_SUITE_P(Interop, LeafAccount, ::testing::Values(std::make_pair(P, N), std::make_pair(N, P)), pair_name);

// The hub restarts: the leaf dials it again (every reconnect interval) and tells it its
// interest again, so messages flow without anyone subscribing anew.
TEST(LeafReconnect, InterestComesBackAfterTheHubRestarts) {
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(P, "hub", "hub-cluster");
  h.config = hub_config(leaf_port);
  NodeConfig l = cluster::single_config(P, "leaf", "leaf-cluster");
  l.config = leaf_config(leaf_port);
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  auto lc = client_of(leaf, "leaf-client");
  ASSERT_TRUE(lc);
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*lc, "after.restart", col);
  ASSERT_TRUE(s);
  {
    auto hc = client_of(hub, "hub-client");
    ASSERT_TRUE(hc);
    ASSERT_TRUE(cluster::await_interest(*hc, "after.restart", *col, "before", 15s));
  }
  hub.stop();
  ASSERT_TRUE(leaf.wait_for_log("Leafnode connection closed", 10s));
  ASSERT_TRUE(hub.start());
  auto hc = client_of(hub, "hub-client-2");
  ASSERT_TRUE(hc);
  EXPECT_TRUE(cluster::await_interest(*hc, "after.restart", *col, "after", 15s)) << leaf.log();
  hc.reset();
  lc.reset();
  leaf.stop();
  hub.stop();
}

// A client on the leafnode port: the INFO is a leafnode port's (client_id, leafnode_urls), and a
// client's CONNECT (it names its language) gets the reference's words and is closed; nothing
// else notices. Pylon and nats-server alike.
class LeafPortMisuse : public ::testing::TestWithParam<Kind> {};

TEST_P(LeafPortMisuse, AClientOnTheLeafnodePortIsTurnedAway) {
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(GetParam(), "hub", "hub-cluster");
  h.config = hub_config(leaf_port);
  Node hub(h);
  ASSERT_TRUE(hub.start());
  RawClient c;
  ASSERT_TRUE(c.connect(leaf_port));
  auto info = c.read_info();
  ASSERT_TRUE(info);
  auto o = boost::json::parse(*info).as_object();
  EXPECT_TRUE(o.contains("leafnode_urls")) << *info;
  EXPECT_NE(0, o.at("client_id").to_number<int64_t>()) << *info;
  ASSERT_TRUE(c.send("CONNECT {\"lang\":\"go\",\"version\":\"1.0\",\"verbose\":false}\r\n"));
  auto line = c.read_line(5s);
  ASSERT_TRUE(line);
  EXPECT_EQ("-ERR 'attempted to connect to leaf node port'", *line);
  EXPECT_TRUE(c.expect_closed(5s));
  // The server goes on: a client on the client port completes a round trip.
  auto ok = client_of(hub, "after");
  EXPECT_TRUE(ok && ok->flush());
  ok.reset();
  hub.stop();
}

INSTANTIATE_TEST_SUITE_P(Servers, LeafPortMisuse, ::testing::Values(P, N),
                         [](const ::testing::TestParamInfo<Kind>& i) { return std::string(cluster::kind_name(i.param)); });

// Two servers that each dial the other as a leaf: the reference's loop detection ($LDS.
// subject) finds it, and the server that hears its own subject back says so in its words.
class LeafLoop : public ::testing::TestWithParam<std::pair<Kind, Kind>> {};

TEST_P(LeafLoop, TwoServersLeafOfEachOtherDetectTheLoop) {
  int pa = pick_free_port(), pb = pick_free_port();
  NodeConfig a = cluster::single_config(GetParam().first, "a", "cluster-a");
  a.config = "leafnodes { listen: \"127.0.0.1:" + std::to_string(pa) + "\"\n remotes = [ { url: \"nats-leaf://127.0.0.1:" +
             std::to_string(pb) + "\" } ] }\n";
  NodeConfig b = cluster::single_config(GetParam().second, "b", "cluster-b");
  b.config = "leafnodes { listen: \"127.0.0.1:" + std::to_string(pb) + "\"\n remotes = [ { url: \"nats-leaf://127.0.0.1:" +
             std::to_string(pa) + "\" } ] }\n";
  Node na(a), nb(b);
  ASSERT_TRUE(na.start());
  ASSERT_TRUE(nb.start());
  const std::string text = "Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s";
  EXPECT_TRUE(wait_for([&] { return na.log().find(text) != std::string::npos || nb.log().find(text) != std::string::npos; },
                       15s))
      << na.log() << "\n----\n" << nb.log();
  nb.stop();
  na.stop();
}

// nats-server pairs find the loop with the same words, and so does a mixed pair (our $LDS
// subscription crosses nats-server and comes back, or theirs crosses us).
INSTANTIATE_TEST_SUITE_P(Servers, LeafLoop,
                         ::testing::Values(std::make_pair(P, P), std::make_pair(N, N), std::make_pair(P, N)),
                         [](const ::testing::TestParamInfo<std::pair<Kind, Kind>>& i) {
                           return std::string(cluster::kind_name(i.param.first)) + cluster::kind_name(i.param.second);
                         });

}  // namespace
}  // namespace pylon::it
