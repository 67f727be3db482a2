// Cluster mode across routes: messaging (plain, wildcards, request/reply with headers,
// interest propagation, queue groups) on an all-Pylon and a mixed Pylon/nats-server mesh, a
// route in both dial directions between the two servers, and the refusals (cluster-name
// mismatch, route authorization). The cluster is ClusterBase's (cluster_test_support.h).
#include "cluster_test_support.h"

namespace pylon::it::cluster {
namespace {

// ================================================================== messaging
// across routes Run on an all-Pylon cluster and on the mixed pylon /
// nats-server / pylon cluster (interop).

struct MixParam {
  const char* name;
  std::vector<Kind> kinds;
};

class ClusterMessaging : public ClusterBase, public ::testing::WithParamInterface<MixParam> {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(start_mesh(GetParam().kinds)); }
  std::string label(int i) { return "n" + std::to_string(i + 1) + "(" + (node(i).is_pylon() ? "pylon" : "nats") + ")"; }
};

TEST_P(ClusterMessaging, MeshIsFull) {
  // start_mesh checked /routez everywhere and the log lines of Pylon nodes;
  // spell it out.
  for (int i = 0; i < 3; ++i) {
    auto rz = node(i).routez();
    ASSERT_TRUE(rz) << label(i) << ": /routez unavailable";
    EXPECT_EQ(rz->at("num_routes").to_number<int64_t>(), 2) << label(i) << ": " << json::serialize(*rz);
    if (!node(i).is_pylon()) continue;
    EXPECT_FALSE(node(i).log_lines("Route connection created").empty()) << label(i);
    for (int j = 0; j < 3; ++j) {
      if (j == i) continue;
      std::string needle = "Route connection to " + node(j).name() + " (" + node(j).server_id() + ") registered";
      EXPECT_FALSE(node(i).log_lines(needle).empty()) << label(i) << " never logged: " << needle;
    }
  }
}

TEST_P(ClusterMessaging, PlainSubscribersOnEveryNodeGetEveryMessage) {
  std::vector<std::unique_ptr<Client>> subs, pubs;
  std::vector<std::shared_ptr<Collector>> cols;
  std::vector<std::unique_ptr<AsyncSub>> ss;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(pinned(i, "sub-" + std::to_string(i)));
    pubs.push_back(pinned(i, "pub-" + std::to_string(i)));
    ASSERT_TRUE(subs.back() && pubs.back());
    cols.push_back(std::make_shared<Collector>());
    ss.push_back(AsyncSub::make(*subs[i], "plain.x", cols[i], i));
  }
  for (int p = 0; p < 3; ++p)
    for (int s = 0; s < 3; ++s)
      ASSERT_TRUE(await_interest(*pubs[p], "plain.x", *cols[s], "p" + std::to_string(p)))
          << "subscriber on " << label(s) << " not visible on " << label(p);
  std::set<std::string> want;
  for (int p = 0; p < 3; ++p) {
    auto batch = payloads("p" + std::to_string(p) + ":", 200);
    want.insert(batch.begin(), batch.end());
    for (int i = 0; i < 200; ++i)
      ASSERT_EQ(publish(*pubs[p], "plain.x", "p" + std::to_string(p) + ":" + std::to_string(i)), NATS_OK);
    ASSERT_TRUE(pubs[p]->flush());
  }
  for (int s = 0; s < 3; ++s) {
    EXPECT_TRUE(exactly_once(*cols[s], "p", want)) << "subscriber on " << label(s);
    // Per publisher, messages arrive in publish order.
    std::map<std::string, int> last;
    for (auto& m : cols[s]->messages()) {
      auto colon = m.data.find(':');
      std::string from = m.data.substr(0, colon);
      int i = std::stoi(m.data.substr(colon + 1));
      auto it = last.find(from);
      EXPECT_TRUE(it == last.end() || it->second < i) << "out of order at " << label(s) << ": " << m.data;
      last[from] = i;
    }
  }
}

TEST_P(ClusterMessaging, WildcardsAcrossNodes) {
  struct Pattern {
    std::string pattern, probe;
  };
  const std::vector<Pattern> patterns{{"wc.*", "wc.probe"},
                                      {"wc.>", "wc.probe"},
                                      {"wc.*.end", "wc.probe.end"},
                                      {"*.mid.>", "x.mid.probe"},
                                      {">", "anything"}};
  const std::vector<std::string> subjects{"wc.a",      "wc.b.c", "wc.b.end", "wc.mid.end", "x.mid.y",
                                          "y.mid.z.w", "wc",     "other",    "x.mid",      "a.b.c.d"};
  std::vector<std::unique_ptr<Client>> subs, pubs;
  std::map<std::pair<int, size_t>, std::shared_ptr<Collector>> cols;
  std::vector<std::unique_ptr<AsyncSub>> ss;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(pinned(i, "wsub-" + std::to_string(i)));
    pubs.push_back(pinned(i, "wpub-" + std::to_string(i)));
    ASSERT_TRUE(subs.back() && pubs.back());
    for (size_t k = 0; k < patterns.size(); ++k) {
      auto c = std::make_shared<Collector>();
      cols[{i, k}] = c;
      ss.push_back(AsyncSub::make(*subs[i], patterns[k].pattern, c, i));
      ASSERT_TRUE(ss.back());
    }
  }
  for (int p = 0; p < 3; ++p)
    for (auto& [key, c] : cols)
      ASSERT_TRUE(await_interest(*pubs[p], patterns[key.second].probe, *c, "p" + std::to_string(p)))
          << patterns[key.second].pattern << " on " << label(key.first) << " not visible on " << label(p);
  for (int p = 0; p < 3; ++p) {
    for (auto& subj : subjects) ASSERT_EQ(publish(*pubs[p], subj, "w" + std::to_string(p) + "|" + subj), NATS_OK);
    ASSERT_TRUE(pubs[p]->flush());
  }
  for (auto& [key, c] : cols) {
    std::set<std::string> want;
    for (int p = 0; p < 3; ++p)
      for (auto& subj : subjects)
        if (subject_matches(patterns[key.second].pattern, subj)) want.insert("w" + std::to_string(p) + "|" + subj);
    EXPECT_TRUE(exactly_once(*c, "w", want)) << patterns[key.second].pattern << " on " << label(key.first);
    for (auto& m : c->messages()) EXPECT_EQ(m.data.substr(m.data.find('|') + 1), m.subject);
  }
}

// A subject published with wildcard tokens crosses the routes to the wildcard subscriptions
// of every node, and to no literal one, as the reference's sublist matches it (its '*' and
// '>' are tokens that only wildcard subscriptions match); a mixed cluster agrees.
TEST_P(ClusterMessaging, WildcardSubjectsPublishedReachWildcardSubscribersOnEveryNode) {
  const std::vector<std::string> patterns{"ws.>", "ws.*", "*.*", "ws.lit"};
  std::vector<std::unique_ptr<Client>> subs, pubs;
  std::map<std::pair<int, size_t>, std::shared_ptr<Collector>> cols;
  std::vector<std::unique_ptr<AsyncSub>> ss;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(pinned(i, "wssub-" + std::to_string(i)));
    pubs.push_back(pinned(i, "wspub-" + std::to_string(i)));
    ASSERT_TRUE(subs.back() && pubs.back());
    for (size_t k = 0; k < patterns.size(); ++k) {
      auto c = std::make_shared<Collector>();
      cols[{i, k}] = c;
      ss.push_back(AsyncSub::make(*subs[i], patterns[k], c, i));
      ASSERT_TRUE(ss.back());
    }
  }
  for (int p = 0; p < 3; ++p)
    for (auto& [key, c] : cols)
      ASSERT_TRUE(await_interest(*pubs[p], key.second == 3 ? "ws.lit" : "ws.probe", *c, "p" + std::to_string(p)))
          << patterns[key.second] << " on " << label(key.first) << " not visible on " << label(p);
  for (int p = 0; p < 3; ++p) {
    for (const char* subj : {"ws.*", "ws.>"}) {
      ASSERT_EQ(publish(*pubs[p], subj, "x" + std::to_string(p) + "|" + subj), NATS_OK);
    }
    ASSERT_TRUE(pubs[p]->flush());
  }
  for (auto& [key, c] : cols) {
    std::set<std::string> want;
    if (key.second != 3) {
      for (int p = 0; p < 3; ++p)
        for (const char* subj : {"ws.*", "ws.>"}) want.insert("x" + std::to_string(p) + "|" + subj);
    }
    EXPECT_TRUE(exactly_once(*c, "x", want)) << patterns[key.second] << " on " << label(key.first);
    for (auto& m : c->messages()) EXPECT_EQ(m.data.substr(m.data.find('|') + 1), m.subject);
  }
}

TEST_P(ClusterMessaging, RequestReplyAcrossNodesWithHeaders) {
  std::vector<std::unique_ptr<Client>> responders, requesters;
  std::vector<std::unique_ptr<AsyncSub>> ss;
  auto sink = std::make_shared<Collector>();
  for (int i = 0; i < 3; ++i) {
    responders.push_back(pinned(i, "responder-" + std::to_string(i)));
    requesters.push_back(pinned(i, "requester-" + std::to_string(i)));
    ASSERT_TRUE(responders.back() && requesters.back());
    ss.push_back(AsyncSub::make(*responders[i], "svc." + std::to_string(i), sink, i, "", "r" + std::to_string(i)));
  }
  for (int rq = 0; rq < 3; ++rq) {
    for (int rs = 0; rs < 3; ++rs) {
      SCOPED_TRACE("requester on " + label(rq) + ", responder on " + label(rs));
      std::string subj = "svc." + std::to_string(rs);
      int attempts = 0;
      ASSERT_EQ(request_until_ok(*requesters[rq], subj, nullptr, 10s, &attempts), NATS_OK);
      for (int k = 0; k < 20; ++k) {
        std::string body = "q" + std::to_string(rq) + "-" + std::to_string(k);
        natsMsg* req = nullptr;
        ASSERT_EQ(natsMsg_Create(&req, subj.c_str(), nullptr, body.data(), static_cast<int>(body.size())), NATS_OK);
        natsMsgHeader_Set(req, "X-Requester", ("n" + std::to_string(rq + 1)).c_str());
        natsMsg* reply = nullptr;
        natsStatus s = natsConnection_RequestMsg(&reply, requesters[rq]->nc(), req, 2000);
        natsMsg_Destroy(req);
        ASSERT_EQ(s, NATS_OK) << "request " << k << ": " << natsStatus_GetText(s);
        EXPECT_EQ(std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)),
                  "r" + std::to_string(rs) + "|" + body);
        const char* h = nullptr;
        EXPECT_EQ(natsMsgHeader_Get(reply, "X-Requester", &h), NATS_OK) << "header lost on the way back";
        if (h) {
          EXPECT_EQ(std::string(h), "n" + std::to_string(rq + 1));
        }
        natsMsg_Destroy(reply);
      }
    }
  }
}

TEST_P(ClusterMessaging, InterestPropagatesBeforeMessagesCross) {
  auto requester = pinned(0, "requester");
  auto responder = pinned(1, "responder");
  auto qresponder = pinned(2, "qresponder");
  ASSERT_TRUE(requester && responder && qresponder);
  auto sink = std::make_shared<Collector>();

  // No interest anywhere: nothing crosses a route, and a request gets "no
  // responders".
  auto out_msgs = [&] {
    int64_t total = 0;
    if (auto rz = node(0).routez())
      for (auto& r : rz->at("routes").as_array()) total += r.as_object().at("out_msgs").to_number<int64_t>();
    return total;
  };
  // The servers' own STATSZ crosses the routes too (each listens to the others', as the
  // reference's), now and then: a window with no movement at all, in one of a few tries, shows
  // that the 100 messages did not cross (had they crossed, every window would move by 100).
  constexpr int kWindows = 5;
  int64_t moved = -1;
  for (int w = 0; w < kWindows && moved != 0; ++w) {
    int64_t before = out_msgs();
    for (int i = 0; i < 100; ++i) ASSERT_EQ(publish(*requester, "ip.nobody", "x"), NATS_OK);
    ASSERT_TRUE(requester->flush());
    moved = out_msgs() - before;
  }
  EXPECT_EQ(moved, 0) << "messages without interest crossed n1's routes";
  natsMsg* reply = nullptr;
  EXPECT_EQ(natsConnection_RequestString(&reply, requester->nc(), "ip.svc", "x", 1000), NATS_NO_RESPONDERS);

  // A SUB on n2 becomes visible on n1 only after propagation: retry the request
  // until it works.
  auto t0 = Clock::now();
  auto s = AsyncSub::make(*responder, "ip.svc", sink, 1, "", "n2");
  ASSERT_TRUE(s);
  int attempts = 0;
  std::string data;
  ASSERT_EQ(request_until_ok(*requester, "ip.svc", &data, 10s, &attempts), NATS_OK)
      << "subscription on " << label(1) << " never visible on " << label(0);
  report("plain interest " + label(1) + " -> " + label(0) + " after " + std::to_string(attempts) + " request(s), " +
         std::to_string(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count()) + " ms");
  EXPECT_EQ(data, "n2|probe-request");

  // Unsubscribing propagates too (RS-): requests go back to "no responders".
  s->unsubscribe();
  ASSERT_TRUE(responder->flush());
  EXPECT_TRUE(request_until_no_responders(*requester, "ip.svc", 10s)) << "RS- never reached " << label(0);

  // Same for a queue subscription on n3.
  t0 = Clock::now();
  auto qs = AsyncSub::make(*qresponder, "ip.qsvc", sink, 2, "qgroup", "n3");
  ASSERT_EQ(request_until_ok(*requester, "ip.qsvc", &data, 10s, &attempts), NATS_OK)
      << "queue subscription on " << label(2) << " never visible on " << label(0);
  report("queue interest " + label(2) + " -> " + label(0) + " after " + std::to_string(attempts) + " request(s), " +
         std::to_string(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count()) + " ms");
  EXPECT_EQ(data, "n3|probe-request");
  qs->unsubscribe();
  ASSERT_TRUE(qresponder->flush());
  EXPECT_TRUE(request_until_no_responders(*requester, "ip.qsvc", 10s)) << "queue RS- never reached " << label(0);
}

// Queue groups in every direction: for each publishing node, a group whose
// members are all on the other two nodes (each message crosses a route to
// exactly one member, both nodes get some), and a group with a member on every
// node (exactly once; on Pylon the local member is preferred).
TEST_P(ClusterMessaging, QueueGroupsExactlyOnceInEveryDirection) {
  constexpr int kPerRun = 300;
  std::vector<std::unique_ptr<Client>> members, pubs;
  std::vector<std::unique_ptr<AsyncSub>> ss;
  auto barriers = std::make_shared<Collector>();
  std::vector<std::shared_ptr<Collector>> remote_cols, all_cols;
  for (int i = 0; i < 3; ++i) {
    members.push_back(pinned(i, "member-" + std::to_string(i)));
    pubs.push_back(pinned(i, "qpub-" + std::to_string(i)));
    ASSERT_TRUE(members.back() && pubs.back());
  }
  for (int p = 0; p < 3; ++p) {
    remote_cols.push_back(std::make_shared<Collector>());
    all_cols.push_back(std::make_shared<Collector>());
    for (int m = 0; m < 3; ++m) {
      if (m != p) ss.push_back(AsyncSub::make(*members[m], "qr." + std::to_string(p), remote_cols[p], m, "remote"));
      ss.push_back(AsyncSub::make(*members[m], "qa." + std::to_string(p), all_cols[p], m, "everyone"));
    }
  }
  for (int m = 0; m < 3; ++m) ss.push_back(AsyncSub::make(*members[m], "qbarrier." + std::to_string(m), barriers, m));
  for (int p = 0; p < 3; ++p)
    for (int m = 0; m < 3; ++m)
      ASSERT_TRUE(await_interest(*pubs[p], "qbarrier." + std::to_string(m), *barriers,
                                 "p" + std::to_string(p) + "m" + std::to_string(m)))
          << "member on " << label(m) << " not visible on " << label(p);

  for (int p = 0; p < 3; ++p) {
    SCOPED_TRACE("publisher on " + label(p));
    for (int i = 0; i < kPerRun; ++i) {
      ASSERT_EQ(publish(*pubs[p], "qr." + std::to_string(p), "r" + std::to_string(i)), NATS_OK);
      ASSERT_EQ(publish(*pubs[p], "qa." + std::to_string(p), "a" + std::to_string(i)), NATS_OK);
    }
    ASSERT_TRUE(pubs[p]->flush());
  }
  for (int p = 0; p < 3; ++p) {
    SCOPED_TRACE("publisher on " + label(p));
    EXPECT_TRUE(exactly_once(*remote_cols[p], "r", payloads("r", kPerRun)));
    EXPECT_TRUE(exactly_once(*all_cols[p], "a", payloads("a", kPerRun)));
    remote_cols[p]->wait_quiet(100ms, 2s);
    all_cols[p]->wait_quiet(100ms, 2s);
    EXPECT_TRUE(exactly_once(*remote_cols[p], "r", payloads("r", kPerRun), 0ms)) << "after a quiet period";
    EXPECT_TRUE(exactly_once(*all_cols[p], "a", payloads("a", kPerRun), 0ms)) << "after a quiet period";
    std::map<int, int> remote_by_node, all_by_node;
    for (auto& m : remote_cols[p]->messages()) ++remote_by_node[m.tag];
    for (auto& m : all_cols[p]->messages()) ++all_by_node[m.tag];
    std::ostringstream os;
    os << "queue from " << label(p) << ": remote-only group";
    for (auto& [n, c] : remote_by_node) os << " " << label(n) << "=" << c;
    os << "; all-nodes group";
    for (auto& [n, c] : all_by_node) os << " " << label(n) << "=" << c;
    report(os.str());
    for (int m = 0; m < 3; ++m)
      if (m != p) {
        EXPECT_GT(remote_by_node[m], 0) << "no message of the remote-only group went to " << label(m);
      }
    // Issue 3 asks Pylon to prefer the local member for a message published by
    // a client. (nats-server 2.9.10 picks randomly among local and remote
    // members for client messages; it prefers local members only for messages
    // that arrive from a route.)
    if (node(p).is_pylon()) {
      EXPECT_EQ(all_by_node[p], kPerRun) << "the local member was not preferred";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cluster, ClusterMessaging,
                         ::testing::Values(MixParam{"Pylon3", {P, P, P}}, MixParam{"PylonNatsPylon", {P, N, P}}),
                         [](const ::testing::TestParamInfo<MixParam>& i) { return std::string(i.param.name); });

// ================================================================== interop
// pairs: both dial directions

struct PairParam {
  const char* name;
  Kind dialer, listener;
};

class ClusterPair : public ClusterBase, public ::testing::WithParamInterface<PairParam> {};

TEST_P(ClusterPair, RouteUpAndHeadersCrossBothWays) {
  auto lcfg = single_config(GetParam().listener, "listener");
  auto dcfg = single_config(GetParam().dialer, "dialer");
  dcfg.routes = {route_url(lcfg.route_port)};
  Node& l = add_node(lcfg);
  Node& d = add_node(dcfg);
  ASSERT_TRUE(l.start());
  ASSERT_TRUE(d.start());
  std::string why;
  ASSERT_TRUE(wait_mesh({&l, &d}, 15s, &why)) << why;
  auto rz = d.routez();
  ASSERT_TRUE(rz);
  auto& route = rz->at("routes").as_array().at(0).as_object();
  EXPECT_TRUE(route.at("did_solicit").as_bool()) << "the dialer's route should be solicited";
  if (d.is_pylon()) {
    EXPECT_FALSE(d.log_lines("Route connection to listener (" + l.server_id() + ") registered").empty());
  }
  if (l.is_pylon()) {
    EXPECT_FALSE(l.log_lines("Route connection to dialer (" + d.server_id() + ") registered").empty());
  }

  auto cd = Client::connect({d.client_url()});
  auto cl = Client::connect({l.client_url()});
  ASSERT_TRUE(cd && cl);
  ASSERT_TRUE(natsConnection_HasHeaderSupport(cd->nc()) == NATS_OK);
  auto col_d = std::make_shared<Collector>(), col_l = std::make_shared<Collector>();
  auto sd = AsyncSub::make(*cd, "hdr.test", col_d, 0);
  auto sl = AsyncSub::make(*cl, "hdr.test", col_l, 1);
  ASSERT_TRUE(await_interest(*cd, "hdr.test", *col_l, "d")) << "listener's subscription not visible on the dialer";
  ASSERT_TRUE(await_interest(*cl, "hdr.test", *col_d, "l")) << "dialer's subscription not visible on the listener";

  const std::map<std::string, std::string> h1{{"X-Direction", "dialer-to-listener"}, {"X-Trace", "abc 123"}};
  const std::map<std::string, std::string> h2{{"X-Direction", "listener-to-dialer"}, {"Nats-Msg-Id", "m-42"}};
  ASSERT_EQ(publish(*cd, "hdr.test", "from-dialer", "", h1), NATS_OK);
  ASSERT_EQ(publish(*cl, "hdr.test", "from-listener", "reply.to", h2), NATS_OK);
  ASSERT_EQ(publish(*cd, "hdr.test", "plain-from-dialer"), NATS_OK);
  ASSERT_TRUE(cd->flush() && cl->flush());
  for (auto* c : {col_d.get(), col_l.get()}) {
    ASSERT_TRUE(c->wait_count(3, 5s)) << "got " << c->count();
    std::map<std::string, Received> by_data;
    for (auto& m : c->messages()) by_data[m.data] = m;
    EXPECT_EQ(by_data["from-dialer"].headers, h1);
    EXPECT_EQ(by_data["from-listener"].headers, h2);
    EXPECT_EQ(by_data["from-listener"].reply, "reply.to");
    EXPECT_TRUE(by_data["plain-from-dialer"].headers.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Cluster, ClusterPair,
                         ::testing::Values(PairParam{"PylonDialsNats", P, N}, PairParam{"NatsDialsPylon", N, P},
                                           PairParam{"PylonDialsPylon", P, P}),
                         [](const ::testing::TestParamInfo<PairParam>& i) { return std::string(i.param.name); });

// ================================================================== refused
// routes

class ClusterRefusal : public ClusterPair {};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST_P(ClusterRefusal, ClusterNameMismatchIsRefusedAndLoggedOnBothSides) {
  auto lcfg = single_config(GetParam().listener, "listener", "alpha");
  auto dcfg = single_config(GetParam().dialer, "dialer", "beta");
  dcfg.routes = {route_url(lcfg.route_port)};
  Node& l = add_node(lcfg);
  Node& d = add_node(dcfg);
  ASSERT_TRUE(l.start());
  ASSERT_TRUE(d.start());
  static const std::regex mismatch(R"re(cluster name "(alpha|beta)" does not match "(alpha|beta)")re");
  auto logged = [&](Node& n) { return std::regex_search(n.log(), mismatch); };
  EXPECT_TRUE(wait_for([&] { return logged(l); }, 10s, 20ms)) << "listener did not log the mismatch";
  EXPECT_TRUE(wait_for([&] { return logged(d); }, 10s, 20ms)) << "dialer did not log the mismatch";
  for (Node* n : {&l, &d}) {
    auto ids = n->routez_remote_ids();
    ASSERT_TRUE(ids) << n->name() << ": /routez unavailable";
    EXPECT_TRUE(ids->empty()) << n->describe();
    if (n->is_pylon()) {
      EXPECT_TRUE(n->log_live_route_ids().empty()) << n->describe();
    }
    EXPECT_TRUE(n->log().find("Cluster Name Conflict") != std::string::npos)
        << n->name() << " did not log the close reason 'Cluster Name Conflict'";
  }
}

TEST_P(ClusterRefusal, RouteAuthorizationAcceptsGoodAndRefusesWrongPassword) {
  auto lcfg = single_config(GetParam().listener, "listener");
  lcfg.listen_userinfo = "ruser:rpass";
  auto gcfg = single_config(GetParam().dialer, "good");
  gcfg.routes = {route_url(lcfg.route_port, "ruser:rpass")};
  auto bcfg = single_config(GetParam().dialer, "bad");
  bcfg.routes = {route_url(lcfg.route_port, "ruser:wrong")};
  Node& l = add_node(lcfg);
  Node& g = add_node(gcfg);
  Node& b = add_node(bcfg);
  ASSERT_TRUE(l.start());
  ASSERT_TRUE(g.start());
  ASSERT_TRUE(b.start());
  std::string why;
  EXPECT_TRUE(wait_mesh({&l, &g}, 15s, &why)) << "route with the right credentials not up:\n" << why;
  EXPECT_TRUE(wait_for([&] { return lower(l.log()).find("authentication error") != std::string::npos; }, 10s, 20ms))
      << "listener did not log the refused route";
  EXPECT_TRUE(wait_for([&] { return b.log().find("Authorization Violation") != std::string::npos; }, 10s, 20ms))
      << "the refused dialer did not log the error it got";
  auto ids = b.routez_remote_ids();
  ASSERT_TRUE(ids);
  EXPECT_TRUE(ids->empty()) << b.describe();
  if (b.is_pylon()) {
    EXPECT_TRUE(b.log_live_route_ids().empty()) << b.describe();
  }
  // Still exactly one route on the listener (to "good").
  EXPECT_TRUE(mesh_complete({&l, &g}, &why)) << why;
  // Messages flow over the authorized route.
  auto cg = Client::connect({g.client_url()});
  auto cl = Client::connect({l.client_url()});
  ASSERT_TRUE(cg && cl);
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*cl, "auth.ok", col);
  EXPECT_TRUE(await_interest(*cg, "auth.ok", *col, "g"));
}

INSTANTIATE_TEST_SUITE_P(Cluster, ClusterRefusal,
                         ::testing::Values(PairParam{"PylonDialsPylon", P, P}, PairParam{"PylonDialsNats", P, N},
                                           PairParam{"NatsDialsPylon", N, P}),
                         [](const ::testing::TestParamInfo<PairParam>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace pylon::it::cluster
