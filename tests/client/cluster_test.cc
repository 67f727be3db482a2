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

  // Wait until the route is up on a's side: a fresh client of a learns b at once.
  // (Clients that connect while the route registers may miss the update on Pylon:
  // see "first PING re-check" in the client report.)
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

INSTANTIATE_TEST_SUITE_P(Servers, ClusterTest, ::testing::Values("pylon", "nats-server"),
                         [](const auto& info) { return info.param == "pylon" ? "Pylon" : "NatsServer"; });

}  // namespace
}  // namespace pylon::test
