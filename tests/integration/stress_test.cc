// Stress: connections that come and go on one event loop while other loops deliver to them
// (issue 10). Each test runs a bounded churn against one server with several event loops:
//   - flood publishers on their own connections publish to the churned subject without pause;
//   - churners connect, subscribe (plain and queue), take one delivery, sometimes unsubscribe,
//     and drop the connection abruptly (SO_LINGER 0: a reset, no orderly close);
//   - a canary pair on other connections: every numbered message must arrive, in order;
//   plus what each test adds (route peers that drop, SIGHUP reloads, monitoring polls).
// A test fails on a crash (the server must still be running and answering), an exception that
// reached an event loop, or a lost or reordered canary message. Under `make sanitize` the same
// run fails on any ASan/UBSan/TSan report: the use-after-free of issue 10 (a subscriber freed
// on its own loop while a publisher's cached match result still delivered to it) showed up
// within a handful of disconnects there.
// The ordering tests (numbered streams from several loops): stress_order_test.cc; the shared
// churn: stress_support.h.
#include "stress_support.h"

namespace pylon::it {
namespace {

TEST(Stress, SubscribersThatComeAndGoWhileOtherLoopsPublishToThem) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  ServerProcess server(churn_server());
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
}

// A scripted route peer: connects to the route port, announces interest in `churn` (plain and
// queue), takes one RMSG, and drops the connection with a reset while messages are routed to it.
TEST(Stress, RoutesThatCloseWhileMessagesAreRoutedToThem) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  int route_port = pick_free_port();
  ServerProcess server(churn_server({"--cluster_name", "stress", "--cluster",
                                     "nats://127.0.0.1:" + std::to_string(route_port)}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::atomic<int> routes{0}, routed{0};
  auto peer = [&, n = std::make_shared<std::atomic<int>>(0)] {
    RawClient r;
    if (!r.connect(route_port, 2s) || !r.read_until("INFO ", 2s) || !r.read_until("\r\n", 2s)) return;
    int id = n->fetch_add(1);
    // Server ids are unique per peer: a repeated id would be a duplicate route, not a new one.
    std::string sid = "NSTRESSPEER" + std::to_string(::getpid()) + "X" + std::to_string(id);
    r.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"" + sid +
           "\",\"cluster\":\"stress\"}\r\nINFO {\"server_id\":\"" + sid +
           "\",\"server_name\":\"peer\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,"
           "\"cluster\":\"stress\"}\r\nRS+ $G churn\r\nRS+ $G churn q 1\r\nPING\r\n");
    if (!r.read_until("PONG\r\n", 2s)) {
      reset_close(r);
      return;
    }
    routes.fetch_add(1);
    if (r.read_until("RMSG $G churn ", 2s)) routed.fetch_add(1);
    reset_close(r);
  };
  churn.also(peer);
  churn.also(peer);
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  EXPECT_GE(routes.load(), 5) << "too few route peers came and went";
  EXPECT_GT(routed.load(), 0) << "no message was routed to a peer before it dropped";
}

// Scripted leaf nodes on the leafnode port: each connects, subscribes to `churn` (plain and
// queue) and to a subject of its own it then drops again (leaf-side subscribers that come and
// go), takes one LMSG, and drops the connection with a reset while messages flow to it. The
// leaf connection is reached from the publishers' loops as a route is (docs/architecture.md).
TEST(Stress, LeafConnectionsAndTheirSubscribersComeAndGoWhileMessagesFlow) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  int leaf_port = pick_free_port();
  TempDir dir;
  std::string conf = dir.write("leaf.conf", "leafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\" }\n");
  ServerProcess server(churn_server({"-c", conf}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::atomic<int> leafs{0}, delivered{0};
  auto peer = [&, n = std::make_shared<std::atomic<int>>(0)] {
    RawClient l;
    if (!l.connect(leaf_port, 2s) || !l.read_until("INFO ", 2s) || !l.read_until("\r\n", 2s)) return;
    int id = n->fetch_add(1);
    l.send("CONNECT {\"name\":\"stress-leaf-" + std::to_string(id) +
           "\",\"headers\":true}\r\nLS+ churn\r\nLS+ churn q 1\r\nLS+ own." + std::to_string(id) +
           "\r\nLS- own." + std::to_string(id) + "\r\nPING\r\n");
    if (!l.read_until("PONG\r\n", 2s)) {
      reset_close(l);
      return;
    }
    leafs.fetch_add(1);
    if (l.read_until("LMSG churn ", 2s)) delivered.fetch_add(1);
    if (id % 2 == 0) l.send("LS- churn\r\nLS- churn q\r\n");
    reset_close(l);
  };
  churn.also(peer);
  churn.also(peer);
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  EXPECT_GE(leafs.load(), 5) << "too few leaf connections came and went";
  EXPECT_GT(delivered.load(), 0) << "no message reached a leaf before it dropped";
}

TEST(Stress, ConfigReloadsDuringTraffic) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  TempDir dir;
  // Two configs the reloads alternate between: limits and logging change, so every reload
  // installs new options and revalidates every client (on its own loop) while they churn.
  std::string a = "max_payload: 1MB\nmax_subscriptions: 1000\ndebug: false\n";
  std::string b = "max_payload: 512KB\nmax_subscriptions: 2000\ndebug: true\nmax_control_line: 8KB\n";
  std::string conf = dir.write("stress.conf", a);
  ServerProcess server(churn_server({"-c", conf}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::atomic<int> reloads{0};
  churn.also([&] {
    dir.write("stress.conf", reloads.load() % 2 ? a : b);
    ::kill(server.pid(), SIGHUP);
    reloads.fetch_add(1);
    std::this_thread::sleep_for(100ms);  // the pace of the reloads, not a wait for a condition
  });
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  ASSERT_GE(reloads.load(), 10);
  // Every reload was applied (the server logs each), none refused.
  EXPECT_TRUE(wait_for(
      [&] {
        std::string log = server.log();
        size_t n = 0;
        for (size_t at = log.find("Reloaded server configuration"); at != std::string::npos;
             at = log.find("Reloaded server configuration", at + 1))
          ++n;
        return n >= static_cast<size_t>(reloads.load());
      },
      10s))
      << server.log().substr(0, 4000);
}

TEST(Stress, MonitoringPolledDuringChurn) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  int http_port = pick_free_port();
  ServerProcess server(churn_server({"-m", std::to_string(http_port)}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::atomic<int> polls{0}, bad{0};
  std::string first_bad;
  std::mutex mu;
  for (std::string target : {"/connz?subs=1", "/subsz?subs=1", "/metrics", "/varz"}) {
    churn.also([&, target] {
      auto r = http_get(http_port, target, 10s);
      bool ok = r && r->status == 200;
      if (ok && target != "/metrics") {
        boost::system::error_code ec;
        auto v = boost::json::parse(r->body, ec);
        ok = !ec && v.is_object();
      }
      if (ok && target == "/metrics") ok = r->body.find("# TYPE ") != std::string::npos;
      polls.fetch_add(1);
      if (!ok) {
        bad.fetch_add(1);
        std::lock_guard lk(mu);
        if (first_bad.empty()) first_bad = target + ": " + (r ? std::to_string(r->status) + " " + r->body : "no answer");
      }
    });
  }
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  EXPECT_GE(polls.load(), 20);
  EXPECT_EQ(bad.load(), 0) << first_bad;
}

}  // namespace
}  // namespace pylon::it

namespace pylon::it {
namespace {

// Accounts: clients of two accounts churn while others publish, and the importer's
// subscriptions have shadows in the exporter's index (stream imports). The churn's own clients
// (no credentials) land in B through no_auth_user; clients of A publish and subscribe beside
// them. A shadow holds its client like any subscription, so a publisher in A delivering through
// a cached match result to a B client that just reset must never reach a freed connection.
TEST(Stress, ClientsOfTwoAccountsWithImportsComeAndGoWhileOthersPublish) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  // Reloads alternate between this config and the same plus an account C that imports from
  // A: each registers or drops C, replaces every account's imports (the service import's
  // internal subscription included) and makes every B client's shadows again, on its loop,
  // while messages cross the imports.
  const std::string accounts_config = R"(
accounts {
  A: { users: [ {user: a, password: pa} ], exports: [ {stream: "churn"}, {stream: "churn.>"}, {service: "svc"} ] }
  B: {
    users: [ {user: b, password: pb} ]
    imports: [
      {stream: {account: A, subject: "churn"}}, {stream: {account: A, subject: "churn.>"}, prefix: "a"}
      {service: {account: A, subject: "svc"}}
    ]
  }
}
no_auth_user: b
)";
  std::string with_c = accounts_config;
  with_c.replace(with_c.find("  B: {"), 6,
                 "  C: { users: [ {user: c, password: pc} ], imports: [ {stream: {account: A, subject: \"churn\"}} ] }\n"
                 "  B: {");
  TempDir dir;
  std::string conf = dir.write("accounts.conf", accounts_config);
  ServerOptions opts = churn_server({"-c", conf});
  ServerProcess server(opts);
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  const std::string login_a = R"(CONNECT {"verbose":false,"pedantic":false,"user":"a","pass":"pa"})";
  std::atomic<int> a_cycles{0}, imported{0};
  // A publisher in A: its "churn" reaches B's churners through their shadows.
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s) || !c.send(login_a + "\r\n")) return;
    std::string batch;
    for (int i = 0; i < 50; ++i) batch += "PUB churn 1\r\nA\r\nPUB churn.x 1\r\nA\r\n";
    while (!churn.over()) {
      if (!c.send(batch) || !c.ping_pong(10s)) return;
    }
  });
  // Churners in A, and churners in B that take a message A published (mapped to a.churn.x).
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send(login_a + "\r\nSUB churn 1\r\nSUB churn.> q 2\r\nPING\r\n");
    if (c.read_until("PONG\r\n", 2s)) c.read_until("MSG churn", 2s);
    reset_close(c);
    a_cycles.fetch_add(1);
  });
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB a.churn.> 1\r\nPING\r\n");
    if (c.read_until("PONG\r\n", 2s) && c.read_until("MSG a.churn.x 1 1\r\n", 2s)) imported.fetch_add(1);
    reset_close(c);
  });
  // Service responders in A that answer a few requests and reset, while requesters in B ask
  // through the import: mapped replies are made and taken on every loop as responders go.
  std::atomic<int> answered{0};
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send(login_a + "\r\nSUB svc 1\r\nPING\r\n");
    if (!c.read_until("PONG\r\n", 2s)) return reset_close(c);
    for (int i = 0; i < 5; ++i) {
      auto line = c.read_until("\r\n", 1s);
      if (!line) break;
      if (line->rfind("MSG svc 1 ", 0) != 0) continue;
      std::string reply = line->substr(10, line->find(' ', 10) - 10);
      c.read_until("\r\n", 1s);  // the payload
      c.send("PUB " + reply + " 2\r\nok\r\n");
    }
    reset_close(c);
  });
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB inbox 1\r\n");
    for (int i = 0; i < 20; ++i) {
      c.send("PUB svc inbox 1\r\nq\r\n");
      if (c.read_until("MSG inbox 1 2\r\nok\r\n", 200ms)) answered.fetch_add(1);
    }
    reset_close(c);
  });
  std::atomic<int> reloads{0};
  churn.also([&] {
    dir.write("accounts.conf", reloads.load() % 2 ? accounts_config : with_c);
    ::kill(server.pid(), SIGHUP);
    reloads.fetch_add(1);
    std::this_thread::sleep_for(250ms);  // the pace of the reloads, not a wait for a condition
  });
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  EXPECT_GE(reloads.load(), 5);
  EXPECT_EQ(server.log().find("Failed to reload"), std::string::npos) << server.log().substr(0, 4000);
  std::printf("accounts: %d churn cycles in A, %d deliveries across the stream import, %d service answers\n",
              a_cycles.load(), imported.load(), answered.load());
  EXPECT_GT(a_cycles.load(), 5);
  EXPECT_GT(imported.load(), 0) << "no B client ever got a message published in A";
  EXPECT_GT(answered.load(), 0) << "no request through the service import was ever answered";
}

// Per-connection match caches (src/server/match_cache.h): route peers bring messages in two
// accounts, and a publisher in A cycles through more subjects than a cache keeps, while the
// subscribers those cached results name come and go on other loops. A route's cache holds one
// set of results per account; each set is dropped when its account's index changes, so a
// delivery through a result taken before a subscriber reset must find the subscriber closed,
// never freed. Idle publishers' caches are swept meanwhile.
TEST(Stress, RoutesAndPublishersDeliverThroughCachedResultsWhileSubscribersComeAndGo) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  TempDir dir;
  std::string conf = dir.write("accounts.conf", R"(
accounts {
  A: { users: [ {user: a, password: pa} ] }
  B: { users: [ {user: b, password: pb} ] }
}
no_auth_user: b
)");
  int route_port = pick_free_port();
  ServerProcess server(churn_server(
      {"-c", conf, "--cluster_name", "stress", "--cluster", "nats://127.0.0.1:" + std::to_string(route_port)}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  const std::string login_a = R"(CONNECT {"verbose":false,"pedantic":false,"user":"a","pass":"pa"})";
  constexpr int kSubjects = 300;  // more than MatchCache::kMaxSubjects: caches fill and start afresh
  // A publisher in A over many subjects.
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s) || !c.send(login_a + "\r\n")) return;
    for (int round = 0; !churn.over(); ++round) {
      std::string batch;
      for (int i = 0; i < kSubjects; i += 7) batch += "PUB many." + std::to_string((i + round) % kSubjects) + " 1\r\nA\r\n";
      if (!c.send(batch) || !c.ping_pong(10s)) return;
    }
  });
  // Publishers in A that publish a little and idle, so their caches are left to the sweep.
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send(login_a + "\r\nPUB many.1 1\r\nI\r\nPUB many.2 1\r\nI\r\nPING\r\n");
    c.read_until("PONG\r\n", 2s);
    std::this_thread::sleep_for(300ms);  // idle, while churners come and go
    c.close();
  });
  // Churners in A, on a wildcard and on one subject.
  std::atomic<int> a_deliveries{0};
  auto a_churner = [&](std::string subject) {
    return [&, subject] {
      RawClient c;
      if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
      c.send(login_a + "\r\nSUB " + subject + " 1\r\nSUB " + subject + " q 2\r\nPING\r\n");
      if (c.read_until("PONG\r\n", 2s) && c.read_until("MSG many.", 2s)) a_deliveries.fetch_add(1);
      reset_close(c);
    };
  };
  churn.also(a_churner("many.*"));
  churn.also(a_churner("many.3"));
  // Route peers that take interest in A, send a burst of RMSG into A, B and an account this
  // server lacks, and drop with a reset.
  std::atomic<int> peers{0};
  auto peer = [&, n = std::make_shared<std::atomic<int>>(0)] {
    RawClient r;
    if (!r.connect(route_port, 2s) || !r.read_until("INFO ", 2s) || !r.read_until("\r\n", 2s)) return;
    std::string sid = "NCACHEPEER" + std::to_string(::getpid()) + "X" + std::to_string(n->fetch_add(1));
    std::string burst;
    for (int i = 0; i < kSubjects; i += 3) {
      burst += "RMSG A many." + std::to_string(i) + " 1\r\nR\r\nRMSG B churn 1\r\nR\r\n";
    }
    burst += "RMSG Z nowhere 1\r\nR\r\n";
    r.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"" + sid +
           "\",\"cluster\":\"stress\"}\r\nINFO {\"server_id\":\"" + sid +
           "\",\"server_name\":\"peer\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,"
           "\"cluster\":\"stress\"}\r\nRS+ A many.>\r\nPING\r\n");
    if (!r.read_until("PONG\r\n", 2s)) return reset_close(r);
    r.send(burst + burst + "PING\r\n");
    if (r.read_until("PONG\r\n", 2s)) peers.fetch_add(1);
    reset_close(r);
  };
  churn.also(peer);
  churn.also(peer);
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  std::printf("caches: %d route peers sent their bursts, %d deliveries to churners in A\n", peers.load(),
              a_deliveries.load());
  EXPECT_GE(peers.load(), 5) << "too few route peers came and went";
  EXPECT_GT(a_deliveries.load(), 0) << "no churner in A ever got a message";
}

}  // namespace
}  // namespace pylon::it

namespace pylon::it {
namespace {

// The system account under churn (issue 13): clients of account A come and go on node 1 (so
// its loops post CONNECT/DISCONNECT events to its system loop) while a client of the system
// account on node 0 listens to `$SYS.>` over the route and asks both nodes for STATSZ without
// pause. Every event must arrive once, in the order the node sent it (its `seq` only grows),
// each DISCONNECT after its client's CONNECT, and every request must be answered by both nodes.
// Each client's coming and going also makes an account_connections event (walking the
// account's open clients on the system loop while other loops close them), and a client of A
// on node 0 asks both nodes for A's connections through its import of the system account's
// service ($SYS.REQ.ACCOUNT.PING.CONNZ: streamed responses mapped back across the route).
// Meanwhile reloads of node 1 add and drop an account C whose clients come and go: their
// events hold C while the system loop sends them, C's heartbeat names it weakly, and each new
// C gets its system imports.
TEST(Stress, SystemAccountEventsAndRequestsDuringClientChurn) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  const std::string config = R"(
accounts {
  SYS: { users: [ {user: sys, password: psys} ] }
  A: { users: [ {user: a, password: pa} ] }
}
system_account: SYS
no_auth_user: a
)";
  int route0 = pick_free_port(), route1 = pick_free_port();
  auto node = [&](int own, int other) {
    return with_config(config, {"--event_loops", std::to_string(kEventLoops), "--cluster_name", "sysstress",
                                "--cluster", "nats://127.0.0.1:" + std::to_string(own), "--routes",
                                "nats://127.0.0.1:" + std::to_string(other)});
  };
  std::string with_c = config;
  with_c.replace(with_c.find("  A: {"), 6, "  C: { users: [ {user: c, password: pc} ] }\n  A: {");
  TempDir dir;
  std::string conf1 = dir.write("node1.conf", config);
  ServerOptions opts1 = node(route1, route0);
  opts1.config.clear();
  opts1.args.insert(opts1.args.end(), {"-c", conf1});
  ServerProcess n0(node(route0, route1)), n1(opts1);
  ASSERT_TRUE(n0.start());
  ASSERT_TRUE(n1.start());

  // The listener, in the system account on node 0. Replies come to "$SYS.it.reply.<n>", so
  // they reach it too: once both nodes answer a request, node 1 has its interest.
  using cluster::Collector;
  auto sys = cluster::Client::connect({"nats://sys:psys@127.0.0.1:" + std::to_string(n0.port())});
  ASSERT_TRUE(sys);
  auto heard = std::make_shared<Collector>();
  auto listen = cluster::AsyncSub::make(*sys, "$SYS.>", heard);
  ASSERT_TRUE(sys->flush());
  // Over the messages a Collector::wait predicate is given (under the collector's lock).
  auto answers_in = [](const std::vector<cluster::Received>& ms, const std::string& reply) {
    size_t n = 0;
    for (const auto& m : ms) n += m.subject == reply;
    return n;
  };
  int requests = 0;
  auto ask = [&] {
    std::string reply = "$SYS.it.reply." + std::to_string(requests++);
    return cluster::publish(*sys, "$SYS.REQ.SERVER.PING", "", reply) == NATS_OK ? reply : std::string();
  };
  ASSERT_TRUE(wait_for([&] {
    std::string r = ask();
    return heard->wait([&](const auto& ms) { return answers_in(ms, r) == 2; }, 500ms);
  }, 20s)) << "both nodes never answered: the route did not form";
  int first_measured = requests;

  Churn churn(n1.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::mutex ask_mu;
  churn.also([&] {
    {
      std::lock_guard lk(ask_mu);
      ask();
    }
    std::this_thread::sleep_for(20ms);  // the pace of the requests, not a wait for a condition
  });
  std::atomic<int> reloads{0}, c_cycles{0};
  churn.also([&] {
    dir.write("node1.conf", reloads.load() % 2 ? config : with_c);
    ::kill(n1.pid(), SIGHUP);
    reloads.fetch_add(1);
    std::this_thread::sleep_for(300ms);  // the pace of the reloads, not a wait for a condition
  });
  churn.also([&] {
    RawClient c;
    if (!c.connect(n1.port(), 2s) || !c.read_info(2s)) return;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"c\",\"pass\":\"pc\"}\r\nPING\r\n");
    if (c.read_until("PONG\r\n", 1s)) c_cycles.fetch_add(1);  // C was there
    reset_close(c);
  });
  std::atomic<int> imported_answers{0};
  churn.also([&] {
    RawClient c;  // no credentials: A, through no_auth_user
    if (!c.connect(n0.port(), 2s) || !c.read_info(2s)) return;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB my.inbox 1\r\nPING\r\n");
    if (!c.read_until("PONG\r\n", 2s)) return reset_close(c);
    for (int i = 0; i < 10 && !churn.over(); ++i) {
      c.send("PUB $SYS.REQ.ACCOUNT.PING.CONNZ my.inbox 0\r\n\r\n");
      if (c.read_until("MSG my.inbox 1 ", 2s)) imported_answers.fetch_add(1);
    }
    reset_close(c);
  });
  std::string canary = churn.finish();
  expect_survived(n1, churn, canary);
  EXPECT_TRUE(n0.running());
  EXPECT_EQ(n0.log().find("Unexpected exception"), std::string::npos);
  int last = requests;

  // Every request answered by both nodes.
  auto all_answered = [&](const std::vector<cluster::Received>& ms) {
    std::map<std::string, int> n;
    for (const auto& m : ms) ++n[m.subject];
    for (int i = first_measured; i < last; ++i)
      if (n["$SYS.it.reply." + std::to_string(i)] != 2) return false;
    return true;
  };
  EXPECT_TRUE(heard->wait(all_answered, 20s)) << "requests " << first_measured << ".." << last;
  EXPECT_GE(last - first_measured, 20) << "too few requests during the churn";

  // The events: each node's in the order it sent them, each client's CONNECT before its
  // DISCONNECT, none twice (node 0's A clients are the import's requesters).
  heard->wait_quiet(500ms, 10s);
  std::map<std::string, int64_t> last_seq;  // server id -> seq
  std::map<std::pair<std::string, int64_t>, int> state;  // (server id, cid) -> 1 connected, 2 disconnected
  int connects = 0, disconnects = 0, out_of_order = 0, unpaired = 0, conns_events = 0;
  for (const auto& m : heard->messages()) {
    bool c = m.subject == "$SYS.ACCOUNT.A.CONNECT", d = m.subject == "$SYS.ACCOUNT.A.DISCONNECT";
    bool n = m.subject == "$SYS.ACCOUNT.A.SERVER.CONNS";
    if (!c && !d && !n) continue;
    auto e = boost::json::parse(m.data).as_object();
    const auto& server = e.at("server").as_object();
    int64_t seq = server.at("seq").to_number<int64_t>();
    int64_t& prev = last_seq[std::string(server.at("id").as_string())];
    if (seq <= prev) ++out_of_order;
    prev = seq;
    if (n) {
      ++conns_events;
      continue;
    }
    int& st = state[{std::string(server.at("id").as_string()), e.at("client").as_object().at("id").to_number<int64_t>()}];
    if (c) {
      ++connects;
      if (st != 0) ++unpaired;
      st = 1;
    } else {
      ++disconnects;
      if (st != 1) ++unpaired;
      st = 2;
    }
  }
  std::printf("system account: %d requests answered by both nodes, %d CONNECT and %d DISCONNECT events\n",
              last - first_measured, connects, disconnects);
  EXPECT_GE(connects, kChurners * 5);
  EXPECT_GE(disconnects, kChurners * 5);
  EXPECT_EQ(out_of_order, 0) << "a node's seq must grow with every message it sends";
  EXPECT_EQ(unpaired, 0) << "each DISCONNECT follows its client's CONNECT, once";
  std::printf("system account: %d account_connections events, %d answers through A's system import\n",
              conns_events, imported_answers.load());
  EXPECT_GE(conns_events, connects + disconnects) << "one at each client's coming and going";
  std::printf("system account: %d reloads of node 1, %d clients of C while it existed\n", reloads.load(),
              c_cycles.load());
  EXPECT_GE(reloads.load(), 5);
  EXPECT_GT(c_cycles.load(), 0) << "no client of C ever connected";
  EXPECT_EQ(n1.log().find("Failed to reload"), std::string::npos) << n1.log().substr(0, 4000);
  EXPECT_GT(imported_answers.load(), 0) << "A never got its connections through its system import";
}

}  // namespace
}  // namespace pylon::it

namespace pylon::it {
namespace {

// The client registry (src/server/client/client_registry.h: 64 shards, an atomic count) while
// clients connect and reset on every loop and monitoring reads it from others: /varz's
// `connections` is the count, /connz lists a snapshot taken shard by shard. Once the churn is
// over, both must show exactly the clients still open: an add or a remove lost or counted
// twice under the race (a shard and the count disagreeing) leaves a wrong number for good.
TEST(Stress, ClientRegistryCountsStayExactWhileClientsComeAndGoOnEveryLoop) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  constexpr int kHeld = 10;  // idle clients open throughout, one or more on every loop
  int http_port = pick_free_port();
  ServerProcess server(churn_server({"-m", std::to_string(http_port)}));
  ASSERT_TRUE(server.start());
  std::vector<RawClient> held(kHeld);
  for (auto& c : held) {
    ASSERT_TRUE(c.connect(server.port()));
    ASSERT_TRUE(c.read_info());
    ASSERT_TRUE(c.handshake());
  }
  auto count = [&](const std::string& target, const char* field) -> int64_t {
    auto r = http_get(http_port, target, 10s);
    if (!r || r->status != 200) return -1;
    boost::system::error_code ec;
    auto v = boost::json::parse(r->body, ec);
    if (ec || !v.is_object() || !v.as_object().contains(field)) return -1;
    return v.as_object().at(field).to_number<int64_t>();
  };
  std::atomic<int> polls{0};
  {
    Churn churn(server.port());
    std::string why;
    ASSERT_TRUE(churn.start(&why)) << why;
    churn.also([&] {
      EXPECT_GE(count("/varz", "connections"), kHeld);
      EXPECT_GE(count("/connz?limit=100000", "num_connections"), kHeld);
      polls.fetch_add(1);
    });
    std::string canary = churn.finish();
    expect_survived(server, churn, canary);
  }
  EXPECT_GE(polls.load(), 5);
  // The churn's own connections are gone (closed by their threads and the canary's end).
  EXPECT_TRUE(wait_for([&] { return count("/varz", "connections") == kHeld; }, 10s))
      << "/varz connections: " << count("/varz", "connections");
  EXPECT_TRUE(wait_for([&] { return count("/connz?limit=100000", "num_connections") == kHeld; }, 10s))
      << "/connz num_connections: " << count("/connz?limit=100000", "num_connections");
  // Every held client is still registered and served.
  for (auto& c : held) EXPECT_TRUE(c.ping_pong());
}

}  // namespace
}  // namespace pylon::it
