// Routes over time and under misbehaving peers: redial backoff, connect_retries for gossiped
// (implicit) routes, stale route detection, the route auth timeout, token authorization of
// routes, and a route that stops reading (slow consumer). Peers are scripted over raw sockets
// (route_peer.h) where the point is what the server does to a peer that misbehaves.
//
// Durations the server promises are checked with a lower bound (the configured value) and an
// upper bound that is a wide multiple of it (kSlack), never as speed.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "route_peer.h"

namespace pylon::it {
namespace {

namespace json = boost::json;

// Upper bounds: a promised duration may stretch this many times on a loaded 2-core machine.
constexpr double kSlack = 4.0;
// The reference's DEFAULT_ROUTE_CONNECT / DEFAULT_ROUTE_RECONNECT: the wait between dials.
constexpr double kRouteReconnectS = 1.0;
// Pylon's redial backoff (src/server/route/cluster.cc, route_redial_wait): after 9 failed dials
// in a row the wait grows from 1 s to 2 s (and after 29 to 5 s, which tests/unit covers).
constexpr int kDialsAtOneSecond = 10;  // dials 1..10 are 1 s apart (9 gaps)
constexpr double kSecondStepS = 2.0;
// Timer jitter the servers add to each wait (Pylon up to 100 ms; the reference none on dials).
constexpr double kJitterS = 0.1;

constexpr const char* kQuiet = R"({"verbose":false,"pedantic":false})";

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::optional<json::object> monitor(int http_port, const std::string& path) {
  auto r = http_get(http_port, path, 3s, 500ms);
  if (!r || r->status != 200) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

int64_t num_routes(int http_port) {
  auto v = monitor(http_port, "/routez");
  return v && v->contains("num_routes") ? v->at("num_routes").to_number<int64_t>() : -1;
}

std::string cluster_conf(int route_port, const std::string& extra = "", const std::string& name = "rb") {
  return "listen: 127.0.0.1:{PORT}\ncluster {\n  name: " + name + "\n  listen: 127.0.0.1:" +
         std::to_string(route_port) + "\n" + extra + "}\n";
}

ServerOptions conf(const std::string& text, std::vector<std::string> args = {}) {
  ServerOptions o;
  o.config = text;
  o.port_flag = false;
  o.args = std::move(args);
  return o;
}

std::string gaps_text(const std::vector<double>& t) {
  std::string s;
  for (size_t i = 1; i < t.size(); ++i) s += std::to_string(t[i] - t[i - 1]).substr(0, 5) + " ";
  return s;
}

// ------------------------------------------------------------------ redial

TEST(RouteRedial, AnExplicitRouteThatCannotBeReachedIsRedialledWithBackoff) {
  SKIP_IF_REFERENCE("nats-server 2.9 redials every second for ever; the backoff is Pylon's");
  int dead = pick_free_port();  // leased, nobody listens: every dial is refused at once
  int rp = pick_free_port();
  ServerProcess a(conf(cluster_conf(rp, "  routes: [ nats-route://127.0.0.1:" + std::to_string(dead) + " ]\n"),
                       {"-D"}));
  ASSERT_TRUE(a.start());
  const std::string dial = "Trying to connect to route on 127.0.0.1:" + std::to_string(dead);
  constexpr size_t kDials = static_cast<size_t>(kDialsAtOneSecond) + 2;  // two gaps of the second step
  // Dials 1..10 take ~9 s, 11 and 12 another ~4 s.
  const auto budget = std::chrono::duration_cast<milliseconds>(
      std::chrono::duration<double>(kSlack * ((kDialsAtOneSecond - 1) * kRouteReconnectS + 2 * kSecondStepS)));
  ASSERT_TRUE(wait_for([&] { return log_times(a.log(), dial).size() >= kDials; }, budget, 50ms))
      << "dials seen: " << log_times(a.log(), dial).size() << "\n" << a.log();
  auto t = log_times(a.log(), dial);
  std::printf("[ figure   ] explicit route redial gaps (s): %s\n", gaps_text(t).c_str());
  for (size_t i = 1; i < kDials; ++i) {
    double gap = t[i] - t[i - 1];
    double want = i < static_cast<size_t>(kDialsAtOneSecond) ? kRouteReconnectS : kSecondStepS;
    EXPECT_GE(gap, want) << "gap before dial " << i + 1 << "; gaps: " << gaps_text(t);
    EXPECT_LE(gap, want * kSlack + kJitterS) << "gap before dial " << i + 1 << "; gaps: " << gaps_text(t);
  }
}

// The reference's words for a dial: the route's host:port as configured, then the address
// dialled; and a name that does not resolve as 'lookup for host "<name>": <why>'. Operators
// read these to tell a DNS problem from a refused port.
TEST(RouteRedial, EachDialNamesTheAddressItTriesAndALookupFailureNamesTheHost) {
  int rp = pick_free_port(), dead = pick_free_port();
  ServerProcess a(conf(cluster_conf(rp, "  routes: [ nats-route://127.0.0.1:" + std::to_string(dead) +
                                            ", nats-route://nosuch.invalid:" + std::to_string(dead) + " ]\n"),
                       {"-D"}));
  ASSERT_TRUE(a.start());
  const std::string d = std::to_string(dead);
  for (const std::string& line :
       {"[DBG] Trying to connect to route on 127.0.0.1:" + d + " (127.0.0.1:" + d + ")",
        std::string(R"([ERR] Error trying to connect to route (attempt 1): lookup for host "nosuch.invalid": )")}) {
    EXPECT_TRUE(a.wait_for_log(line, 10s)) << line << "\n" << a.log();
  }
}

TEST(RouteRedial, AGossipedRouteGivesUpAfterConnectRetries) {
  constexpr int kRetries = 2;
  int rp = pick_free_port(), dead = pick_free_port();
  ServerProcess a(conf(cluster_conf(rp, "  connect_retries: " + std::to_string(kRetries) + "\n"), {"-D"}));
  ASSERT_TRUE(a.start());
  // A peer registers as a route and gossips a member at a port where nobody listens.
  RoutePeer peer;
  ASSERT_TRUE(peer.dial(rp));
  const std::string p_id = peer_id("GOSSIP"), z_id = peer_id("GONE");
  ASSERT_TRUE(peer.handshake(p_id, "rb"));
  ASSERT_TRUE(peer.conn().send("PING\r\n"));
  ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 5s)) << a.log();
  std::string z_url = "nats-route://127.0.0.1:" + std::to_string(dead) + "/";
  ASSERT_TRUE(peer.conn().send(route_info_line(z_id, dead, "rb", z_url)));

  const std::string dial = "Trying to connect to route on 127.0.0.1:" + std::to_string(dead);
  const size_t want = 1 + kRetries;
  const auto budget = std::chrono::duration_cast<milliseconds>(
      std::chrono::duration<double>(kSlack * (kRetries * kRouteReconnectS + 1)));
  ASSERT_TRUE(wait_for([&] { return log_times(a.log(), dial).size() >= want; }, budget, 50ms))
      << "dials: " << log_times(a.log(), dial).size() << "\n" << a.log();
  // Then no more: another dial would come within one more wait (2 x for a loaded machine).
  std::this_thread::sleep_for(std::chrono::duration<double>(2 * kRouteReconnectS + 0.5));
  auto t = log_times(a.log(), dial);
  EXPECT_EQ(t.size(), want) << "gave up after " << kRetries << " retries? gaps: " << gaps_text(t) << "\n" << a.log();
  for (size_t i = 1; i < t.size(); ++i) EXPECT_GE(t[i] - t[i - 1], kRouteReconnectS) << gaps_text(t);
}

// ------------------------------------------------------------------ stale route

TEST(RouteStale, APeerThatStopsAnsweringPingsIsClosed) {
  constexpr double kPingIntervalS = 1.0;
  constexpr int kPingMax = 2;
  int rp = pick_free_port();
  ServerProcess a(conf("ping_interval: \"1s\"\nping_max: " + std::to_string(kPingMax) + "\n" + cluster_conf(rp)));
  ASSERT_TRUE(a.start());
  RoutePeer peer;
  auto t0 = Clock::now();  // before the server's ping timer can start
  ASSERT_TRUE(peer.dial(rp));
  ASSERT_TRUE(peer.handshake(peer_id("STALE"), "rb"));
  // Read everything, answer nothing.
  int pings = 0;
  std::optional<std::string> last;
  const auto budget = std::chrono::duration_cast<milliseconds>(
      std::chrono::duration<double>(kSlack * kPingIntervalS * (kPingMax + 1)));
  const auto deadline = t0 + budget;
  while (Clock::now() < deadline) {
    auto line = peer.conn().read_line(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
    if (!line) break;
    if (*line == "PING") ++pings;
    last = line;
  }
  double took = seconds_since(t0);
  std::printf("[ figure   ] stale route (ping_interval 1s, ping_max 2) closed after %.2f s, %d PINGs\n", took, pings);
  ASSERT_TRUE(peer.conn().peer_closed()) << "not closed within " << budget.count() << " ms; PINGs seen: " << pings;
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, "-ERR 'Stale Connection'");
  EXPECT_GE(pings, kPingMax);
  EXPECT_GE(took, kPingIntervalS * kPingMax) << "closed before ping_max PINGs could go unanswered";
  EXPECT_LE(took, kSlack * kPingIntervalS * (kPingMax + 1));
}

// ------------------------------------------------------------------ route authorization

TEST(RouteAuth, APeerThatNeverSendsConnectIsClosedAfterTheAuthTimeout) {
  constexpr double kTimeoutS = 1.0;
  int rp = pick_free_port();
  ServerProcess a(conf(cluster_conf(rp, "  authorization { user: ru, password: rp, timeout: 1 }\n")));
  ASSERT_TRUE(a.start());
  RoutePeer silent;
  auto t0 = Clock::now();
  ASSERT_TRUE(silent.dial(rp));
  EXPECT_TRUE(silent.info().contains("auth_required") && silent.info().at("auth_required").as_bool())
      << silent.info_text();
  auto lines = silent.conn().read_all_lines(std::chrono::duration_cast<milliseconds>(
      std::chrono::duration<double>(kSlack * kTimeoutS)));
  double took = seconds_since(t0);
  std::printf("[ figure   ] silent route peer (auth timeout 1s) closed after %.2f s\n", took);
  ASSERT_TRUE(silent.conn().peer_closed()) << "still open after " << took << " s";
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "-ERR 'Authentication Timeout'");
  EXPECT_GE(took, kTimeoutS);

  // A peer with the right credentials outlives the timeout; a wrong password is refused.
  RoutePeer good;
  ASSERT_TRUE(good.dial(rp));
  ASSERT_TRUE(good.handshake(peer_id("GOOD"), "rb", R"("user":"ru","pass":"rp")"));
  std::this_thread::sleep_for(std::chrono::duration<double>(kTimeoutS * 1.5));
  EXPECT_TRUE(good.conn().send("PING\r\n"));
  EXPECT_TRUE(good.conn().read_until("PONG\r\n", 5s)) << "an authorized route was cut";
  RoutePeer bad;
  ASSERT_TRUE(bad.dial(rp));
  ASSERT_TRUE(bad.handshake(peer_id("BAD"), "rb", R"("user":"ru","pass":"wrong")"));
  auto bad_lines = bad.conn().read_all_lines(5s);
  EXPECT_TRUE(bad.conn().peer_closed());
  ASSERT_FALSE(bad_lines.empty());
  EXPECT_EQ(bad_lines.back(), "-ERR 'Authorization Violation'");
}

TEST(RouteAuth, ATokenAuthorizesRoutes) {
  SKIP_IF_REFERENCE("nats-server 2.9 refuses a cluster token (\"Cluster authorization does not support tokens\")");
  int ra = pick_free_port(), rb = pick_free_port(), rc = pick_free_port();
  int ha = pick_free_port(), hc = pick_free_port();
  ServerProcess a(conf("http: 127.0.0.1:" + std::to_string(ha) + "\n" +
                       cluster_conf(ra, "  authorization { token: s3cret }\n")));
  ASSERT_TRUE(a.start());
  auto routes_to_a = [&](const std::string& token) {
    return "  routes: [ nats-route://" + token + "@127.0.0.1:" + std::to_string(ra) + " ]\n";
  };
  ServerProcess b(conf(cluster_conf(rb, routes_to_a("s3cret"))));
  ASSERT_TRUE(b.start());
  EXPECT_TRUE(wait_for([&] { return num_routes(ha) == 1; }, 10s)) << "the right token makes a route\n" << a.log();
  ServerProcess c(conf("http: 127.0.0.1:" + std::to_string(hc) + "\n" + cluster_conf(rc, routes_to_a("wrong"))));
  ASSERT_TRUE(c.start());
  EXPECT_TRUE(a.wait_for_log("Route authentication error", 10s)) << a.log();
  EXPECT_EQ(num_routes(ha), 1) << "a wrong token is refused";
  // C counts its route from A's INFO until A's refusal reaches it, as nats-server does: the
  // refusal must end it.
  EXPECT_TRUE(wait_for([&] { return num_routes(hc) == 0; }, 10s)) << "C keeps a refused route\n" << c.log();
}

// ------------------------------------------------------------------ slow consumer on a route

TEST(RouteSlowConsumer, ARouteThatStopsReadingIsCutAndClientsCarryOn) {
  constexpr double kWriteDeadlineS = 1.0;
  int rp = pick_free_port(), http = pick_free_port();
  ServerProcess a(conf("write_deadline: \"1s\"\nhttp: 127.0.0.1:" + std::to_string(http) + "\n" + cluster_conf(rp)));
  ASSERT_TRUE(a.start());
  // The stalled route: interest in slow.>, a tiny receive buffer, and it never reads again.
  RoutePeer peer;
  ASSERT_TRUE(peer.dial(rp, /*rcvbuf=*/4096));
  ASSERT_TRUE(peer.handshake(peer_id("SLOW"), "rb"));
  ASSERT_TRUE(peer.conn().send("RS+ $G slow.>\r\nPING\r\n"));
  ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 5s));
  ASSERT_TRUE(wait_for([&] { return num_routes(http) == 1; }, 5s));

  RawClient pub = raw_connect(a.port()), local = raw_connect(a.port());
  ASSERT_TRUE(pub.handshake(kQuiet));
  ASSERT_TRUE(local.handshake(kQuiet));
  ASSERT_TRUE(local.send("SUB slow.after 1\r\n"));
  ASSERT_TRUE(local.ping_pong());
  // Publish at a bounded pace (~10 MB/s), so what piles up within the write deadline stays far
  // below max_pending (64 MB): the deadline, not the pending limit, cuts the route.
  const std::string msg = "PUB slow.x 1024\r\n" + std::string(1024, 'r') + "\r\n";
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += msg;
  auto t0 = Clock::now();
  bool cut = wait_for([&] {
    EXPECT_TRUE(pub.send(batch));
    std::this_thread::sleep_for(10ms);
    return num_routes(http) == 0;
  }, std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(kSlack * 10 * kWriteDeadlineS)), 0ms);
  ASSERT_TRUE(cut) << "the stalled route was never cut\n" << a.log();
  std::printf("[ figure   ] stalled route (write_deadline 1s) gone from /routez after %.2f s\n", seconds_since(t0));
  EXPECT_GE(seconds_since(t0), kWriteDeadlineS);
  EXPECT_TRUE(a.wait_for_log("Slow Consumer Detected", 5s)) << a.log();
  auto varz = monitor(http, "/varz");
  ASSERT_TRUE(varz);
  EXPECT_GE(varz->at("slow_consumers").to_number<int64_t>(), 1);
  // The peer's socket is closed by the server (it sees EOF once it drains what was sent).
  EXPECT_TRUE(peer.conn().expect_closed(10s));

  // Everyone else carries on: the publisher and the local subscriber.
  ASSERT_TRUE(pub.send("PUB slow.after 5\r\nafter\r\n"));
  EXPECT_TRUE(pub.ping_pong());
  EXPECT_TRUE(local.read_until("MSG slow.after 1 5\r\nafter\r\n", 10s)) << "the local subscriber stopped getting messages";
}

}  // namespace
}  // namespace pylon::it
