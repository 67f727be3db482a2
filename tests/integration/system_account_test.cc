// The system account, as nats-server 2.9 has it: client CONNECT/DISCONNECT events and the
// periodic STATSZ in $SYS, and the $SYS.REQ.SERVER requests answered by every node of a
// cluster, Pylon and nats-server alike, over routes. Every single-node test runs against both
// servers (so the reference validates the test), every cluster test on mixed clusters, with
// the requester once on a Pylon node and once on a nats-server node.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <ctime>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "system_account_harness.h"

namespace pylon::it::cluster {
namespace {

using namespace sysit;  // NOLINT: the shared helpers of system_account_harness.h

// ---- one node, each server -------------------------------------------------------------

class SystemAccountNode : public ::testing::TestWithParam<Kind> {};

TEST_P(SystemAccountNode, ConnectAndDisconnectEventsCarryTheReferencesFields) {
  Cluster c;
  ASSERT_TRUE(start({GetParam()}, c));
  Node& node = *c.nodes[0];
  auto sys = Client::connect({url_as(node, "sys")});
  ASSERT_TRUE(sys);
  auto events = std::make_shared<Collector>();
  auto sub = AsyncSub::make(*sys, "$SYS.ACCOUNT.>", events);
  ASSERT_TRUE(sys->flush());

  // A client of $G first: the reference makes no event for it.
  auto g = Client::connect({url_as(node, "g")});
  ASSERT_TRUE(g);
  ClientOptions named;
  named.name = "ev-a";
  auto a = Client::connect({url_as(node, "a")}, named);
  ASSERT_TRUE(a);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(publish(*a, "x", "12345"), NATS_OK);
  ASSERT_TRUE(a->flush());
  a.reset();  // closes it

  auto find_in = [](const std::vector<Received>& ms, const std::string& subject) -> std::optional<Received> {
    for (const auto& m : ms)
      if (m.subject == subject) return m;
    return std::nullopt;
  };
  auto find = [&](const std::string& subject) { return find_in(events->messages(), subject); };
  // (The predicate gets the messages under the collector's lock: it must not call back into it.)
  ASSERT_TRUE(events->wait([&](const auto& ms) { return find_in(ms, "$SYS.ACCOUNT.A.DISCONNECT").has_value(); },
                           kArrival));
  auto connect = find("$SYS.ACCOUNT.A.CONNECT");
  ASSERT_TRUE(connect) << "the CONNECT event comes before the DISCONNECT";
  EXPECT_FALSE(find("$SYS.ACCOUNT.$G.CONNECT")) << "no event for a client of the global account";

  json::object ce = parse(connect->data);
  EXPECT_EQ(str(ce, "type"), "io.nats.server.advisory.v1.client_connect");
  EXPECT_GE(str(ce, "id").size(), 16u);
  EXPECT_TRUE(is_utc_time(str(ce, "timestamp"))) << str(ce, "timestamp");
  const auto& cs = obj(ce, "server");
  EXPECT_EQ(str(cs, "name"), node.name());
  EXPECT_EQ(str(cs, "id"), c.ids[0]);
  EXPECT_EQ(str(cs, "ver"), "2.9.10");
  EXPECT_EQ(str(cs, "host"), "127.0.0.1");
  EXPECT_GT(num(cs, "seq"), 0);
  ASSERT_TRUE(cs.contains("jetstream"));
  EXPECT_FALSE(cs.at("jetstream").as_bool());
  EXPECT_TRUE(is_utc_time(str(cs, "time")));
  const auto& cc = obj(ce, "client");
  EXPECT_EQ(str(cc, "acc"), "A");
  EXPECT_EQ(str(cc, "user"), "a");
  EXPECT_EQ(str(cc, "name"), "ev-a");
  EXPECT_EQ(str(cc, "lang"), "C");
  EXPECT_EQ(str(cc, "host"), "127.0.0.1");
  EXPECT_EQ(str(cc, "kind"), "Client");
  EXPECT_EQ(str(cc, "client_type"), "nats");
  EXPECT_GT(num(cc, "id"), 0);
  EXPECT_TRUE(is_utc_time(str(cc, "start")));
  EXPECT_FALSE(cc.contains("stop"));

  json::object de = parse(find("$SYS.ACCOUNT.A.DISCONNECT")->data);
  EXPECT_EQ(str(de, "type"), "io.nats.server.advisory.v1.client_disconnect");
  EXPECT_NE(str(de, "id"), str(ce, "id"));
  EXPECT_GT(num(obj(de, "server"), "seq"), num(cs, "seq")) << "seq grows with every message the server sends";
  const auto& dc = obj(de, "client");
  EXPECT_EQ(num(dc, "id"), num(cc, "id"));
  EXPECT_EQ(str(dc, "acc"), "A");
  EXPECT_TRUE(is_utc_time(str(dc, "stop")));
  EXPECT_GT(num(dc, "rtt"), 0) << "nanoseconds, as Go's time.Duration";
  EXPECT_EQ(num(obj(de, "sent"), "msgs"), 3) << "what the client sent us";
  EXPECT_EQ(num(obj(de, "sent"), "bytes"), 15);
  EXPECT_EQ(num(obj(de, "received"), "msgs"), 0);
  EXPECT_EQ(str(de, "reason"), "Client Closed");
}

TEST_P(SystemAccountNode, StatszIsPublishedAtTheReferencesCadence) {
  Cluster c;
  ASSERT_TRUE(start({GetParam()}, c));
  auto sys = Client::connect({url_as(*c.nodes[0], "sys")});
  ASSERT_TRUE(sys);
  auto got = std::make_shared<Collector>();
  auto sub = AsyncSub::make(*sys, "$SYS.SERVER." + c.ids[0] + ".STATSZ", got);
  ASSERT_TRUE(sys->flush());
  ASSERT_TRUE(got->wait_count(2, kStatszTwoArrive)) << "STATSZ messages seen: " << got->count();
  sub->unsubscribe();
  // The gaps between the servers' own send times (server.time), which no delivery delay on a
  // loaded machine can shrink.
  auto msgs = got->messages();
  for (size_t i = 1; i < msgs.size(); ++i) {
    int64_t gap = utc_ns(str(obj(parse(msgs[i].data), "server"), "time")) -
                  utc_ns(str(obj(parse(msgs[i - 1].data), "server"), "time"));
    EXPECT_GE(gap, std::chrono::nanoseconds(kStatszMinGap).count()) << "STATSZ " << i;
  }
  json::object m = parse(got->messages()[1].data);
  EXPECT_EQ(str(obj(m, "server"), "id"), c.ids[0]);
  const auto& s = obj(m, "statsz");
  EXPECT_TRUE(is_utc_time(str(s, "start")));
  EXPECT_GT(num(s, "mem"), 0);
  EXPECT_GE(num(s, "cores"), 1);
  EXPECT_EQ(num(s, "connections"), 1);
  EXPECT_GE(num(s, "total_connections"), 1);
  EXPECT_EQ(num(s, "active_accounts"), 1) << "SYS, where our one client is";
  EXPECT_GT(num(s, "subscriptions"), 0);
  EXPECT_GE(num(obj(s, "sent"), "msgs"), 1);
  EXPECT_GE(num(obj(s, "received"), "msgs"), 0);
  EXPECT_EQ(num(s, "slow_consumers"), 0);
}

TEST_P(SystemAccountNode, ClientsOutsideTheSystemAccountNeitherSeeNorReachIt) {
  Cluster c;
  ASSERT_TRUE(start({GetParam()}, c));
  Node& node = *c.nodes[0];
  auto a = Client::connect({url_as(node, "a")});
  auto g = Client::connect({url_as(node, "g")});
  ASSERT_TRUE(a && g);

  // A request from outside the system account reaches no system responder. (Made before the
  // watchers below subscribe: they would see it in its own account.)
  natsMsg* reply = nullptr;
  natsStatus st = natsConnection_RequestString(&reply, a->nc(), "$SYS.REQ.SERVER.PING", "", 1000);
  EXPECT_NE(st, NATS_OK) << "answered: " << (reply ? natsMsg_GetData(reply) : "");
  if (reply) natsMsg_Destroy(reply);

  auto leaked = std::make_shared<Collector>();
  auto a_all = AsyncSub::make(*a, ">", leaked);
  auto a_sys = AsyncSub::make(*a, "$SYS.>", leaked);
  auto g_sys = AsyncSub::make(*g, "$SYS.>", leaked);
  ASSERT_TRUE(a->flush() && g->flush());

  // System traffic: a request answered, then a client's connect and disconnect events.
  auto sys = Client::connect({url_as(node, "sys")});
  ASSERT_TRUE(sys);
  auto events = std::make_shared<Collector>();
  auto ev = AsyncSub::make(*sys, "$SYS.ACCOUNT.A.DISCONNECT", events);
  ASSERT_TRUE(sys->flush());
  Requester req(*sys);
  EXPECT_EQ(req.request("$SYS.REQ.SERVER.PING", "", 1).size(), 1u);
  auto other = Client::connect({url_as(node, "a")});
  ASSERT_TRUE(other);
  other.reset();
  ASSERT_TRUE(events->wait_count(1, kArrival));

  ASSERT_TRUE(a->flush() && g->flush());
  EXPECT_EQ(leaked->count(), 0u) << "first leaked: " << (leaked->count() ? leaked->messages()[0].subject : "");
}

TEST_P(SystemAccountNode, AReloadCannotChangeTheSystemAccount) {
  Cluster c;
  ASSERT_TRUE(start({GetParam()}, c));
  Node& node = *c.nodes[0];
  // nats-server's reload keeps no flag-given name: the file names it, or the reload fails on that.
  std::string changed = "server_name: " + node.name() + "\n" + kConfig;
  changed.replace(changed.find("system_account: SYS"), 19, "system_account: A");
  // The node reads its -c file again on SIGHUP.
  std::string path = node.config_path();
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(changed.c_str(), f);
    std::fclose(f);
  }
  node.send_signal(SIGHUP);
  EXPECT_TRUE(node.wait_for_log("config reload not supported for SystemAccount: old=SYS, new=A", kArrival))
      << node.log();
  // Still the system account: its client is answered.
  auto sys = Client::connect({url_as(node, "sys")});
  ASSERT_TRUE(sys);
  Requester req(*sys);
  EXPECT_EQ(req.request("$SYS.REQ.SERVER.PING.HEALTHZ", "", 1).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Servers, SystemAccountNode, ::testing::Values(P, N),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// ---- clusters, mixed ---------------------------------------------------------------------

// A cluster of the parameter's servers, meshed, and a requester in the system account on node
// 0 whose requests every node has answered once (interest crossed the routes both ways).
class SystemAccountCluster : public ::testing::TestWithParam<std::vector<Kind>> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(start(GetParam(), c));
    sys = Client::connect({url_as(*c.nodes[0], "sys")});
    ASSERT_TRUE(sys);
    requester = std::make_unique<Requester>(*sys);
    ASSERT_TRUE(requester->warm_up("$SYS.REQ.SERVER.PING", c.id_set()));
  }
  Cluster c;
  std::unique_ptr<Client> sys;
  std::unique_ptr<Requester> requester;
};

TEST_P(SystemAccountCluster, EveryNodeAnswersThePingsOnce) {
  Requester& req = *requester;
  auto statsz = req.request("$SYS.REQ.SERVER.PING", "", c.ids.size());
  EXPECT_EQ(statsz.size(), c.ids.size()) << "one answer per node";
  EXPECT_EQ(answering_ids(statsz), c.id_set());
  for (const auto& r : statsz) EXPECT_GE(num(obj(r, "statsz"), "active_servers"), 1);

  for (const char* what : {"STATSZ", "VARZ", "CONNZ", "SUBSZ", "ROUTEZ", "HEALTHZ"}) {
    auto replies = req.request(std::string("$SYS.REQ.SERVER.PING.") + what, "", c.ids.size());
    EXPECT_EQ(replies.size(), c.ids.size()) << what;
    EXPECT_EQ(answering_ids(replies), c.id_set()) << what;
    for (const auto& r : replies) {
      std::string id = str(obj(r, "server"), "id");
      if (std::string(what) == "STATSZ") {
        EXPECT_TRUE(r.contains("statsz")) << json::serialize(r);
        continue;
      }
      const auto& d = obj(r, "data");
      std::string w = what;
      if (w == "VARZ" || w == "CONNZ" || w == "ROUTEZ" || w == "SUBSZ") {
        EXPECT_EQ(str(d, "server_id"), id) << what << ": " << json::serialize(r);
      }
      if (w == "VARZ") {
        EXPECT_EQ(str(d, "system_account"), "SYS");
      } else if (w == "ROUTEZ") {
        EXPECT_EQ(num(d, "num_routes"), static_cast<int64_t>(c.ids.size() - 1));
      } else if (w == "HEALTHZ") {
        EXPECT_EQ(str(d, "status"), "ok");
      } else if (w == "SUBSZ") {
        EXPECT_GT(num(d, "num_subscriptions"), 0);
      }
    }
  }
}

TEST_P(SystemAccountCluster, PerServerRequestsAreAnsweredByThatServerAlone) {
  Requester& req = *requester;
  for (size_t k = 0; k < c.ids.size(); ++k) {
    const std::string& id = c.ids[k];
    std::string on = c.nodes[k]->name() + (c.nodes[k]->is_pylon() ? " (pylon)" : " (nats-server)");
    auto varz = req.request("$SYS.REQ.SERVER." + id + ".VARZ", "", 1);
    ASSERT_EQ(varz.size(), 1u) << on;
    EXPECT_EQ(str(obj(varz[0], "server"), "id"), id) << on;
    EXPECT_EQ(str(obj(varz[0], "data"), "server_id"), id) << on;

    auto statsz = req.request("$SYS.REQ.SERVER." + id + ".STATSZ", "", 1);
    ASSERT_EQ(statsz.size(), 1u) << on;
    EXPECT_GE(num(obj(statsz[0], "statsz"), "connections"), 0) << on;

    // The connz options of the reference's ConnzOptions JSON.
    auto connz = req.request("$SYS.REQ.SERVER." + id + ".CONNZ", R"({"limit":1,"subscriptions":true})", 1);
    ASSERT_EQ(connz.size(), 1u) << on;
    const auto& d = obj(connz[0], "data");
    EXPECT_EQ(num(d, "limit"), 1) << on;
    EXPECT_LE(d.at("connections").as_array().size(), 1u) << on;

    // A body that does not decode: Go's words, code 400, on either server.
    auto bad = req.request("$SYS.REQ.SERVER." + id + ".CONNZ", R"({"limit":"x"})", 1);
    ASSERT_EQ(bad.size(), 1u) << on;
    EXPECT_FALSE(bad[0].contains("data")) << on;
    const auto& e = obj(bad[0], "error");
    EXPECT_EQ(num(e, "code"), 400) << on;
    EXPECT_EQ(str(e, "description"), "json: cannot unmarshal string into Go struct field ConnzEventOptions.limit of type int")
        << on;

    // Options the endpoint refuses: code 500, data null.
    auto refused = req.request("$SYS.REQ.SERVER." + id + ".CONNZ", R"({"sort":"nonsense"})", 1);
    ASSERT_EQ(refused.size(), 1u) << on;
    EXPECT_TRUE(refused[0].contains("data") && refused[0].at("data").is_null()) << on << json::serialize(refused[0]);
    EXPECT_EQ(num(obj(refused[0], "error"), "code"), 500) << on;
    EXPECT_EQ(str(obj(refused[0], "error"), "description"), "invalid sorting option: nonsense") << on;
  }
  // A filter naming one server: only it answers a PING.
  auto filtered = req.request("$SYS.REQ.SERVER.PING.VARZ", "{\"server_name\":\"" + c.nodes.back()->name() + "\"}", 1);
  EXPECT_EQ(answering_ids(filtered), std::set<std::string>{c.ids.back()});
}

TEST_P(SystemAccountCluster, AccountScopedRequestsShowThatAccountOnEveryNode) {
  Requester& req = *requester;
  // One client of A, on the last node, with one subscription.
  auto a = Client::connect({url_as(*c.nodes.back(), "a")});
  ASSERT_TRUE(a);
  auto col = std::make_shared<Collector>();
  auto sub = AsyncSub::make(*a, "acc.scoped", col);
  ASSERT_TRUE(a->flush());

  auto connz = req.request("$SYS.REQ.ACCOUNT.A.CONNZ", "", c.ids.size());
  EXPECT_EQ(answering_ids(connz), c.id_set());
  int64_t conns = 0;
  for (const auto& r : connz) conns += num(obj(r, "data"), "num_connections");
  EXPECT_EQ(conns, 1) << "A's one client, and not the requester (of the system account)";

  auto subsz = req.request("$SYS.REQ.ACCOUNT.A.SUBSZ", "", c.ids.size());
  EXPECT_EQ(answering_ids(subsz), c.id_set());
  int listed = 0, others = 0;
  for (const auto& r : subsz) {
    const auto* list = obj(r, "data").if_contains("subscriptions_list");
    if (!list) continue;
    for (const auto& e : list->as_array()) {
      std::string subject = str(e.as_object(), "subject");
      // nats-server also lists, in every account, its imports of the system account's
      // services ($SYS.REQ.SERVER.PING.CONNZ and the like), which Pylon does not have.
      if (subject.starts_with("$SYS.REQ.")) continue;
      if (subject == "acc.scoped") {
        ++listed;
      } else {
        ++others;
        ADD_FAILURE() << "listed: " << json::serialize(e) << " by " << str(obj(r, "server"), "name");
      }
    }
  }
  EXPECT_EQ(listed, 1);
  EXPECT_EQ(others, 0) << "only A's subscriptions, not the requester's (of the system account)";
}

INSTANTIATE_TEST_SUITE_P(Mixed, SystemAccountCluster,
                         ::testing::Values(std::vector<Kind>{P, P, N}, std::vector<Kind>{N, P}),
                         [](const auto& info) {
                           std::string name;
                           for (Kind k : info.param) name += std::string(name.empty() ? "" : "_") + kind_name(k);
                           return name;
                         });

}  // namespace
}  // namespace pylon::it::cluster
