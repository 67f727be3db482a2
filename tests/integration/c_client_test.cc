// The official C client (libnats) against a real server process.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "harness.h"
#include "nats_c.h"

namespace pylon::it {
namespace {

class CClient : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.start()); }
  ServerProcess server;
};

std::multiset<std::string> subjects_of(const std::vector<RecvMsg>& msgs) {
  std::multiset<std::string> out;
  for (auto& m : msgs) out.insert(m.subject);
  return out;
}

TEST_F(CClient, PublishSubscribeAcrossConnections) {
  auto pub = nats_connect(server.url());
  auto subc = nats_connect(server.url());
  ASSERT_TRUE(pub && subc);
  auto sub = sub_sync(subc.get(), "greet.joe");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(subc.get()));  // the SUB is registered before anything is published

  ASSERT_EQ(natsConnection_PublishString(pub.get(), "greet.joe", "hello"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishRequestString(pub.get(), "greet.joe", "reply.here", "with-reply"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "greet.ann", "not for joe"), NATS_OK);
  ASSERT_EQ(natsConnection_Publish(pub.get(), "greet.joe", nullptr, 0), NATS_OK);
  ASSERT_TRUE(flush(pub.get()));
  ASSERT_TRUE(flush(subc.get()));

  auto got = drain(sub.get());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].subject, "greet.joe");
  EXPECT_EQ(got[0].data, "hello");
  EXPECT_EQ(got[0].reply, "");
  EXPECT_EQ(got[1].data, "with-reply");
  EXPECT_EQ(got[1].reply, "reply.here");
  EXPECT_EQ(got[2].data, "");
}

TEST_F(CClient, WildcardSubscriptions) {
  auto nc = nats_connect(server.url());
  ASSERT_TRUE(nc);
  const std::vector<std::string> patterns{"foo.*", "foo.>", ">", "foo.*.baz", "*.bar", "foo.bar"};
  std::vector<NatsSub> subs;
  for (auto& p : patterns) {
    subs.push_back(sub_sync(nc.get(), p));
    ASSERT_TRUE(subs.back());
  }
  ASSERT_TRUE(flush(nc.get()));
  const std::vector<std::string> published{"foo",         "foo.bar",          "foo.bar.baz", "foo.qux.baz",
                                           "bar.bar",     "foo.bar.baz.deep", "bar",         "fo.bar.baz"};
  for (auto& s : published) ASSERT_EQ(natsConnection_PublishString(nc.get(), s.c_str(), s.c_str()), NATS_OK);
  ASSERT_TRUE(flush(nc.get()));

  const std::map<std::string, std::multiset<std::string>> expected{
      {"foo.*", {"foo.bar"}},
      {"foo.>", {"foo.bar", "foo.bar.baz", "foo.qux.baz", "foo.bar.baz.deep"}},
      {">", {published.begin(), published.end()}},
      {"foo.*.baz", {"foo.bar.baz", "foo.qux.baz"}},
      {"*.bar", {"foo.bar", "bar.bar"}},
      {"foo.bar", {"foo.bar"}},
  };
  for (size_t i = 0; i < patterns.size(); ++i) {
    auto got = drain(subs[i].get());
    EXPECT_EQ(subjects_of(got), expected.at(patterns[i])) << "subscription " << patterns[i];
    for (auto& m : got) EXPECT_EQ(m.data, m.subject);
  }
}

TEST_F(CClient, QueueGroupsDeliverEachMessageOncePerGroup) {
  constexpr int kMessages = 1000;
  struct Member {
    std::string group;
    NatsConn nc;
    NatsSub sub;
  };
  std::vector<Member> members;
  auto add = [&](const std::string& group) {
    Member m{group, nats_connect(server.url()), nullptr};
    ASSERT_TRUE(m.nc);
    m.sub = sub_sync(m.nc.get(), "jobs.>", group);
    ASSERT_TRUE(m.sub);
    ASSERT_TRUE(flush(m.nc.get()));
    members.push_back(std::move(m));
  };
  for (int i = 0; i < 3; ++i) add("workers");
  for (int i = 0; i < 2; ++i) add("auditors");
  add("");  // a plain subscriber: gets everything
  // A second queue member of "workers" on the same connection as the plain subscriber.
  NatsSub extra_worker = sub_sync(members.back().nc.get(), "jobs.>", "workers");
  ASSERT_TRUE(extra_worker);
  ASSERT_TRUE(flush(members.back().nc.get()));

  auto pub = nats_connect(server.url());
  ASSERT_TRUE(pub);
  for (int i = 0; i < kMessages; ++i) {
    std::string id = std::to_string(i);
    ASSERT_EQ(natsConnection_PublishString(pub.get(), ("jobs." + std::to_string(i % 7)).c_str(), id.c_str()),
              NATS_OK);
  }
  ASSERT_TRUE(flush(pub.get()));
  for (auto& m : members) ASSERT_TRUE(flush(m.nc.get()));

  std::map<std::string, std::vector<int>> per_group;  // group -> count per id
  per_group["workers"].assign(kMessages, 0);
  per_group["auditors"].assign(kMessages, 0);
  std::vector<size_t> worker_loads;
  auto account = [&](const std::string& group, const std::vector<RecvMsg>& got) {
    for (auto& m : got) {
      int id = std::stoi(m.data);
      ASSERT_GE(id, 0);
      ASSERT_LT(id, kMessages);
      per_group[group][static_cast<size_t>(id)]++;
    }
    if (group == "workers") worker_loads.push_back(got.size());
  };
  std::vector<RecvMsg> plain;
  for (auto& m : members) {
    auto got = drain(m.sub.get());
    if (m.group.empty())
      plain = std::move(got);
    else
      account(m.group, got);
  }
  account("workers", drain(extra_worker.get()));

  for (auto& [group, counts] : per_group)
    for (int id = 0; id < kMessages; ++id)
      ASSERT_EQ(counts[static_cast<size_t>(id)], 1) << "group " << group << " message " << id;
  ASSERT_EQ(plain.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(plain[static_cast<size_t>(i)].data, std::to_string(i));
  // Members are picked at random: with 1000 messages every worker gets some.
  ASSERT_EQ(worker_loads.size(), 4u);
  for (size_t load : worker_loads) EXPECT_GT(load, 0u);
}

void echo_handler(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  std::string reply = "pong:" + std::string(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  if (natsMsg_GetReply(msg)) natsConnection_PublishString(nc, natsMsg_GetReply(msg), reply.c_str());
  natsMsg_Destroy(msg);
}

TEST_F(CClient, RequestReply) {
  auto responder = nats_connect(server.url());
  auto requester = nats_connect(server.url());
  ASSERT_TRUE(responder && requester);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_QueueSubscribe(&raw, responder.get(), "svc.echo", "svc", echo_handler, nullptr), NATS_OK);
  NatsSub sub(raw);
  ASSERT_TRUE(flush(responder.get()));

  for (int i = 0; i < 50; ++i) {
    natsMsg* reply = nullptr;
    std::string body = "req-" + std::to_string(i);
    natsStatus s = natsConnection_RequestString(&reply, requester.get(), "svc.echo", body.c_str(), 5000);
    ASSERT_EQ(s, NATS_OK) << "request " << i << ": " << status_text(s);
    NatsMsg guard(reply);
    EXPECT_EQ(to_recv(reply).data, "pong:" + body);
  }
}

TEST_F(CClient, HeadersArriveIntact) {
  auto pub = nats_connect(server.url());
  auto subc = nats_connect(server.url());
  ASSERT_TRUE(pub && subc);
  auto sub = sub_sync(subc.get(), "hdr.test");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(subc.get()));

  natsMsg* raw = nullptr;
  const std::string body = "payload with\r\nCRLF inside";
  ASSERT_EQ(natsMsg_Create(&raw, "hdr.test", "hdr.reply", body.data(), static_cast<int>(body.size())), NATS_OK);
  NatsMsg out(raw);
  ASSERT_EQ(natsMsgHeader_Set(raw, "X-Trace-Id", "abc-123"), NATS_OK);
  ASSERT_EQ(natsMsgHeader_Add(raw, "X-Multi", "one"), NATS_OK);
  ASSERT_EQ(natsMsgHeader_Add(raw, "X-Multi", "two"), NATS_OK);
  ASSERT_EQ(natsMsgHeader_Set(raw, "Content-Type", "text/plain; charset=utf-8"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishMsg(pub.get(), raw), NATS_OK);
  // A header-only message with an empty body.
  natsMsg* raw2 = nullptr;
  ASSERT_EQ(natsMsg_Create(&raw2, "hdr.test", nullptr, nullptr, 0), NATS_OK);
  NatsMsg out2(raw2);
  ASSERT_EQ(natsMsgHeader_Set(raw2, "Only", "header"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishMsg(pub.get(), raw2), NATS_OK);
  ASSERT_TRUE(flush(pub.get()));

  natsMsg* in = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&in, sub.get(), 5000), NATS_OK);
  NatsMsg got(in);
  EXPECT_EQ(to_recv(in).data, body);
  EXPECT_EQ(to_recv(in).reply, "hdr.reply");
  const char* v = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(in, "X-Trace-Id", &v), NATS_OK);
  EXPECT_STREQ(v, "abc-123");
  ASSERT_EQ(natsMsgHeader_Get(in, "Content-Type", &v), NATS_OK);
  EXPECT_STREQ(v, "text/plain; charset=utf-8");
  const char** values = nullptr;
  int count = 0;
  ASSERT_EQ(natsMsgHeader_Values(in, "X-Multi", &values, &count), NATS_OK);
  ASSERT_EQ(count, 2);
  EXPECT_STREQ(values[0], "one");
  EXPECT_STREQ(values[1], "two");
  free(values);

  natsMsg* in2 = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&in2, sub.get(), 5000), NATS_OK);
  NatsMsg got2(in2);
  EXPECT_EQ(natsMsg_GetDataLength(in2), 0);
  ASSERT_EQ(natsMsgHeader_Get(in2, "Only", &v), NATS_OK);
  EXPECT_STREQ(v, "header");
}

TEST_F(CClient, NoRespondersIsReportedImmediately) {
  auto nc = nats_connect(server.url());
  ASSERT_TRUE(nc);
  natsMsg* reply = nullptr;
  // The status is the proof that the server answered: a request that ran out its
  // timeout ends in NATS_TIMEOUT, only the server's 503 gives NATS_NO_RESPONDERS.
  natsStatus s = natsConnection_RequestString(&reply, nc.get(), "nobody.listens.here", "anyone?", 30000);
  NatsMsg guard(reply);
  EXPECT_EQ(s, NATS_NO_RESPONDERS) << status_text(s);
}

// MSG ops libnats read off the socket: it counts in_msgs before it looks the sid up
// (natsConn_processMsg), so a message for a subscription it already dropped counts too.
// That is what the server sent, not what the application was handed.
uint64_t msgs_on_wire(natsConnection* nc) {
  natsStatistics* raw = nullptr;
  uint64_t in = 0;
  EXPECT_EQ(natsStatistics_Create(&raw), NATS_OK);
  EXPECT_EQ(natsConnection_GetStats(nc, raw), NATS_OK);
  EXPECT_EQ(natsStatistics_GetCounts(raw, &in, nullptr, nullptr, nullptr, nullptr), NATS_OK);
  natsStatistics_Destroy(raw);
  return in;
}

TEST_F(CClient, AutoUnsubscribeDeliversExactlyMax) {
  auto pub = nats_connect(server.url());
  auto subc = nats_connect(server.url());
  ASSERT_TRUE(pub && subc);
  auto sub = sub_sync(subc.get(), "auto.unsub");
  ASSERT_TRUE(sub);
  ASSERT_EQ(natsSubscription_AutoUnsubscribe(sub.get(), 5), NATS_OK);
  // A control subscription on the same connection shows the connection is still fine.
  auto control = sub_sync(subc.get(), "auto.unsub");
  ASSERT_TRUE(control);
  ASSERT_TRUE(flush(subc.get()));
  const uint64_t wire_before = msgs_on_wire(subc.get());

  for (int i = 0; i < 12; ++i)
    ASSERT_EQ(natsConnection_PublishString(pub.get(), "auto.unsub", std::to_string(i).c_str()), NATS_OK);
  ASSERT_TRUE(flush(pub.get()));
  ASSERT_TRUE(flush(subc.get()));
  // libnats would drop a sixth message itself: the server must not have sent it.
  EXPECT_EQ(msgs_on_wire(subc.get()) - wire_before, 5u + 12u) << "5 for the limited subscription, 12 for control";

  int delivered = 0;
  for (;;) {
    natsMsg* m = nullptr;
    natsStatus s = natsSubscription_NextMsg(&m, sub.get(), 1000);
    if (s != NATS_OK) break;
    EXPECT_EQ(to_recv(m).data, std::to_string(delivered));
    natsMsg_Destroy(m);
    ++delivered;
  }
  EXPECT_EQ(delivered, 5);
  EXPECT_FALSE(natsSubscription_IsValid(sub.get()));
  EXPECT_EQ(drain(control.get()).size(), 12u);
}

TEST_F(CClient, NoEchoIsHonoured) {
  auto quiet = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetNoEcho(o, true); });
  auto other = nats_connect(server.url());
  ASSERT_TRUE(quiet && other);
  auto quiet_sub = sub_sync(quiet.get(), "echo.test");
  auto other_sub = sub_sync(other.get(), "echo.test");
  ASSERT_TRUE(quiet_sub && other_sub);
  ASSERT_TRUE(flush(quiet.get()));
  ASSERT_TRUE(flush(other.get()));

  ASSERT_EQ(natsConnection_PublishString(quiet.get(), "echo.test", "from-quiet"), NATS_OK);
  ASSERT_TRUE(flush(quiet.get()));  // processed: an echo would now be queued before the marker
  ASSERT_EQ(natsConnection_PublishString(other.get(), "echo.test", "marker"), NATS_OK);
  ASSERT_TRUE(flush(other.get()));
  ASSERT_TRUE(flush(quiet.get()));

  auto q = drain(quiet_sub.get());
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].data, "marker");
  auto o = drain(other_sub.get());
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[0].data, "from-quiet");
  EXPECT_EQ(o[1].data, "marker");
}

TEST_F(CClient, EchoIsOnByDefault) {
  auto nc = nats_connect(server.url());
  ASSERT_TRUE(nc);
  auto sub = sub_sync(nc.get(), "echo.default");
  ASSERT_TRUE(sub);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "echo.default", "self"), NATS_OK);
  ASSERT_TRUE(flush(nc.get()));
  auto got = drain(sub.get());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, "self");
}

TEST_F(CClient, UnsubscribeStopsDelivery) {
  auto pub = nats_connect(server.url());
  auto subc = nats_connect(server.url());
  ASSERT_TRUE(pub && subc);
  auto gone = sub_sync(subc.get(), "unsub.test");
  auto stays = sub_sync(subc.get(), "unsub.test");
  ASSERT_TRUE(gone && stays);
  ASSERT_TRUE(flush(subc.get()));
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "unsub.test", "one"), NATS_OK);
  ASSERT_TRUE(flush(pub.get()));
  ASSERT_TRUE(flush(subc.get()));
  ASSERT_EQ(drain(gone.get()).size(), 1u);
  ASSERT_EQ(natsSubscription_Unsubscribe(gone.get()), NATS_OK);
  ASSERT_TRUE(flush(subc.get()));
  const uint64_t wire_before = msgs_on_wire(subc.get());
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "unsub.test", "two"), NATS_OK);
  ASSERT_TRUE(flush(pub.get()));
  ASSERT_TRUE(flush(subc.get()));
  // libnats drops a message for a sid it unsubscribed: the server must not have sent one.
  EXPECT_EQ(msgs_on_wire(subc.get()) - wire_before, 1u) << "only the remaining subscription's copy";
  auto s = drain(stays.get());
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].data, "two");
}

TEST_F(CClient, ManyMessagesArriveInOrder) {
  constexpr int kMessages = 50000;
  auto pub = nats_connect(server.url());
  auto subc = nats_connect(server.url());
  ASSERT_TRUE(pub && subc);
  auto sub = sub_sync(subc.get(), "order.test");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(subc.get()));
  for (int i = 0; i < kMessages; ++i) {
    std::string body = std::to_string(i) + std::string(static_cast<size_t>(i % 64), 'x');
    ASSERT_EQ(natsConnection_PublishString(pub.get(), "order.test", body.c_str()), NATS_OK);
  }
  ASSERT_TRUE(flush(pub.get()));
  ASSERT_TRUE(flush(subc.get()));
  auto got = drain(sub.get());
  ASSERT_EQ(got.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i)
    ASSERT_EQ(got[static_cast<size_t>(i)].data, std::to_string(i) + std::string(static_cast<size_t>(i % 64), 'x'))
        << "message " << i;
}

std::string pattern_payload(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);  // binary, including \r\n and NUL
  return s;
}

void check_large_payloads(const std::string& url, int64_t expected_max) {
  auto pub = nats_connect(url);
  auto subc = nats_connect(url);
  ASSERT_TRUE(pub && subc);
  ASSERT_EQ(natsConnection_GetMaxPayload(pub.get()), expected_max);
  auto sub = sub_sync(subc.get(), "big");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(flush(subc.get()));
  const std::vector<size_t> sizes{static_cast<size_t>(expected_max), static_cast<size_t>(expected_max) - 1,
                                  static_cast<size_t>(expected_max) / 2 + 3};
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto body = pattern_payload(sizes[i], static_cast<unsigned>(i));
    ASSERT_EQ(natsConnection_Publish(pub.get(), "big", body.data(), static_cast<int>(body.size())), NATS_OK);
  }
  // One byte over the advertised maximum is refused (by the client, which read INFO).
  std::string over(static_cast<size_t>(expected_max) + 1, 'o');
  EXPECT_EQ(natsConnection_Publish(pub.get(), "big", over.data(), static_cast<int>(over.size())), NATS_MAX_PAYLOAD);
  ASSERT_TRUE(flush(pub.get()));
  ASSERT_TRUE(flush(subc.get()));
  auto got = drain(sub.get());
  ASSERT_EQ(got.size(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_EQ(got[i].data.size(), sizes[i]);
    EXPECT_TRUE(got[i].data == pattern_payload(sizes[i], static_cast<unsigned>(i))) << "payload " << i << " corrupted";
  }
}

TEST_F(CClient, LargePayloadAtDefaultMaxPayload) { check_large_payloads(server.url(), 1024 * 1024); }

TEST(CClientConfig, LargePayloadAtConfiguredMaxPayload) {
  ServerProcess server(with_config("max_payload: 65536\n"));
  ASSERT_TRUE(server.start());
  check_large_payloads(server.url(), 65536);
}

// libnats replaces the INFO it keeps with every async INFO, so an async INFO without the
// client's own client_id/client_ip (one shared INFO for all clients) makes
// natsConnection_GetClientID fail with "Not Supported By Server" after a node joins. Two
// clients, so an INFO that carried one client's fields to the other would show too.
struct DiscoveredCount {
  std::mutex mu;
  std::condition_variable cv;
  int n = 0;
};

void on_discovered(natsConnection*, void* closure) {
  auto* d = static_cast<DiscoveredCount*>(closure);
  std::lock_guard lk(d->mu);
  ++d->n;
  d->cv.notify_all();
}

struct Identity {
  uint64_t cid = 0;
  std::string ip;
};

std::optional<Identity> identity_of(natsConnection* nc) {
  Identity id;
  natsStatus s = natsConnection_GetClientID(nc, &id.cid);
  EXPECT_EQ(s, NATS_OK) << "GetClientID: " << status_text(s);
  char* ip = nullptr;
  natsStatus si = natsConnection_GetClientIP(nc, &ip);
  EXPECT_EQ(si, NATS_OK) << "GetClientIP: " << status_text(si);
  if (ip) id.ip = ip;
  free(ip);
  if (s != NATS_OK || si != NATS_OK) return std::nullopt;
  return id;
}

TEST(CClientCluster, ClientIdAndIpSurviveTheAsyncInfoWhenANodeJoins) {
  const std::string seed_route = "nats://127.0.0.1:" + std::to_string(pick_free_port());
  ServerProcess seed(with_args({"--cluster_name", "cid-it", "--cluster", seed_route}));
  ASSERT_TRUE(seed.start());

  DiscoveredCount discovered[2];
  NatsConn clients[2];
  std::optional<Identity> before[2];
  for (int i = 0; i < 2; ++i) {
    clients[i] = nats_connect(seed.url(), [&](natsOptions* o) {
      natsOptions_SetDiscoveredServersCB(o, on_discovered, &discovered[i]);
    });
    ASSERT_TRUE(clients[i]);
    ASSERT_TRUE(flush(clients[i].get()));  // past the first PING: the async INFO reaches it
    before[i] = identity_of(clients[i].get());
    ASSERT_TRUE(before[i]);
    EXPECT_GT(before[i]->cid, 0u);
    EXPECT_EQ(before[i]->ip, "127.0.0.1");
  }
  ASSERT_NE(before[0]->cid, before[1]->cid);

  ServerProcess joiner(with_args({"--cluster_name", "cid-it", "--cluster",
                                  "nats://127.0.0.1:" + std::to_string(pick_free_port()), "--routes", seed_route}));
  ASSERT_TRUE(joiner.start());
  // The joiner's client URL in connect_urls is what the async INFO brings.
  for (int i = 0; i < 2; ++i) {
    std::unique_lock lk(discovered[i].mu);
    ASSERT_TRUE(discovered[i].cv.wait_for(lk, 20s, [&] { return discovered[i].n > 0; }))
        << "client " << i << " never got the async INFO announcing the joined node";
  }
  for (int i = 0; i < 2; ++i) {
    auto after = identity_of(clients[i].get());
    ASSERT_TRUE(after) << "client " << i << " lost its identity with the async INFO";
    EXPECT_EQ(after->cid, before[i]->cid) << "client " << i;
    EXPECT_EQ(after->ip, before[i]->ip) << "client " << i;
  }
}

TEST(CClientAuth, UserPassword) {
  ServerProcess server(with_args({"--user", "alice", "--pass", "s3cr3t"}));
  ASSERT_TRUE(server.start());
  natsStatus s;
  auto bad = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetUserInfo(o, "alice", "wrong"); }, &s);
  EXPECT_FALSE(bad);
  EXPECT_NE(s, NATS_OK);
  auto none = nats_connect(server.url(), {}, &s);
  EXPECT_FALSE(none);
  EXPECT_NE(s, NATS_OK);

  auto good = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetUserInfo(o, "alice", "s3cr3t"); });
  ASSERT_TRUE(good);
  auto sub = sub_sync(good.get(), "authed");
  ASSERT_TRUE(sub);
  ASSERT_EQ(natsConnection_PublishString(good.get(), "authed", "ok"), NATS_OK);
  ASSERT_TRUE(flush(good.get()));
  auto got = drain(sub.get());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, "ok");
}

TEST(CClientAuth, Token) {
  ServerProcess server(with_args({"--auth", "t0k3n"}));
  ASSERT_TRUE(server.start());
  natsStatus s;
  auto bad = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetToken(o, "nope"); }, &s);
  EXPECT_FALSE(bad);
  EXPECT_NE(s, NATS_OK);
  auto good = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetToken(o, "t0k3n"); });
  ASSERT_TRUE(good);
  ASSERT_TRUE(flush(good.get()));
}

TEST(CClientAuth, ConfigFileUserPassword) {
  ServerProcess server(with_config("authorization {\n  user: bob\n  password: \"p4ss\"\n}\n"));
  ASSERT_TRUE(server.start());
  natsStatus s;
  auto bad = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetUserInfo(o, "bob", "nope"); }, &s);
  EXPECT_FALSE(bad);
  auto good = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetUserInfo(o, "bob", "p4ss"); });
  ASSERT_TRUE(good);
  ASSERT_TRUE(flush(good.get()));
}

}  // namespace
}  // namespace pylon::it
