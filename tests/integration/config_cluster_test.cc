// Issue 5, end to end with the official C client (libnats):
//  - the user's three config files (tests/unit/testdata/config/node{a,b,c}.conf) run
//    as a three-node cluster with client and route authorization;
//  - lame duck mode moves a connected client to the other node of a cluster;
//  - user/bcrypt password, bcrypt token and multi-user permissions.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cluster_harness.h"
#include "harness.h"
#include "nats_c.h"

namespace pylon::it {
namespace {

namespace json = boost::json;

// bcrypt hash of `password` (no shell metacharacters) from `pylon mkpasswd -p --cost 4`,
// the password given on stdin.
std::string mkpasswd(const std::string& password) {
  std::string out = run_shell("printf '%s\\n' '" + password + "' | " + PYLON_TOOL_BIN + " mkpasswd -p --cost 4").output;
  static const std::regex re(R"(bcrypt hash: (\$2[aby]\$04\$[./A-Za-z0-9]{53}))");
  std::smatch m;
  if (!std::regex_search(out, m, re)) {
    ADD_FAILURE() << "unexpected mkpasswd output: " << out;
    return {};
  }
  return m[1];
}

int replace_all(std::string& s, const std::string& from, const std::string& to) {
  int n = 0;
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size(), ++n) s.replace(at, from.size(), to);
  return n;
}

// ---------------------------------------------------------------- the user's files

struct UserNode {
  char letter;       // 'a', 'b', 'c'
  int base;          // 4, 5, 6: the file's ports are <base>222, <base>333, <base>248
  int http = 0, route = 0;
};

// The user's file for `self`, with only the ports, the pid/log paths and the
// (placeholder) password hash replaced: the client port becomes {PORT} and the paths
// {DIR}/... (both filled in by ServerProcess).
std::string per_test_copy(const UserNode& self, const std::vector<UserNode>& all, const std::string& hash) {
  std::string name = std::string("node") + self.letter;
  std::string original = read_file(std::string(PYLON_SOURCE_DIR) + "/tests/unit/testdata/config/" + name + ".conf");
  EXPECT_FALSE(original.empty()) << name << ".conf not found";
  std::string text = original;
  EXPECT_EQ(replace_all(text, "localhost:" + std::to_string(self.base) + "222", "localhost:{PORT}"), 1) << name;
  for (const auto& n : all) {
    int uses = n.letter == self.letter ? 1 : 0;
    EXPECT_EQ(replace_all(text, "localhost:" + std::to_string(n.base) + "333", "localhost:" + std::to_string(n.http)),
              uses)
        << name;
    // Own cluster listener once; every other node once among the routes.
    EXPECT_EQ(replace_all(text, "localhost:" + std::to_string(n.base) + "248", "localhost:" + std::to_string(n.route)),
              1)
        << name;
  }
  EXPECT_EQ(replace_all(text, "\"/tmp/" + name + ".pid\"", "\"{DIR}/" + name + ".pid\""), 1) << name;
  EXPECT_EQ(replace_all(text, "\"/tmp/" + name + ".log\"", "\"{DIR}/" + name + ".log\""), 1) << name;
  // The file's hash is a placeholder; put a real one in its place, unquoted as the user
  // has it.
  static const std::regex hash_re(R"(\$2a\$11\$[./A-Za-z0-9]+)");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(text, m, hash_re)) << name << ": no $2a$11$ hash";
  EXPECT_EQ(replace_all(text, m.str(), hash), 1) << name;

  // Same structure: same lines, and every line we did not mean to touch is unchanged
  // (comments and the commented-out blocks included).
  std::vector<std::string> before, after;
  for (auto* p : {&original, &text}) {
    std::istringstream in(*p);
    for (std::string line; std::getline(in, line);) (p == &original ? before : after).push_back(line);
  }
  EXPECT_EQ(before.size(), after.size()) << name;
  static const std::regex touched(R"(localhost:\d+|/tmp/node|\$2a\$)");
  for (size_t i = 0; i < std::min(before.size(), after.size()); ++i) {
    if (!std::regex_search(before[i], touched)) {
      EXPECT_EQ(before[i], after[i]) << name << " line " << i + 1;
    }
  }
  EXPECT_NE(text.find("  # password: plain\n"), std::string::npos) << name;
  EXPECT_NE(text.find("# log_file: \"{DIR}/" + name + ".log\""), std::string::npos) << "stays commented out";
  return text;
}

// /routez of a node: server_id and the remote ids of its routes.
struct RouteState {
  std::string id;
  std::multiset<std::string> remotes;
  int num_routes = -1;
};

std::optional<RouteState> routez(int http_port) {
  auto body = cluster::http_get_body(http_port, "/routez");
  if (!body) return std::nullopt;
  try {
    auto v = json::parse(*body).as_object();
    RouteState st;
    st.id = json::value_to<std::string>(v.at("server_id"));
    st.num_routes = static_cast<int>(v.at("num_routes").to_number<int64_t>());
    if (auto* r = v.if_contains("routes"); r && r->is_array()) {
      for (auto& e : r->as_array()) st.remotes.insert(json::value_to<std::string>(e.as_object().at("remote_id")));
    }
    return st;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

TEST(UserConfigFiles, RunAsAThreeNodeCluster) {
  const std::string password = "Us3r-Pa55";
  std::string hash = mkpasswd(password);
  ASSERT_FALSE(hash.empty());
  // `pylon mkpasswd` prints $2b$ hashes; the user's files have the hash unquoted, and
  // unquoted only $2a$ is read as a hash (by the reference as well), so use the $2a$
  // spelling of the same hash ($2a$ and $2b$ differ only for passwords over 255 bytes).
  if (hash.rfind("$2b$", 0) == 0) hash.replace(0, 4, "$2a$");

  std::vector<UserNode> nodes{{'a', 4}, {'b', 5}, {'c', 6}};
  std::set<int> used;
  for (auto& n : nodes) {
    for (int* p : {&n.http, &n.route}) {
      do *p = pick_free_port();
      while (!used.insert(*p).second);
    }
  }
  std::vector<std::unique_ptr<ServerProcess>> servers;
  for (auto& n : nodes) {
    ServerOptions o;
    o.config = per_test_copy(n, nodes, hash);
    o.port_flag = false;
    servers.push_back(std::make_unique<ServerProcess>(o));
  }
  if (::testing::Test::HasFailure()) return;
  for (auto& s : servers) ASSERT_TRUE(s->start());
  ServerProcess &a = *servers[0], &c = *servers[2];

  // pid_file went to the test directory.
  for (size_t i = 0; i < servers.size(); ++i) {
    std::string pidfile = servers[i]->dir() + "/node" + nodes[i].letter + ".pid";
    EXPECT_TRUE(wait_for([&] { return std::atoi(read_file(pidfile).c_str()) == servers[i]->pid(); }, 5s))
        << pidfile << ": '" << read_file(pidfile) << "'";
  }

  // Full mesh: every node has exactly one route to each of the two others.
  auto mesh = [&](std::string* why) {
    std::vector<std::optional<RouteState>> st;
    for (auto& n : nodes) st.push_back(routez(n.http));
    bool ok = true;
    for (size_t i = 0; i < st.size(); ++i) {
      std::multiset<std::string> expected;
      for (size_t j = 0; j < st.size(); ++j)
        if (j != i && st[j]) expected.insert(st[j]->id);
      bool good = st[i] && expected.size() == 2 && st[i]->remotes == expected && st[i]->num_routes == 2;
      if (why) {
        *why += std::string("node") + nodes[i].letter + ": ";
        *why += st[i] ? std::to_string(st[i]->num_routes) + " routes" : std::string("/routez n/a");
        *why += "\n";
      }
      ok = ok && good;
    }
    return ok;
  };
  if (!wait_for([&] { return mesh(nullptr); }, 15s, 25ms)) {
    std::string why;
    mesh(&why);
    FAIL() << "no full mesh of routes:\n" << why;
  }
  if (!using_reference_server()) {
    for (auto& s : servers) {
      std::string log = s->log();
      int registered = 0;
      static const std::regex reg(R"(Route connection to .* registered)");
      for (auto it = std::sregex_iterator(log.begin(), log.end(), reg); it != std::sregex_iterator(); ++it) ++registered;
      EXPECT_GE(registered, 2) << "log of " << s->dir();
    }
  }

  auto creds = [&](const std::string& pw) {
    return [pw](natsOptions* o) { natsOptions_SetUserInfo(o, "ruser", pw.c_str()); };
  };
  // Wrong password and no credentials are refused.
  natsStatus s = NATS_OK;
  EXPECT_FALSE(nats_connect(a.url(), creds("wrong"), &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);
  EXPECT_FALSE(nats_connect(c.url(), {}, &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);

  auto pub = nats_connect(a.url(), creds(password));
  auto subc = nats_connect(c.url(), creds(password));
  ASSERT_TRUE(pub && subc);
  auto sub = sub_sync(subc.get(), "user.files");
  ASSERT_TRUE(sub && flush(subc.get()));

  // Interest crosses the route: publish on a until c's subscriber sees a message.
  bool arrived = wait_for([&] {
    natsConnection_PublishString(pub.get(), "user.files", "probe");
    natsConnection_FlushTimeout(pub.get(), 1000);
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub.get(), 50) != NATS_OK) return false;
    natsMsg_Destroy(m);
    return true;
  }, 10s, 0ms);
  ASSERT_TRUE(arrived) << "nothing published on node a reached the subscriber on node c";
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "user.files", "from a to c"), NATS_OK);
  ASSERT_TRUE(flush(pub.get()));
  std::string got;
  ASSERT_TRUE(wait_for([&] {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub.get(), 100) != NATS_OK) return false;
    got = to_recv(m).data;
    natsMsg_Destroy(m);
    return got != "probe";
  }, 5s, 0ms)) << "published on a after a probe got through, never reached c (route replaced meanwhile? "
                  "look for 'closed: Duplicate Route' in the logs)";
  EXPECT_EQ(got, "from a to c");

}

// ---------------------------------------------------------------- lame duck

namespace {

struct LdmState {
  std::mutex mu;
  std::condition_variable cv;
  int lame_duck = 0, disconnected = 0, reconnected = 0, closed = 0;
  Clock::time_point lame_duck_at{}, disconnected_at{};
  bool wait(const std::function<bool()>& pred, milliseconds timeout) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, timeout, pred);
  }
  void bump(int LdmState::*field, Clock::time_point* at = nullptr) {
    std::lock_guard lk(mu);
    if ((this->*field)++ == 0 && at) *at = Clock::now();
    cv.notify_all();
  }
};

void ldm_cb(natsConnection*, void* c) { static_cast<LdmState*>(c)->bump(&LdmState::lame_duck, &static_cast<LdmState*>(c)->lame_duck_at); }
void disc_cb(natsConnection*, void* c) { static_cast<LdmState*>(c)->bump(&LdmState::disconnected, &static_cast<LdmState*>(c)->disconnected_at); }
void reconn_cb(natsConnection*, void* c) { static_cast<LdmState*>(c)->bump(&LdmState::reconnected); }
void closed_cb(natsConnection*, void* c) { static_cast<LdmState*>(c)->bump(&LdmState::closed); }

void collect_cb(natsConnection*, natsSubscription*, natsMsg* m, void* c) {
  cluster::Received r;
  r.subject = natsMsg_GetSubject(m);
  r.data.assign(natsMsg_GetData(m) ? natsMsg_GetData(m) : "", static_cast<size_t>(natsMsg_GetDataLength(m)));
  natsMsg_Destroy(m);
  static_cast<cluster::Collector*>(c)->add(std::move(r));
}

std::string connected_url(natsConnection* nc) {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof buf) != NATS_OK) return "";
  return buf;
}

// A cluster block; `other_route` 0: no routes (the other node dials this one).
std::string cluster_config(int own_route, int other_route, const std::string& extra) {
  std::string routes =
      other_route ? "  routes: [ nats-route://127.0.0.1:" + std::to_string(other_route) + " ]\n" : std::string();
  return extra + "cluster {\n  name: ldm\n  listen: 127.0.0.1:" + std::to_string(own_route) + "\n" + routes + "}\n";
}

}  // namespace

TEST(LameDuck, ClientMovesToAnotherNode) {
  int ra = pick_free_port(), rb = pick_free_port();
  while (rb == ra) rb = pick_free_port();
  // The reference refuses a lame_duck_duration under 30s; it spreads the closes at most
  // 1s apart, so with one client it is as quick as pylon with 2s.
  std::string duration = using_reference_server() ? "30s" : "2s";
  // Only b dials (a is up first), so the route forms at once and no duplicate follows.
  ServerProcess a(with_config(cluster_config(
      ra, 0, "lame_duck_duration: \"" + duration + "\"\nlame_duck_grace_period: \"200ms\"\n")));
  ServerProcess b(with_config(cluster_config(rb, ra, "")));
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(b.start());

  // State and collector outlive the connection (declared first, destroyed last).
  LdmState st;
  cluster::Collector col;
  natsOptions* raw_opts = nullptr;
  ASSERT_EQ(natsOptions_Create(&raw_opts), NATS_OK);
  NatsOpts opts(raw_opts);
  std::vector<std::string> urls{a.url(), b.url()};
  const char* curls[] = {urls[0].c_str(), urls[1].c_str()};
  ASSERT_EQ(natsOptions_SetServers(raw_opts, curls, 2), NATS_OK);
  ASSERT_EQ(natsOptions_SetNoRandomize(raw_opts, true), NATS_OK);
  ASSERT_EQ(natsOptions_SetReconnectWait(raw_opts, 100), NATS_OK);
  ASSERT_EQ(natsOptions_SetReconnectJitter(raw_opts, 0, 0), NATS_OK);
  ASSERT_EQ(natsOptions_SetMaxReconnect(raw_opts, 100), NATS_OK);
  ASSERT_EQ(natsOptions_SetTimeout(raw_opts, 2000), NATS_OK);
  ASSERT_EQ(natsOptions_SetLameDuckModeCB(raw_opts, ldm_cb, &st), NATS_OK);
  ASSERT_EQ(natsOptions_SetDisconnectedCB(raw_opts, disc_cb, &st), NATS_OK);
  ASSERT_EQ(natsOptions_SetReconnectedCB(raw_opts, reconn_cb, &st), NATS_OK);
  ASSERT_EQ(natsOptions_SetClosedCB(raw_opts, closed_cb, &st), NATS_OK);
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, raw_opts);
  ASSERT_EQ(s, NATS_OK) << status_text(s);
  // Close (and wait for the last callback) before st goes away, on every exit path.
  std::unique_ptr<natsConnection, std::function<void(natsConnection*)>> conn(nc, [&st](natsConnection* c) {
    natsConnection_Close(c);
    st.wait([&] { return st.closed > 0; }, 5s);
    natsConnection_Destroy(c);
  });
  ASSERT_NE(connected_url(nc).find(":" + std::to_string(a.port())), std::string::npos) << connected_url(nc);
  natsSubscription* raw_sub = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw_sub, nc, "ldm.feed", collect_cb, &col), NATS_OK);
  NatsSub sub(raw_sub);
  ASSERT_EQ(natsConnection_FlushTimeout(nc, 5000), NATS_OK);

  auto pub = nats_connect(b.url());
  ASSERT_TRUE(pub);
  // Publishes "<tag>-<n>" on b until one reaches the subscriber.
  auto reaches = [&](const std::string& tag, milliseconds timeout) {
    int n = 0;
    return wait_for([&] {
      std::string data = tag + "-" + std::to_string(n++);
      natsConnection_PublishString(pub.get(), "ldm.feed", data.c_str());
      natsConnection_FlushTimeout(pub.get(), 1000);
      return col.wait([&](const std::vector<cluster::Received>& v) {
        for (auto& r : v)
          if (r.data.rfind(tag + "-", 0) == 0) return true;
        return false;
      }, 50ms);
    }, timeout, 0ms);
  };
  ASSERT_TRUE(reaches("before", 10s)) << "messages published on b do not reach the client on a";

  // Lame duck on a (SIGUSR2); reap it in the background to get its exit status.
  auto signalled_at = Clock::now();
  auto exit_status = std::async(std::launch::async, [&a] { return a.terminate(SIGUSR2, 15s); });

  EXPECT_TRUE(st.wait([&] { return st.lame_duck > 0; }, 5s)) << "lame duck callback not invoked";
  ASSERT_TRUE(st.wait([&] { return st.reconnected > 0; }, 10s)) << "client did not reconnect";
  std::string now_url = connected_url(nc);
  EXPECT_NE(now_url.find(":" + std::to_string(b.port())), std::string::npos) << "connected to " << now_url;
  {
    std::lock_guard lk(st.mu);
    EXPECT_GE(st.disconnected, 1);
    if (st.lame_duck > 0 && st.disconnected > 0) {
      EXPECT_LE(st.lame_duck_at, st.disconnected_at) << "told about lame duck mode before being closed";
      EXPECT_GE(st.disconnected_at - signalled_at, 150ms) << "closed before the grace period";
    }
  }

  // The subscription moved with the client: messages published on b keep arriving.
  ASSERT_TRUE(reaches("after", 10s)) << "no message reached the client after it moved to b";
  col.clear();
  constexpr int kBatch = 50;
  for (int i = 0; i < kBatch; ++i)
    ASSERT_EQ(natsConnection_PublishString(pub.get(), "ldm.feed", ("batch-" + std::to_string(i)).c_str()), NATS_OK);
  ASSERT_TRUE(flush(pub.get()));
  EXPECT_TRUE(col.wait([&](const std::vector<cluster::Received>& v) {
    int n = 0;
    for (auto& r : v) n += r.data.rfind("batch-", 0) == 0;
    return n == kBatch;
  }, 5s)) << "got " << col.count();

  // a finishes lame duck mode and exits 0.
  ASSERT_EQ(exit_status.wait_for(15s), std::future_status::ready);
  int status = exit_status.get();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  EXPECT_NE(a.log().find("Entering lame duck mode"), std::string::npos) << a.log();
}

// ---------------------------------------------------------------- C client auth

TEST(CClientAuth, BcryptPasswordAcceptedAndWrongOneRefused) {
  std::string hash = mkpasswd("Br1ck-house");
  ASSERT_FALSE(hash.empty());
  ServerProcess server(with_config("authorization {\n  user: carol\n  password: \"" + hash + "\"\n}\n"));
  ASSERT_TRUE(server.start());
  natsStatus s = NATS_OK;
  EXPECT_FALSE(nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetUserInfo(o, "carol", "Br1ck-house2"); }, &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);
  // The hash itself is not a password.
  EXPECT_FALSE(nats_connect(server.url(), [&](natsOptions* o) { natsOptions_SetUserInfo(o, "carol", hash.c_str()); }, &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);
  EXPECT_FALSE(nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetUserInfo(o, "dave", "Br1ck-house"); }, &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);

  auto good = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetUserInfo(o, "carol", "Br1ck-house"); });
  ASSERT_TRUE(good);
  auto sub = sub_sync(good.get(), "carol.in");
  ASSERT_TRUE(sub);
  ASSERT_EQ(natsConnection_PublishString(good.get(), "carol.in", "hi"), NATS_OK);
  ASSERT_TRUE(flush(good.get()));
  auto got = drain(sub.get());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, "hi");
}

TEST(CClientAuth, BcryptTokenAcceptedAndWrongOneRefused) {
  std::string hash = mkpasswd("t0ken-of-trust");
  ASSERT_FALSE(hash.empty());
  ServerProcess server(with_config("authorization {\n  token: \"" + hash + "\"\n}\n"));
  ASSERT_TRUE(server.start());
  natsStatus s = NATS_OK;
  EXPECT_FALSE(nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetToken(o, "t0ken-of-trust!"); }, &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);
  EXPECT_FALSE(nats_connect(server.url(), [&](natsOptions* o) { natsOptions_SetToken(o, hash.c_str()); }, &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);
  EXPECT_FALSE(nats_connect(server.url(), {}, &s));
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << natsStatus_GetText(s);

  auto good = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetToken(o, "t0ken-of-trust"); });
  ASSERT_TRUE(good);
  ASSERT_TRUE(flush(good.get()));
}

namespace {
struct AsyncErrors {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<natsStatus, std::string>> seen;
};

void on_async_error(natsConnection* nc, natsSubscription*, natsStatus err, void* closure) {
  auto* e = static_cast<AsyncErrors*>(closure);
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  std::lock_guard lk(e->mu);
  e->seen.emplace_back(err, text ? text : "");
  e->cv.notify_all();
}
}  // namespace

TEST(CClientAuth, PublishPermissionViolationReachesTheErrorHandler) {
  std::string hash = mkpasswd("al1ce-pw");
  ASSERT_FALSE(hash.empty());
  ServerProcess server(with_config(R"(
authorization {
  users = [
    { user: alice, password: ")" + hash + R"(", permissions: { publish: { allow: ["orders.>"] } } }
    { user: bob, password: "b0b-pw" }
  ]
}
)"));
  ASSERT_TRUE(server.start());

  AsyncErrors errs;  // outlives alice's connection
  auto bob = nats_connect(server.url(), [](natsOptions* o) { natsOptions_SetUserInfo(o, "bob", "b0b-pw"); });
  ASSERT_TRUE(bob);
  auto all = sub_sync(bob.get(), ">");
  ASSERT_TRUE(all && flush(bob.get()));
  auto alice = nats_connect(server.url(), [&](natsOptions* o) {
    natsOptions_SetUserInfo(o, "alice", "al1ce-pw");
    natsOptions_SetErrorHandler(o, on_async_error, &errs);
  });
  ASSERT_TRUE(alice);

  ASSERT_EQ(natsConnection_PublishString(alice.get(), "billing", "denied"), NATS_OK);
  {
    std::unique_lock lk(errs.mu);
    ASSERT_TRUE(errs.cv.wait_for(lk, 5s, [&] { return !errs.seen.empty(); })) << "no async error reported";
    EXPECT_EQ(errs.seen[0].first, NATS_NOT_PERMITTED) << natsStatus_GetText(errs.seen[0].first);
    EXPECT_NE(errs.seen[0].second.find("Permissions Violation for Publish to \"billing\""), std::string::npos)
        << errs.seen[0].second;
  }
  // The connection stays; allowed publishes reach the subscriber, the denied one never did.
  EXPECT_EQ(natsConnection_Status(alice.get()), NATS_CONN_STATUS_CONNECTED);
  ASSERT_EQ(natsConnection_PublishString(alice.get(), "orders.new", "order-1"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(alice.get(), "orders.eu.paid", "order-2"), NATS_OK);
  ASSERT_TRUE(flush(alice.get()));
  ASSERT_TRUE(flush(bob.get()));
  auto got = drain(all.get());
  std::vector<std::string> subjects;
  for (auto& m : got) subjects.push_back(m.subject + "=" + m.data);
  EXPECT_EQ(subjects, (std::vector<std::string>{"orders.new=order-1", "orders.eu.paid=order-2"}));
  std::lock_guard lk(errs.mu);
  EXPECT_EQ(errs.seen.size(), 1u) << "only the one violation";
}

}  // namespace pylon::it
