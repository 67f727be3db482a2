// Accounts across routes: RS+/RS-/RMSG carry the account, so a cluster of Pylon and the
// reference nats-server 2.9 with two accounts routes each account's messages both ways and
// never lets one account's message reach the other's subscribers.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster_harness.h"

namespace pylon::it::cluster {
namespace {

constexpr Kind P = Kind::kPylon;
constexpr Kind N = Kind::kNats;

constexpr const char* kAccountsConfig = R"(
accounts {
  A: { users: [ {user: a, password: pa} ] }
  B: { users: [ {user: b, password: pb} ] }
}
)";

std::string url_as(const Node& n, const std::string& user) {
  return "nats://" + user + ":p" + user + "@127.0.0.1:" + std::to_string(n.client_port());
}

class AccountsCluster : public ::testing::TestWithParam<std::vector<Kind>> {};

TEST_P(AccountsCluster, EachAccountsMessagesCrossRoutesBothWaysAndStayInTheirAccount) {
  std::vector<std::unique_ptr<Node>> nodes;
  NodeList list;
  for (auto& cfg : mesh_configs(GetParam(), "accounts-it")) {
    cfg.config = kAccountsConfig;
    nodes.push_back(std::make_unique<Node>(std::move(cfg)));
    ASSERT_TRUE(nodes.back()->start());
    list.push_back(nodes.back().get());
  }
  std::string why;
  ASSERT_TRUE(wait_mesh(list, 20s, &why)) << why;

  // A subscriber and a publisher per node and account.
  struct Place {
    std::unique_ptr<Client> sub_client, pub;
    std::shared_ptr<Collector> got = std::make_shared<Collector>();
    std::unique_ptr<AsyncSub> sub;
  };
  std::map<std::pair<int, std::string>, Place> at;  // (node, account user) -> place
  for (int i = 0; i < 2; ++i) {
    for (std::string acc : {"a", "b"}) {
      Place& p = at[{i, acc}];
      p.sub_client = Client::connect({url_as(*nodes[i], acc)});
      p.pub = Client::connect({url_as(*nodes[i], acc)});
      ASSERT_TRUE(p.sub_client && p.pub);
      p.sub = AsyncSub::make(*p.sub_client, "x", p.got);
      ASSERT_TRUE(p.sub_client->flush());
    }
  }
  // Each subscription's interest has reached the other node, in its own account.
  for (int i = 0; i < 2; ++i) {
    for (std::string acc : {"a", "b"}) {
      ASSERT_TRUE(await_interest(*at[{1 - i, acc}].pub, "x", *at[{i, acc}].got, acc + std::to_string(i)))
          << "account " << acc << "'s interest on " << nodes[i]->name() << " never reached " << nodes[1 - i]->name();
    }
  }

  // Every publisher in turn, each finished (flushed) before the next: a message that leaked
  // into the other account would reach a subscriber before that account's own later
  // messages from the same node (one route, in order; one outbound buffer per client).
  auto send = [&](int node, const std::string& acc, const std::string& data) {
    Client& pub = *at[{node, acc}].pub;
    ASSERT_EQ(publish(pub, "x", data), NATS_OK);
    ASSERT_TRUE(pub.flush());
  };
  send(1, "a", "a-from-1");
  send(1, "b", "b-from-1");
  send(0, "a", "a-from-0");
  send(0, "b", "b-from-0");
  send(0, "a", "a-end-0");
  send(0, "b", "b-end-0");
  send(1, "a", "a-end-1");
  send(1, "b", "b-end-1");

  for (int i = 0; i < 2; ++i) {
    for (std::string acc : {"a", "b"}) {
      auto& col = *at[{i, acc}].got;
      ASSERT_TRUE(col.wait_count(4, 10s)) << acc << " on " << nodes[i]->name() << " got " << col.count();
      std::multiset<std::string> data;
      for (const auto& m : col.messages()) data.insert(m.data);
      std::multiset<std::string> want{acc + "-from-0", acc + "-from-1", acc + "-end-0", acc + "-end-1"};
      EXPECT_EQ(data, want) << "account " << acc << " on " << nodes[i]->name();
    }
  }
}

// Queue groups of the same name in two accounts are two groups: RS+ names the account and
// the weight, so a message published on one node goes, over the route, to its own account's
// member only, once.
TEST_P(AccountsCluster, AQueueGroupOfTheSameNameInEachAccountTakesOnlyItsAccountsMessages) {
  constexpr int kMessages = 20;
  std::vector<std::unique_ptr<Node>> nodes;
  NodeList list;
  for (auto& cfg : mesh_configs(GetParam(), "accounts-it")) {
    cfg.config = kAccountsConfig;
    nodes.push_back(std::make_unique<Node>(std::move(cfg)));
    ASSERT_TRUE(nodes.back()->start());
    list.push_back(nodes.back().get());
  }
  std::string why;
  ASSERT_TRUE(wait_mesh(list, 20s, &why)) << why;
  // A's member on node 0, B's on node 1; publishers of both accounts on both nodes.
  auto a_worker = Client::connect({url_as(*nodes[0], "a")});
  auto b_worker = Client::connect({url_as(*nodes[1], "b")});
  ASSERT_TRUE(a_worker && b_worker);
  auto a_got = std::make_shared<Collector>(), b_got = std::make_shared<Collector>();
  auto a_sub = AsyncSub::make(*a_worker, "work", a_got, 0, "q");
  auto b_sub = AsyncSub::make(*b_worker, "work", b_got, 0, "q");
  ASSERT_TRUE(a_worker->flush() && b_worker->flush());
  auto a_pub = Client::connect({url_as(*nodes[1], "a")});
  auto b_pub = Client::connect({url_as(*nodes[0], "b")});
  ASSERT_TRUE(a_pub && b_pub);
  ASSERT_TRUE(await_interest(*a_pub, "work", *a_got, "qa"));
  ASSERT_TRUE(await_interest(*b_pub, "work", *b_got, "qb"));
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(publish(*a_pub, "work", "a" + std::to_string(i)), NATS_OK);
    ASSERT_EQ(publish(*b_pub, "work", "b" + std::to_string(i)), NATS_OK);
  }
  ASSERT_TRUE(a_pub->flush() && b_pub->flush());
  ASSERT_TRUE(a_got->wait_count(kMessages, 10s)) << a_got->count();
  ASSERT_TRUE(b_got->wait_count(kMessages, 10s)) << b_got->count();
  // A last message of each account from the same publishers: once it is in, anything that
  // strayed across accounts before it would be too.
  ASSERT_EQ(publish(*a_pub, "work", "a-end"), NATS_OK);
  ASSERT_EQ(publish(*b_pub, "work", "b-end"), NATS_OK);
  ASSERT_TRUE(a_got->wait_count(kMessages + 1, 10s) && b_got->wait_count(kMessages + 1, 10s));
  for (const auto& m : a_got->messages()) EXPECT_EQ(m.data[0], 'a') << m.data;
  for (const auto& m : b_got->messages()) EXPECT_EQ(m.data[0], 'b') << m.data;
  EXPECT_EQ(a_got->count(), static_cast<size_t>(kMessages + 1));
  EXPECT_EQ(b_got->count(), static_cast<size_t>(kMessages + 1));
}

// A stream import across a route: the exporter's message travels in the exporter's account
// (the importer's shadow interest) and crosses into the importing account on the importer's
// node, whichever node runs which server.
TEST_P(AccountsCluster, AStreamImportReachesImportersOnEveryNode) {
  std::vector<std::unique_ptr<Node>> nodes;
  NodeList list;
  for (auto& cfg : mesh_configs(GetParam(), "accounts-it")) {
    cfg.config = R"(
accounts {
  A: { users: [ {user: a, password: pa} ], exports: [ {stream: "news.>"} ] }
  B: { users: [ {user: b, password: pb} ], imports: [ {stream: {account: A, subject: "news.>"}, prefix: "a"} ] }
}
)";
    nodes.push_back(std::make_unique<Node>(std::move(cfg)));
    ASSERT_TRUE(nodes.back()->start());
    list.push_back(nodes.back().get());
  }
  std::string why;
  ASSERT_TRUE(wait_mesh(list, 20s, &why)) << why;

  for (int sub_node = 0; sub_node < 2; ++sub_node) {
    int pub_node = 1 - sub_node;
    auto b = Client::connect({url_as(*nodes[sub_node], "b")});
    auto a = Client::connect({url_as(*nodes[pub_node], "a")});
    ASSERT_TRUE(a && b);
    auto got = std::make_shared<Collector>();
    auto sub = AsyncSub::make(*b, "a.news.>", got);
    ASSERT_TRUE(b->flush());
    // Probes go out on the exporter's subject and arrive mapped: interest crossed the route.
    ASSERT_TRUE(await_interest(*a, "news.probe", *got, "import" + std::to_string(sub_node)))
        << "B's import on " << nodes[sub_node]->name() << " never drew A's messages from " << nodes[pub_node]->name();
    ASSERT_EQ(publish(*a, "news.weather", "rain"), NATS_OK);
    ASSERT_TRUE(a->flush());
    ASSERT_TRUE(got->wait_count(1, 10s));
    auto m = got->messages();
    EXPECT_EQ(m[0].subject, "a.news.weather") << "published on " << nodes[pub_node]->name();
    EXPECT_EQ(m[0].data, "rain");
  }
}

// A service import across a route: the request crosses into the exporter on the requester's
// node and travels to the responder in the exporter's account; the response comes back on the
// reply subject the requester's node mapped (its "_R_." interest), whichever server runs where.
TEST_P(AccountsCluster, AServiceImportIsAnsweredFromAnotherNode) {
  std::vector<std::unique_ptr<Node>> nodes;
  NodeList list;
  for (auto& cfg : mesh_configs(GetParam(), "accounts-it")) {
    cfg.config = R"(
accounts {
  A: { users: [ {user: a, password: pa} ], exports: [ {service: "help"} ] }
  B: { users: [ {user: b, password: pb} ], imports: [ {service: {account: A, subject: "help"}, to: "a.help"} ] }
}
)";
    nodes.push_back(std::make_unique<Node>(std::move(cfg)));
    ASSERT_TRUE(nodes.back()->start());
    list.push_back(nodes.back().get());
  }
  std::string why;
  ASSERT_TRUE(wait_mesh(list, 20s, &why)) << why;

  for (int svc_node = 0; svc_node < 2; ++svc_node) {
    int req_node = 1 - svc_node;
    auto a = Client::connect({url_as(*nodes[svc_node], "a")});
    auto b = Client::connect({url_as(*nodes[req_node], "b")});
    ASSERT_TRUE(a && b);
    auto seen = std::make_shared<Collector>();
    auto svc = AsyncSub::make(*a, "help", seen, 0, "", nodes[svc_node]->name());
    ASSERT_TRUE(a->flush());
    // Until the service's interest has reached the requester's node, requests find no responder.
    natsMsg* reply = nullptr;
    bool answered = wait_for(
        [&] {
          natsStatus s = natsConnection_RequestString(&reply, b->nc(), "a.help", "q", 500);
          return s == NATS_OK;
        },
        10s, 50ms);
    ASSERT_TRUE(answered) << "no answer from " << nodes[svc_node]->name() << " to a request on " << nodes[req_node]->name();
    EXPECT_EQ(std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)), nodes[svc_node]->name() + "|q");
    natsMsg_Destroy(reply);
  }
}

INSTANTIATE_TEST_SUITE_P(Clusters, AccountsCluster, ::testing::Values(std::vector<Kind>{P, N}, std::vector<Kind>{P, P}),
                         [](const ::testing::TestParamInfo<std::vector<Kind>>& info) {
                           std::string n;
                           for (Kind k : info.param) n += n.empty() ? kind_name(k) : std::string("_") + kind_name(k);
                           return n;
                         });

}  // namespace
}  // namespace pylon::it::cluster
