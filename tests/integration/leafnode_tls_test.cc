// Leaf nodes over TLS (issue 15), as nats-server 2.9 does them: the hub's INFO goes out in
// plaintext saying tls_required (and tls_verify), then the leaf, as the TLS client, upgrades
// before its CONNECT. Against real servers both ways: a Pylon leaf on a nats-server hub, a
// nats-server leaf on a Pylon hub, and Pylon on Pylon, all with mutual TLS (`verify: true`).
// Refusals (a hub certificate from another CA, an expired one, one for another name, a leaf
// certificate the hub does not trust, a plaintext peer on the TLS leaf port) are logged in the
// reference's words on the side that sees them, cost the hub's other connections nothing, and
// the leaf keeps dialling. Certificates: tests/common/make-test-certs.sh (the server
// certificate is for localhost and 127.0.0.1).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "../common/test_certs.h"
#include "cluster_harness.h"

namespace pylon::it {
namespace {

using cluster::AsyncSub;
using cluster::Client;
using cluster::client_of;
using cluster::Collector;
using cluster::Kind;
using cluster::Node;
using cluster::NodeConfig;
using pylon::testing::test_certs;

constexpr Kind P = Kind::kPylon;
constexpr Kind N = Kind::kNats;
constexpr int kMessages = 20;
// The leaf redials every second (the default reconnect); a refused handshake shows up again
// within a few of those.
constexpr auto kRedialWait = 15s;
// client.go doTLSHandshake's line for a leaf connection.
constexpr const char* kLeafHandshakeError = "TLS leafnode handshake error: ";

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// leafnodes { tls {} } of a hub: its certificate (`cert`, `key`), the CA it checks leafs with,
// and `verify: true` (mutual TLS) unless `verify` is false.
std::string hub_tls(int leaf_port, const std::string& cert, const std::string& key, bool verify = true) {
  return "leafnodes {\n  listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\"\n  tls {\n    cert_file: " +
         quoted(cert) + "\n    key_file: " + quoted(key) + "\n    ca_file: " + quoted(test_certs().ca()) +
         "\n    verify: " + (verify ? "true" : "false") + "\n    timeout: 2\n  }\n}\n";
}
std::string good_hub(int leaf_port, bool verify = true) {
  return hub_tls(leaf_port, test_certs().server_cert(), test_certs().server_key(), verify);
}

// A remote toward `url`, with a tls block `tls_block` (its inside; none when empty).
std::string leaf_remote(const std::string& url, const std::string& tls_block) {
  std::string r = "leafnodes { remotes = [ { url: " + quoted(url);
  if (!tls_block.empty()) r += "\n    tls { " + tls_block + " }";
  return r + " } ] }\n";
}
std::string remote_tls(const std::string& cert, const std::string& key, const std::string& ca) {
  std::string t = "ca_file: " + quoted(ca);
  if (!cert.empty()) t += ", cert_file: " + quoted(cert) + ", key_file: " + quoted(key);
  return t;
}
std::string good_leaf(int leaf_port) {
  const auto& c = test_certs();
  return leaf_remote("tls://127.0.0.1:" + std::to_string(leaf_port), remote_tls(c.client_cert(), c.client_key(), c.ca()));
}

int leafz_count(const Node& n) {
  auto b = cluster::http_get_body(n.http_port(), "/leafz");
  if (!b) return -1;
  return boost::json::parse(*b).as_object().at("leafnodes").to_number<int>();
}

// The hub's clients are not held up by a refused leaf: a request-free round trip on the hub.
void expect_hub_serves_clients(Node& hub) {
  auto c = client_of(hub, "bystander");
  ASSERT_TRUE(c) << "a client connects to the hub";
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*c, "still.here", col);
  ASSERT_TRUE(s);
  ASSERT_EQ(NATS_OK, cluster::publish(*c, "still.here", "yes"));
  EXPECT_TRUE(col->wait_count(1, 5s));
}

class LeafTlsPair : public ::testing::TestWithParam<std::pair<Kind, Kind>> {};

TEST_P(LeafTlsPair, MutualTlsMessagesFlowBothWays) {
  auto [hub_kind, leaf_kind] = GetParam();
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(hub_kind, "hub", "hub-cluster");
  h.config = good_hub(leaf_port);
  NodeConfig l = cluster::single_config(leaf_kind, "leaf", "leaf-cluster");
  l.config = good_leaf(leaf_port);
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  auto hc = client_of(hub, "hub-client");
  auto lc = client_of(leaf, "leaf-client");
  ASSERT_TRUE(hc && lc);
  auto at_leaf = std::make_shared<Collector>();
  auto at_hub = std::make_shared<Collector>();
  auto s1 = AsyncSub::make(*lc, "tls.to.leaf", at_leaf);
  auto s2 = AsyncSub::make(*hc, "tls.to.hub", at_hub);
  ASSERT_TRUE(s1 && s2);
  ASSERT_TRUE(cluster::await_interest(*hc, "tls.to.leaf", *at_leaf, "down", 15s)) << leaf.log();
  ASSERT_TRUE(cluster::await_interest(*lc, "tls.to.hub", *at_hub, "up", 15s)) << hub.log();
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(NATS_OK, cluster::publish(*hc, "tls.to.leaf", "h" + std::to_string(i)));
    ASSERT_EQ(NATS_OK, cluster::publish(*lc, "tls.to.hub", "l" + std::to_string(i)));
  }
  EXPECT_TRUE(at_leaf->wait_count(kMessages, 10s)) << at_leaf->count();
  EXPECT_TRUE(at_hub->wait_count(kMessages, 10s)) << at_hub->count();
  // The connection is TLS on whichever end is Pylon (its debug lines, as the reference's).
  if (hub.is_pylon()) {
    EXPECT_FALSE(hub.log_lines("Starting TLS leafnode server handshake").empty()) << hub.log();
  }
  if (leaf.is_pylon()) {
    EXPECT_FALSE(leaf.log_lines("Starting TLS leafnode client handshake").empty()) << leaf.log();
  }
  hc.reset();
  lc.reset();
  leaf.stop();
  hub.stop();
}

std::string pair_name(const ::testing::TestParamInfo<std::pair<Kind, Kind>>& info) {
  return std::string(cluster::kind_name(info.param.second)) + "LeafOn" + cluster::kind_name(info.param.first) + "Hub";
}

INSTANTIATE_TEST_SUITE_P(Interop, LeafTlsPair,
                         ::testing::Values(std::make_pair(N, P), std::make_pair(P, N), std::make_pair(P, P)),
                         pair_name);

// The Pylon hub's INFO on the leafnode port says what the reference's says: tls_required, and
// tls_verify with `verify: true` only; it comes in plaintext, before any handshake.
TEST(LeafTlsInfo, HubInfoSaysTlsRequiredAndVerify) {
  for (bool verify : {true, false}) {
    int leaf_port = pick_free_port();
    NodeConfig h = cluster::single_config(P, "hub", "hub-cluster");
    h.config = good_hub(leaf_port, verify);
    Node hub(h);
    ASSERT_TRUE(hub.start());
    RawClient raw;
    ASSERT_TRUE(raw.connect(leaf_port));
    auto info = raw.read_info();
    ASSERT_TRUE(info) << "plaintext INFO first";
    auto o = boost::json::parse(*info).as_object();
    EXPECT_TRUE(o.contains("tls_required") && o.at("tls_required").as_bool()) << *info;
    EXPECT_EQ(verify, o.contains("tls_verify") && o.at("tls_verify").as_bool()) << *info;
    hub.stop();
  }
}

// A leaf that does not speak TLS on a TLS leaf port (CONNECT in plaintext after the INFO):
// the hub logs Go's words and closes it alone; its clients go on.
class LeafTlsPlaintextPeer : public ::testing::TestWithParam<Kind> {};

TEST_P(LeafTlsPlaintextPeer, IsRefusedInTheReferenceWords) {
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(GetParam(), "hub", "hub-cluster");
  h.config = good_hub(leaf_port);
  Node hub(h);
  ASSERT_TRUE(hub.start());
  RawClient raw;
  ASSERT_TRUE(raw.connect(leaf_port));
  ASSERT_TRUE(raw.read_info());
  ASSERT_TRUE(raw.send("CONNECT {\"name\":\"plain\",\"headers\":true}\r\nPING\r\n"));
  EXPECT_TRUE(raw.expect_closed(10s)) << "the hub closes a plaintext leaf";
  EXPECT_EQ(std::string::npos, raw.buffer().find("PONG")) << raw.buffer();
  EXPECT_TRUE(hub.wait_for_log(std::string(kLeafHandshakeError) + "tls: first record does not look like a TLS handshake",
                               5s))
      << hub.log();
  expect_hub_serves_clients(hub);
  hub.stop();
}

INSTANTIATE_TEST_SUITE_P(Hubs, LeafTlsPlaintextPeer, ::testing::Values(P, N),
                         [](const ::testing::TestParamInfo<Kind>& i) { return std::string(cluster::kind_name(i.param)); });

// A Pylon leaf refused by the handshake: the error in the reference's words on the side that
// sees it (`leaf_error` on the leaf, `hub_error` on the hub, when given), at least twice (the
// leaf keeps dialling), no leaf connection on either end, and the hub's clients unharmed.
struct Refusal {
  std::string name;
  Kind hub_kind;
  bool hub_expired = false, hub_wrong_name = false;
  std::string leaf_tls;  // the remote's tls block ("" for none: a tls:// URL alone)
  std::string leaf_error, hub_error;
};

void PrintTo(const Refusal& r, std::ostream* os) { *os << r.name; }

class LeafTlsRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(LeafTlsRefusal, IsLoggedAndTheLeafKeepsDialling) {
  const Refusal& r = GetParam();
  const auto& c = test_certs();
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(r.hub_kind, "hub", "hub-cluster");
  h.config = r.hub_expired      ? hub_tls(leaf_port, c.expired_cert(), c.expired_key())
             : r.hub_wrong_name ? hub_tls(leaf_port, c.wrong_name_cert(), c.wrong_name_key())
                                : good_hub(leaf_port);
  NodeConfig l = cluster::single_config(P, "leaf", "leaf-cluster");
  l.config = leaf_remote("tls://127.0.0.1:" + std::to_string(leaf_port), r.leaf_tls);
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  // With TLS 1.3 the client's handshake is done before the hub has checked its certificate:
  // a leaf the hub refuses learns it as a read error, and only the hub logs why.
  std::string leaf_line = r.leaf_error.empty() ? "Leafnode connection created" : kLeafHandshakeError + r.leaf_error;
  EXPECT_TRUE(wait_for([&] { return leaf.log_lines(leaf_line).size() >= 2; }, kRedialWait))
      << "wanted twice: " << leaf_line << "\n"
      << leaf.log();
  if (!r.hub_error.empty()) {
    std::string hub_line = kLeafHandshakeError + r.hub_error;
    EXPECT_TRUE(wait_for([&] { return hub.log_lines(hub_line).size() >= 2; }, kRedialWait))
        << "wanted twice: " << hub_line << "\n"
        << hub.log();
  }
  EXPECT_EQ(0, leafz_count(hub));
  EXPECT_EQ(0, leafz_count(leaf));
  expect_hub_serves_clients(hub);
  leaf.stop();
  hub.stop();
}

std::vector<Refusal> refusals() {
  const auto& c = test_certs();
  std::vector<Refusal> out;
  for (Kind hub : {P, N}) {
    // The hub's certificate is from a CA the leaf does not trust.
    out.push_back({hub == P ? "WrongCaOnPylonHub" : "WrongCaOnNatsHub", hub, false, false,
                   remote_tls(c.client_cert(), c.client_key(), c.other_ca()),
                   "x509: certificate signed by unknown authority", ""});
    // A tls:// URL alone upgrades because the hub requires it, and trusts the system's CAs,
    // which do not know the test CA.
    out.push_back({hub == P ? "UrlAloneOnPylonHub" : "UrlAloneOnNatsHub", hub, false, false, "",
                   "x509: certificate signed by unknown authority", ""});
    // The hub's certificate expired.
    out.push_back({hub == P ? "ExpiredOnPylonHub" : "ExpiredOnNatsHub", hub, true, false,
                   remote_tls(c.client_cert(), c.client_key(), c.ca()),
                   "x509: certificate has expired or is not yet valid", ""});
    // The leaf presents a certificate from a CA the hub does not trust (verify: true).
    out.push_back({hub == P ? "UntrustedLeafCertOnPylonHub" : "UntrustedLeafCertOnNatsHub", hub, false, false,
                   remote_tls(c.wrong_client_cert(), c.wrong_client_key(), c.ca()), "",
                   "tls: failed to verify client certificate: x509: certificate signed by unknown authority"});
  }
  // The hub's certificate names another host than the URL's (hostname verification).
  out.push_back({"WrongNameOnPylonHub", P, false, true, remote_tls(c.client_cert(), c.client_key(), c.ca()),
                 "x509: IP address mismatch", ""});
  // The leaf presents no certificate to a hub that verifies.
  out.push_back({"NoLeafCertOnPylonHub", P, false, false, remote_tls("", "", c.ca()), "",
                 "tls: client didn't provide a certificate"});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, LeafTlsRefusal, ::testing::ValuesIn(refusals()),
                         [](const ::testing::TestParamInfo<Refusal>& i) { return i.param.name; });

// The name a hub's certificate must carry, as 2.9's tlsName: the URL's host, but for a URL with
// an IP address the first host name among the remote's URLs. The hub's certificate names only
// localhost; the one URL that answers is 127.0.0.1, the other (localhost, port 1) never does.
class LeafTlsName : public ::testing::TestWithParam<Kind> {};

TEST_P(LeafTlsName, AnIpUrlIsCheckedAgainstTheHostNameOfTheOtherUrls) {
  const auto& c = test_certs();
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(P, "hub", "hub-cluster");
  h.config = hub_tls(leaf_port, c.path("localhost-only.pem"), c.path("localhost-only-key.pem"));
  NodeConfig l = cluster::single_config(GetParam(), "leaf", "leaf-cluster");
  l.config = "leafnodes { remotes = [ { urls: [\"tls://127.0.0.1:" + std::to_string(leaf_port) +
             "\", \"tls://localhost:1\"]\n    tls { " + remote_tls(c.client_cert(), c.client_key(), c.ca()) + " } } ] }\n";
  Node hub(h), leaf(l);
  ASSERT_TRUE(hub.start());
  ASSERT_TRUE(leaf.start());
  EXPECT_TRUE(wait_for([&] { return leafz_count(hub) == 1; }, kRedialWait)) << leaf.log();
  EXPECT_TRUE(leaf.log_lines(kLeafHandshakeError).empty()) << leaf.log();
  leaf.stop();
  hub.stop();
}

INSTANTIATE_TEST_SUITE_P(Leafs, LeafTlsName, ::testing::Values(P, N),
                         [](const ::testing::TestParamInfo<Kind>& i) { return std::string(cluster::kind_name(i.param)); });

// verify_and_map: the hub finds the leaf's user in its certificate (client.pem: SAN e-mail
// alice@pylon.test) among the leafnode authorization's users, and binds the leaf to that user's
// account; a certificate that names no user (client2.pem, bob) gets 'Authorization Violation'.
class LeafTlsMap : public ::testing::TestWithParam<Kind> {};

TEST_P(LeafTlsMap, TheCertificateNamesTheLeafsUserAndAccount) {
  const auto& c = test_certs();
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(GetParam(), "hub", "hub-cluster");
  h.config = "accounts { EDGE: { users = [ {user: e, password: p} ] } }\n"
             "leafnodes {\n  listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\"\n  tls {\n    cert_file: " +
             quoted(c.server_cert()) + "\n    key_file: " + quoted(c.server_key()) + "\n    ca_file: " + quoted(c.ca()) +
             "\n    verify_and_map: true\n  }\n  authorization { users = [ {user: \"alice@pylon.test\", account: EDGE} ] }\n}\n";
  Node hub(h);
  ASSERT_TRUE(hub.start());
  auto leafz_account = [&]() -> std::string {
    auto b = cluster::http_get_body(hub.http_port(), "/leafz");
    if (!b) return "";
    auto o = boost::json::parse(*b).as_object();
    if (o.at("leafnodes").to_number<int>() != 1) return "";
    return std::string(o.at("leafs").as_array().at(0).as_object().at("account").as_string());
  };
  {
    NodeConfig l = cluster::single_config(P, "bob", "bob-cluster");
    l.config = leaf_remote("tls://127.0.0.1:" + std::to_string(leaf_port), remote_tls(c.client2_cert(), c.client2_key(), c.ca()));
    Node bob(l);
    ASSERT_TRUE(bob.start());
    EXPECT_TRUE(bob.wait_for_log("Leafnode Error 'Authorization Violation'", 10s)) << bob.log();
    EXPECT_EQ("", leafz_account());
    bob.stop();
  }
  NodeConfig l = cluster::single_config(P, "alice", "alice-cluster");
  l.config = good_leaf(leaf_port);
  Node alice(l);
  ASSERT_TRUE(alice.start());
  EXPECT_TRUE(wait_for([&] { return leafz_account() == "EDGE"; }, 15s)) << hub.log();
  auto hc = Client::connect({"nats://e:p@127.0.0.1:" + std::to_string(hub.client_port())});
  auto lc = client_of(alice, "leaf-client");
  ASSERT_TRUE(hc && lc);
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*hc, "edge.mapped", col);
  ASSERT_TRUE(s);
  EXPECT_TRUE(cluster::await_interest(*lc, "edge.mapped", *col, "mapped", 15s));
  hc.reset();
  lc.reset();
  alice.stop();
  hub.stop();
}

INSTANTIATE_TEST_SUITE_P(Hubs, LeafTlsMap, ::testing::Values(P, N),
                         [](const ::testing::TestParamInfo<Kind>& i) { return std::string(cluster::kind_name(i.param)); });

// SIGHUP reads leafnodes { tls {} } again: a hub that was plaintext requires TLS of the leafs
// that connect afterwards (its INFO says so), and a Pylon leaf with a tls block gets in.
TEST(LeafTlsReload, AddingTheTlsBlockAppliesToNewLeafs) {
  int leaf_port = pick_free_port();
  NodeConfig h = cluster::single_config(P, "hub", "hub-cluster");
  h.config = "leafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\" }\n";
  Node hub(h);
  ASSERT_TRUE(hub.start());
  auto info_of = [&] {
    RawClient raw;
    EXPECT_TRUE(raw.connect(leaf_port));
    auto info = raw.read_info();
    return info ? boost::json::parse(*info).as_object() : boost::json::object{};
  };
  EXPECT_FALSE(info_of().contains("tls_required"));
  {
    std::ofstream out(hub.config_path(), std::ios::trunc);
    out << good_hub(leaf_port);
  }
  hub.send_signal(SIGHUP);
  ASSERT_TRUE(hub.wait_for_log("Reloaded: leafnode tls = enabled", 10s)) << hub.log();
  auto o = info_of();
  EXPECT_TRUE(o.contains("tls_required") && o.at("tls_required").as_bool()) << boost::json::serialize(o);
  NodeConfig l = cluster::single_config(P, "leaf", "leaf-cluster");
  l.config = good_leaf(leaf_port);
  Node leaf(l);
  ASSERT_TRUE(leaf.start());
  EXPECT_TRUE(wait_for([&] { return leafz_count(hub) == 1; }, 15s)) << hub.log();
  EXPECT_TRUE(hub.wait_for_log("Starting TLS leafnode server handshake", 5s)) << hub.log();
  leaf.stop();
  hub.stop();
}

}  // namespace
}  // namespace pylon::it
