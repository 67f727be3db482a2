// Issue 12, routes over TLS (`cluster { tls {...} }`), as nats-server 2.9 does them: TLS first
// (the handshake before the route INFO), both sides verify (a cluster's tls block always requires
// and verifies the peer's certificate), the dialling side checks the route URL's host against the
// certificate unless `insecure: true`. Every test runs Pylon and nats-server nodes from the same
// config text, so mixed clusters are the point; run with PYLON_TEST_SERVER=nats-server every node
// is the reference, which is how the tests themselves were checked.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <fstream>
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../common/test_certs.h"
#include "cluster_harness.h"
#include "harness.h"

namespace pylon::it::cluster {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using pylon::testing::test_certs;

constexpr Kind P = Kind::kPylon;
constexpr Kind N = Kind::kNats;
constexpr auto kMeshTimeout = 20s;

// The log line of a refused handshake, in the reference's words (client.go doTLSHandshake).
constexpr const char* kRouteHandshakeError = "TLS route handshake error: ";
// route.go clusterTLSInsecureWarning.
constexpr const char* kInsecureWarning =
    "TLS certificate chain and hostname of solicited routes will not be verified. DO NOT USE IN PRODUCTION!";

std::string cluster_tls(const std::string& cert, const std::string& key, const std::string& ca,
                        const std::string& extra = "") {
  return "cluster {\n  tls {\n    cert_file: \"" + cert + "\"\n    key_file: \"" + key + "\"\n    ca_file: \"" + ca +
         "\"\n    verify: true\n    timeout: 2\n" + extra + "  }\n}\n";
}
std::string good_tls(const std::string& extra = "") {
  const auto& c = test_certs();
  return cluster_tls(c.server_cert(), c.server_key(), c.ca(), extra);
}

// The first line a TLS server sends after the handshake, read as a route peer would: verifying
// the server against `ca` (and its name against 127.0.0.1), presenting `cert` when given.
// nullopt with *why set when the handshake or the read fails within `timeout`.
std::optional<std::string> tls_first_line(int port, const std::string& ca, const std::string& cert,
                                          const std::string& key, std::string* why, milliseconds timeout = 5s) {
  try {
    asio::io_context io;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(ca);
    ctx.set_verify_mode(ssl::verify_peer);
    ctx.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    if (!cert.empty()) {
      ctx.use_certificate_chain_file(cert);
      ctx.use_private_key_file(key, ssl::context::pem);
    }
    ssl::stream<asio::ip::tcp::socket> s(io, ctx);
    asio::streambuf buf;
    std::optional<std::string> line;
    boost::system::error_code failed;
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    s.next_layer().async_connect(ep, [&](boost::system::error_code ec) {
      if (ec) return void(failed = ec);
      s.async_handshake(ssl::stream_base::client, [&](boost::system::error_code ec) {
        if (ec) return void(failed = ec);
        asio::async_read_until(s, buf, "\r\n", [&](boost::system::error_code ec, size_t) {
          if (ec) return void(failed = ec);
          std::istream in(&buf);
          std::string l;
          std::getline(in, l);
          if (!l.empty() && l.back() == '\r') l.pop_back();
          line = l;
        });
      });
    });
    io.run_for(timeout);
    if (!line && why) *why = failed ? failed.message() : "no line within the deadline";
    return line;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return std::nullopt;
  }
}

void tmp_write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

class TlsRouteBase : public ::testing::Test {
 protected:
  Node& add(NodeConfig c) {
    nodes_.push_back(std::make_unique<Node>(std::move(c)));
    return *nodes_.back();
  }
  NodeList some(std::initializer_list<size_t> idx) {
    NodeList out;
    for (auto i : idx) out.push_back(nodes_.at(i).get());
    return out;
  }
  void TearDown() override {
    NodeList all;
    for (auto& n : nodes_) all.push_back(n.get());
    stop_all(all);
  }
  std::vector<std::unique_ptr<Node>> nodes_;
};

// ------------------------------------------------------------------ meshes

struct MixParam {
  const char* name;
  std::vector<Kind> kinds;
};

class TlsMesh : public TlsRouteBase, public ::testing::WithParamInterface<MixParam> {};

// Three nodes, each routing to the others over mutual TLS, mesh fully; /varz says the cluster
// requires and verifies TLS; plain subscribers on every node get every node's messages, and a
// queue group with a member on each of the other nodes gets each message exactly once.
TEST_P(TlsMesh, MeshesAndCarriesMessagesBothWaysWithQueueGroups) {
  for (auto& c : mesh_configs(GetParam().kinds, "tls-it")) {
    c.config = good_tls();
    add(std::move(c));
  }
  for (auto& n : nodes_) ASSERT_TRUE(n->start());
  std::string why;
  ASSERT_TRUE(wait_mesh(some({0, 1, 2}), kMeshTimeout, &why)) << why;

  for (auto& n : nodes_) {
    SCOPED_TRACE(n->name());
    auto body = http_get_body(n->http_port(), "/varz");
    ASSERT_TRUE(body);
    auto cl = boost::json::parse(*body).as_object().at("cluster").as_object();
    EXPECT_TRUE(cl.contains("tls_required") && cl.at("tls_required").as_bool()) << *body;
    EXPECT_TRUE(cl.contains("tls_verify") && cl.at("tls_verify").as_bool()) << *body;
    EXPECT_EQ(cl.at("tls_timeout").to_number<double>(), 2.0);
    // Both ends of every route went through the handshake (the reference's debug lines).
    EXPECT_GE(n->log_lines("TLS handshake complete").size(), 2u) << n->log();
  }

  std::vector<std::unique_ptr<Client>> subs, pubs;
  std::vector<std::unique_ptr<AsyncSub>> ss;
  auto plain = std::make_shared<Collector>();
  std::vector<std::shared_ptr<Collector>> queue_cols;
  for (int i = 0; i < 3; ++i) {
    ClientOptions o;
    o.allow_reconnect = false;
    o.name = "sub-" + std::to_string(i);
    subs.push_back(Client::connect({nodes_[i]->client_url()}, o));
    o.name = "pub-" + std::to_string(i);
    pubs.push_back(Client::connect({nodes_[i]->client_url()}, o));
    ASSERT_TRUE(subs.back() && pubs.back());
  }
  for (int i = 0; i < 3; ++i) ss.push_back(AsyncSub::make(*subs[i], "tls.plain", plain, i));
  for (int p = 0; p < 3; ++p) {
    queue_cols.push_back(std::make_shared<Collector>());
    for (int m = 0; m < 3; ++m)
      if (m != p) ss.push_back(AsyncSub::make(*subs[m], "tls.q." + std::to_string(p), queue_cols[p], m, "workers"));
  }
  for (int p = 0; p < 3; ++p) {
    for (int s = 0; s < 3; ++s) {
      ASSERT_TRUE(await_interest(*pubs[p], "tls.plain", *plain, "p" + std::to_string(p) + "s" + std::to_string(s), s))
          << "subscription on " << nodes_[s]->name() << " not visible on " << nodes_[p]->name();
    }
    // The queue members subscribed on their connections before the plain subscription, so the
    // probe above also proves their interest reached node p.
  }
  plain->clear();

  constexpr int kPerNode = 100;
  for (int p = 0; p < 3; ++p) {
    for (int i = 0; i < kPerNode; ++i) {
      ASSERT_EQ(publish(*pubs[p], "tls.plain", "n" + std::to_string(p) + "-" + std::to_string(i)), NATS_OK);
      ASSERT_EQ(publish(*pubs[p], "tls.q." + std::to_string(p), "q" + std::to_string(i)), NATS_OK);
    }
    ASSERT_TRUE(pubs[p]->flush());
  }
  // Every subscriber (3) gets every message of every node (3 x kPerNode).
  if (!plain->wait_count(9 * kPerNode, 10s)) {
    // Which publisher -> subscriber pairs came short says where they were lost.
    std::map<std::string, int> per_pair;
    for (auto& m : plain->messages()) ++per_pair[m.data.substr(0, m.data.find('-')) + "->s" + std::to_string(m.tag)];
    std::string pairs;
    for (auto& [k, n] : per_pair) pairs += " " + k + ":" + std::to_string(n);
    FAIL() << "plain: got " << plain->count() << " of " << 9 * kPerNode << "; per publisher->subscriber:" << pairs;
  }
  std::map<std::pair<int, std::string>, int> seen;
  for (auto& m : plain->messages()) ++seen[{m.tag, m.data}];
  EXPECT_EQ(seen.size(), 9u * kPerNode) << "duplicates or strays among plain messages";
  for (int p = 0; p < 3; ++p) {
    SCOPED_TRACE("queue group published on " + nodes_[p]->name());
    ASSERT_TRUE(queue_cols[p]->wait_count(kPerNode, 10s)) << "got " << queue_cols[p]->count();
    queue_cols[p]->wait_quiet(100ms, 2s);
    std::map<std::string, int> copies;
    for (auto& m : queue_cols[p]->messages()) {
      ++copies[m.data];
      EXPECT_NE(m.tag, p) << "no member of this group is on the publishing node";
    }
    EXPECT_EQ(copies.size(), static_cast<size_t>(kPerNode));
    for (auto& [d, n] : copies) EXPECT_EQ(n, 1) << d << " delivered " << n << " times";
  }
}

INSTANTIATE_TEST_SUITE_P(TlsRoutes, TlsMesh,
                         ::testing::Values(MixParam{"Pylon3", {P, P, P}}, MixParam{"PylonPylonNats", {P, P, N}},
                                           MixParam{"PylonNatsNats", {N, P, N}}),
                         [](const ::testing::TestParamInfo<MixParam>& i) { return std::string(i.param.name); });

// ------------------------------------------------------------------ the route port itself

class TlsRouteListener : public TlsRouteBase {};

// The route port speaks TLS before anything else (2.9: the handshake comes before the route
// INFO), the INFO then says tls_required and tls_verify, and a peer without a certificate is
// refused by the handshake (a cluster's tls block always requires one).
TEST_F(TlsRouteListener, TlsFirstThenInfoWithTlsRequired) {
  auto cfg = single_config(P, "lone", "tls-it");
  cfg.config = good_tls();
  Node& n = add(cfg);
  ASSERT_TRUE(n.start());
  const auto& c = test_certs();

  std::string why;
  auto line = tls_first_line(n.route_port(), c.ca(), c.server_cert(), c.server_key(), &why);
  ASSERT_TRUE(line) << why;
  ASSERT_EQ(line->rfind("INFO ", 0), 0u) << *line;
  auto info = boost::json::parse(line->substr(5)).as_object();
  EXPECT_TRUE(info.contains("tls_required") && info.at("tls_required").as_bool()) << *line;
  EXPECT_TRUE(info.contains("tls_verify") && info.at("tls_verify").as_bool()) << *line;

  // No client certificate: the handshake fails (or the server drops us right after it, as
  // TLS 1.3 reports the refusal only after the client's side is done): no INFO either way.
  auto none = tls_first_line(n.route_port(), c.ca(), "", "", &why);
  EXPECT_FALSE(none) << "a route peer without a certificate got: " << *none;
  EXPECT_TRUE(n.wait_for_log(kRouteHandshakeError, 5s)) << n.log();

  // Plaintext: nothing in the clear, ever (no INFO before the handshake).
  RawClient raw;
  ASSERT_TRUE(raw.connect(n.route_port()));
  ASSERT_TRUE(raw.send("CONNECT {}\r\nPING\r\n"));
  EXPECT_FALSE(raw.read_until("INFO", 3s)) << "plaintext INFO on a TLS route port: " << raw.buffer();

  // And the node still serves a proper peer afterwards.
  EXPECT_TRUE(tls_first_line(n.route_port(), c.ca(), c.server_cert(), c.server_key(), &why)) << why;
}

// The cluster block's `timeout` bounds a route handshake: a peer that connects to the route port
// and sends nothing is closed after it (not before), logged as the reference's tlsTimeout.
TEST_F(TlsRouteListener, SilentPeerIsClosedAtTheHandshakeTimeout) {
  constexpr auto kTimeout = 500ms;
  constexpr int kSlack = 6;  // the upper bound, in timeouts: a loaded machine may be slow to close
  auto cfg = single_config(P, "lone", "tls-it");
  cfg.config = good_tls();
  auto at = cfg.config.find("timeout: 2\n");
  ASSERT_NE(at, std::string::npos);
  cfg.config.replace(at, 10, "timeout: 0.5");
  Node& n = add(cfg);
  ASSERT_TRUE(n.start());
  RawClient raw;
  ASSERT_TRUE(raw.connect(n.route_port()));
  auto t0 = Clock::now();
  ASSERT_TRUE(raw.expect_closed(kTimeout * kSlack)) << "still open after " << (kTimeout * kSlack).count() << " ms";
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_GE(took, kTimeout - 50ms) << "closed before the handshake timeout";
  EXPECT_EQ(raw.buffer().find("INFO"), std::string::npos) << raw.buffer();
  EXPECT_TRUE(n.wait_for_log("TLS handshake timeout", 2s)) << n.log();
}

// ------------------------------------------------------------------ refused peers

struct IntruderParam {
  const char* name;
  Kind cluster, intruder;
};

class TlsRouteIntruder : public TlsRouteBase, public ::testing::WithParamInterface<IntruderParam> {};

// A healthy TLS mesh of three; then two peers that dial node 0 over and over: one whose
// certificate comes from another CA, one that speaks plaintext. Node 0 refuses both in its log,
// neither ever shows up as a route anywhere, and the mesh keeps carrying messages meanwhile.
TEST_P(TlsRouteIntruder, WrongCaAndPlaintextPeersAreRefusedAndCostTheMeshNothing) {
  const auto& c = test_certs();
  const Kind k = GetParam().cluster;
  for (auto& cfg : mesh_configs({k, k, k}, "tls-it")) {
    cfg.config = good_tls();
    add(std::move(cfg));
  }
  for (auto& n : nodes_) ASSERT_TRUE(n->start());
  std::string why;
  ASSERT_TRUE(wait_mesh(some({0, 1, 2}), kMeshTimeout, &why)) << why;
  const auto log_before = nodes_[0]->log_lines(kRouteHandshakeError).size();

  auto wrong = single_config(GetParam().intruder, "wrong-ca", "tls-it");
  wrong.routes = {route_url(nodes_[0]->route_port())};
  // It trusts our CA (so the refusal is node 0's), but its own certificate is from the other CA.
  wrong.config = cluster_tls(c.wrong_ca_cert(), c.wrong_ca_key(), c.ca());
  Node& w = add(wrong);
  auto plain = single_config(GetParam().intruder, "plaintext", "tls-it");
  plain.routes = {route_url(nodes_[0]->route_port())};
  Node& pl = add(plain);
  ASSERT_TRUE(w.start());
  ASSERT_TRUE(pl.start());

  // Both dial at once; each refusal is one handshake error line on node 0. Wait for two
  // rounds of redials so both intruders have been refused at least once.
  ASSERT_TRUE(wait_for([&] { return nodes_[0]->log_lines(kRouteHandshakeError).size() >= log_before + 3; }, 15s,
                       20ms))
      << nodes_[0]->log();

  // Nothing of theirs registered anywhere; the mesh is exactly the three.
  ASSERT_TRUE(mesh_complete(some({0, 1, 2}), &why)) << why;
  for (Node* x : {&w, &pl}) {
    auto ids = x->routez_remote_ids();
    ASSERT_TRUE(ids);
    EXPECT_TRUE(ids->empty()) << x->describe();
  }

  // Messages still cross node 0's routes both ways while the intruders keep trying.
  auto a = Client::connect({nodes_[0]->client_url()});
  auto b = Client::connect({nodes_[2]->client_url()});
  ASSERT_TRUE(a && b);
  auto col_a = std::make_shared<Collector>(), col_b = std::make_shared<Collector>();
  auto sa = AsyncSub::make(*a, "intr.x", col_a, 0);
  auto sb = AsyncSub::make(*b, "intr.x", col_b, 2);
  ASSERT_TRUE(await_interest(*a, "intr.x", *col_b, "a"));
  ASSERT_TRUE(await_interest(*b, "intr.x", *col_a, "b"));
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(publish(*a, "intr.x", "a" + std::to_string(i)), NATS_OK);
    ASSERT_EQ(publish(*b, "intr.x", "b" + std::to_string(i)), NATS_OK);
  }
  ASSERT_TRUE(a->flush() && b->flush());
  EXPECT_TRUE(col_a->wait_count(100, 10s)) << col_a->count();
  EXPECT_TRUE(col_b->wait_count(100, 10s)) << col_b->count();
  EXPECT_TRUE(mesh_complete(some({0, 1, 2}), &why)) << why;
}

INSTANTIATE_TEST_SUITE_P(TlsRoutes, TlsRouteIntruder,
                         ::testing::Values(IntruderParam{"PylonRefusesPylon", P, P},
                                           IntruderParam{"PylonRefusesNats", P, N},
                                           IntruderParam{"NatsRefusesPylon", N, P}),
                         [](const ::testing::TestParamInfo<IntruderParam>& i) { return std::string(i.param.name); });

// ------------------------------------------------------------------ insecure

struct PairParam {
  const char* name;
  Kind dialer, listener;
};

class TlsRouteInsecure : public TlsRouteBase, public ::testing::WithParamInterface<PairParam> {};

// The listener's certificate is from the right CA but for another name (wrong.pylon.test), and
// the dialler uses the route URL nats://127.0.0.1:port. Without `insecure` the dialler refuses
// it (hostname verification); with `insecure: true` it warns at startup in the reference's
// words and the route comes up.
TEST_P(TlsRouteInsecure, WrongNameRefusedUnlessInsecure) {
  const auto& c = test_certs();
  auto lcfg = single_config(GetParam().listener, "listener", "tls-it");
  lcfg.config = cluster_tls(c.wrong_name_cert(), c.wrong_name_key(), c.ca());
  auto dcfg = single_config(GetParam().dialer, "dialer", "tls-it");
  dcfg.routes = {route_url(lcfg.route_port)};
  dcfg.config = good_tls();
  Node& l = add(lcfg);
  Node& d = add(dcfg);
  ASSERT_TRUE(l.start());
  ASSERT_TRUE(d.start());

  // Two refusals by the dialler: its first dial and a redial; no route meanwhile.
  ASSERT_TRUE(wait_for([&] { return d.log_lines(kRouteHandshakeError).size() >= 2; }, 10s, 20ms)) << d.log();
  for (auto* n : {&l, &d}) {
    auto ids = n->routez_remote_ids();
    ASSERT_TRUE(ids);
    EXPECT_TRUE(ids->empty()) << n->describe();
  }
  EXPECT_TRUE(d.log_lines(kInsecureWarning).empty());

  // Same peers, the dialler now `insecure`.
  d.stop();
  d.mutable_config().config = good_tls("    insecure: true\n");
  ASSERT_TRUE(d.start());
  std::string why;
  ASSERT_TRUE(wait_mesh({&l, &d}, kMeshTimeout, &why)) << why;
  EXPECT_EQ(d.log_lines(kInsecureWarning).size(), 1u) << d.log();
  EXPECT_TRUE(d.log_lines(kRouteHandshakeError).empty()) << d.log();

  auto cd = Client::connect({d.client_url()});
  auto cl = Client::connect({l.client_url()});
  ASSERT_TRUE(cd && cl);
  auto col = std::make_shared<Collector>();
  auto s = AsyncSub::make(*cl, "insecure.x", col, 1);
  ASSERT_TRUE(await_interest(*cd, "insecure.x", *col, "d")) << "no messages across the insecure route";
}

INSTANTIATE_TEST_SUITE_P(TlsRoutes, TlsRouteInsecure,
                         ::testing::Values(PairParam{"PylonDialsNats", P, N}, PairParam{"NatsDialsPylon", N, P},
                                           PairParam{"PylonDialsPylon", P, P}),
                         [](const ::testing::TestParamInfo<PairParam>& i) { return std::string(i.param.name); });

// ------------------------------------------------------------------ reload

class TlsRouteReload : public TlsRouteBase, public ::testing::WithParamInterface<PairParam> {};

// A reload of the cluster tls block applies to the routes dialled after it, as the reference's
// clusterOption: the dialler refuses the wrong-name listener until a SIGHUP makes it
// `insecure`, then its next redial comes up (with the warning, at the reload).
TEST_P(TlsRouteReload, InsecureByReloadLetsTheNextDialThrough) {
  const auto& c = test_certs();
  auto lcfg = single_config(GetParam().listener, "listener", "tls-it");
  lcfg.config = cluster_tls(c.wrong_name_cert(), c.wrong_name_key(), c.ca());
  auto dcfg = single_config(GetParam().dialer, "dialer", "tls-it");
  dcfg.routes = {route_url(lcfg.route_port)};
  // Everything the flags say is in the file too: nats-server 2.9 does not apply -n, --cluster
  // and the like again on reload, and would refuse it ("config reload not supported for
  // ServerName: old=dialer, new=").
  auto dialer_file = [&](const std::string& extra) {
    std::string tls = good_tls(extra);  // "cluster {\n  tls {...}\n}\n": add the rest inside
    std::string head = "server_name: dialer\nlisten: 127.0.0.1:" + std::to_string(dcfg.client_port) +
                       "\nhttp: 127.0.0.1:" + std::to_string(dcfg.http_port) + "\ncluster {\n  name: tls-it\n  listen: " +
                       "127.0.0.1:" + std::to_string(dcfg.route_port) + "\n  routes: [" + dcfg.routes[0] + "]\n";
    return head + tls.substr(std::string("cluster {\n").size());
  };
  dcfg.config = dialer_file("");
  Node& l = add(lcfg);
  Node& d = add(dcfg);
  ASSERT_TRUE(l.start());
  ASSERT_TRUE(d.start());
  ASSERT_TRUE(d.wait_for_log(kRouteHandshakeError, 10s)) << d.log();

  tmp_write(d.config_path(), dialer_file("    insecure: true\n"));
  d.send_signal(SIGHUP);
  std::string why;
  ASSERT_TRUE(wait_mesh({&l, &d}, kMeshTimeout, &why)) << why << d.log();
  EXPECT_TRUE(d.wait_for_log(kInsecureWarning, 5s)) << d.log();
}

INSTANTIATE_TEST_SUITE_P(TlsRoutes, TlsRouteReload,
                         ::testing::Values(PairParam{"PylonDialsNats", P, N}, PairParam{"PylonDialsPylon", P, P}),
                         [](const ::testing::TestParamInfo<PairParam>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace pylon::it::cluster
