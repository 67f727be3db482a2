// Config reload, option by option, on SIGHUP and on `--signal reload=<pidfile>` (the
// reference's two ways): each reloadable option applies live to the running server and its
// connected clients, and each option a running server cannot change is refused by name, in the
// reference's words (server/reload.go: "config reload not supported for <Field>: old=<v>,
// new=<v>", logged as "Failed to reload server configuration: ..."), with the whole old
// configuration kept in force.
//
// Every server here reads its listen address from the file (no -a/-p on the command line: flags
// override the file on reload too, in both servers).
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>

#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace pylon::it {
namespace {

namespace json = boost::json;

constexpr auto kReloadTimeout = 10s;
constexpr const char* kQuiet = R"({"verbose":false,"pedantic":false})";
constexpr const char* kReloaded = "Reloaded server configuration";
constexpr const char* kReloadFailed = "Failed to reload server configuration: ";

enum class Via { kSighup, kSignalFlag };

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

std::string fill(const ServerProcess& srv, std::string text) {
  for (size_t at; (at = text.find("{PORT}")) != std::string::npos;) text.replace(at, 6, std::to_string(srv.port()));
  for (size_t at; (at = text.find("{DIR}")) != std::string::npos;) text.replace(at, 5, srv.dir());
  return text;
}

std::string pid_file(const ServerProcess& srv) { return srv.dir() + "/server.pid"; }

// A server reading `config` ({PORT}, {DIR} filled in), writing a pid file for --signal.
ServerOptions from_file(const std::string& config, std::vector<std::string> extra = {}) {
  ServerOptions o;
  o.config = config;
  o.port_flag = false;
  o.args = {"-P", "{DIR}/server.pid"};
  o.args.insert(o.args.end(), extra.begin(), extra.end());
  return o;
}

struct ReloadOutcome {
  bool done = false;     // the server logged a result before the deadline
  bool ok = false;       // "Reloaded server configuration"
  std::string failure;   // the rest of the "Failed to reload ..." line
};

// Writes `config` as the server's file, asks for a reload `via` one of the two ways, and waits
// for the server to log the outcome.
ReloadOutcome reload(ServerProcess& srv, const std::string& config, Via via) {
  std::string before = srv.log();
  size_t ok0 = count_of(before, kReloaded), failed0 = count_of(before, kReloadFailed);
  std::ofstream(srv.dir() + "/server.conf", std::ios::trunc) << fill(srv, config);
  if (via == Via::kSighup) {
    EXPECT_EQ(::kill(srv.pid(), SIGHUP), 0);
  } else {
    EXPECT_TRUE(wait_for([&] { return !read_file(pid_file(srv)).empty(); }, 5s)) << "no pid file";
    // Always with the pid file: the reference without one signals every nats-server it finds.
    auto r = run_server_binary({"--signal", "reload=" + pid_file(srv)});
    EXPECT_TRUE(r.exited && r.exit_code == 0) << "--signal reload: " << r.output;
  }
  ReloadOutcome out;
  out.done = wait_for([&] {
    std::string log = srv.log();
    return count_of(log, kReloaded) > ok0 || count_of(log, kReloadFailed) > failed0;
  }, kReloadTimeout, 10ms);
  std::string log = srv.log();
  out.ok = count_of(log, kReloaded) > ok0;
  if (size_t at = log.rfind(kReloadFailed); at != std::string::npos && count_of(log, kReloadFailed) > failed0) {
    size_t from = at + std::string(kReloadFailed).size();
    out.failure = log.substr(from, log.find('\n', from) - from);
  }
  return out;
}

RawClient client(int port, std::string_view connect = kQuiet) {
  RawClient c = raw_connect(port);
  std::string got;
  EXPECT_TRUE(c.handshake(connect, &got)) << got;
  return c;
}

// Sends PING and returns the lines before the PONG; nullopt when the server closed first.
std::optional<std::vector<std::string>> lines_before_pong(RawClient& c) {
  std::vector<std::string> before;
  if (!c.ping_pong(5s, &before)) return std::nullopt;
  return before;
}

// Reads until the server closes; true when `err` was the last line.
bool closed_with(RawClient& c, const std::string& err, std::string* lines_out = nullptr) {
  auto lines = c.read_all_lines(5s);
  if (lines_out)
    for (auto& l : lines) *lines_out += l + "\n";
  return c.peer_closed() && !lines.empty() && lines.back() == err;
}

std::optional<int64_t> num_routes(int http_port) {
  auto r = http_get(http_port, "/routez", 3s, 500ms);
  if (!r || r->status != 200) return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(r->body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("num_routes")) return std::nullopt;
  return v.as_object().at("num_routes").to_number<int64_t>();
}

// ------------------------------------------------------------------ what applies live

TEST(ReloadLive, RoutesAreAddedAndRemoved) {
  int ra = pick_free_port(), rb = pick_free_port(), http_a = pick_free_port();
  auto cluster = [](int own, const std::string& routes) {
    return "cluster {\n  name: reload\n  listen: 127.0.0.1:" + std::to_string(own) + "\n" + routes + "}\n";
  };
  ServerProcess b(from_file("listen: 127.0.0.1:{PORT}\n" + cluster(rb, "")));
  ASSERT_TRUE(b.start());
  std::string a_base = "listen: 127.0.0.1:{PORT}\nhttp: 127.0.0.1:" + std::to_string(http_a) + "\n";
  ServerProcess a(from_file(a_base + cluster(ra, "")));
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(wait_for([&] { return num_routes(http_a) == 0; }, 10s)) << "no /routez on a";

  auto added = reload(a, a_base + cluster(ra, "  routes: [ nats-route://127.0.0.1:" + std::to_string(rb) + " ]\n"),
                      Via::kSighup);
  ASSERT_TRUE(added.ok) << added.failure;
  EXPECT_TRUE(wait_for([&] { return num_routes(http_a) == 1; }, 10s)) << "the added route never formed\n" << a.log();

  auto removed = reload(a, a_base + cluster(ra, ""), Via::kSignalFlag);
  ASSERT_TRUE(removed.ok) << removed.failure;
  EXPECT_TRUE(wait_for([&] { return num_routes(http_a) == 0; }, 10s)) << "the removed route stayed\n" << a.log();
  // And it is not dialled again: a removed explicit route would come back within its 1 s
  // reconnect delay (DEFAULT_ROUTE_RECONNECT) plus jitter.
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(num_routes(http_a), 0) << a.log();
}

TEST(ReloadLive, PayloadAndControlLineLimitsApplyToConnectedClients) {
  ServerProcess srv(from_file("listen: 127.0.0.1:{PORT}\n"));
  ASSERT_TRUE(srv.start());
  RawClient pub = client(srv.port()), sub = client(srv.port());
  // Within the defaults before the reload.
  std::string payload(200, 'p');
  ASSERT_TRUE(pub.send("PUB big 200\r\n" + payload + "\r\n"));
  auto before = lines_before_pong(pub);
  ASSERT_TRUE(before && before->empty());
  ASSERT_TRUE(sub.send("SUB " + std::string(100, 's') + " 1\r\n"));
  before = lines_before_pong(sub);
  ASSERT_TRUE(before && before->empty());

  auto r = reload(srv, "listen: 127.0.0.1:{PORT}\nmax_payload: 100\nmax_control_line: 64\n", Via::kSighup);
  ASSERT_TRUE(r.ok) << r.failure;

  // Clients that were already connected are held to the new limits.
  std::string seen;
  ASSERT_TRUE(pub.send("PUB big 200\r\n" + payload + "\r\n"));
  EXPECT_TRUE(closed_with(pub, "-ERR 'Maximum Payload Violation'", &seen)) << seen;
  seen.clear();
  ASSERT_TRUE(sub.send("SUB " + std::string(100, 't') + " 2\r\n"));
  EXPECT_TRUE(closed_with(sub, "-ERR 'maximum control line exceeded'", &seen)) << seen;
  // A new client is told the new max_payload.
  RawClient fresh;
  ASSERT_TRUE(fresh.connect(srv.port()));
  auto info = fresh.read_info();
  ASSERT_TRUE(info);
  EXPECT_EQ(json::parse(*info).as_object().at("max_payload").to_number<int64_t>(), 100) << *info;
}

TEST(ReloadLive, LoweredMaxConnectionsClosesTheExcessAndRefusesNewClients) {
  ServerProcess srv(from_file("listen: 127.0.0.1:{PORT}\n"));
  ASSERT_TRUE(srv.start());
  std::vector<RawClient> in;
  for (int i = 0; i < 3; ++i) in.push_back(client(srv.port()));

  auto r = reload(srv, "listen: 127.0.0.1:{PORT}\nmax_connections: 1\n", Via::kSignalFlag);
  ASSERT_TRUE(r.ok) << r.failure;

  // As the reference (maxConnOption): enough clients are closed to fall within the limit, each
  // told why; which ones is not specified.
  int kept = 0, cut = 0;
  for (auto& c : in) {
    std::vector<std::string> before;
    if (c.ping_pong(5s, &before)) {
      ++kept;
      continue;
    }
    ++cut;
    std::string seen;
    for (auto& l : before) seen += l + "\n";
    EXPECT_NE(seen.find("-ERR 'maximum connections exceeded'"), std::string::npos) << "a cut client is told why:\n"
                                                                                   << seen;
  }
  EXPECT_EQ(kept, 1);
  EXPECT_EQ(cut, 2);
  RawClient late;
  ASSERT_TRUE(late.connect(srv.port()));
  std::string seen;
  EXPECT_TRUE(closed_with(late, "-ERR 'maximum connections exceeded'", &seen)) << seen;
}

TEST(ReloadLive, MaxSubscriptionsAppliesToConnectedClients) {
  SKIP_IF_REFERENCE("nats-server 2.9 refuses to reload max_subscriptions (MaxSubs); Pylon applies it");
  ServerProcess srv(from_file("listen: 127.0.0.1:{PORT}\n"));
  ASSERT_TRUE(srv.start());
  RawClient c = client(srv.port());
  ASSERT_TRUE(c.send("SUB a 1\r\nSUB b 2\r\n"));
  auto before = lines_before_pong(c);
  ASSERT_TRUE(before && before->empty());
  auto r = reload(srv, "listen: 127.0.0.1:{PORT}\nmax_subscriptions: 2\n", Via::kSighup);
  ASSERT_TRUE(r.ok) << r.failure;
  ASSERT_TRUE(c.send("SUB c 3\r\n"));
  before = lines_before_pong(c);
  ASSERT_TRUE(before) << "max subscriptions does not close the connection";
  ASSERT_EQ(before->size(), 1u);
  EXPECT_EQ(before->at(0), "-ERR 'maximum subscriptions exceeded'");
}

TEST(ReloadLive, PermissionsApplyToConnectedUsers) {
  auto config = [](const std::string& pub_allow) {
    return "listen: 127.0.0.1:{PORT}\nauthorization {\n  users = [\n    { user: alice, password: pw,\n"
           "      permissions: { publish: { allow: [\"" + pub_allow + "\"] } } }\n  ]\n}\n";
  };
  ServerProcess srv(from_file(config("old.>")));
  ASSERT_TRUE(srv.start());
  RawClient alice = client(srv.port(), R"({"verbose":false,"pedantic":false,"user":"alice","pass":"pw"})");
  ASSERT_TRUE(alice.send("PUB old.x 1\r\nx\r\n"));
  auto before = lines_before_pong(alice);
  ASSERT_TRUE(before && before->empty()) << "old.x is allowed before the reload";

  auto r = reload(srv, config("new.>"), Via::kSighup);
  ASSERT_TRUE(r.ok) << r.failure;
  ASSERT_TRUE(alice.send("PUB old.x 1\r\nx\r\n"));
  before = lines_before_pong(alice);
  ASSERT_TRUE(before) << "a permission violation keeps the connection";
  ASSERT_EQ(before->size(), 1u);
  EXPECT_EQ(before->at(0), "-ERR 'Permissions Violation for Publish to \"old.x\"'");
  ASSERT_TRUE(alice.send("PUB new.x 1\r\nx\r\n"));
  before = lines_before_pong(alice);
  ASSERT_TRUE(before);
  EXPECT_TRUE(before->empty()) << before->at(0);
}

TEST(ReloadLive, NarrowedPermissionsRemoveSubscriptionsNoLongerAllowed) {
  auto config = [](const std::string& sub_allow) {
    return "listen: 127.0.0.1:{PORT}\nauthorization {\n  users = [\n    { user: alice, password: pw,\n"
           "      permissions: { subscribe: { allow: [" + sub_allow + "] } } }\n  ]\n}\n";
  };
  ServerProcess srv(from_file(config("\"old.>\", \"keep.>\"")));
  ASSERT_TRUE(srv.start());
  RawClient alice = client(srv.port(), R"({"verbose":false,"pedantic":false,"user":"alice","pass":"pw"})");
  ASSERT_TRUE(alice.send("SUB old.a 1\r\nSUB keep.a 2\r\n"));
  auto before = lines_before_pong(alice);
  ASSERT_TRUE(before && before->empty());

  auto r = reload(srv, config("\"keep.>\""), Via::kSighup);
  ASSERT_TRUE(r.ok) << r.failure;
  // As the reference: the client is told which subscription went, and it gets nothing more.
  auto line = alice.read_line(5s);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "-ERR 'Permissions Violation for Subscription to \"old.a\" (sid \"1\")'");
  ASSERT_TRUE(alice.send("PUB old.a 3\r\none\r\nPUB keep.a 4\r\nkeep\r\nPING\r\n"));
  auto got = alice.read_until("PONG\r\n", 5s);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "MSG keep.a 2 4\r\nkeep\r\nPONG\r\n");
}

TEST(ReloadLive, DebugAndTraceSwitchOnAndOff) {
  ServerProcess srv(from_file("listen: 127.0.0.1:{PORT}\n"));
  ASSERT_TRUE(srv.start());
  RawClient c = client(srv.port());
  ASSERT_TRUE(c.send("SUB before.reload 1\r\n"));
  ASSERT_TRUE(c.ping_pong());
  EXPECT_EQ(srv.log().find("before.reload"), std::string::npos) << "no trace before";

  auto on = reload(srv, "listen: 127.0.0.1:{PORT}\ndebug: true\ntrace: true\n", Via::kSighup);
  ASSERT_TRUE(on.ok) << on.failure;
  ASSERT_TRUE(c.send("SUB traced.now 2\r\n"));
  ASSERT_TRUE(c.ping_pong());
  EXPECT_TRUE(srv.wait_for_log("<<- [SUB traced.now 2]", 5s)) << srv.log();
  RawClient later = raw_connect(srv.port());  // debug: a new client connection is logged
  EXPECT_TRUE(srv.wait_for_log("Client connection created", 5s)) << srv.log();

  auto off = reload(srv, "listen: 127.0.0.1:{PORT}\n", Via::kSignalFlag);
  ASSERT_TRUE(off.ok) << off.failure;
  ASSERT_TRUE(c.send("SUB after.off 3\r\n"));
  ASSERT_TRUE(c.ping_pong());
  // The PONG above was written after the SUB was handled: had it been traced, it is in the log.
  EXPECT_EQ(srv.log().find("after.off"), std::string::npos) << srv.log();
}

TEST(ReloadLive, LogFileMovesToTheNewFile) {
  ServerProcess srv(from_file("listen: 127.0.0.1:{PORT}\nlog_file: \"{DIR}/first.log\"\n"));
  ASSERT_TRUE(srv.start());
  std::string first = srv.dir() + "/first.log", second = srv.dir() + "/second.log";
  ASSERT_TRUE(wait_for([&] { return read_file(first).find("Server is ready") != std::string::npos; }, 5s));
  std::ofstream(srv.dir() + "/server.conf", std::ios::trunc)
      << fill(srv, "listen: 127.0.0.1:{PORT}\nlog_file: \"{DIR}/second.log\"\ntrace: true\n");
  ASSERT_EQ(::kill(srv.pid(), SIGHUP), 0);
  // The outcome is logged to the new file.
  ASSERT_TRUE(wait_for([&] { return read_file(second).find(kReloaded) != std::string::npos; }, kReloadTimeout))
      << "first:\n" << read_file(first) << "second:\n" << read_file(second);
  RawClient c = client(srv.port());
  ASSERT_TRUE(c.send("SUB into.second 1\r\n"));
  ASSERT_TRUE(c.ping_pong());
  EXPECT_TRUE(wait_for([&] { return read_file(second).find("into.second") != std::string::npos; }, 5s));
  EXPECT_EQ(read_file(first).find("into.second"), std::string::npos) << "the old file is no longer written";
}

TEST(ReloadLive, MaxTracedMsgLenApplies) {
  ServerProcess srv(from_file("listen: 127.0.0.1:{PORT}\ntrace: true\n"));
  ASSERT_TRUE(srv.start());
  auto r = reload(srv, "listen: 127.0.0.1:{PORT}\ntrace: true\nmax_traced_msg_len: 5\n", Via::kSighup);
  ASSERT_TRUE(r.ok) << r.failure;
  RawClient c = client(srv.port());
  ASSERT_TRUE(c.send("PUB t 11\r\nhello world\r\n"));
  ASSERT_TRUE(c.ping_pong());
  EXPECT_TRUE(srv.wait_for_log("<<- MSG_PAYLOAD: [\"hello...\"]", 5s)) << srv.log();
}

// ------------------------------------------------------------------ what is refused by name

// Changes `before` to `after` (which also lowers max_payload): the reload must fail with
// `expected` and leave every option as it was, max_payload included.
void expect_refused(const std::string& before, const std::string& after, const std::string& expected, Via via) {
  ServerProcess srv(from_file(before));
  ASSERT_TRUE(srv.start());
  RawClient old = client(srv.port());
  auto r = reload(srv, after + "max_payload: 100\n", via);
  ASSERT_TRUE(r.done) << "no reload outcome logged\n" << srv.log();
  EXPECT_FALSE(r.ok);
  std::string want = fill(srv, expected);
  EXPECT_EQ(r.failure.rfind(want, 0), 0u) << "got: " << r.failure << "\nwanted: " << want;
  // Still running, on the old config: the connected client works, a new one connects on the
  // old port and is told the old max_payload.
  EXPECT_TRUE(srv.running());
  EXPECT_TRUE(old.ping_pong());
  RawClient fresh;
  ASSERT_TRUE(fresh.connect(srv.port()));
  auto info = fresh.read_info();
  ASSERT_TRUE(info);
  EXPECT_EQ(json::parse(*info).as_object().at("max_payload").to_number<int64_t>(), 1024 * 1024) << *info;
}

std::string cluster_block(const std::string& host, int port, const std::string& name) {
  return "cluster {\n  name: " + name + "\n  listen: " + host + ":" + std::to_string(port) + "\n}\n";
}

TEST(ReloadRefused, Host) {
  expect_refused("listen: 127.0.0.1:{PORT}\n", "listen: 0.0.0.0:{PORT}\n",
                 "config reload not supported for Host: old=127.0.0.1, new=0.0.0.0", Via::kSighup);
}

TEST(ReloadRefused, Port) {
  int other = pick_free_port();
  expect_refused("listen: 127.0.0.1:{PORT}\n", "listen: 127.0.0.1:" + std::to_string(other) + "\n",
                 "config reload not supported for Port: old={PORT}, new=" + std::to_string(other), Via::kSignalFlag);
}

TEST(ReloadRefused, HttpPort) {
  int h1 = pick_free_port(), h2 = pick_free_port();
  expect_refused("listen: 127.0.0.1:{PORT}\nhttp: 127.0.0.1:" + std::to_string(h1) + "\n",
                 "listen: 127.0.0.1:{PORT}\nhttp: 127.0.0.1:" + std::to_string(h2) + "\n",
                 "config reload not supported for HTTPPort: old=" + std::to_string(h1) + ", new=" + std::to_string(h2),
                 Via::kSighup);
}

TEST(ReloadRefused, ServerName) {
  expect_refused("listen: 127.0.0.1:{PORT}\nserver_name: alpha\n", "listen: 127.0.0.1:{PORT}\nserver_name: beta\n",
                 "config reload not supported for ServerName: old=alpha, new=beta", Via::kSignalFlag);
}

TEST(ReloadRefused, ClusterHost) {
  int rp = pick_free_port();
  expect_refused("listen: 127.0.0.1:{PORT}\n" + cluster_block("127.0.0.1", rp, "c1"),
                 "listen: 127.0.0.1:{PORT}\n" + cluster_block("0.0.0.0", rp, "c1"),
                 "config reload not supported for cluster host: old=127.0.0.1, new=0.0.0.0", Via::kSighup);
}

TEST(ReloadRefused, ClusterPort) {
  int r1 = pick_free_port(), r2 = pick_free_port();
  expect_refused("listen: 127.0.0.1:{PORT}\n" + cluster_block("127.0.0.1", r1, "c1"),
                 "listen: 127.0.0.1:{PORT}\n" + cluster_block("127.0.0.1", r2, "c1"),
                 "config reload not supported for cluster port: old=" + std::to_string(r1) +
                     ", new=" + std::to_string(r2),
                 Via::kSignalFlag);
}

TEST(ReloadRefused, ClusterName) {
  SKIP_IF_REFERENCE("nats-server 2.9 renames the cluster live; Pylon refuses (routes negotiated the old name)");
  int rp = pick_free_port();
  expect_refused("listen: 127.0.0.1:{PORT}\n" + cluster_block("127.0.0.1", rp, "c1"),
                 "listen: 127.0.0.1:{PORT}\n" + cluster_block("127.0.0.1", rp, "c2"),
                 "config reload not supported for cluster name: old=c1, new=c2", Via::kSighup);
}

// Leaf nodes do not reload (the reference refuses a changed LeafNode block; it prints the
// whole struct after "old=", Pylon its port and number of remotes).
TEST(ReloadRefused, LeafNode) {
  int l1 = pick_free_port(), l2 = pick_free_port();
  expect_refused("listen: 127.0.0.1:{PORT}\nleafnodes { listen: \"127.0.0.1:" + std::to_string(l1) + "\" }\n",
                 "listen: 127.0.0.1:{PORT}\nleafnodes { listen: \"127.0.0.1:" + std::to_string(l2) + "\" }\n",
                 "config reload not supported for LeafNode: old=", Via::kSighup);
}

TEST(ReloadRefused, EventLoops) {
  SKIP_IF_REFERENCE("event_loops is Pylon's own option");
  expect_refused("listen: 127.0.0.1:{PORT}\nevent_loops: 2\n", "listen: 127.0.0.1:{PORT}\nevent_loops: 3\n",
                 "config reload not supported for event_loops: old=2, new=3", Via::kSignalFlag);
}

}  // namespace
}  // namespace pylon::it
