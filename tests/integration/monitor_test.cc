// HTTP monitoring (/varz, /connz, /routez, /subsz, /healthz, /) against a real server process,
// driven by the official C client, and a field-set comparison with the reference nats-server.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "harness.h"
#include "nats_c.h"

namespace pylon::it {
namespace {

namespace json = boost::json;


json::object get_json(int port, const std::string& target) {
  auto r = http_get(port, target);
  if (!r) {
    ADD_FAILURE() << "GET " << target << " failed";
    return {};
  }
  EXPECT_EQ(r->status, 200) << target << ": " << r->body;
  EXPECT_NE(r->headers.find("content-type: application/json"), std::string::npos) << r->headers;
  try {
    auto v = json::parse(r->body);
    if (v.is_object()) return v.as_object();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "GET " << target << ": not JSON (" << e.what() << "): " << r->body;
  }
  return {};
}

int64_t num(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) {
    ADD_FAILURE() << "missing " << key << " in " << json::serialize(o);
    return -1;
  }
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  ADD_FAILURE() << key << " is not an integer: " << json::serialize(*v);
  return -1;
}

std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) {
    ADD_FAILURE() << key << " is not a string in " << json::serialize(o);
    return {};
  }
  return std::string(v->get_string());
}

const json::array& arr(const json::object& o, std::string_view key) {
  static const json::array kEmpty;
  auto* v = o.if_contains(key);
  if (!v || !v->is_array()) {
    ADD_FAILURE() << key << " is not an array in " << json::serialize(o);
    return kEmpty;
  }
  return v->get_array();
}

// Go's RFC 3339 with nanoseconds, in UTC, trailing zeros of the fraction dropped.
bool is_rfc3339(const std::string& s) {
  static const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z)");
  return std::regex_match(s, re);
}

// An RFC 3339 UTC time as a string that orders like the time (fraction padded to 9 digits).
std::string sortable(const std::string& t) {
  auto dot = t.find('.');
  std::string base = t.substr(0, dot == std::string::npos ? t.size() - 1 : dot);
  std::string frac = dot == std::string::npos ? "" : t.substr(dot + 1, t.size() - dot - 2);
  frac.resize(9, '0');
  return base + "." + frac;
}

// Reads the monitoring port from the "Starting http monitor on <host>:<port>" log line.
int monitor_port(const ServerProcess& s) {
  if (!s.wait_for_log("Starting http monitor on", 10s)) {
    ADD_FAILURE() << "no monitor log line:\n" << s.log();
    return -1;
  }
  static const std::regex re(R"(Starting http monitor on .*:(\d+))");
  std::smatch m;
  std::string log = s.log();
  if (!std::regex_search(log, m, re)) return -1;
  return std::stoi(m[1]);
}

NatsConn connect_named(const ServerProcess& s, const std::string& name) {
  return nats_connect(s.url(), [&](natsOptions* o) { natsOptions_SetName(o, name.c_str()); });
}

uint64_t client_id(natsConnection* nc) {
  uint64_t cid = 0;
  EXPECT_EQ(natsConnection_GetClientID(nc, &cid), NATS_OK);
  return cid;
}

const json::object* find_conn(const json::array& conns, uint64_t cid) {
  for (const auto& c : conns) {
    if (c.is_object() && static_cast<uint64_t>(num(c.as_object(), "cid")) == cid) return &c.as_object();
  }
  return nullptr;
}

std::vector<std::string> names_of(const json::array& conns) {
  std::vector<std::string> out;
  for (const auto& c : conns) {
    auto* n = c.as_object().if_contains("name");
    out.push_back(n && n->is_string() ? std::string(n->get_string()) : "");
  }
  return out;
}

class Monitor : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.start());
    http = monitor_port(server);
    ASSERT_GT(http, 0);
    // The harness's readiness probe (a TCP connect) is a connection too: let the server
    // finish with it, so counters taken from here on see only the test's traffic.
    ASSERT_TRUE(wait_for([&] { return num(get_json(http, "/connz?state=closed"), "total") >= 1; }, 5s));
  }
  ServerProcess server{with_args({"-m", "-1"})};
  int http = -1;
};

TEST_F(Monitor, VarzReportsIdentityLimitsAndTraffic) {
  auto before = get_json(http, "/varz");
  auto pub = connect_named(server, "pub");
  auto subc = connect_named(server, "sub");
  ASSERT_TRUE(pub && subc);
  auto sub = sub_sync(subc.get(), "orders.new");
  ASSERT_TRUE(flush(subc.get()));
  const std::string payload(100, 'x');
  for (int i = 0; i < 10; ++i) ASSERT_EQ(natsConnection_PublishString(pub.get(), "orders.new", payload.c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "nobody.listens", "12345"), NATS_OK);
  ASSERT_TRUE(flush(pub.get()));
  ASSERT_TRUE(flush(subc.get()));

  auto v = get_json(http, "/varz");
  EXPECT_EQ(str(v, "server_id").size(), 56u);
  EXPECT_EQ(str(v, "version"), "2.9.10");
  EXPECT_EQ(num(v, "proto"), 1);
  EXPECT_EQ(num(v, "port"), server.port());
  // The bound port (the reference repeats the configured value, here -1).
  if (!using_reference_server()) {
    EXPECT_EQ(num(v, "http_port"), http);
  }
  EXPECT_EQ(num(v, "max_payload"), 1048576);
  EXPECT_EQ(num(v, "max_control_line"), 4096);
  EXPECT_EQ(num(v, "ping_interval"), 120'000'000'000);  // Go durations: nanoseconds
  EXPECT_EQ(num(v, "write_deadline"), 10'000'000'000);
  EXPECT_EQ(v.at("auth_timeout").to_number<double>(), 2.0);  // float seconds
  EXPECT_TRUE(is_rfc3339(str(v, "start"))) << str(v, "start");
  EXPECT_TRUE(is_rfc3339(str(v, "now"))) << str(v, "now");
  EXPECT_TRUE(std::regex_match(str(v, "uptime"), std::regex(R"((\d+[ydhm])*\d+s)"))) << str(v, "uptime");
  EXPECT_GT(num(v, "mem"), 0);
  EXPECT_GE(num(v, "cores"), 1);
  EXPECT_TRUE(v.at("cpu").is_number());
  for (const char* k : {"cluster", "gateway", "leaf", "mqtt", "websocket", "jetstream"}) EXPECT_TRUE(v.at(k).is_object()) << k;

  EXPECT_EQ(num(v, "in_msgs") - num(before, "in_msgs"), 11);
  EXPECT_EQ(num(v, "in_bytes") - num(before, "in_bytes"), 10 * 100 + 5);
  EXPECT_EQ(num(v, "out_msgs") - num(before, "out_msgs"), 10);
  EXPECT_EQ(num(v, "out_bytes") - num(before, "out_bytes"), 10 * 100);
  EXPECT_EQ(num(v, "connections"), 2);
  EXPECT_EQ(num(v, "total_connections") - num(before, "total_connections"), 2);
  EXPECT_EQ(num(v, "subscriptions") - num(before, "subscriptions"), 1);
  EXPECT_EQ(num(v, "slow_consumers"), 0);
  EXPECT_EQ(num(v, "routes"), 0);
  // This request and the one before.
  EXPECT_EQ(num(v.at("http_req_stats").as_object(), "/varz"), 2);
}

TEST_F(Monitor, ConnzListsSortsAndPages) {
  // Three clients with different traffic: a publishes 1, b 3, c 2 messages; subscriptions
  // a 3, b 1, c 2.
  auto a = connect_named(server, "a");
  auto b = connect_named(server, "b");
  auto c = connect_named(server, "c");
  ASSERT_TRUE(a && b && c);
  std::vector<NatsSub> subs;
  for (auto s : {"a.1", "a.2", "a.3"}) subs.push_back(sub_sync(a.get(), s));
  subs.push_back(sub_sync(b.get(), "b.1"));
  subs.push_back(sub_sync(c.get(), "c.1"));
  subs.push_back(sub_sync(c.get(), "c.2", "workers"));
  auto publish = [](natsConnection* nc, int n, const std::string& data) {
    for (int i = 0; i < n; ++i) ASSERT_EQ(natsConnection_PublishString(nc, "x.y", data.c_str()), NATS_OK);
    ASSERT_TRUE(flush(nc));
  };
  publish(a.get(), 1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");  // 30 bytes
  publish(b.get(), 3, "b");                               // 3 bytes
  publish(c.get(), 2, "cccccccccc");                      // 20 bytes
  for (auto* nc : {a.get(), b.get(), c.get()}) ASSERT_TRUE(flush(nc));

  auto z = get_json(http, "/connz");
  EXPECT_EQ(str(z, "server_id").size(), 56u);
  EXPECT_TRUE(is_rfc3339(str(z, "now")));
  EXPECT_EQ(num(z, "num_connections"), 3);
  EXPECT_EQ(num(z, "total"), 3);
  EXPECT_EQ(num(z, "offset"), 0);
  EXPECT_EQ(num(z, "limit"), 1024);
  auto& conns = arr(z, "connections");
  ASSERT_EQ(conns.size(), 3u);
  EXPECT_EQ(names_of(conns), (std::vector<std::string>{"a", "b", "c"}));  // default: by cid
  const json::object* cb = find_conn(conns, client_id(b.get()));
  ASSERT_NE(cb, nullptr);
  EXPECT_EQ(str(*cb, "kind"), "Client");
  EXPECT_EQ(str(*cb, "type"), "nats");
  EXPECT_EQ(str(*cb, "ip"), "127.0.0.1");
  EXPECT_GT(num(*cb, "port"), 0);
  EXPECT_EQ(str(*cb, "lang"), "C");
  EXPECT_FALSE(str(*cb, "version").empty());
  EXPECT_EQ(num(*cb, "in_msgs"), 3);
  EXPECT_EQ(num(*cb, "in_bytes"), 3);
  EXPECT_EQ(num(*cb, "subscriptions"), 1);
  EXPECT_EQ(num(*cb, "pending_bytes"), 0);
  EXPECT_TRUE(is_rfc3339(str(*cb, "start")));
  EXPECT_TRUE(is_rfc3339(str(*cb, "last_activity")));
  EXPECT_TRUE(std::regex_match(str(*cb, "rtt"), std::regex(R"([0-9.]+(ns|µs|ms|s))"))) << str(*cb, "rtt");
  EXPECT_TRUE(std::regex_match(str(*cb, "uptime"), std::regex(R"(\d+s)")));
  EXPECT_TRUE(std::regex_match(str(*cb, "idle"), std::regex(R"(\d+s)")));
  EXPECT_FALSE(cb->contains("subscriptions_list"));
  EXPECT_FALSE(cb->contains("stop"));

  EXPECT_EQ(names_of(arr(get_json(http, "/connz?sort=msgs_from"), "connections")),
            (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_EQ(names_of(arr(get_json(http, "/connz?sort=bytes_from"), "connections")),
            (std::vector<std::string>{"a", "c", "b"}));
  EXPECT_EQ(names_of(arr(get_json(http, "/connz?sort=subs"), "connections")),
            (std::vector<std::string>{"a", "c", "b"}));
  EXPECT_EQ(names_of(arr(get_json(http, "/connz?sort=start"), "connections")),
            (std::vector<std::string>{"a", "b", "c"}));
  for (const char* s : {"pending", "msgs_to", "bytes_to", "last", "idle", "uptime"}) {
    EXPECT_EQ(arr(get_json(http, std::string("/connz?sort=") + s), "connections").size(), 3u) << s;
  }

  // Paging applies after sorting.
  auto page = get_json(http, "/connz?sort=msgs_from&offset=1&limit=1");
  EXPECT_EQ(num(page, "num_connections"), 1);
  EXPECT_EQ(num(page, "total"), 3);
  EXPECT_EQ(num(page, "offset"), 1);
  EXPECT_EQ(num(page, "limit"), 1);
  EXPECT_EQ(names_of(arr(page, "connections")), std::vector<std::string>{"c"});
  EXPECT_EQ(arr(get_json(http, "/connz?offset=5"), "connections").size(), 0u);

  // One connection by cid, with its subscriptions.
  auto one = get_json(http, "/connz?subs=1&cid=" + std::to_string(client_id(c.get())));
  ASSERT_EQ(arr(one, "connections").size(), 1u);
  const auto& cc = arr(one, "connections")[0].as_object();
  EXPECT_EQ(str(cc, "name"), "c");
  std::set<std::string> list;
  for (const auto& s : arr(cc, "subscriptions_list")) list.insert(std::string(s.as_string()));
  EXPECT_EQ(list, (std::set<std::string>{"c.1", "c.2"}));

  auto detail = get_json(http, "/connz?subs=detail&cid=" + std::to_string(client_id(c.get())));
  const auto& dl = arr(arr(detail, "connections")[0].as_object(), "subscriptions_list_detail");
  ASSERT_EQ(dl.size(), 2u);
  for (const auto& d : dl) {
    const auto& o = d.as_object();
    EXPECT_EQ(static_cast<uint64_t>(num(o, "cid")), client_id(c.get()));
    EXPECT_FALSE(str(o, "sid").empty());
    if (str(o, "subject") == "c.2") {
      EXPECT_EQ(str(o, "qgroup"), "workers");
    }
  }

  // Bad parameters get the reference's 400 answers.
  auto bad = http_get(http, "/connz?sort=nope");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body, "invalid sorting option: nope");
  bad = http_get(http, "/connz?limit=x");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body, "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax");
  bad = http_get(http, "/connz?sort=stop");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body, "sort by stop only valid on closed connections");
  bad = http_get(http, "/connz?state=sleepy");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(Monitor, ConnzLastActivityFollowsMessagesAndSubscriptions) {
  auto nc = connect_named(server, "active");
  ASSERT_TRUE(nc);
  const std::string target = "/connz?cid=" + std::to_string(client_id(nc.get()));
  auto last = [&] { return sortable(str(arr(get_json(http, target), "connections")[0].as_object(), "last_activity")); };
  auto now = [&] { return sortable(str(get_json(http, "/connz"), "now")); };
  std::string t0 = last();
  ASSERT_TRUE(wait_for([&] { return now() > t0; }, 2s));
  ASSERT_TRUE(flush(nc.get()));  // PING/PONG is not activity
  EXPECT_EQ(last(), t0);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "some.where", "x"), NATS_OK);
  ASSERT_TRUE(flush(nc.get()));
  std::string t1 = last();
  EXPECT_GT(t1, t0);
  ASSERT_TRUE(wait_for([&] { return now() > t1; }, 2s));
  auto sub = sub_sync(nc.get(), "more");
  ASSERT_TRUE(flush(nc.get()));
  EXPECT_GT(last(), t1);
}

TEST_F(Monitor, ConnzKeepsRecentlyClosedConnections) {
  auto stay = connect_named(server, "stays");
  auto gone = connect_named(server, "leaves");
  ASSERT_TRUE(stay && gone);
  uint64_t gone_cid = client_id(gone.get());
  auto s = sub_sync(gone.get(), "bye.*");
  ASSERT_EQ(natsConnection_PublishString(gone.get(), "bye.now", "ciao"), NATS_OK);
  ASSERT_TRUE(flush(gone.get()));
  s.reset();
  natsConnection_Close(gone.get());

  json::object closed;
  ASSERT_TRUE(wait_for([&] {
    closed = get_json(http, "/connz?state=closed&subs=1");
    return find_conn(arr(closed, "connections"), gone_cid) != nullptr;
  }, 5s)) << json::serialize(closed);
  const json::object* c = find_conn(arr(closed, "connections"), gone_cid);
  EXPECT_EQ(str(*c, "name"), "leaves");
  EXPECT_EQ(str(*c, "reason"), "Client Closed");
  EXPECT_TRUE(is_rfc3339(str(*c, "stop")));
  EXPECT_EQ(num(*c, "in_msgs"), 1);
  EXPECT_EQ(num(*c, "out_msgs"), 1);

  auto open = get_json(http, "/connz");
  EXPECT_EQ(names_of(arr(open, "connections")), std::vector<std::string>{"stays"});
  auto all = get_json(http, "/connz?state=all");
  EXPECT_EQ(num(all, "total"), num(open, "total") + num(closed, "total"));
  EXPECT_NE(find_conn(arr(all, "connections"), gone_cid), nullptr);
  EXPECT_NE(find_conn(arr(all, "connections"), client_id(stay.get())), nullptr);

  auto by_cid = get_json(http, "/connz?state=closed&cid=" + std::to_string(gone_cid));
  ASSERT_EQ(arr(by_cid, "connections").size(), 1u);
  auto by_stop = get_json(http, "/connz?state=closed&sort=stop");
  EXPECT_GE(arr(by_stop, "connections").size(), 1u);
  auto by_reason = get_json(http, "/connz?state=closed&sort=reason");
  EXPECT_GE(arr(by_reason, "connections").size(), 1u);
}

TEST_F(Monitor, SubszCountsAndTestsSubjects) {
  // The reference has its own internal ($SYS) subscriptions: count from a baseline.
  auto base = get_json(http, "/subsz");
  auto nc = connect_named(server, "subs");
  ASSERT_TRUE(nc);
  std::vector<NatsSub> subs;
  subs.push_back(sub_sync(nc.get(), "foo.*"));
  subs.push_back(sub_sync(nc.get(), "foo.bar"));
  subs.push_back(sub_sync(nc.get(), "foo.bar", "q"));
  subs.push_back(sub_sync(nc.get(), "baz"));
  ASSERT_TRUE(flush(nc.get()));
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "foo.bar", "1"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "foo.bar", "2"), NATS_OK);
  ASSERT_TRUE(flush(nc.get()));

  auto st = get_json(http, "/subsz");
  EXPECT_EQ(num(st, "num_subscriptions") - num(base, "num_subscriptions"), 4);
  EXPECT_EQ(num(st, "num_inserts") - num(base, "num_inserts"), 4);
  EXPECT_EQ(num(st, "num_removes") - num(base, "num_removes"), 0);
  // The second PUB is answered from the publisher's own cache of match results (as the
  // reference's per-client cache), which the index's counts do not see.
  EXPECT_GE(num(st, "num_matches"), 1);
  EXPECT_GE(num(st, "num_cache"), 1);
  EXPECT_TRUE(st.at("cache_hit_rate").is_number());
  EXPECT_EQ(num(st, "max_fanout"), 3);  // foo.bar: two plain subscriptions and one queue group
  EXPECT_TRUE(st.at("avg_fanout").is_number());
  EXPECT_FALSE(st.contains("subscriptions_list"));

  auto t = get_json(http, "/subsz?subs=1&test=foo.bar");
  auto& list = arr(t, "subscriptions_list");
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(num(t, "total"), 3);
  for (const auto& e : list) {
    const auto& o = e.as_object();
    EXPECT_EQ(str(o, "account"), "$G");
    EXPECT_EQ(static_cast<uint64_t>(num(o, "cid")), client_id(nc.get()));
    EXPECT_NE(str(o, "subject"), "baz");
    EXPECT_EQ(num(o, "msgs"), 2);
  }
  auto ours = [&](const json::object& z) {
    size_t n = 0;
    for (const auto& e : arr(z, "subscriptions_list")) n += static_cast<uint64_t>(num(e.as_object(), "cid")) == client_id(nc.get());
    return n;
  };
  EXPECT_EQ(ours(get_json(http, "/subsz?subs=1")), 4u);
  EXPECT_EQ(arr(get_json(http, "/subsz?subs=1&offset=1&limit=2"), "subscriptions_list").size(), 2u);
  // Nothing matches: the statistics alone.
  EXPECT_FALSE(get_json(http, "/subsz?subs=1&test=nothing.here").contains("subscriptions_list"));
  // The same through the reference's alias.
  EXPECT_EQ(num(get_json(http, "/subscriptionsz"), "num_subscriptions"), num(st, "num_subscriptions"));

  auto bad = http_get(http, "/subsz?subs=1&test=foo.*");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body, "invalid test subject, must be valid publish subject: foo.*");

  subs.pop_back();  // unsubscribes baz
  ASSERT_TRUE(flush(nc.get()));
  auto after = get_json(http, "/subsz");
  EXPECT_EQ(num(after, "num_subscriptions"), num(st, "num_subscriptions") - 1);
  EXPECT_EQ(num(after, "num_removes"), num(st, "num_removes") + 1);
}

TEST_F(Monitor, RoutezHealthzIndexAndErrors) {
  auto r = get_json(http, "/routez");
  EXPECT_EQ(str(r, "server_id").size(), 56u);
  EXPECT_TRUE(is_rfc3339(str(r, "now")));
  EXPECT_EQ(num(r, "num_routes"), 0);
  EXPECT_TRUE(arr(r, "routes").empty());

  auto h = http_get(http, "/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, R"({"status":"ok"})");

  auto idx = http_get(http, "/");
  ASSERT_TRUE(idx);
  EXPECT_EQ(idx->status, 200);
  EXPECT_NE(idx->headers.find("content-type: text/html"), std::string::npos);
  for (const char* link : {"varz", "connz", "subsz", "routez", "healthz"}) {
    EXPECT_NE(idx->body.find(std::string("./") + link), std::string::npos) << link;
  }

  auto missing = http_get(http, "/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  // JSONP, as the reference's ?callback=.
  auto jsonp = http_get(http, "/varz?callback=cb");
  ASSERT_TRUE(jsonp);
  EXPECT_EQ(jsonp->body.rfind("cb({", 0), 0u) << jsonp->body.substr(0, 20);
  EXPECT_NE(jsonp->headers.find("content-type: application/javascript"), std::string::npos);

  // Keep-alive: two requests on one HTTP/1.1 connection.
  RawClient c;
  ASSERT_TRUE(c.connect(http));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto head = c.read_until("\r\n\r\n");
    ASSERT_TRUE(head) << i;
    EXPECT_EQ(head->rfind("HTTP/1.1 200", 0), 0u) << *head;
    auto body = c.read_exact(15);
    ASSERT_TRUE(body);
    EXPECT_EQ(*body, R"({"status":"ok"})");
  }

  auto stats = get_json(http, "/varz").at("http_req_stats").as_object();
  EXPECT_EQ(num(stats, "/routez"), 1);
  EXPECT_EQ(num(stats, "/healthz"), 3);
  EXPECT_EQ(num(stats, "/"), 1);
}

// Waits until the monitors at ha and hb each list one route; ra and rb keep their last /routez.
::testing::AssertionResult both_list_one_route(int ha, int hb, json::object& ra, json::object& rb) {
  if (wait_for([&] {
        ra = get_json(ha, "/routez");
        rb = get_json(hb, "/routez");
        return num(ra, "num_routes") == 1 && num(rb, "num_routes") == 1;
      }, 10s)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "not one route on each side:\n" << json::serialize(ra) << "\n"
                                       << json::serialize(rb);
}

TEST(MonitorCluster, RoutezShowsRoutes) {
  int cluster_port = pick_free_port();
  ServerProcess a(with_args({"-m", "-1", "--cluster_name", "mon", "-cluster",
                             "nats://127.0.0.1:" + std::to_string(cluster_port)}));
  ASSERT_TRUE(a.start());
  ServerProcess b(with_args({"-m", "-1", "--cluster_name", "mon", "-cluster",
                             "nats://127.0.0.1:" + std::to_string(pick_free_port()), "-routes",
                             "nats://127.0.0.1:" + std::to_string(cluster_port)}));
  ASSERT_TRUE(b.start());
  int ha = monitor_port(a), hb = monitor_port(b);
  ASSERT_GT(ha, 0);
  ASSERT_GT(hb, 0);
  json::object ra, rb;
  ASSERT_TRUE(both_list_one_route(ha, hb, ra, rb));
  auto nc = nats_connect(b.url());
  ASSERT_TRUE(nc);
  auto sub = sub_sync(nc.get(), "over.there");
  ASSERT_TRUE(flush(nc.get()));
  ASSERT_TRUE(wait_for([&] {
    ra = get_json(ha, "/routez?subs=1");
    const auto& routes = arr(ra, "routes");
    if (routes.size() != 1) return false;
    auto* l = routes[0].as_object().if_contains("subscriptions_list");
    return l && l->is_array() && !l->as_array().empty();
  }, 10s)) << json::serialize(ra);
  const auto& route = arr(ra, "routes")[0].as_object();
  EXPECT_EQ(str(route, "remote_id"), str(get_json(hb, "/varz"), "server_id"));
  EXPECT_FALSE(route.at("did_solicit").as_bool());  // b dialled a
  EXPECT_EQ(str(route, "ip"), "127.0.0.1");
  EXPECT_TRUE(is_rfc3339(str(route, "start")));
  bool listed = false;
  for (const auto& s : arr(route, "subscriptions_list")) listed |= s.as_string() == "over.there";
  EXPECT_TRUE(listed) << json::serialize(route);
  // Besides the system account's own interest ($SYS.REQ.SERVER...), which both servers route,
  // the client's one subscription.
  int64_t outside_sys = 0;
  for (const auto& s : arr(route, "subscriptions_list")) outside_sys += s.as_string().starts_with("$SYS.") ? 0 : 1;
  EXPECT_EQ(outside_sys, 1) << json::serialize(route);
  auto va = get_json(ha, "/varz");
  EXPECT_EQ(num(va, "routes"), 1);
  EXPECT_EQ(str(va.at("cluster").as_object(), "name"), "mon");
  EXPECT_EQ(num(va.at("cluster").as_object(), "cluster_port"), cluster_port);
}

// ---- Pylon extras for /dashboard (docs/monitoring.md, "Dashboard") -----------------------

TEST_F(Monitor, DashboardIsServedWithItsAssetsAndJsonAllowsAnyOrigin) {
  if (using_reference_server()) GTEST_SKIP() << "/dashboard and the CORS header are Pylon extras";
  for (const char* path : {"/dashboard", "/dashboard/"}) {
    auto page = http_get(http, path);
    ASSERT_TRUE(page) << path;
    EXPECT_EQ(page->status, 200) << path;
    EXPECT_NE(page->headers.find("content-type: text/html; charset=utf-8"), std::string::npos) << page->headers;
    EXPECT_NE(page->body.find("src=\"/dashboard/dashboard.js\""), std::string::npos) << page->body;
    EXPECT_NE(page->body.find("href=\"/dashboard/dashboard.css\""), std::string::npos) << page->body;
  }
  // The bundle holds the graph and chart libraries (their license comments stay at its end).
  auto js = http_get(http, "/dashboard/dashboard.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->headers.find("content-type: text/javascript; charset=utf-8"), std::string::npos) << js->headers;
  EXPECT_NE(js->body.find("cytoscape"), std::string::npos);
  EXPECT_NE(js->body.find("pylonDashboard"), std::string::npos);
  auto css = http_get(http, "/dashboard/dashboard.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  EXPECT_NE(css->headers.find("content-type: text/css; charset=utf-8"), std::string::npos) << css->headers;
  EXPECT_NE(css->body.find(".u-legend"), std::string::npos) << "uPlot's stylesheet is bundled";
  auto missing = http_get(http, "/dashboard/nothing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto idx = http_get(http, "/");
  ASSERT_TRUE(idx);
  EXPECT_NE(idx->body.find("./dashboard"), std::string::npos);

  for (const char* path : {"/varz", "/connz", "/routez", "/subsz", "/healthz"}) {
    auto r = http_get(http, path);
    ASSERT_TRUE(r) << path;
    EXPECT_NE(r->headers.find("access-control-allow-origin: *"), std::string::npos) << path << ":\n" << r->headers;
  }
  auto page = http_get(http, "/dashboard");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->headers.find("access-control-allow-origin"), std::string::npos) << "only the JSON is shared";
  EXPECT_EQ(num(get_json(http, "/varz").at("http_req_stats").as_object(), "/dashboard"), 6);
}

// Each Pylon node advertises its monitoring URL in its route INFO; /routez shows the peer's.
// A node whose monitor listens on every interface is shown at the address its route came from.
TEST(MonitorCluster, RoutesAdvertiseTheirMonitorUrl) {
  if (using_reference_server()) GTEST_SKIP() << "monitor_url is a Pylon extra";
  int cluster_port = pick_free_port();
  ServerProcess a(with_args({"-m", "-1", "--cluster_name", "mon", "-cluster",
                             "nats://127.0.0.1:" + std::to_string(cluster_port)}));
  ASSERT_TRUE(a.start());
  ServerOptions bo = with_args({"-a", "0.0.0.0", "-p", "{PORT}", "-m", "-1", "--cluster_name", "mon", "-cluster",
                                "nats://127.0.0.1:" + std::to_string(pick_free_port()), "-routes",
                                "nats://127.0.0.1:" + std::to_string(cluster_port)});
  bo.port_flag = false;
  ServerProcess b(bo);
  ASSERT_TRUE(b.start());
  int ha = monitor_port(a), hb = monitor_port(b);
  ASSERT_GT(ha, 0);
  ASSERT_GT(hb, 0);
  json::object ra, rb;
  ASSERT_TRUE(both_list_one_route(ha, hb, ra, rb));
  // b listens on 0.0.0.0: a reaches it at the route's address, 127.0.0.1.
  EXPECT_EQ(str(arr(ra, "routes")[0].as_object(), "monitor_url"), "http://127.0.0.1:" + std::to_string(hb));
  EXPECT_EQ(str(arr(rb, "routes")[0].as_object(), "monitor_url"), "http://127.0.0.1:" + std::to_string(ha));
}

TEST(MonitorCluster, NoMonitorUrlFromANodeWithoutMonitoring) {
  if (using_reference_server()) GTEST_SKIP() << "monitor_url is a Pylon extra";
  int cluster_port = pick_free_port();
  ServerProcess a(with_args({"-m", "-1", "--cluster_name", "mon", "-cluster",
                             "nats://127.0.0.1:" + std::to_string(cluster_port)}));
  ASSERT_TRUE(a.start());
  ServerProcess b(with_args({"--cluster_name", "mon", "-cluster", "nats://127.0.0.1:" + std::to_string(pick_free_port()),
                             "-routes", "nats://127.0.0.1:" + std::to_string(cluster_port)}));
  ASSERT_TRUE(b.start());
  int ha = monitor_port(a);
  ASSERT_GT(ha, 0);
  json::object ra;
  ASSERT_TRUE(wait_for([&] {
    ra = get_json(ha, "/routez");
    return num(ra, "num_routes") == 1;
  }, 10s)) << json::serialize(ra);
  EXPECT_FALSE(arr(ra, "routes")[0].as_object().contains("monitor_url")) << json::serialize(ra);
}

// ---- the same scenario against the reference server: the sets of fields must agree -------

// Fields of the reference's JSON we intentionally do not produce (docs/monitoring.md).
const std::set<std::string> kVarzAbsent = {};
const std::set<std::string> kConnAbsent = {};

// Starts the reference nats-server through the harness (whatever PYLON_TEST_SERVER says).
class ReferenceServer {
 public:
  bool start() {
    const char* prev = std::getenv("PYLON_TEST_SERVER");
    std::string saved = prev ? prev : "";
    ::setenv("PYLON_TEST_SERVER", "nats-server", 1);
    bool ok = proc.start();
    if (prev) {
      ::setenv("PYLON_TEST_SERVER", saved.c_str(), 1);
    } else {
      ::unsetenv("PYLON_TEST_SERVER");
    }
    return ok;
  }
  ServerProcess proc{with_args({"-m", "-1"})};
};

// Every key of `ref` must be in `ours` (unless listed absent), with the same JSON kind.
void expect_fields(const std::string& what, const json::object& ref, const json::object& ours,
                   const std::set<std::string>& absent) {
  auto kind_of = [](const json::value& v) -> std::string {
    if (v.is_number()) return "number";
    if (v.is_string()) return "string";
    if (v.is_bool()) return "bool";
    if (v.is_array()) return "array";
    if (v.is_object()) return "object";
    return "null";
  };
  for (const auto& kv : ref) {
    std::string k(kv.key());
    if (absent.count(k)) {
      // (Under PYLON_TEST_SERVER=nats-server both sides are the reference.)
      if (!using_reference_server()) {
        EXPECT_FALSE(ours.contains(k)) << what << ": " << k << " is listed as absent but present; update the list";
      }
      continue;
    }
    auto* v = ours.if_contains(k);
    if (!v) {
      ADD_FAILURE() << what << ": the reference has \"" << k << "\", we do not";
      continue;
    }
    EXPECT_EQ(kind_of(*v), kind_of(kv.value())) << what << "." << k;
  }
}

TEST(MonitorReference, FieldSetsMatchNatsServer) {
  if (::access("/usr/sbin/nats-server", X_OK) != 0 && !std::getenv("PYLON_NATS_SERVER_BIN"))
    GTEST_SKIP() << "nats-server is not installed";
  ReferenceServer ref;
  ASSERT_TRUE(ref.start());
  ServerProcess ours(with_args({"-m", "-1"}));
  ASSERT_TRUE(ours.start());
  int href = monitor_port(ref.proc), hours = monitor_port(ours);
  ASSERT_GT(href, 0);
  ASSERT_GT(hours, 0);

  struct Side {
    NatsConn pub, subc;
    NatsSub sub;
    json::object varz0;
  };
  auto scenario = [](ServerProcess& s, int http, Side& side) {
    side.varz0 = get_json(http, "/varz");
    side.pub = connect_named(s, "publisher");
    side.subc = connect_named(s, "subscriber");
    ASSERT_TRUE(side.pub && side.subc);
    side.sub = sub_sync(side.subc.get(), "cmp.*");
    ASSERT_TRUE(flush(side.subc.get()));
    for (int i = 0; i < 5; ++i) ASSERT_EQ(natsConnection_PublishString(side.pub.get(), "cmp.x", "hello"), NATS_OK);
    ASSERT_TRUE(flush(side.pub.get()));
    ASSERT_TRUE(flush(side.subc.get()));
  };
  Side r, o;
  scenario(ref.proc, href, r);
  scenario(ours, hours, o);

  auto rv = get_json(href, "/varz"), ov = get_json(hours, "/varz");
  expect_fields("varz", rv, ov, kVarzAbsent);
  // Counters that must agree for the same traffic.
  for (const char* k : {"in_msgs", "out_msgs", "in_bytes", "out_bytes"}) {
    EXPECT_EQ(num(ov, k) - num(o.varz0, k), num(rv, k) - num(r.varz0, k)) << k;
  }
  EXPECT_EQ(num(ov, "connections"), num(rv, "connections"));
  EXPECT_EQ(num(ov, "total_connections") - num(o.varz0, "total_connections"),
            num(rv, "total_connections") - num(r.varz0, "total_connections"));
  EXPECT_EQ(num(ov, "subscriptions") - num(o.varz0, "subscriptions"),
            num(rv, "subscriptions") - num(r.varz0, "subscriptions"));

  auto rc = get_json(href, "/connz?subs=1"), oc = get_json(hours, "/connz?subs=1");
  expect_fields("connz", rc, oc, {});
  ASSERT_EQ(arr(rc, "connections").size(), 2u);
  ASSERT_EQ(arr(oc, "connections").size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& rconn = arr(rc, "connections")[i].as_object();
    const auto& oconn = arr(oc, "connections")[i].as_object();
    expect_fields("connz.connections[" + std::to_string(i) + "]", rconn, oconn, kConnAbsent);
    for (const char* k : {"in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions", "pending_bytes"}) {
      EXPECT_EQ(num(oconn, k), num(rconn, k)) << str(rconn, "name") << "." << k;
    }
    EXPECT_EQ(str(oconn, "name"), str(rconn, "name"));
  }
  auto rd = get_json(href, "/connz?subs=detail"), od = get_json(hours, "/connz?subs=detail");
  const auto& rdl = arr(arr(rd, "connections")[1].as_object(), "subscriptions_list_detail");
  const auto& odl = arr(arr(od, "connections")[1].as_object(), "subscriptions_list_detail");
  ASSERT_EQ(rdl.size(), 1u);
  ASSERT_EQ(odl.size(), 1u);
  expect_fields("connz sub detail", rdl[0].as_object(), odl[0].as_object(), {});
  EXPECT_EQ(num(odl[0].as_object(), "msgs"), num(rdl[0].as_object(), "msgs"));

  // A closed connection: stop and reason appear.
  natsConnection_Close(r.pub.get());
  natsConnection_Close(o.pub.get());
  json::object rcl, ocl;
  ASSERT_TRUE(wait_for([&] {
    rcl = get_json(href, "/connz?state=closed");
    ocl = get_json(hours, "/connz?state=closed");
    auto has_named = [](const json::object& z) {
      for (const auto& c : arr(z, "connections")) {
        if (auto* n = c.as_object().if_contains("name"); n && n->is_string() && n->get_string() == "publisher") return true;
      }
      return false;
    };
    return has_named(rcl) && has_named(ocl);
  }, 5s));
  auto named = [](const json::object& z) -> json::object {
    for (const auto& c : arr(z, "connections")) {
      if (auto* n = c.as_object().if_contains("name"); n && n->is_string() && n->get_string() == "publisher") return c.as_object();
    }
    return {};
  };
  expect_fields("connz closed connection", named(rcl), named(ocl), kConnAbsent);
  EXPECT_EQ(str(named(ocl), "reason"), str(named(rcl), "reason"));

  expect_fields("routez", get_json(href, "/routez"), get_json(hours, "/routez"), {});
  expect_fields("subsz", get_json(href, "/subsz"), get_json(hours, "/subsz"), {});
  expect_fields("subsz?subs=1", get_json(href, "/subsz?subs=1&test=cmp.x"), get_json(hours, "/subsz?subs=1&test=cmp.x"),
                {});
  expect_fields("healthz", get_json(href, "/healthz"), get_json(hours, "/healthz"), {});
}

}  // namespace
}  // namespace pylon::it
