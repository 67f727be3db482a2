// A route holds an account for as long as its peer has interest in it
// (RouteConn::interest_accounts_; docs/architecture.md, "Lifetimes"): an account a reload
// removed lives on while the peer's RS+ in it are in its index (their subscriptions are in
// that index), and goes with the peer's last RS- in it, while the route stays up. Before,
// the route held every account it ever had interest in until it closed.
//
// The server runs in-process (pylon::server::Server), so the test can watch the account
// itself through a weak_ptr; the peer is a raw route socket (route_peer.h).
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "route_peer.h"
#include "server/account/account.h"
#include "server/route/cluster.h"
#include "server/server.h"

namespace pylon::it {
namespace {

pylon::Options with_accounts(pylon::Options o, std::initializer_list<const char*> names) {
  o.accounts.clear();
  for (const char* n : names) o.accounts.push_back(pylon::AccountConfig{n, {}, {}});
  return o;
}

TEST(RouteAccounts, AnAccountGoesWithTheRoutesLastInterestInItNotWithTheRoute) {
  pylon::Options o;
  o.host = "127.0.0.1";
  o.port = -1;
  o.event_loops = 2;
  o.cluster.name = "hold";
  o.cluster.host = "127.0.0.1";
  o.cluster.port = -1;
  o = with_accounts(o, {"A", "B"});
  pylon::server::Server srv(o);
  srv.start();
  std::weak_ptr<pylon::server::Account> b = srv.accounts().find("B");
  ASSERT_FALSE(b.expired());

  RoutePeer peer;
  ASSERT_TRUE(peer.dial(srv.cluster().port()));
  ASSERT_TRUE(peer.handshake(peer_id("HOLD"), "hold"));
  // "RS+ A x" last: the route's cache of the account named last then names A, not B.
  ASSERT_TRUE(peer.conn().send("RS+ B foo\r\nRS+ B bar q 1\r\nRS+ A x\r\nPING\r\n"));
  ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 5s));

  // A reload without B: B leaves the registry, but its index holds the peer's interest.
  ASSERT_EQ(srv.reload(with_accounts(o, {"A"})), "");
  EXPECT_EQ(srv.accounts().find("B"), nullptr);
  EXPECT_FALSE(b.expired()) << "B was let go while the route's subscriptions were in its index";

  ASSERT_TRUE(peer.conn().send("RS- B foo\r\nPING\r\n"));
  ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 5s));
  EXPECT_FALSE(b.expired()) << "B was let go with one of the route's entries still in it";

  ASSERT_TRUE(peer.conn().send("RS- B bar q\r\nPING\r\n"));
  ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 5s));
  EXPECT_TRUE(wait_for([&] { return b.expired(); }, 5s))
      << "the route holds B with no interest left in it (until it closes)";

  // The route is still up, and its interest in A still works.
  ASSERT_TRUE(peer.conn().send("RS+ A y\r\nRS- A x\r\nPING\r\n"));
  EXPECT_TRUE(peer.conn().read_until("PONG\r\n", 5s));
  srv.shutdown();
}

// The same under churn, out of process (so a TSan build checks it): a route peer's interest in
// account B comes and goes in bursts (its last RS- lets go of B each round), reloads remove B
// and bring it back anew between rounds, and meanwhile clients of A and B on the server's other
// loops connect, subscribe, publish and go. Every round, once B is back, the peer's interest
// in the new B must draw B's messages; A's local subscriber must get every message of A's
// publisher, whatever happens to B; and the route and the server stay up throughout.
std::string churn_config(int route_port, bool with_b) {
  std::string c = "accounts {\n  A: { users: [ { user: a, password: pa } ] }\n";
  if (with_b) c += "  B: { users: [ { user: b, password: pb } ] }\n";
  return c + "}\ncluster { name: churn, listen: \"127.0.0.1:" + std::to_string(route_port) + "\" }\n";
}

bool connect_as(RawClient& c, int port, const char* user, const char* pass, milliseconds timeout = 5s) {
  return c.connect(port, timeout) && c.read_info(timeout) &&
         c.handshake(std::string(R"({"verbose":false,"pedantic":false,"user":")") + user + R"(","pass":")" + pass +
                         R"("})",
                     nullptr, timeout);
}

TEST(Stress, RouteInterestInAnAccountComesAndGoesAsReloadsRemakeIt) {
  SKIP_IF_REFERENCE("accounts are static in the reference's config resolver; --event_loops is Pylon's");
  constexpr int kSubjects = 40;
  constexpr int kMinRounds = 8;
  constexpr auto kRoundsFor = 4s;
  const int route_port = pick_free_port();
  ServerProcess server(with_config(churn_config(route_port, true), {"--event_loops", "4"}));
  ASSERT_TRUE(server.start());
  RoutePeer peer;
  ASSERT_TRUE(peer.dial(route_port));
  ASSERT_TRUE(peer.handshake(peer_id("CHURN"), "churn"));
  ASSERT_TRUE(peer.conn().ping_pong(10s));

  RawClient a_sub, a_pub;
  ASSERT_TRUE(connect_as(a_sub, server.port(), "a", "pa"));
  ASSERT_TRUE(a_sub.send("SUB t.> 1\r\n") && a_sub.ping_pong(10s));
  ASSERT_TRUE(connect_as(a_pub, server.port(), "a", "pa"));

  std::atomic<bool> stop{false};
  std::atomic<int> b_cycles{0};
  std::vector<std::thread> threads;
  StopAndJoin join_on_exit{stop, threads};  // a failed ASSERT returns early
  // Clients of B (refused while B is gone) and of A come and go on the other loops, subscribe
  // to the peer's subjects and publish on them.
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t + 7));
      while (!stop.load()) {
        RawClient c;
        const bool as_b = t == 0 || rng() % 2;
        if (!connect_as(c, server.port(), as_b ? "b" : "a", as_b ? "pb" : "pa", 2s)) continue;
        const int k = static_cast<int>(rng() % kSubjects);
        c.send("SUB s.> 1\r\nPUB s." + std::to_string(k) + " 1\r\nc\r\nPING\r\n");
        if (c.read_until("PONG\r\n", 2s) && as_b) b_cycles.fetch_add(1);
        linger l{1, 0};
        ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        c.close();
      }
    });
  }

  const auto end = Clock::now() + kRoundsFor;
  int round = 0;
  for (; round < kMinRounds || Clock::now() < end; ++round) {
    // The peer's interest in B, and messages routed into B, while B's clients come and go.
    std::string plus, minus;
    for (int k = 0; k < kSubjects; ++k) {
      plus += "RS+ B s." + std::to_string(k) + (k % 4 == 0 ? " q 1" : "") + "\r\n";
      minus += "RS- B s." + std::to_string(k) + (k % 4 == 0 ? " q" : "") + "\r\n";
      plus += "RMSG B s." + std::to_string(k) + " 1\r\nr\r\n";
    }
    ASSERT_TRUE(peer.conn().send(plus + "PING\r\n", 10s));
    ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 10s)) << "round " << round << "\n" << server.log();

    // B's messages reach the peer: its interest is in this B, the one made by the last reload.
    RawClient b_pub;
    ASSERT_TRUE(connect_as(b_pub, server.port(), "b", "pb")) << "round " << round;
    std::string pubs;
    const std::string mark = "b" + std::to_string(round % 10);
    for (int k = 0; k < kSubjects; ++k) pubs += "PUB s." + std::to_string(k) + " 2\r\n" + mark + "\r\n";
    ASSERT_TRUE(b_pub.send(pubs) && b_pub.ping_pong(10s)) << "round " << round;
    std::vector<std::string> lines;
    ASSERT_TRUE(peer.conn().ping_pong(30s, &lines)) << "round " << round;
    int got = 0;
    for (size_t i = 0; i + 1 < lines.size(); ++i) {
      if (lines[i].rfind("RMSG B s.", 0) == 0 && lines[i + 1] == mark) ++got;
    }
    EXPECT_EQ(got, kSubjects) << "round " << round << ": the peer's interest in B drew " << got << " of "
                              << kSubjects << " of B's messages";
    b_pub.close();

    // Its last RS- lets go of B; then a reload removes B, and the next one makes it anew.
    ASSERT_TRUE(peer.conn().send(minus + "PING\r\n", 10s));
    ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 10s)) << "round " << round;
    ASSERT_TRUE(reload_with(server, churn_config(route_port, false))) << server.log();
    ASSERT_TRUE(reload_with(server, churn_config(route_port, true))) << server.log();

    // A is untouched by all of it: its subscriber gets every message of its publisher.
    std::string apubs;
    for (int k = 0; k < kSubjects; ++k) apubs += "PUB t." + std::to_string(k) + " 1\r\na\r\n";
    ASSERT_TRUE(a_pub.send(apubs) && a_pub.ping_pong(10s)) << "round " << round;
    lines.clear();
    ASSERT_TRUE(a_sub.ping_pong(10s, &lines)) << "round " << round;
    int a_got = 0;
    for (const auto& l : lines) a_got += l.rfind("MSG t.", 0) == 0;
    EXPECT_EQ(a_got, kSubjects) << "round " << round << ": A's subscriber lost messages";
  }
  stop = true;
  for (auto& t : threads) t.join();
  threads.clear();
  std::printf("route accounts: %d rounds (B removed and made anew in each), %d B client cycles meanwhile\n",
              round, b_cycles.load());
  EXPECT_GE(b_cycles.load(), 5) << "too few of B's clients came and went to prove anything";
  EXPECT_TRUE(peer.conn().ping_pong(10s)) << "the route went down";
  EXPECT_TRUE(server.running());
}

}  // namespace
}  // namespace pylon::it
