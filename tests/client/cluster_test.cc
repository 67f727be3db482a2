// Cluster awareness: servers learnt from INFO connect_urls join the pool, the
// discovered-servers callback fires, and the client fails over to a learnt server.
#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.h"

namespace pylon::test {
namespace {

class ClusterTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "nats-server" && !have_nats_server()) GTEST_SKIP() << "nats-server not installed";
  }
  static bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }
};

TEST_P(ClusterTest, ANodeThatJoinsLaterIsDiscoveredAndUsedForFailover) {
  ServerSetup a_setup;
  a_setup.cluster = true;
  auto a = make_server(GetParam(), a_setup);
  a->start();

  ClientOptions o = client_options(a->url());
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  Inbox inbox;
  auto sub = c.subscribe("cluster.subj", inbox.handler());
  c.flush();
  EXPECT_TRUE(c.discovered_servers().empty());

  ServerSetup b_setup;
  b_setup.cluster = true;
  b_setup.routes = {a->cluster_port()};
  auto b = make_server(GetParam(), b_setup);
  b->start();

  ASSERT_TRUE(wait_for([&] { return ev.discovered >= 1; }, 15s)) << "the new node's URL reaches the client";
  EXPECT_TRUE(contains(c.discovered_servers(), b->url())) << testing::PrintToString(c.discovered_servers());
  EXPECT_TRUE(contains(c.servers(), b->url()));
  EXPECT_TRUE(contains(c.servers(), a->url()));

  // The original node goes away: the client moves to the one it learnt about.
  a->stop();
  ASSERT_TRUE(wait_for([&] { return ev.reconnected >= 1; }, 15s));
  EXPECT_EQ(c.connected_url(), b->url());

  Connection pub(client_options(b->url()));
  pub.connect();
  pub.publish("cluster.subj", "via b");
  pub.flush();
  ASSERT_TRUE(inbox.wait_size(1)) << "the subscription was replayed on the new node";
  EXPECT_EQ(inbox.messages()[0].data, "via b");
}

TEST_P(ClusterTest, MessagesCrossTheRouteToOtherClients) {
  ServerSetup a_setup;
  a_setup.cluster = true;
  auto a = make_server(GetParam(), a_setup);
  a->start();
  ServerSetup b_setup;
  b_setup.cluster = true;
  b_setup.routes = {a->cluster_port()};
  auto b = make_server(GetParam(), b_setup);
  b->start();

  // Wait until the route is up on a's side: a fresh client of a learns b at once. (A
  // client that connects while the route registers learns it from the INFO the server
  // sends before its first PONG: tests/integration/first_ping_info_test.cc.)
  ASSERT_TRUE(wait_for(
      [&] {
        Connection probe(client_options(a->url()));
        probe.connect();
        return contains(probe.servers(), b->url());
      },
      15s));
  Connection on_a(client_options(a->url()));
  on_a.connect();
  Connection on_b(client_options(b->url()));
  on_b.connect();
  auto sub = on_a.subscribe("svc.cross", [&](Message& m) { on_a.publish(m.reply, "answered on a"); });
  on_a.flush();
  // Interest propagates over the route asynchronously: retry the request until it lands.
  std::string got;
  ASSERT_TRUE(wait_for(
      [&] {
        try {
          got = on_b.request("svc.cross", "q", 500ms).data;
          return true;
        } catch (const Exception&) {
          return false;
        }
      },
      15s));
  EXPECT_EQ(got, "answered on a");
}

TEST_P(ClusterTest, ANodeThatLeavesIsForgottenAndLameDuckIsAnnounced) {
  ServerSetup a_setup;
  a_setup.cluster = true;
  auto a = make_server(GetParam(), a_setup);
  a->start();
  ServerSetup peer;
  peer.cluster = true;
  peer.routes = {a->cluster_port()};
  auto b = make_server(GetParam(), peer);
  b->start();
  auto c3 = make_server(GetParam(), peer);
  c3->start();

  ClientOptions o = client_options(a->url());
  Events ev;
  ev.attach(o);
  Connection c(o);
  c.connect();
  ASSERT_TRUE(wait_for(
      [&] { return contains(c.discovered_servers(), b->url()) && contains(c.discovered_servers(), c3->url()); }, 15s))
      << testing::PrintToString(c.discovered_servers());

  // b leaves the cluster: a's next INFO no longer lists it, and the client drops it
  // from its pool (it was only learnt, not configured).
  b->stop();
  ASSERT_TRUE(wait_for([&] { return !contains(c.servers(), b->url()); }, 15s))
      << testing::PrintToString(c.servers());
  EXPECT_EQ(c.discovered_servers(), std::vector<std::string>{c3->url()});
  EXPECT_TRUE(contains(c.servers(), a->url())) << "a configured server stays";
  EXPECT_EQ(ev.disconnected, 0);
  const int discovered_before = ev.discovered;

  // The connected node enters lame duck mode: the client is told, with no new servers.
  a->enter_lame_duck();
  ASSERT_TRUE(wait_for([&] { return ev.lame_duck == 1; }, 15s));
  EXPECT_TRUE(c.server_info().lame_duck);
  EXPECT_EQ(ev.discovered, discovered_before) << "nothing new to discover";
}

INSTANTIATE_TEST_SUITE_P(Servers, ClusterTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

}  // namespace
}  // namespace pylon::test
