// What a node tells others about itself: clients learn the cluster's client URLs from INFO's
// connect_urls, peers learn a node's client URLs and its route URL from the route INFO (and from
// each other, by gossip). `no_advertise`, `client_advertise` and `cluster_advertise` change what
// is told, and a node in lame duck mode stops being offered to the clients of the other nodes.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "harness.h"
#include "route_peer.h"

namespace pylon::it {
namespace {

namespace json = boost::json;

constexpr const char* kCluster = "adv";

struct Node {
  int route = pick_free_port();
  int http = pick_free_port();
  std::unique_ptr<ServerProcess> srv;

  // Starts a server listening for clients on its leased port and for routes on `route`, routing
  // to `to` (route ports), with `extra` top-level lines and `cluster_extra` cluster lines.
  bool start(const std::vector<int>& to = {}, const std::string& extra = "", const std::string& cluster_extra = "") {
    std::string routes;
    for (int p : to) routes += " nats-route://127.0.0.1:" + std::to_string(p);
    std::string text = "listen: 127.0.0.1:{PORT}\nhttp: 127.0.0.1:" + std::to_string(http) + "\n" + extra +
                       "cluster {\n  name: " + kCluster + "\n  listen: 127.0.0.1:" + std::to_string(route) + "\n" +
                       (routes.empty() ? "" : "  routes: [" + routes + " ]\n") + cluster_extra + "}\n";
    ServerOptions o;
    o.config = text;
    o.port_flag = false;
    srv = std::make_unique<ServerProcess>(o);
    return srv->start();
  }
  int port() const { return srv->port(); }
  std::string client_url() const { return "127.0.0.1:" + std::to_string(port()); }
  int64_t num_routes() const {
    auto r = http_get(http, "/routez", 3s, 500ms);
    if (!r || r->status != 200) return -1;
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("num_routes")) return -1;
    return v.as_object().at("num_routes").to_number<int64_t>();
  }
};

// connect_urls of an INFO's JSON; nullopt when the field is absent.
std::optional<std::vector<std::string>> connect_urls(const json::object& info) {
  auto* v = info.if_contains("connect_urls");
  if (!v || v->is_null()) return std::nullopt;
  std::vector<std::string> out;
  for (auto& u : v->as_array()) out.emplace_back(u.as_string());
  return out;
}

// The INFO a new client of `port` gets.
json::object client_info(int port) {
  RawClient c;
  if (!c.connect(port)) return {};
  auto info = c.read_info();
  if (!info) return {};
  boost::system::error_code ec;
  auto v = json::parse(*info, ec);
  return ec || !v.is_object() ? json::object{} : v.as_object();
}

bool has(const std::optional<std::vector<std::string>>& urls, const std::string& u) {
  return urls && std::find(urls->begin(), urls->end(), u) != urls->end();
}

std::string show(const std::optional<std::vector<std::string>>& urls) {
  if (!urls) return "<no connect_urls>";
  std::string s;
  for (auto& u : *urls) s += u + " ";
  return s;
}

TEST(Advertise, NoAdvertiseKeepsANodeOutOfEveryClientsServerList) {
  Node a, b, c;
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(c.start({a.route}));
  ASSERT_TRUE(b.start({a.route}, "", "  no_advertise: true\n"));
  ASSERT_TRUE(wait_for([&] { return a.num_routes() == 2; }, 10s)) << "b and c never both routed to a";
  // a's clients learn c (which advertises) but never b, whose route is up all the same.
  std::optional<std::vector<std::string>> seen;
  ASSERT_TRUE(wait_for([&] {
    seen = connect_urls(client_info(a.port()));
    return has(seen, c.client_url());
  }, 10s)) << show(seen);
  EXPECT_TRUE(has(seen, a.client_url())) << show(seen);
  EXPECT_FALSE(has(seen, b.client_url())) << show(seen);
  // b's own clients are told no server list at all, and neither are its peers.
  auto at_b = connect_urls(client_info(b.port()));
  EXPECT_TRUE(!at_b || at_b->empty()) << show(at_b);
  RoutePeer peer;
  ASSERT_TRUE(peer.dial(b.route));
  auto told = connect_urls(peer.info());
  EXPECT_TRUE(!told || told->empty()) << peer.info_text();
  // A node that advertises tells its peers its client URL (the contrast).
  RoutePeer peer_c;
  ASSERT_TRUE(peer_c.dial(c.route));
  EXPECT_TRUE(has(connect_urls(peer_c.info()), c.client_url())) << peer_c.info_text();
}

TEST(Advertise, ClientAdvertiseIsTheURLClientsAndPeersAreGiven) {
  const std::string advertised = "b.advertised.test:4333";
  Node a, b;
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start({a.route}, "client_advertise: \"" + advertised + "\"\n"));
  ASSERT_TRUE(wait_for([&] { return a.num_routes() == 1; }, 10s));
  std::optional<std::vector<std::string>> seen;
  ASSERT_TRUE(wait_for([&] {
    seen = connect_urls(client_info(a.port()));
    return has(seen, advertised);
  }, 10s)) << "a's clients are not offered b's advertised URL: " << show(seen);
  EXPECT_FALSE(has(seen, b.client_url())) << "b's listen address leaks: " << show(seen);
  // b's own clients and its peers get the advertised URL too.
  auto at_b = connect_urls(client_info(b.port()));
  EXPECT_TRUE(has(at_b, advertised)) << show(at_b);
  EXPECT_FALSE(has(at_b, b.client_url())) << show(at_b);
  RoutePeer peer;
  ASSERT_TRUE(peer.dial(b.route));
  auto told = connect_urls(peer.info());
  ASSERT_TRUE(told) << peer.info_text();
  EXPECT_EQ(*told, std::vector<std::string>{advertised}) << peer.info_text();
}

TEST(Advertise, ClusterAdvertiseIsTheRouteURLPeersAreToldToDial) {
  // b advertises its route URL as a port the test listens on: whoever is told about b dials here.
  DialRecorder advertised_port;
  ASSERT_GT(advertised_port.port(), 0);
  const std::string advertised = "127.0.0.1:" + std::to_string(advertised_port.port());
  Node a, b, c;
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(c.start({a.route}));
  ASSERT_TRUE(wait_for([&] { return a.num_routes() == 1; }, 10s));
  ASSERT_TRUE(b.start({a.route}, "", "  cluster_advertise: \"" + advertised + "\"\n"));

  // b's route INFO names the advertised URL.
  RoutePeer peer;
  ASSERT_TRUE(peer.dial(b.route));
  auto* ip = peer.info().if_contains("ip");
  ASSERT_TRUE(ip && ip->is_string()) << peer.info_text();
  EXPECT_EQ(std::string(ip->as_string()), "nats-route://" + advertised + "/") << peer.info_text();

  // a gossips b to c with that URL, and c dials it (not b's listen port).
  int fd = advertised_port.accept(10s);
  ASSERT_GE(fd, 0) << "nobody dialled b's advertised route URL\n" << c.srv->log();
  std::string said;
  EXPECT_TRUE(fd_read_until(fd, said, "CONNECT ", 5s)) << "the dialler speaks the route protocol: " << said;
}

TEST(LameDuck, ClientsOfTheOtherNodesStopBeingOfferedTheLameDuck) {
  // The reference refuses a lame_duck_duration under 30 s. The grace period (before b starts
  // closing its clients and so goes away) is longer than every wait below: a's clients must
  // drop b because b said it is a lame duck, not because b left.
  Node a, b;
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start({a.route}, "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"20s\"\n"));
  ASSERT_TRUE(wait_for([&] { return a.num_routes() == 1; }, 10s));
  // A client of a that takes async INFO (protocol 1), offered b.
  RawClient c;
  std::optional<std::vector<std::string>> offered;
  ASSERT_TRUE(wait_for([&] {
    c.close();
    if (!c.connect(a.port())) return false;
    auto info = c.read_info();
    if (!info) return false;
    offered = connect_urls(json::parse(*info).as_object());
    return has(offered, b.client_url());
  }, 10s)) << show(offered);
  ASSERT_TRUE(c.handshake(R"({"verbose":false,"pedantic":false,"protocol":1})"));
  // A scripted route peer of b hears the lame duck news too.
  RoutePeer peer;
  ASSERT_TRUE(peer.dial(b.route));
  ASSERT_TRUE(peer.handshake(peer_id("LDMWATCH"), kCluster));
  ASSERT_TRUE(peer.conn().send("PING\r\n"));  // answered once b has registered the route
  ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 5s));

  // b keeps a client of its own: a lame duck with none shuts down at once (both servers), and
  // then a's clients would drop b for that reason alone.
  RawClient b_client = raw_connect(b.port());
  ASSERT_TRUE(b_client.handshake());

  ASSERT_EQ(::kill(b.srv->pid(), SIGUSR2), 0);
  // a tells its client the new list, without b.
  bool dropped = wait_for([&] {
    auto line = c.read_line(200ms);
    if (!line) return false;
    if (*line == "PING") c.send("PONG\r\n");
    if (line->rfind("INFO ", 0) != 0) return false;
    offered = connect_urls(json::parse(line->substr(5)).as_object());
    return offered && !has(offered, b.client_url());
  }, 8s, 0ms);
  EXPECT_TRUE(dropped) << "a's client is still offered the lame duck b: " << show(offered);
  EXPECT_TRUE(has(offered, a.client_url())) << show(offered);
  // The route INFO b sent carries ldm.
  bool ldm = wait_for([&] {
    auto line = peer.conn().read_line(200ms);
    if (!line) return false;
    if (*line == "PING") peer.conn().send("PONG\r\n");
    return line->rfind("INFO ", 0) == 0 && line->find("\"ldm\":true") != std::string::npos;
  }, 8s, 0ms);
  EXPECT_TRUE(ldm) << "no route INFO with ldm from b";
  EXPECT_TRUE(b.srv->running()) << "b is still in lame duck mode, not shut down";
  // In lame duck mode the reference ignores SIGTERM; do not wait for it.
  b.srv->kill();
}

}  // namespace
}  // namespace pylon::it
