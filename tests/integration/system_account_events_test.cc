// The rest of nats-server 2.9's system account (issue 13): the SHUTDOWN event and what the
// other servers do with it, account_connections events ($SYS.ACCOUNT.<acc>.SERVER.CONNS), the
// account-scoped requests ($SYS.REQ.ACCOUNT.<acc>.INFO, .STATZ, .CONNS, .JSZ and
// $SYS.REQ.ACCOUNT.PING.STATZ), and every account's imports of its own monitoring
// ($SYS.REQ.ACCOUNT.PING.CONNZ, ...). Each single-node test runs on Pylon and on nats-server,
// the cluster tests on mixed clusters, with the observer on each kind of node.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "system_account_harness.h"

namespace pylon::it::cluster {
namespace {

using namespace sysit;  // NOLINT: the shared helpers of system_account_harness.h

std::vector<Received> on_subject(const std::vector<Received>& ms, const std::string& subject) {
  std::vector<Received> out;
  for (const auto& m : ms)
    if (m.subject == subject) out.push_back(m);
  return out;
}

size_t index_of(const std::vector<Received>& ms, const std::string& subject, size_t from = 0) {
  for (size_t i = from; i < ms.size(); ++i)
    if (ms[i].subject == subject) return i;
  return ms.size();
}

class SystemEventsNode : public ::testing::TestWithParam<Kind> {};

TEST_P(SystemEventsNode, ShutdownIsAnnouncedBeforeTheConnectionsClose) {
  Cluster c;
  ASSERT_TRUE(start({GetParam()}, c));
  Node& node = *c.nodes[0];
  auto sys = Client::connect({url_as(node, "sys")});
  ASSERT_TRUE(sys);
  auto events = std::make_shared<Collector>();
  auto sub = AsyncSub::make(*sys, "$SYS.>", events);
  ASSERT_TRUE(sys->flush());
  auto a = Client::connect({url_as(node, "a")});
  ASSERT_TRUE(a);
  const std::string shutdown = "$SYS.SERVER." + c.ids[0] + ".SHUTDOWN";
  ASSERT_TRUE(events->wait([](const auto& ms) { return index_of(ms, "$SYS.ACCOUNT.A.CONNECT") < ms.size(); }, kArrival));

  node.send_signal(SIGTERM);
  ASSERT_TRUE(events->wait([&](const auto& ms) { return index_of(ms, shutdown) < ms.size(); }, kArrival))
      << "no SHUTDOWN event before the system client's connection closed";
  node.stop();
  auto ms = events->messages();
  auto got = on_subject(ms, shutdown);
  ASSERT_EQ(got.size(), 1u);
  // The reference's body: the ServerInfo alone.
  json::object si = parse(got[0].data);
  EXPECT_EQ(str(si, "id"), c.ids[0]);
  EXPECT_EQ(str(si, "name"), node.name());
  EXPECT_EQ(str(si, "ver"), "2.9.10");
  EXPECT_GT(num(si, "seq"), 0);
  EXPECT_TRUE(is_utc_time(str(si, "time")));
  EXPECT_FALSE(si.contains("server")) << "not wrapped in an event";
  // It is the last thing the server says: no DISCONNECT or account_connections events for the
  // clients the shutdown closes.
  EXPECT_EQ(index_of(ms, shutdown), ms.size() - 1) << "after it: " << ms.back().subject;
  EXPECT_EQ(index_of(ms, "$SYS.ACCOUNT.A.DISCONNECT"), ms.size());
}

TEST_P(SystemEventsNode, AccountConnectionsFollowTheClientCount) {
  Cluster c;
  ASSERT_TRUE(start({GetParam()}, c));
  Node& node = *c.nodes[0];
  auto sys = Client::connect({url_as(node, "sys")});
  ASSERT_TRUE(sys);
  auto events = std::make_shared<Collector>();
  auto sub = AsyncSub::make(*sys, "$SYS.ACCOUNT.>", events);
  auto old_sub = AsyncSub::make(*sys, "$SYS.SERVER.ACCOUNT.>", events);
  ASSERT_TRUE(sys->flush());

  auto a = Client::connect({url_as(node, "a")});
  ASSERT_TRUE(a);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(publish(*a, "x", "12345"), NATS_OK);
  ASSERT_TRUE(a->flush());
  a.reset();
  // (Each subscription delivers on its own: wait for both subjects' second event.)
  ASSERT_TRUE(events->wait(
      [](const auto& ms) {
        return index_of(ms, "$SYS.ACCOUNT.A.DISCONNECT") < ms.size() &&
               on_subject(ms, "$SYS.SERVER.ACCOUNT.A.CONNS").size() >= 2;
      },
      kArrival));
  auto ms = events->messages();
  auto news = on_subject(ms, "$SYS.ACCOUNT.A.SERVER.CONNS");
  auto olds = on_subject(ms, "$SYS.SERVER.ACCOUNT.A.CONNS");
  ASSERT_EQ(news.size(), 2u) << "one at the connect, one at the disconnect";
  ASSERT_EQ(olds.size(), 2u) << "the same events on the old subject";
  // The reference's order: the count changes, then the client's event.
  EXPECT_LT(index_of(ms, "$SYS.ACCOUNT.A.SERVER.CONNS"), index_of(ms, "$SYS.ACCOUNT.A.CONNECT"));
  size_t second = index_of(ms, "$SYS.ACCOUNT.A.SERVER.CONNS", index_of(ms, "$SYS.ACCOUNT.A.SERVER.CONNS") + 1);
  EXPECT_LT(index_of(ms, "$SYS.ACCOUNT.A.CONNECT"), second);
  EXPECT_LT(second, index_of(ms, "$SYS.ACCOUNT.A.DISCONNECT"));

  json::object up = parse(news[0].data), down = parse(news[1].data);
  EXPECT_EQ(str(up, "type"), "io.nats.server.advisory.v1.account_connections");
  EXPECT_EQ(str(up, "id"), str(parse(olds[0].data), "id")) << "one event, two subjects";
  EXPECT_NE(str(up, "id"), str(down, "id"));
  EXPECT_TRUE(is_utc_time(str(up, "timestamp")));
  EXPECT_EQ(str(obj(up, "server"), "id"), c.ids[0]);
  EXPECT_EQ(str(up, "acc"), "A");
  EXPECT_EQ(num(up, "conns"), 1) << news[0].data;
  EXPECT_EQ(num(up, "leafnodes"), 0);
  EXPECT_EQ(num(up, "total_conns"), 1);
  EXPECT_EQ(num(up, "slow_consumers"), 0);
  EXPECT_EQ(num(down, "conns"), 0);
  EXPECT_EQ(num(down, "total_conns"), 0);
  EXPECT_EQ(num(obj(down, "received"), "msgs"), 3) << "what A's clients published";
  EXPECT_EQ(num(obj(down, "received"), "bytes"), 15);

  // $G: an event when a client joins it, none when one leaves (the reference's removeClient).
  auto g = Client::connect({url_as(node, "g")});
  ASSERT_TRUE(g);
  ASSERT_TRUE(events->wait(
      [](const auto& ms) { return index_of(ms, "$SYS.ACCOUNT.$G.SERVER.CONNS") < ms.size(); }, kArrival));
  g.reset();
  // The server has let g go once $G is no longer in use; what its close made is out by then.
  Requester req(*sys);
  auto g_in_use = [&] {
    for (const auto& r : req.request("$SYS.REQ.ACCOUNT.PING.STATZ", "", 1, 50ms)) {
      for (const auto& e : obj(r, "data").at("account_statz").as_array()) {
        if (str(e.as_object(), "acc") == "$G") return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(wait_for([&] { return !g_in_use(); }, kArrival));
  events->wait_quiet(kQuiet, kArrival);
  auto gs = on_subject(events->messages(), "$SYS.ACCOUNT.$G.SERVER.CONNS");
  ASSERT_FALSE(gs.empty());
  for (const auto& m : gs) EXPECT_GE(num(parse(m.data), "conns"), 1) << "an event for a client leaving $G: " << m.data;
}

TEST_P(SystemEventsNode, AccountScopedRequestsAnswerAsTheReference) {
  Cluster c;
  ASSERT_TRUE(start({GetParam()}, c));
  Node& node = *c.nodes[0];
  auto sys = Client::connect({url_as(node, "sys")});
  auto a = Client::connect({url_as(node, "a")});
  ASSERT_TRUE(sys && a);
  ASSERT_EQ(publish(*a, "x", "abc"), NATS_OK);
  ASSERT_TRUE(a->flush());
  Requester req(*sys);

  // INFO: /accountz's account_detail, with the system imports the reference gives every account.
  auto info = req.request("$SYS.REQ.ACCOUNT.A.INFO", "", 1);
  ASSERT_EQ(info.size(), 1u);
  const auto& d = obj(info[0], "data");
  EXPECT_EQ(str(d, "account_name"), "A");
  EXPECT_EQ(num(d, "client_connections"), 1);
  std::set<std::string> imported;
  if (auto* im = d.if_contains("imports")) {
    for (const auto& i : im->as_array()) imported.insert(str(i.as_object(), "subject") + " -> " + str(i.as_object(), "to"));
  }
  EXPECT_EQ(imported, (std::set<std::string>{"$SYS.REQ.ACCOUNT.PING.CONNZ -> $SYS.REQ.ACCOUNT.A.CONNZ",
                                             "$SYS.REQ.SERVER.PING.CONNZ -> $SYS.REQ.ACCOUNT.A.CONNZ",
                                             "$SYS.REQ.ACCOUNT.PING.STATZ -> $SYS.REQ.ACCOUNT.A.STATZ"}));
  auto nope = req.request("$SYS.REQ.ACCOUNT.NOPE.INFO", "", 1);
  ASSERT_EQ(nope.size(), 1u);
  EXPECT_TRUE(nope[0].contains("data") && nope[0].at("data").is_null());
  EXPECT_EQ(num(obj(nope[0], "error"), "code"), 500);
  EXPECT_EQ(str(obj(nope[0], "error"), "description"), "Account NOPE does not exist");
  EXPECT_TRUE(req.request("$SYS.REQ.ACCOUNT.A.INFO", R"({"server_name":"not-this-one"})", 0).empty())
      << "filtered out, as every request";

  // STATZ: /accstatz for that account; silent where it is unused, unless include_unused.
  auto statz = req.request("$SYS.REQ.ACCOUNT.A.STATZ", "", 1);
  ASSERT_EQ(statz.size(), 1u);
  const auto& list = obj(statz[0], "data").at("account_statz").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(str(list[0].as_object(), "acc"), "A");
  EXPECT_EQ(num(list[0].as_object(), "conns"), 1);
  EXPECT_EQ(num(obj(list[0].as_object(), "received"), "bytes"), 3);
  EXPECT_TRUE(req.request("$SYS.REQ.ACCOUNT.B.STATZ", "", 0).empty()) << "B has no clients here";
  auto unused = req.request("$SYS.REQ.ACCOUNT.B.STATZ", R"({"include_unused":true})", 1);
  ASSERT_EQ(unused.size(), 1u);
  EXPECT_EQ(num(obj(unused[0], "data").at("account_statz").as_array()[0].as_object(), "conns"), 0);
  auto bad = req.request("$SYS.REQ.ACCOUNT.A.STATZ", "nojson", 1);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(num(obj(bad[0], "error"), "code"), 400);
  EXPECT_EQ(str(obj(bad[0], "error"), "description"), "invalid character 'o' in literal null (expecting 'u')");

  // PING.STATZ: every account in use (the requester's SYS and A), or those asked for.
  auto ping = req.request("$SYS.REQ.ACCOUNT.PING.STATZ", "", 1);
  ASSERT_EQ(ping.size(), 1u);
  std::set<std::string> accs;
  for (const auto& e : obj(ping[0], "data").at("account_statz").as_array()) accs.insert(str(e.as_object(), "acc"));
  EXPECT_EQ(accs, (std::set<std::string>{"SYS", "A"}));
  auto asked = req.request("$SYS.REQ.ACCOUNT.PING.STATZ", R"({"accounts":["B","NOPE"],"include_unused":true})", 1);
  ASSERT_EQ(asked.size(), 1u);
  const auto& only = obj(asked[0], "data").at("account_statz").as_array();
  ASSERT_EQ(only.size(), 1u) << "an unknown account is left out";
  EXPECT_EQ(str(only[0].as_object(), "acc"), "B");

  // CONNS: the account_connections event, to the requester alone, where the account is used.
  auto conns = req.request("$SYS.REQ.ACCOUNT.A.CONNS", "", 1);
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(str(conns[0], "type"), "io.nats.server.advisory.v1.account_connections");
  EXPECT_EQ(num(conns[0], "conns"), 1);
  EXPECT_TRUE(req.request("$SYS.REQ.ACCOUNT.B.CONNS", "", 0).empty());
  // A body naming another account is refused, logged, not answered.
  EXPECT_TRUE(req.request("$SYS.REQ.ACCOUNT.A.CONNS", R"({"acc":"B"})", 0).empty());
  EXPECT_TRUE(node.wait_for_log("Error unmarshalled account does not match subject", kArrival)) << node.log();

  // JetStream and gateways are off: the reference's answers then.
  auto jsz = req.request("$SYS.REQ.ACCOUNT.A.JSZ", "", 1);
  ASSERT_EQ(jsz.size(), 1u);
  EXPECT_EQ(str(obj(jsz[0], "error"), "description"), "jetstream not enabled");
  EXPECT_EQ(num(obj(jsz[0], "error"), "code"), 500);
  auto server_jsz = req.request("$SYS.REQ.SERVER.PING.JSZ", "", 1);
  ASSERT_EQ(server_jsz.size(), 1u);
  EXPECT_TRUE(obj(server_jsz[0], "data").at("disabled").as_bool());
  EXPECT_EQ(str(obj(server_jsz[0], "data"), "server_id"), c.ids[0]);
  auto gw = req.request("$SYS.REQ.SERVER.PING.GATEWAYZ", "", 1);
  ASSERT_EQ(gw.size(), 1u);
  EXPECT_TRUE(obj(gw[0], "data").at("outbound_gateways").as_object().empty());
}

INSTANTIATE_TEST_SUITE_P(Servers, SystemEventsNode, ::testing::Values(P, N),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// ---- clusters, mixed ---------------------------------------------------------------------

std::string cluster_name(const ::testing::TestParamInfo<std::vector<Kind>>& info) {
  std::string name;
  for (Kind k : info.param) name += std::string(name.empty() ? "" : "_") + kind_name(k);
  return name;
}

class SystemEventsCluster : public ::testing::TestWithParam<std::vector<Kind>> {
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

TEST_P(SystemEventsCluster, AccountRequestsAreAnsweredWhereTheAccountIs) {
  Requester& req = *requester;
  // The account_connections events of the last node reach a listener on node 0.
  auto events = std::make_shared<Collector>();
  auto listen = AsyncSub::make(*sys, "$SYS.ACCOUNT.A.SERVER.CONNS", events);
  ASSERT_TRUE(sys->flush());
  // (The listener's interest has crossed the routes once a request through them is answered.)
  ASSERT_TRUE(requester->warm_up("$SYS.REQ.SERVER.PING", c.id_set()));
  // Clients of A on the last node only.
  auto a = Client::connect({url_as(*c.nodes.back(), "a")});
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->flush());
  const std::set<std::string> last{c.ids.back()};
  ASSERT_TRUE(events->wait_count(1, kArrival)) << "no account_connections from the node A's client is on";
  json::object up = parse(events->messages()[0].data);
  EXPECT_EQ(str(obj(up, "server"), "id"), c.ids.back());
  EXPECT_EQ(num(up, "conns"), 1);

  EXPECT_EQ(answering_ids(req.request("$SYS.REQ.ACCOUNT.A.INFO", "", c.ids.size())), c.id_set());
  EXPECT_EQ(answering_ids(req.request("$SYS.REQ.ACCOUNT.A.STATZ", "", 1)), last);
  EXPECT_EQ(answering_ids(req.request("$SYS.REQ.ACCOUNT.A.STATZ", R"({"include_unused":true})", c.ids.size())),
            c.id_set());
  auto conns = req.request("$SYS.REQ.ACCOUNT.A.CONNS", "", 1);
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(str(obj(conns[0], "server"), "id"), c.ids.back());
  std::set<std::string> pinged;
  // Answered by node 0 (its requester's SYS is in use) and the last node (A), not the others.
  for (const auto& r : req.request("$SYS.REQ.ACCOUNT.PING.STATZ", "", 2)) {
    for (const auto& e : obj(r, "data").at("account_statz").as_array()) {
      if (str(e.as_object(), "acc") == "A") pinged.insert(str(obj(r, "server"), "id"));
    }
  }
  EXPECT_EQ(pinged, last);
}

TEST_P(SystemEventsCluster, AnAccountGathersItsOwnMonitoringFromEveryNode) {
  // A's clients on every node; a B client that must stay out of A's answers.
  std::vector<std::unique_ptr<Client>> clients;
  for (auto& n : c.nodes) {
    clients.push_back(Client::connect({url_as(*n, "a")}));
    ASSERT_TRUE(clients.back());
  }
  auto b = Client::connect({url_as(*c.nodes[0], "b")});
  ASSERT_TRUE(b);
  // The asker: A's client on node 0, through its imports of the system account's services.
  Requester mine(*clients[0]);
  ASSERT_TRUE(mine.warm_up("$SYS.REQ.ACCOUNT.PING.CONNZ", c.id_set()));
  for (const char* subject : {"$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.SERVER.PING.CONNZ"}) {
    auto replies = mine.request(subject, "", c.ids.size());
    EXPECT_EQ(answering_ids(replies), c.id_set()) << subject << ": a Streamed import, one response per node";
    int64_t conns = 0;
    for (const auto& r : replies) conns += num(obj(r, "data"), "num_connections");
    EXPECT_EQ(conns, static_cast<int64_t>(c.nodes.size())) << subject << ": A's clients only";
  }
  auto statz = mine.request("$SYS.REQ.ACCOUNT.PING.STATZ", "", c.ids.size());
  EXPECT_EQ(answering_ids(statz), c.id_set());
  for (const auto& r : statz) {
    const auto& list = obj(r, "data").at("account_statz").as_array();
    ASSERT_EQ(list.size(), 1u) << json::serialize(r);
    EXPECT_EQ(str(list[0].as_object(), "acc"), "A");
  }
  // Nothing else of the system account is reachable from A: at most a "no responders" status
  // (no body), never an answer.
  for (const char* subject : {"$SYS.REQ.ACCOUNT.B.CONNZ", "$SYS.REQ.SERVER.PING.VARZ"}) {
    for (const auto& r : mine.request_raw(subject, "", 0)) EXPECT_EQ(r.data, "") << subject << " answered";
  }
}

INSTANTIATE_TEST_SUITE_P(Mixed, SystemEventsCluster,
                         ::testing::Values(std::vector<Kind>{P, P, N}, std::vector<Kind>{N, P}), cluster_name);

// A peer's SHUTDOWN drops it from the observer's active_servers at once; a peer that dies
// without a word stays counted (until the reference's orphan timeout, 150 s), though its
// routes are gone. Node 0 observes, node 1 is killed, node 2 shuts down.
class RemoteShutdown : public ::testing::TestWithParam<std::vector<Kind>> {};

TEST_P(RemoteShutdown, DropsTheServerFromActiveServersAtOnce) {
  Cluster c;
  ASSERT_TRUE(start(GetParam(), c));
  auto sys = Client::connect({url_as(*c.nodes[0], "sys")});
  ASSERT_TRUE(sys);
  Requester req(*sys);
  const std::string statsz = "$SYS.REQ.SERVER." + c.ids[0] + ".STATSZ";
  auto active = [&] {
    auto r = req.request(statsz, "", 1, 50ms);
    return r.size() == 1 ? num(obj(r[0], "statsz"), "active_servers") : -1;
  };
  auto routes = [&] {
    auto r = req.request("$SYS.REQ.SERVER." + c.ids[0] + ".ROUTEZ", "", 1, 50ms);
    return r.size() == 1 ? num(obj(r[0], "data"), "num_routes") : -1;
  };
  ASSERT_TRUE(wait_for([&] { return active() == 3; }, kArrival)) << "the observer heard every peer";

  c.nodes[1]->kill();
  ASSERT_TRUE(wait_for([&] { return routes() == 1; }, kArrival));
  EXPECT_EQ(active(), 3) << "a peer that said nothing is still counted once its route is gone";

  c.nodes[2]->send_signal(SIGTERM);
  EXPECT_TRUE(wait_for([&] { return active() == 2; }, kArrival)) << "the SHUTDOWN was not heard";
}

// Lame duck mode ends in a shutdown, and so in a SHUTDOWN event: node 1, with no clients, enters
// it and the observer on node 0 stops counting it. (The reference refuses a lame_duck_duration
// under 30 s; with no clients it shuts down once its grace period is over, or at once.)
class LameDuck : public ::testing::TestWithParam<std::vector<Kind>> {};

TEST_P(LameDuck, EndsWithTheShutdownEvent) {
  Cluster c;
  ASSERT_TRUE(start(GetParam(), c, "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n"));
  auto sys = Client::connect({url_as(*c.nodes[0], "sys")});
  ASSERT_TRUE(sys);
  Requester req(*sys);
  auto active = [&] {
    auto r = req.request("$SYS.REQ.SERVER." + c.ids[0] + ".STATSZ", "", 1, 50ms);
    return r.size() == 1 ? num(obj(r[0], "statsz"), "active_servers") : -1;
  };
  ASSERT_TRUE(wait_for([&] { return active() == 2; }, kArrival)) << "the observer heard its peer";
  c.nodes[1]->send_signal(SIGUSR2);
  EXPECT_TRUE(wait_for([&] { return active() == 1; }, kArrival)) << "no SHUTDOWN at the end of lame duck mode";
  EXPECT_TRUE(wait_for([&] { return !c.nodes[1]->running(); }, kArrival));
}

INSTANTIATE_TEST_SUITE_P(Mixed, LameDuck, ::testing::Values(std::vector<Kind>{P, N}, std::vector<Kind>{N, P}),
                         cluster_name);

INSTANTIATE_TEST_SUITE_P(Mixed, RemoteShutdown,
                         ::testing::Values(std::vector<Kind>{P, P, N}, std::vector<Kind>{N, P, P}), cluster_name);

}  // namespace
}  // namespace pylon::it::cluster
