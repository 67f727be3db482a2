// Leaf remotes with a credentials file (issue 15): `remotes = [{ url, credentials: "x.creds" }]`.
// The leaf sends the file's user JWT and the hub's nonce signed with its seed in its CONNECT,
// as nats-server's sendLeafConnect. The only hub here that checks a JWT is nats-server in
// operator mode (`operator`, `resolver: MEMORY`, `resolver_preload`); the operator, account
// and users are made at test time by leafjwt (tests/go/src/leafjwt, Debian's Go jwt library).
// A file with a bad seed, or none, is a config error naming the file, line and column.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cluster_harness.h"

namespace pylon::it {
namespace {

using cluster::AsyncSub;
using cluster::Client;
using cluster::Collector;
using cluster::Kind;
using cluster::Node;
using cluster::NodeConfig;

constexpr int kMessages = 20;

#ifdef PYLON_LEAFJWT_BIN
// Runs leafjwt into `dir`; false (a gtest failure recorded) when it fails.
bool make_jwts(const TempDir& dir) {
  auto r = run_shell(std::string(PYLON_LEAFJWT_BIN) + " '" + dir.path() + "' 2>&1");
  EXPECT_EQ(0, r.exit_code) << r.output;
  return r.exit_code == 0;
}

// An operator-mode nats-server hub that knows the account leafjwt made.
std::string operator_hub(const TempDir& dir, int leaf_port) {
  std::string pub = read_file(dir.file("account.pub"));
  std::string jwt = read_file(dir.file("account.jwt"));
  return "operator: \"" + dir.file("op.jwt") + "\"\nresolver: MEMORY\nresolver_preload: {\n  " + pub + ": \"" + jwt +
         "\"\n}\nleafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\" }\n";
}

std::string creds_leaf(int leaf_port, const std::string& creds) {
  return "leafnodes { remotes = [ { url: \"nats-leaf://127.0.0.1:" + std::to_string(leaf_port) +
         "\", credentials: \"" + creds + "\" } ] }\n";
}

TEST(LeafCredentials, PylonLeafWithCredsOnOperatorModeNatsHub) {
  TempDir dir;
  ASSERT_TRUE(make_jwts(dir));
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(Kind::kNats, "ophub", "hub-cluster");
  h.config = operator_hub(dir, leaf_port);
  NodeConfig l = cluster::single_config(Kind::kPylon, "leaf", "leaf-cluster");
  l.config = creds_leaf(leaf_port, dir.file("leaf.creds"));
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());

  // The hub bound the leaf to the account of its user JWT.
  std::string account = read_file(dir.file("account.pub"));
  ASSERT_TRUE(wait_for(
      [&] {
        auto b = cluster::http_get_body(hub.http_port(), "/leafz");
        if (!b) return false;
        auto o = boost::json::parse(*b).as_object();
        return o.at("leafnodes").to_number<int>() == 1 &&
               o.at("leafs").as_array().at(0).as_object().at("account").as_string() == account;
      },
      15s))
      << leaf.log() << "\n"
      << hub.log();

  cluster::ClientOptions ho;
  ho.name = "hub-client";
  ho.creds_file = dir.file("client.creds");  // a user of the same account
  auto hc = Client::connect({hub.client_url()}, ho);
  cluster::ClientOptions lo;
  lo.name = "leaf-client";
  auto lc = Client::connect({leaf.client_url()}, lo);
  ASSERT_TRUE(hc && lc);
  auto at_leaf = std::make_shared<Collector>();
  auto at_hub = std::make_shared<Collector>();
  auto s1 = AsyncSub::make(*lc, "jwt.to.leaf", at_leaf);
  auto s2 = AsyncSub::make(*hc, "jwt.to.hub", at_hub);
  ASSERT_TRUE(s1 && s2);
  ASSERT_TRUE(cluster::await_interest(*hc, "jwt.to.leaf", *at_leaf, "down", 15s));
  ASSERT_TRUE(cluster::await_interest(*lc, "jwt.to.hub", *at_hub, "up", 15s));
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(NATS_OK, cluster::publish(*hc, "jwt.to.leaf", "h" + std::to_string(i)));
    ASSERT_EQ(NATS_OK, cluster::publish(*lc, "jwt.to.hub", "l" + std::to_string(i)));
  }
  EXPECT_TRUE(at_leaf->wait_count(kMessages, 10s)) << at_leaf->count();
  EXPECT_TRUE(at_hub->wait_count(kMessages, 10s)) << at_hub->count();
  hc.reset();
  lc.reset();
  leaf.stop();
  hub.stop();
}

// The same hub refuses a leaf whose JWT is signed by nobody it trusts: what the creds file
// carries is what gets the leaf in (and the leaf keeps dialling, in the reference's words).
TEST(LeafCredentials, UnknownAccountIsRefusedAndTheLeafKeepsDialling) {
  TempDir trusted, stranger;
  ASSERT_TRUE(make_jwts(trusted));
  ASSERT_TRUE(make_jwts(stranger));
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(Kind::kNats, "ophub", "hub-cluster");
  h.config = operator_hub(trusted, leaf_port);
  NodeConfig l = cluster::single_config(Kind::kPylon, "leaf", "leaf-cluster");
  l.config = creds_leaf(leaf_port, stranger.file("leaf.creds"));
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  EXPECT_TRUE(wait_for([&] { return leaf.log_lines("Leafnode Error 'Authorization Violation'").size() >= 2; }, 15s))
      << leaf.log();
  auto b = cluster::http_get_body(hub.http_port(), "/leafz");
  ASSERT_TRUE(b);
  EXPECT_EQ(0, boost::json::parse(*b).as_object().at("leafnodes").to_number<int>()) << *b;
  leaf.stop();
  hub.stop();
}
#else
TEST(LeafCredentials, PylonLeafWithCredsOnOperatorModeNatsHub) {
  GTEST_SKIP() << "leafjwt was not built: Go or golang-github-nats-io-jwt-dev missing (scripts/install-deps.sh)";
}
#endif

// A missing credentials file, or one with a bad seed, stops the start at the line that names
// it, with Go's and the reference's words.
TEST(LeafCredentials, BadFileIsAConfigErrorWithFileLineAndColumn) {
  SKIP_IF_REFERENCE("the reference reads the file only when it dials");
  TempDir dir;
  std::string bad = dir.write("bad.creds",
                              "-----BEGIN NATS USER JWT-----\neyJ.x.y\n------END NATS USER JWT------\n\n"
                              "-----BEGIN USER NKEY SEED-----\nSUNOTASEED\n------END USER NKEY SEED------\n");
  struct Case {
    std::string creds, words;
  } cases[] = {
      {bad, "Credentials file has malformed seed"},
      {dir.file("missing.creds"), "open " + dir.file("missing.creds") + ": no such file or directory"},
  };
  for (const auto& c : cases) {
    std::string conf = dir.write("leaf.conf", "port: -1\nleafnodes {\n  remotes = [ { url: \"nats-leaf://127.0.0.1:1\", "
                                              "credentials: \"" + c.creds + "\" } ]\n}\n");
    auto r = run_server_binary({"-c", conf});
    EXPECT_TRUE(r.exited);
    EXPECT_NE(0, r.exit_code);
    EXPECT_NE(std::string::npos, r.output.find(conf + ":3:62: " + c.words)) << r.output;
  }
}

}  // namespace
}  // namespace pylon::it
