// A route holds an account for as long as its peer has interest in it
// (RouteConn::interest_accounts_; docs/architecture.md, "Lifetimes"): an account a reload
// removed lives on while the peer's RS+ in it are in its index (their subscriptions are in
// that index), and goes with the peer's last RS- in it, while the route stays up. Before,
// the route held every account it ever had interest in until it closed.
//
// The server runs in-process (pylon::server::Server), so the test can watch the account
// itself through a weak_ptr; the peer is a raw route socket (route_peer.h).
#include <gtest/gtest.h>

#include <memory>
#include <string>

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

}  // namespace
}  // namespace pylon::it
