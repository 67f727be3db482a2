// Accounts: each account is a subject space of its own. Clients of two accounts (our client
// library in one, the official C client in the other, raw protocol in $G) publish on the same
// subjects and each sees only its own account's messages; monitoring reports every account.
// Runs against the reference server too (PYLON_TEST_SERVER=nats-server), which is how these
// expectations were checked.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <signal.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "harness.h"
#include "nats_c.h"
#include "route_peer.h"
#include "pylon/connection.h"

namespace pylon::it {
namespace {

namespace json = boost::json;

// A and B have users; g is in $G (authorization's users sit in the global account).
constexpr const char* kAccountsConfig = R"(
accounts {
  A: { users: [ {user: a, password: pa}, {user: r, password: pr, permissions: {subscribe: "svc", allow_responses: true}} ] }
  B: { users: [ {user: b, password: pb} ] }
}
authorization { users: [ {user: g, password: pg} ] }
)";

// Every account but the system account imports 3 of its services, on both servers
// ($SYS.REQ.ACCOUNT.PING.CONNZ, $SYS.REQ.SERVER.PING.CONNZ, $SYS.REQ.ACCOUNT.PING.STATZ): each
// is a subscription in the account's index.
constexpr int64_t kSystemImports = 3;

std::unique_ptr<pylon::Connection> library_client(int port, const std::string& user, const std::string& pass) {
  pylon::ClientOptions o;
  o.servers = {"nats://127.0.0.1:" + std::to_string(port)};
  o.user = user;
  o.password = pass;
  o.allow_reconnect = false;
  auto c = std::make_unique<pylon::Connection>(o);
  c->connect();
  return c;
}

NatsConn c_client(int port, const std::string& user, const std::string& pass) {
  return nats_connect("nats://" + user + ":" + pass + "@127.0.0.1:" + std::to_string(port));
}

RawClient raw_client(int port, const std::string& user, const std::string& pass) {
  RawClient c = raw_connect(port);
  std::string got;
  std::string connect = R"({"verbose":false,"pedantic":false)";
  if (!user.empty()) connect += R"(,"user":")" + user + R"(","pass":")" + pass + "\"";
  connect += "}";
  EXPECT_TRUE(c.handshake(connect, &got)) << got;
  return c;
}

std::optional<json::value> get_json(int http_port, const std::string& target) {
  auto r = http_get(http_port, target);
  if (!r || r->status != 200) return std::nullopt;
  return json::parse(r->body);
}

TEST(Accounts, EachAccountSeesOnlyItsOwnMessages) {
  ServerProcess srv(with_config(kAccountsConfig));
  ASSERT_TRUE(srv.start());

  auto a = library_client(srv.port(), "a", "pa");             // account A, our library
  auto b = c_client(srv.port(), "b", "pb");                   // account B, libnats
  RawClient g = raw_client(srv.port(), "g", "pg");            // $G, raw protocol
  ASSERT_TRUE(b);
  auto a_sub = a->subscribe_sync("orders.>");
  auto b_sub = sub_sync(b.get(), "orders.>");
  ASSERT_TRUE(g.send("SUB orders.> 1\r\n"));
  a->flush();
  ASSERT_TRUE(flush(b.get()));
  ASSERT_TRUE(g.ping_pong());

  a->publish("orders.a", "from A");
  ASSERT_EQ(natsConnection_PublishString(b.get(), "orders.b", "from B"), NATS_OK);
  ASSERT_TRUE(g.send("PUB orders.g 6\r\nfrom G\r\n"));
  // Once each publisher's PING is answered its messages are queued to every receiver; each
  // receiver's own PING then comes back behind them.
  a->flush();
  ASSERT_TRUE(flush(b.get()));
  std::vector<std::string> before_pong;
  ASSERT_TRUE(g.ping_pong(5s, &before_pong));
  a->flush();
  ASSERT_TRUE(flush(b.get()));

  auto m = a_sub.next_msg(5s);
  EXPECT_EQ(m.subject, "orders.a");
  EXPECT_EQ(m.data, "from A");
  EXPECT_EQ(a_sub.pending_msgs(), 0) << "account A received another account's message";

  auto got_b = drain(b_sub.get());
  ASSERT_EQ(got_b.size(), 1u) << "account B must receive its own message and no other";
  EXPECT_EQ(got_b[0].subject, "orders.b");

  std::vector<std::string> g_lines;
  for (auto& l : before_pong) {
    if (l.rfind("MSG ", 0) == 0) g_lines.push_back(l);
  }
  ASSERT_EQ(g_lines.size(), 1u) << "$G must receive its own message and no other";
  EXPECT_EQ(g_lines[0], "MSG orders.g 1 6");
}

TEST(Accounts, ConnzReportsTheAccountAndSubszCountsEveryAccount) {
  int http = pick_free_port();
  ServerProcess srv(with_config(kAccountsConfig, {"-m", std::to_string(http)}));
  ASSERT_TRUE(srv.start());
  RawClient a = raw_client(srv.port(), "a", "pa");
  RawClient b = raw_client(srv.port(), "b", "pb");
  RawClient g = raw_client(srv.port(), "g", "pg");
  ASSERT_TRUE(a.send("SUB x 1\r\nSUB y 2\r\n"));
  ASSERT_TRUE(b.send("SUB x 1\r\n"));
  ASSERT_TRUE(g.send("SUB x 1\r\n"));
  ASSERT_TRUE(a.ping_pong() && b.ping_pong() && g.ping_pong());

  auto connz = get_json(http, "/connz?auth=true");
  ASSERT_TRUE(connz);
  std::map<std::string, std::string> account_of;  // user -> account ("" when absent)
  for (const auto& c : connz->at("connections").as_array()) {
    const auto& o = c.as_object();
    std::string user = o.contains("authorized_user") ? std::string(o.at("authorized_user").as_string()) : "";
    account_of[user] = o.contains("account") ? std::string(o.at("account").as_string()) : "";
  }
  EXPECT_EQ(account_of["a"], "A");
  EXPECT_EQ(account_of["b"], "B");
  EXPECT_EQ(account_of["g"], "") << "the global account is not named (as the reference)";

  // Every account's subscriptions count, the system account's internal ones included (both
  // servers have them), and in each other account ($G, A, B) its imports of the system
  // account's services (both servers have 3 each), so once the system account's are taken
  // off the count is exact on both.
  auto subsz = get_json(http, "/subsz");
  auto subsz_sys = get_json(http, "/subsz?acc=$SYS");
  ASSERT_TRUE(subsz && subsz_sys);
  int64_t n = subsz->at("num_subscriptions").to_number<int64_t>();
  int64_t sys = subsz_sys->at("num_subscriptions").to_number<int64_t>();
  EXPECT_GT(sys, 0) << "the system account's request subscriptions";
  EXPECT_EQ(n - sys, 4 + 3 /* $G, A, B */ * kSystemImports);
  // acc= narrows both to one account, as the reference's.
  auto connz_a = get_json(http, "/connz?acc=A&auth=true");
  ASSERT_TRUE(connz_a);
  ASSERT_EQ(connz_a->at("connections").as_array().size(), 1u) << json::serialize(*connz_a);
  EXPECT_EQ(connz_a->at("connections").as_array()[0].at("authorized_user").as_string(), "a");
  auto subsz_a = get_json(http, "/subsz?acc=A");
  ASSERT_TRUE(subsz_a);
  EXPECT_EQ(subsz_a->at("num_subscriptions").to_number<int64_t>(), 2 + kSystemImports);
  // And they leave with their clients.
  a.close();
  b.close();
  ASSERT_TRUE(wait_for(
      [&] {
        auto s = get_json(http, "/subsz");
        return s && s->at("num_subscriptions").to_number<int64_t>() == n - 3;
      },
      10s));
}

TEST(Accounts, NoAuthUserPutsClientsWithoutCredentialsInItsAccount) {
  std::string config = std::string(kAccountsConfig) + "no_auth_user: b\n";
  ServerProcess srv(with_config(config));
  ASSERT_TRUE(srv.start());
  RawClient anon = raw_client(srv.port(), "", "");
  ASSERT_TRUE(anon.send("SUB x 1\r\n"));
  ASSERT_TRUE(anon.ping_pong());
  RawClient a = raw_client(srv.port(), "a", "pa");
  RawClient b = raw_client(srv.port(), "b", "pb");
  ASSERT_TRUE(a.send("PUB x 5\r\nfromA\r\n"));
  ASSERT_TRUE(a.ping_pong());
  ASSERT_TRUE(b.send("PUB x 5\r\nfromB\r\n"));
  ASSERT_TRUE(b.ping_pong());
  std::vector<std::string> lines;
  ASSERT_TRUE(anon.ping_pong(5s, &lines));
  ASSERT_EQ(lines.size(), 2u) << "exactly B's message (MSG line and payload)";
  EXPECT_EQ(lines[0], "MSG x 1 5");
  EXPECT_EQ(lines[1], "fromB");
}

TEST(Accounts, AllowResponsesLetsAResponderAnswerEachRequestOnce) {
  ServerProcess srv(with_config(kAccountsConfig));
  ASSERT_TRUE(srv.start());
  RawClient r = raw_client(srv.port(), "r", "pr");
  RawClient a = raw_client(srv.port(), "a", "pa");
  ASSERT_TRUE(r.send("SUB svc 1\r\n"));
  ASSERT_TRUE(r.ping_pong());
  ASSERT_TRUE(a.send("SUB inbox.1 7\r\nPUB svc inbox.1 3\r\nreq\r\n"));
  ASSERT_TRUE(a.ping_pong());
  auto req = r.read_until("req\r\n");
  ASSERT_TRUE(req);
  EXPECT_NE(req->find("MSG svc 1 inbox.1 3"), std::string::npos) << *req;

  ASSERT_TRUE(r.send("PUB inbox.1 3\r\nans\r\n"));
  std::vector<std::string> lines;
  ASSERT_TRUE(r.ping_pong(5s, &lines));
  EXPECT_TRUE(lines.empty()) << lines.front();
  auto ans = a.read_until("ans\r\n");
  ASSERT_TRUE(ans) << "the response reaches the requester";
  EXPECT_NE(ans->find("MSG inbox.1 7 3"), std::string::npos) << *ans;

  // One response per request (max 1 by default), and nothing else may be published.
  ASSERT_TRUE(r.send("PUB inbox.1 3\r\nans\r\n"));
  auto err = r.read_line();
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "-ERR 'Permissions Violation for Publish to \"inbox.1\"'");
  ASSERT_TRUE(r.send("PUB other 1\r\nx\r\n"));
  err = r.read_line();
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "-ERR 'Permissions Violation for Publish to \"other\"'");
}

TEST(Accounts, AccountzListsAccountsAndAccstatzCountsTheirConnectionsAndMessages) {
  int http = pick_free_port();
  ServerProcess srv(with_config(kAccountsConfig, {"-m", std::to_string(http)}));
  ASSERT_TRUE(srv.start());
  RawClient a1 = raw_client(srv.port(), "a", "pa");
  RawClient a2 = raw_client(srv.port(), "a", "pa");
  RawClient b = raw_client(srv.port(), "b", "pb");
  ASSERT_TRUE(a2.send("SUB x 1\r\n"));
  ASSERT_TRUE(a2.ping_pong());
  ASSERT_TRUE(a1.send("PUB x 5\r\nhello\r\nPUB x 5\r\nhello\r\n"));
  ASSERT_TRUE(a1.ping_pong());
  ASSERT_TRUE(a2.ping_pong());

  auto list = get_json(http, "/accountz");
  ASSERT_TRUE(list);
  std::set<std::string> names;
  for (const auto& n : list->at("accounts").as_array()) names.insert(std::string(n.as_string()));
  for (const char* want : {"A", "B", "$G"}) EXPECT_TRUE(names.count(want)) << want << " missing from /accountz";

  auto detail = get_json(http, "/accountz?acc=A");
  ASSERT_TRUE(detail);
  const auto& d = detail->at("account_detail").as_object();
  EXPECT_EQ(d.at("account_name").as_string(), "A");
  EXPECT_EQ(d.at("client_connections").to_number<int64_t>(), 2);
  // Its client's subscription and its imports of the system account's services, on both servers.
  EXPECT_EQ(d.at("subscriptions").to_number<int64_t>(), 1 + kSystemImports);
  auto missing = http_get(http, "/accountz?acc=Nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_NE(missing->body.find("Account Nope does not exist"), std::string::npos) << missing->body;

  auto statz = get_json(http, "/accstatz");
  ASSERT_TRUE(statz);
  std::map<std::string, json::object> by_acc;
  for (const auto& s : statz->at("account_statz").as_array()) {
    by_acc[std::string(s.at("acc").as_string())] = s.as_object();
  }
  ASSERT_TRUE(by_acc.count("A")) << json::serialize(*statz);
  EXPECT_EQ(by_acc["A"].at("conns").to_number<int64_t>(), 2);
  EXPECT_EQ(by_acc["A"].at("received").at("msgs").to_number<int64_t>(), 2) << "what A's clients published";
  EXPECT_EQ(by_acc["A"].at("sent").at("msgs").to_number<int64_t>(), 2) << "what A's clients were given";
  EXPECT_EQ(by_acc["B"].at("conns").to_number<int64_t>(), 1);
  EXPECT_EQ(by_acc["B"].at("received").at("msgs").to_number<int64_t>(), 0);
  // Counts stay with the account when its clients leave.
  a1.close();
  ASSERT_TRUE(wait_for(
      [&] {
        auto s = get_json(http, "/accstatz");
        if (!s) return false;
        for (const auto& e : s->at("account_statz").as_array()) {
          if (e.at("acc").as_string() == "A") {
            return e.at("conns").to_number<int64_t>() == 1 && e.at("received").at("msgs").to_number<int64_t>() == 2;
          }
        }
        return false;
      },
      10s));
}

// A route names the account of every interest and message. A peer's RS+ and RMSG for an
// account this server does not have are logged and dropped (as the reference with accounts
// from its config) and cost the route nothing else; those for a known account reach that
// account only, and a client's message goes out in its own account.
TEST(Accounts, ARouteCarriesTheAccountAndUnknownAccountsAreDroppedAndLogged) {
  int rp = pick_free_port();
  ServerProcess srv(with_config(std::string(kAccountsConfig) + "cluster { name: acc\n listen: 127.0.0.1:" +
                                std::to_string(rp) + " }\n"));
  ASSERT_TRUE(srv.start());
  RawClient a = raw_client(srv.port(), "a", "pa");
  RawClient b = raw_client(srv.port(), "b", "pb");
  ASSERT_TRUE(a.send("SUB foo 1\r\n") && b.send("SUB foo 1\r\n"));
  ASSERT_TRUE(a.ping_pong() && b.ping_pong());

  RoutePeer peer;
  ASSERT_TRUE(peer.dial(rp));
  ASSERT_TRUE(peer.handshake(peer_id("ACCOUNTS"), "acc"));
  ASSERT_TRUE(peer.conn().send("PING\r\n"));
  ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 5s)) << srv.log();
  ASSERT_TRUE(peer.conn().send("RS+ Nope foo\r\nRMSG Nope foo 4\r\nlost\r\nRS+ A bar\r\nRMSG A foo 5\r\nhello\r\nPING\r\n"));
  ASSERT_TRUE(peer.conn().read_until("PONG\r\n", 5s)) << "the route stays up\n" << srv.log();

  std::vector<std::string> lines;
  ASSERT_TRUE(a.ping_pong(5s, &lines));
  EXPECT_EQ(lines, (std::vector<std::string>{"MSG foo 1 5", "hello"})) << "A's subscriber gets A's routed message";
  lines.clear();
  ASSERT_TRUE(b.ping_pong(5s, &lines));
  EXPECT_TRUE(lines.empty()) << "B got another account's routed message: " << lines.front();
  EXPECT_TRUE(srv.wait_for_log("Unknown account \"Nope\" for remote subject \"foo\"", 5s)) << srv.log();

  // The peer's interest in A's "bar" draws A's message, named by its account; B's stays home.
  ASSERT_TRUE(b.send("PUB bar 2\r\nhi\r\n") && b.ping_pong());
  ASSERT_TRUE(a.send("PUB bar 2\r\nhi\r\n") && a.ping_pong());
  auto got = peer.conn().read_until("hi\r\n", 5s);
  ASSERT_TRUE(got) << srv.log();
  EXPECT_EQ(got->find("RMSG B "), std::string::npos) << *got;
  EXPECT_NE(got->find("RMSG A bar 2\r\nhi\r\n"), std::string::npos) << *got;
}

// As the reference's reloadAuthorization: accounts come and go on SIGHUP; a client whose user
// now belongs elsewhere is closed (and lands in its new account when it reconnects); the
// others keep their subscriptions; new imports apply.
TEST(Accounts, AReloadAddsAndRemovesAccountsAndMovesUsers) {
  constexpr const char* kBefore = R"(
accounts {
  A: { users: [ {user: a, password: pa} ], exports: [ {stream: "news.>"} ] }
  B: { users: [ {user: b, password: pb} ] }
}
)";
  constexpr const char* kAfter = R"(
accounts {
  A: { users: [ {user: a, password: pa} ], exports: [ {stream: "news.>"} ] }
  C: {
    users: [ {user: b, password: pb}, {user: c, password: pc} ]
    imports: [ {stream: {account: A, subject: "news.>"}, prefix: "a"} ]
  }
}
)";
  ServerProcess srv(with_config(kBefore));
  ASSERT_TRUE(srv.start());
  RawClient a = raw_client(srv.port(), "a", "pa");
  RawClient b = raw_client(srv.port(), "b", "pb");
  ASSERT_TRUE(a.send("SUB x 1\r\n"));
  ASSERT_TRUE(a.ping_pong() && b.ping_pong());

  ASSERT_TRUE(reload_with(srv, kAfter)) << srv.log();
  EXPECT_TRUE(b.expect_closed(5s)) << "b's user moved from B to C: its connection goes";
  ASSERT_TRUE(a.ping_pong()) << "a's account is unchanged: it stays";

  RawClient c = raw_client(srv.port(), "c", "pc");
  RawClient b2 = raw_client(srv.port(), "b", "pb");
  ASSERT_TRUE(c.send("SUB a.news.> 1\r\nSUB x 2\r\n"));
  ASSERT_TRUE(c.ping_pong());
  ASSERT_TRUE(a.send("PUB news.today 1\r\n1\r\nPUB x 1\r\n2\r\n"));
  std::vector<std::string> a_lines;
  ASSERT_TRUE(a.ping_pong(5s, &a_lines));
  EXPECT_EQ(a_lines, (std::vector<std::string>{"MSG x 1 1", "2"})) << "a's own x, still subscribed after the reload";
  ASSERT_TRUE(b2.send("PUB x 1\r\n3\r\n"));
  ASSERT_TRUE(b2.ping_pong());
  std::vector<std::string> lines;
  ASSERT_TRUE(c.ping_pong(5s, &lines));
  std::vector<std::string> msgs;
  for (auto& l : lines) {
    if (l.rfind("MSG ", 0) == 0) msgs.push_back(l);
  }
  // The new import, and b (now in C) publishing to c; a's own "x" stays in A.
  EXPECT_EQ(msgs, (std::vector<std::string>{"MSG a.news.today 1 1", "MSG x 2 1"}));
  lines.clear();
  ASSERT_TRUE(a.ping_pong(5s, &lines));
  EXPECT_TRUE(lines.empty()) << "a got C's message: " << lines.front();
}

}  // namespace
}  // namespace pylon::it
