// Stress: connections that come and go on one event loop while other loops deliver to them
// (issue 10). Each test runs a bounded churn against one server with several event loops:
//   - flood publishers on their own connections publish to the churned subject without pause;
//   - churners connect, subscribe (plain and queue), take one delivery, sometimes unsubscribe,
//     and drop the connection abruptly (SO_LINGER 0: a reset, no orderly close);
//   - a canary pair on other connections: every numbered message must arrive, in order;
//   plus what each test adds (route peers that drop, SIGHUP reloads, monitoring polls).
// A test fails on a crash (the server must still be running and answering), an exception that
// reached an event loop, or a lost or reordered canary message. Under `make sanitize` the same
// run fails on any ASan/UBSan/TSan report: the use-after-free of issue 10 (a subscriber freed
// on its own loop while a publisher's cached match result still delivered to it) showed up
// within a handful of disconnects there.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "cluster_harness.h"
#include "harness.h"

namespace pylon::it {
namespace {

constexpr auto kChurnFor = 4s;       // each test's churn; the tests are bounded by time
constexpr int kChurners = 3;         // threads that connect, subscribe and reset
constexpr int kFloodPublishers = 2;  // threads publishing to the churned subject
constexpr int kEventLoops = 4;       // so churners, publishers and the canary share no loop

// Closes with a reset instead of a FIN: the server sees ECONNRESET at any point of its work.
void reset_close(RawClient& c) {
  if (!c.connected()) return;
  linger l{1, 0};
  ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  c.close();
}

// Numbered messages from one publisher connection to one subscriber connection.
class Canary {
 public:
  explicit Canary(int port) : port_(port) {}
  ~Canary() { join(); }

  // Subscribes, then publishes one message per millisecond until stop().
  bool start(std::string* why) {
    sub_ = raw_connect(port_);
    if (!sub_.handshake() || !sub_.send("SUB canary 1\r\n") || !sub_.ping_pong()) {
      *why = "canary subscriber could not subscribe";
      return false;
    }
    pub_ = raw_connect(port_);
    if (!pub_.handshake()) {
      *why = "canary publisher could not connect";
      return false;
    }
    reader_ = std::thread([this] { read_loop(); });
    writer_ = std::thread([this] {
      while (!stop_.load()) {
        std::string n = std::to_string(++sent_);
        if (!pub_.send("PUB canary " + std::to_string(n.size()) + "\r\n" + n + "\r\n")) {
          pub_failed_ = true;
          return;
        }
        std::this_thread::sleep_for(1ms);
      }
    });
    return true;
  }

  // Stops publishing and waits (with a deadline) for the last message. Empty when every
  // message arrived in order; otherwise what went wrong.
  std::string stop_and_check() {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
    if (pub_failed_) return "the canary publisher's connection failed";
    // PONG: the server has processed every PUB, so each is in the subscriber's buffer or on the wire.
    if (!pub_.ping_pong(10s)) return "the canary publisher got no PONG";
    int64_t last = sent_.load();
    wait_for([&] { return received_.load() >= last || failed_.load(); }, 15s, 5ms);
    done_ = true;  // the reader sees it within one read_line timeout
    join();
    sub_.close();  // only now: closing a descriptor another thread reads is a race (TSan)
    if (!error_.empty()) return error_;
    if (received_.load() != last) {
      return "canary: received " + std::to_string(received_.load()) + " of " + std::to_string(last);
    }
    return {};
  }

  int64_t sent() const { return sent_.load(); }

 private:
  void join() {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
    if (reader_.joinable()) reader_.join();
  }

  void read_loop() {
    while (!done_.load()) {
      auto line = sub_.read_line(200ms);
      if (!line) {
        if (sub_.peer_closed() && !done_.load()) fail("the canary subscriber was disconnected");
        if (sub_.peer_closed()) return;
        continue;
      }
      if (*line == "PING") {
        sub_.send("PONG\r\n");
        continue;
      }
      if (line->rfind("MSG canary ", 0) != 0) continue;
      size_t size = std::stoul(line->substr(line->rfind(' ') + 1));
      auto payload = sub_.read_exact(size + 2, 5s);
      if (!payload) {
        fail("canary: a message's payload never arrived");
        return;
      }
      int64_t n = std::stoll(payload->substr(0, size));
      int64_t want = received_.load() + 1;
      if (n != want) {
        fail("canary: got message " + std::to_string(n) + " where " + std::to_string(want) +
             " was due (lost or reordered)");
        return;
      }
      received_ = n;
    }
  }

  int port_;
  RawClient sub_, pub_;
  std::thread reader_, writer_;
  std::atomic<bool> stop_{false}, done_{false}, pub_failed_{false};
  std::atomic<int64_t> sent_{0}, received_{0};
  // Reader thread: what went wrong, then failed_ (the main thread reads error_ after the join).
  void fail(std::string why) {
    error_ = std::move(why);
    failed_ = true;
  }
  std::atomic<bool> failed_{false};
  std::string error_;
};

// The churn every test runs: flood publishers, churning subscribers and a canary.
class Churn {
 public:
  explicit Churn(int port) : port_(port), canary_(port) {}
  ~Churn() { join(); }

  bool start(std::string* why) {
    if (!canary_.start(why)) return false;
    end_ = Clock::now() + kChurnFor;
    for (int i = 0; i < kFloodPublishers; ++i) threads_.emplace_back([this] { flood(); });
    for (int i = 0; i < kChurners; ++i) threads_.emplace_back([this, i] { churn(i); });
    return true;
  }

  // Runs `fn` repeatedly on a thread of its own until the churn ends.
  void also(std::function<void()> fn) {
    threads_.emplace_back([this, fn = std::move(fn)] {
      while (Clock::now() < end_) fn();
    });
  }

  bool over() const { return Clock::now() >= end_; }

  // Waits for the churn to end and checks the canary (empty: all well).
  std::string finish() {
    join();
    return canary_.stop_and_check();
  }

  int cycles() const { return cycles_.load(); }
  int deliveries() const { return deliveries_.load(); }
  int64_t canary_sent() const { return canary_.sent(); }

 private:
  void join() {
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  void flood() {
    RawClient c;
    if (!c.connect(port_) || !c.read_info() || !c.handshake()) return;
    std::string batch;
    for (int i = 0; i < 50; ++i) batch += "PUB churn 5\r\nhello\r\n";
    for (int n = 0; Clock::now() < end_; ++n) {
      if (!c.send(batch)) return;
      // A PING now and then keeps this publisher from running far ahead of the server.
      if (n % 20 == 19 && !c.ping_pong(10s)) return;
    }
  }

  void churn(int who) {
    for (int n = 0; Clock::now() < end_; ++n) {
      RawClient c;
      if (!c.connect(port_, 2s) || !c.read_info(2s)) continue;
      c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB churn 1\r\nSUB churn q 2\r\nPING\r\n");
      if (!c.read_until("PONG\r\n", 2s)) {
        reset_close(c);
        continue;
      }
      if (c.read_until("MSG churn ", 2s)) deliveries_.fetch_add(1);
      // Sometimes the subscriptions go before the connection does, sometimes with it.
      if ((n + who) % 3 == 0) c.send("UNSUB 1\r\nUNSUB 2\r\n");
      reset_close(c);
      cycles_.fetch_add(1);
    }
  }

  int port_;
  Canary canary_;
  Clock::time_point end_;
  std::vector<std::thread> threads_;
  std::atomic<int> cycles_{0}, deliveries_{0};
};

// What every stress test checks once its churn is over.
void expect_survived(ServerProcess& server, Churn& churn, const std::string& canary) {
  std::printf("churn: %d subscriber cycles, %d deliveries to churned subscribers, %lld canary messages\n",
              churn.cycles(), churn.deliveries(), static_cast<long long>(churn.canary_sent()));
  EXPECT_EQ(canary, "") << server.log().substr(0, 4000);
  EXPECT_TRUE(server.running()) << "the server died under churn; log:\n" << server.log();
  // The churn really ran: subscribers came and went, and messages reached them meanwhile.
  EXPECT_GE(churn.cycles(), kChurners * 5) << "too few churn cycles to prove anything";
  EXPECT_GT(churn.deliveries(), 0) << "no churned subscriber ever got a message";
  EXPECT_GT(churn.canary_sent(), 100);
  EXPECT_EQ(server.log().find("Unexpected exception"), std::string::npos) << server.log();
  // Still serving: a fresh client completes a round trip.
  RawClient after;
  ASSERT_TRUE(after.connect(server.port()));
  ASSERT_TRUE(after.read_info());
  EXPECT_TRUE(after.handshake());
}

ServerOptions churn_server(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--event_loops", std::to_string(kEventLoops)};
  args.insert(args.end(), extra.begin(), extra.end());
  return with_args(std::move(args));
}

TEST(Stress, SubscribersThatComeAndGoWhileOtherLoopsPublishToThem) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  ServerProcess server(churn_server());
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
}

// A scripted route peer: connects to the route port, announces interest in `churn` (plain and
// queue), takes one RMSG, and drops the connection with a reset while messages are routed to it.
TEST(Stress, RoutesThatCloseWhileMessagesAreRoutedToThem) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  int route_port = pick_free_port();
  ServerProcess server(churn_server({"--cluster_name", "stress", "--cluster",
                                     "nats://127.0.0.1:" + std::to_string(route_port)}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::atomic<int> routes{0}, routed{0};
  auto peer = [&, n = std::make_shared<std::atomic<int>>(0)] {
    RawClient r;
    if (!r.connect(route_port, 2s) || !r.read_until("INFO ", 2s) || !r.read_until("\r\n", 2s)) return;
    int id = n->fetch_add(1);
    // Server ids are unique per peer: a repeated id would be a duplicate route, not a new one.
    std::string sid = "NSTRESSPEER" + std::to_string(::getpid()) + "X" + std::to_string(id);
    r.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"" + sid +
           "\",\"cluster\":\"stress\"}\r\nINFO {\"server_id\":\"" + sid +
           "\",\"server_name\":\"peer\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,"
           "\"cluster\":\"stress\"}\r\nRS+ $G churn\r\nRS+ $G churn q 1\r\nPING\r\n");
    if (!r.read_until("PONG\r\n", 2s)) {
      reset_close(r);
      return;
    }
    routes.fetch_add(1);
    if (r.read_until("RMSG $G churn ", 2s)) routed.fetch_add(1);
    reset_close(r);
  };
  churn.also(peer);
  churn.also(peer);
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  EXPECT_GE(routes.load(), 5) << "too few route peers came and went";
  EXPECT_GT(routed.load(), 0) << "no message was routed to a peer before it dropped";
}

// Scripted leaf nodes on the leafnode port: each connects, subscribes to `churn` (plain and
// queue) and to a subject of its own it then drops again (leaf-side subscribers that come and
// go), takes one LMSG, and drops the connection with a reset while messages flow to it. The
// leaf connection is reached from the publishers' loops as a route is (docs/architecture.md).
TEST(Stress, LeafConnectionsAndTheirSubscribersComeAndGoWhileMessagesFlow) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  int leaf_port = pick_free_port();
  TempDir dir;
  std::string conf = dir.write("leaf.conf", "leafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\" }\n");
  ServerProcess server(churn_server({"-c", conf}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::atomic<int> leafs{0}, delivered{0};
  auto peer = [&, n = std::make_shared<std::atomic<int>>(0)] {
    RawClient l;
    if (!l.connect(leaf_port, 2s) || !l.read_until("INFO ", 2s) || !l.read_until("\r\n", 2s)) return;
    int id = n->fetch_add(1);
    l.send("CONNECT {\"name\":\"stress-leaf-" + std::to_string(id) +
           "\",\"headers\":true}\r\nLS+ churn\r\nLS+ churn q 1\r\nLS+ own." + std::to_string(id) +
           "\r\nLS- own." + std::to_string(id) + "\r\nPING\r\n");
    if (!l.read_until("PONG\r\n", 2s)) {
      reset_close(l);
      return;
    }
    leafs.fetch_add(1);
    if (l.read_until("LMSG churn ", 2s)) delivered.fetch_add(1);
    if (id % 2 == 0) l.send("LS- churn\r\nLS- churn q\r\n");
    reset_close(l);
  };
  churn.also(peer);
  churn.also(peer);
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  EXPECT_GE(leafs.load(), 5) << "too few leaf connections came and went";
  EXPECT_GT(delivered.load(), 0) << "no message reached a leaf before it dropped";
}

TEST(Stress, ConfigReloadsDuringTraffic) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  TempDir dir;
  // Two configs the reloads alternate between: limits and logging change, so every reload
  // installs new options and revalidates every client (on its own loop) while they churn.
  std::string a = "max_payload: 1MB\nmax_subscriptions: 1000\ndebug: false\n";
  std::string b = "max_payload: 512KB\nmax_subscriptions: 2000\ndebug: true\nmax_control_line: 8KB\n";
  std::string conf = dir.write("stress.conf", a);
  ServerProcess server(churn_server({"-c", conf}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::atomic<int> reloads{0};
  churn.also([&] {
    dir.write("stress.conf", reloads.load() % 2 ? a : b);
    ::kill(server.pid(), SIGHUP);
    reloads.fetch_add(1);
    std::this_thread::sleep_for(100ms);  // the pace of the reloads, not a wait for a condition
  });
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  ASSERT_GE(reloads.load(), 10);
  // Every reload was applied (the server logs each), none refused.
  EXPECT_TRUE(wait_for(
      [&] {
        std::string log = server.log();
        size_t n = 0;
        for (size_t at = log.find("Reloaded server configuration"); at != std::string::npos;
             at = log.find("Reloaded server configuration", at + 1))
          ++n;
        return n >= static_cast<size_t>(reloads.load());
      },
      10s))
      << server.log().substr(0, 4000);
}

TEST(Stress, MonitoringPolledDuringChurn) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  int http_port = pick_free_port();
  ServerProcess server(churn_server({"-m", std::to_string(http_port)}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::atomic<int> polls{0}, bad{0};
  std::string first_bad;
  std::mutex mu;
  for (std::string target : {"/connz?subs=1", "/subsz?subs=1", "/metrics", "/varz"}) {
    churn.also([&, target] {
      auto r = http_get(http_port, target, 10s);
      bool ok = r && r->status == 200;
      if (ok && target != "/metrics") {
        boost::system::error_code ec;
        auto v = boost::json::parse(r->body, ec);
        ok = !ec && v.is_object();
      }
      if (ok && target == "/metrics") ok = r->body.find("# TYPE ") != std::string::npos;
      polls.fetch_add(1);
      if (!ok) {
        bad.fetch_add(1);
        std::lock_guard lk(mu);
        if (first_bad.empty()) first_bad = target + ": " + (r ? std::to_string(r->status) + " " + r->body : "no answer");
      }
    });
  }
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  EXPECT_GE(polls.load(), 20);
  EXPECT_EQ(bad.load(), 0) << first_bad;
}

}  // namespace
}  // namespace pylon::it

namespace pylon::it {
namespace {

// Accounts: clients of two accounts churn while others publish, and the importer's
// subscriptions have shadows in the exporter's index (stream imports). The churn's own clients
// (no credentials) land in B through no_auth_user; clients of A publish and subscribe beside
// them. A shadow holds its client like any subscription, so a publisher in A delivering through
// a cached match result to a B client that just reset must never reach a freed connection.
TEST(Stress, ClientsOfTwoAccountsWithImportsComeAndGoWhileOthersPublish) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  // Reloads alternate between this config and the same plus an account C that imports from
  // A: each registers or drops C, replaces every account's imports (the service import's
  // internal subscription included) and makes every B client's shadows again, on its loop,
  // while messages cross the imports.
  const std::string accounts_config = R"(
accounts {
  A: { users: [ {user: a, password: pa} ], exports: [ {stream: "churn"}, {stream: "churn.>"}, {service: "svc"} ] }
  B: {
    users: [ {user: b, password: pb} ]
    imports: [
      {stream: {account: A, subject: "churn"}}, {stream: {account: A, subject: "churn.>"}, prefix: "a"}
      {service: {account: A, subject: "svc"}}
    ]
  }
}
no_auth_user: b
)";
  std::string with_c = accounts_config;
  with_c.replace(with_c.find("  B: {"), 6,
                 "  C: { users: [ {user: c, password: pc} ], imports: [ {stream: {account: A, subject: \"churn\"}} ] }\n"
                 "  B: {");
  TempDir dir;
  std::string conf = dir.write("accounts.conf", accounts_config);
  ServerOptions opts = churn_server({"-c", conf});
  ServerProcess server(opts);
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  const std::string login_a = R"(CONNECT {"verbose":false,"pedantic":false,"user":"a","pass":"pa"})";
  std::atomic<int> a_cycles{0}, imported{0};
  // A publisher in A: its "churn" reaches B's churners through their shadows.
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s) || !c.send(login_a + "\r\n")) return;
    std::string batch;
    for (int i = 0; i < 50; ++i) batch += "PUB churn 1\r\nA\r\nPUB churn.x 1\r\nA\r\n";
    while (!churn.over()) {
      if (!c.send(batch) || !c.ping_pong(10s)) return;
    }
  });
  // Churners in A, and churners in B that take a message A published (mapped to a.churn.x).
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send(login_a + "\r\nSUB churn 1\r\nSUB churn.> q 2\r\nPING\r\n");
    if (c.read_until("PONG\r\n", 2s)) c.read_until("MSG churn", 2s);
    reset_close(c);
    a_cycles.fetch_add(1);
  });
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB a.churn.> 1\r\nPING\r\n");
    if (c.read_until("PONG\r\n", 2s) && c.read_until("MSG a.churn.x 1 1\r\n", 2s)) imported.fetch_add(1);
    reset_close(c);
  });
  // Service responders in A that answer a few requests and reset, while requesters in B ask
  // through the import: mapped replies are made and taken on every loop as responders go.
  std::atomic<int> answered{0};
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send(login_a + "\r\nSUB svc 1\r\nPING\r\n");
    if (!c.read_until("PONG\r\n", 2s)) return reset_close(c);
    for (int i = 0; i < 5; ++i) {
      auto line = c.read_until("\r\n", 1s);
      if (!line) break;
      if (line->rfind("MSG svc 1 ", 0) != 0) continue;
      std::string reply = line->substr(10, line->find(' ', 10) - 10);
      c.read_until("\r\n", 1s);  // the payload
      c.send("PUB " + reply + " 2\r\nok\r\n");
    }
    reset_close(c);
  });
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB inbox 1\r\n");
    for (int i = 0; i < 20; ++i) {
      c.send("PUB svc inbox 1\r\nq\r\n");
      if (c.read_until("MSG inbox 1 2\r\nok\r\n", 200ms)) answered.fetch_add(1);
    }
    reset_close(c);
  });
  std::atomic<int> reloads{0};
  churn.also([&] {
    dir.write("accounts.conf", reloads.load() % 2 ? accounts_config : with_c);
    ::kill(server.pid(), SIGHUP);
    reloads.fetch_add(1);
    std::this_thread::sleep_for(250ms);  // the pace of the reloads, not a wait for a condition
  });
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  EXPECT_GE(reloads.load(), 5);
  EXPECT_EQ(server.log().find("Failed to reload"), std::string::npos) << server.log().substr(0, 4000);
  std::printf("accounts: %d churn cycles in A, %d deliveries across the stream import, %d service answers\n",
              a_cycles.load(), imported.load(), answered.load());
  EXPECT_GT(a_cycles.load(), 5);
  EXPECT_GT(imported.load(), 0) << "no B client ever got a message published in A";
  EXPECT_GT(answered.load(), 0) << "no request through the service import was ever answered";
}

// Per-connection match caches (src/server/match_cache.h): route peers bring messages in two
// accounts, and a publisher in A cycles through more subjects than a cache keeps, while the
// subscribers those cached results name come and go on other loops. A route's cache holds one
// set of results per account; each set is dropped when its account's index changes, so a
// delivery through a result taken before a subscriber reset must find the subscriber closed,
// never freed. Idle publishers' caches are swept meanwhile.
TEST(Stress, RoutesAndPublishersDeliverThroughCachedResultsWhileSubscribersComeAndGo) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  TempDir dir;
  std::string conf = dir.write("accounts.conf", R"(
accounts {
  A: { users: [ {user: a, password: pa} ] }
  B: { users: [ {user: b, password: pb} ] }
}
no_auth_user: b
)");
  int route_port = pick_free_port();
  ServerProcess server(churn_server(
      {"-c", conf, "--cluster_name", "stress", "--cluster", "nats://127.0.0.1:" + std::to_string(route_port)}));
  ASSERT_TRUE(server.start());
  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  const std::string login_a = R"(CONNECT {"verbose":false,"pedantic":false,"user":"a","pass":"pa"})";
  constexpr int kSubjects = 300;  // more than MatchCache::kMaxSubjects: caches fill and start afresh
  // A publisher in A over many subjects.
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s) || !c.send(login_a + "\r\n")) return;
    for (int round = 0; !churn.over(); ++round) {
      std::string batch;
      for (int i = 0; i < kSubjects; i += 7) batch += "PUB many." + std::to_string((i + round) % kSubjects) + " 1\r\nA\r\n";
      if (!c.send(batch) || !c.ping_pong(10s)) return;
    }
  });
  // Publishers in A that publish a little and idle, so their caches are left to the sweep.
  churn.also([&] {
    RawClient c;
    if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
    c.send(login_a + "\r\nPUB many.1 1\r\nI\r\nPUB many.2 1\r\nI\r\nPING\r\n");
    c.read_until("PONG\r\n", 2s);
    std::this_thread::sleep_for(300ms);  // idle, while churners come and go
    c.close();
  });
  // Churners in A, on a wildcard and on one subject.
  std::atomic<int> a_deliveries{0};
  auto a_churner = [&](std::string subject) {
    return [&, subject] {
      RawClient c;
      if (!c.connect(server.port(), 2s) || !c.read_info(2s)) return;
      c.send(login_a + "\r\nSUB " + subject + " 1\r\nSUB " + subject + " q 2\r\nPING\r\n");
      if (c.read_until("PONG\r\n", 2s) && c.read_until("MSG many.", 2s)) a_deliveries.fetch_add(1);
      reset_close(c);
    };
  };
  churn.also(a_churner("many.*"));
  churn.also(a_churner("many.3"));
  // Route peers that take interest in A, send a burst of RMSG into A, B and an account this
  // server lacks, and drop with a reset.
  std::atomic<int> peers{0};
  auto peer = [&, n = std::make_shared<std::atomic<int>>(0)] {
    RawClient r;
    if (!r.connect(route_port, 2s) || !r.read_until("INFO ", 2s) || !r.read_until("\r\n", 2s)) return;
    std::string sid = "NCACHEPEER" + std::to_string(::getpid()) + "X" + std::to_string(n->fetch_add(1));
    std::string burst;
    for (int i = 0; i < kSubjects; i += 3) {
      burst += "RMSG A many." + std::to_string(i) + " 1\r\nR\r\nRMSG B churn 1\r\nR\r\n";
    }
    burst += "RMSG Z nowhere 1\r\nR\r\n";
    r.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"" + sid +
           "\",\"cluster\":\"stress\"}\r\nINFO {\"server_id\":\"" + sid +
           "\",\"server_name\":\"peer\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,"
           "\"cluster\":\"stress\"}\r\nRS+ A many.>\r\nPING\r\n");
    if (!r.read_until("PONG\r\n", 2s)) return reset_close(r);
    r.send(burst + burst + "PING\r\n");
    if (r.read_until("PONG\r\n", 2s)) peers.fetch_add(1);
    reset_close(r);
  };
  churn.also(peer);
  churn.also(peer);
  std::string canary = churn.finish();
  expect_survived(server, churn, canary);
  std::printf("caches: %d route peers sent their bursts, %d deliveries to churners in A\n", peers.load(),
              a_deliveries.load());
  EXPECT_GE(peers.load(), 5) << "too few route peers came and went";
  EXPECT_GT(a_deliveries.load(), 0) << "no churner in A ever got a message";
}

}  // namespace
}  // namespace pylon::it

namespace pylon::it {
namespace {

// The system account under churn (issue 13): clients of account A come and go on node 1 (so
// its loops post CONNECT/DISCONNECT events to its system loop) while a client of the system
// account on node 0 listens to `$SYS.>` over the route and asks both nodes for STATSZ without
// pause. Every event must arrive once, in the order the node sent it (its `seq` only grows),
// each DISCONNECT after its client's CONNECT, and every request must be answered by both nodes.
// Each client's coming and going also makes an account_connections event (walking the
// account's open clients on the system loop while other loops close them), and a client of A
// on node 0 asks both nodes for A's connections through its import of the system account's
// service ($SYS.REQ.ACCOUNT.PING.CONNZ: streamed responses mapped back across the route).
// Meanwhile reloads of node 1 add and drop an account C whose clients come and go: their
// events hold C while the system loop sends them, C's heartbeat names it weakly, and each new
// C gets its system imports.
TEST(Stress, SystemAccountEventsAndRequestsDuringClientChurn) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  const std::string config = R"(
accounts {
  SYS: { users: [ {user: sys, password: psys} ] }
  A: { users: [ {user: a, password: pa} ] }
}
system_account: SYS
no_auth_user: a
)";
  int route0 = pick_free_port(), route1 = pick_free_port();
  auto node = [&](int own, int other) {
    return with_config(config, {"--event_loops", std::to_string(kEventLoops), "--cluster_name", "sysstress",
                                "--cluster", "nats://127.0.0.1:" + std::to_string(own), "--routes",
                                "nats://127.0.0.1:" + std::to_string(other)});
  };
  std::string with_c = config;
  with_c.replace(with_c.find("  A: {"), 6, "  C: { users: [ {user: c, password: pc} ] }\n  A: {");
  TempDir dir;
  std::string conf1 = dir.write("node1.conf", config);
  ServerOptions opts1 = node(route1, route0);
  opts1.config.clear();
  opts1.args.insert(opts1.args.end(), {"-c", conf1});
  ServerProcess n0(node(route0, route1)), n1(opts1);
  ASSERT_TRUE(n0.start());
  ASSERT_TRUE(n1.start());

  // The listener, in the system account on node 0. Replies come to "$SYS.it.reply.<n>", so
  // they reach it too: once both nodes answer a request, node 1 has its interest.
  using cluster::Collector;
  auto sys = cluster::Client::connect({"nats://sys:psys@127.0.0.1:" + std::to_string(n0.port())});
  ASSERT_TRUE(sys);
  auto heard = std::make_shared<Collector>();
  auto listen = cluster::AsyncSub::make(*sys, "$SYS.>", heard);
  ASSERT_TRUE(sys->flush());
  // Over the messages a Collector::wait predicate is given (under the collector's lock).
  auto answers_in = [](const std::vector<cluster::Received>& ms, const std::string& reply) {
    size_t n = 0;
    for (const auto& m : ms) n += m.subject == reply;
    return n;
  };
  int requests = 0;
  auto ask = [&] {
    std::string reply = "$SYS.it.reply." + std::to_string(requests++);
    return cluster::publish(*sys, "$SYS.REQ.SERVER.PING", "", reply) == NATS_OK ? reply : std::string();
  };
  ASSERT_TRUE(wait_for([&] {
    std::string r = ask();
    return heard->wait([&](const auto& ms) { return answers_in(ms, r) == 2; }, 500ms);
  }, 20s)) << "both nodes never answered: the route did not form";
  int first_measured = requests;

  Churn churn(n1.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::mutex ask_mu;
  churn.also([&] {
    {
      std::lock_guard lk(ask_mu);
      ask();
    }
    std::this_thread::sleep_for(20ms);  // the pace of the requests, not a wait for a condition
  });
  std::atomic<int> reloads{0}, c_cycles{0};
  churn.also([&] {
    dir.write("node1.conf", reloads.load() % 2 ? config : with_c);
    ::kill(n1.pid(), SIGHUP);
    reloads.fetch_add(1);
    std::this_thread::sleep_for(300ms);  // the pace of the reloads, not a wait for a condition
  });
  churn.also([&] {
    RawClient c;
    if (!c.connect(n1.port(), 2s) || !c.read_info(2s)) return;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"c\",\"pass\":\"pc\"}\r\nPING\r\n");
    if (c.read_until("PONG\r\n", 1s)) c_cycles.fetch_add(1);  // C was there
    reset_close(c);
  });
  std::atomic<int> imported_answers{0};
  churn.also([&] {
    RawClient c;  // no credentials: A, through no_auth_user
    if (!c.connect(n0.port(), 2s) || !c.read_info(2s)) return;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB my.inbox 1\r\nPING\r\n");
    if (!c.read_until("PONG\r\n", 2s)) return reset_close(c);
    for (int i = 0; i < 10 && !churn.over(); ++i) {
      c.send("PUB $SYS.REQ.ACCOUNT.PING.CONNZ my.inbox 0\r\n\r\n");
      if (c.read_until("MSG my.inbox 1 ", 2s)) imported_answers.fetch_add(1);
    }
    reset_close(c);
  });
  std::string canary = churn.finish();
  expect_survived(n1, churn, canary);
  EXPECT_TRUE(n0.running());
  EXPECT_EQ(n0.log().find("Unexpected exception"), std::string::npos);
  int last = requests;

  // Every request answered by both nodes.
  auto all_answered = [&](const std::vector<cluster::Received>& ms) {
    std::map<std::string, int> n;
    for (const auto& m : ms) ++n[m.subject];
    for (int i = first_measured; i < last; ++i)
      if (n["$SYS.it.reply." + std::to_string(i)] != 2) return false;
    return true;
  };
  EXPECT_TRUE(heard->wait(all_answered, 20s)) << "requests " << first_measured << ".." << last;
  EXPECT_GE(last - first_measured, 20) << "too few requests during the churn";

  // The events: each node's in the order it sent them, each client's CONNECT before its
  // DISCONNECT, none twice (node 0's A clients are the import's requesters).
  heard->wait_quiet(500ms, 10s);
  std::map<std::string, int64_t> last_seq;  // server id -> seq
  std::map<std::pair<std::string, int64_t>, int> state;  // (server id, cid) -> 1 connected, 2 disconnected
  int connects = 0, disconnects = 0, out_of_order = 0, unpaired = 0, conns_events = 0;
  for (const auto& m : heard->messages()) {
    bool c = m.subject == "$SYS.ACCOUNT.A.CONNECT", d = m.subject == "$SYS.ACCOUNT.A.DISCONNECT";
    bool n = m.subject == "$SYS.ACCOUNT.A.SERVER.CONNS";
    if (!c && !d && !n) continue;
    auto e = boost::json::parse(m.data).as_object();
    const auto& server = e.at("server").as_object();
    int64_t seq = server.at("seq").to_number<int64_t>();
    int64_t& prev = last_seq[std::string(server.at("id").as_string())];
    if (seq <= prev) ++out_of_order;
    prev = seq;
    if (n) {
      ++conns_events;
      continue;
    }
    int& st = state[{std::string(server.at("id").as_string()), e.at("client").as_object().at("id").to_number<int64_t>()}];
    if (c) {
      ++connects;
      if (st != 0) ++unpaired;
      st = 1;
    } else {
      ++disconnects;
      if (st != 1) ++unpaired;
      st = 2;
    }
  }
  std::printf("system account: %d requests answered by both nodes, %d CONNECT and %d DISCONNECT events\n",
              last - first_measured, connects, disconnects);
  EXPECT_GE(connects, kChurners * 5);
  EXPECT_GE(disconnects, kChurners * 5);
  EXPECT_EQ(out_of_order, 0) << "a node's seq must grow with every message it sends";
  EXPECT_EQ(unpaired, 0) << "each DISCONNECT follows its client's CONNECT, once";
  std::printf("system account: %d account_connections events, %d answers through A's system import\n",
              conns_events, imported_answers.load());
  EXPECT_GE(conns_events, connects + disconnects) << "one at each client's coming and going";
  std::printf("system account: %d reloads of node 1, %d clients of C while it existed\n", reloads.load(),
              c_cycles.load());
  EXPECT_GE(reloads.load(), 5);
  EXPECT_GT(c_cycles.load(), 0) << "no client of C ever connected";
  EXPECT_EQ(n1.log().find("Failed to reload"), std::string::npos) << n1.log().substr(0, 4000);
  EXPECT_GT(imported_answers.load(), 0) << "A never got its connections through its system import";
}

}  // namespace
}  // namespace pylon::it

namespace pylon::it {
namespace {

// The client registry (src/server/client/client_registry.h: 64 shards, an atomic count) while
// clients connect and reset on every loop and monitoring reads it from others: /varz's
// `connections` is the count, /connz lists a snapshot taken shard by shard. Once the churn is
// over, both must show exactly the clients still open: an add or a remove lost or counted
// twice under the race (a shard and the count disagreeing) leaves a wrong number for good.
TEST(Stress, ClientRegistryCountsStayExactWhileClientsComeAndGoOnEveryLoop) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  constexpr int kHeld = 10;  // idle clients open throughout, one or more on every loop
  int http_port = pick_free_port();
  ServerProcess server(churn_server({"-m", std::to_string(http_port)}));
  ASSERT_TRUE(server.start());
  std::vector<RawClient> held(kHeld);
  for (auto& c : held) {
    ASSERT_TRUE(c.connect(server.port()));
    ASSERT_TRUE(c.read_info());
    ASSERT_TRUE(c.handshake());
  }
  auto count = [&](const std::string& target, const char* field) -> int64_t {
    auto r = http_get(http_port, target, 10s);
    if (!r || r->status != 200) return -1;
    boost::system::error_code ec;
    auto v = boost::json::parse(r->body, ec);
    if (ec || !v.is_object() || !v.as_object().contains(field)) return -1;
    return v.as_object().at(field).to_number<int64_t>();
  };
  std::atomic<int> polls{0};
  {
    Churn churn(server.port());
    std::string why;
    ASSERT_TRUE(churn.start(&why)) << why;
    churn.also([&] {
      EXPECT_GE(count("/varz", "connections"), kHeld);
      EXPECT_GE(count("/connz?limit=100000", "num_connections"), kHeld);
      polls.fetch_add(1);
    });
    std::string canary = churn.finish();
    expect_survived(server, churn, canary);
  }
  EXPECT_GE(polls.load(), 5);
  // The churn's own connections are gone (closed by their threads and the canary's end).
  EXPECT_TRUE(wait_for([&] { return count("/varz", "connections") == kHeld; }, 10s))
      << "/varz connections: " << count("/varz", "connections");
  EXPECT_TRUE(wait_for([&] { return count("/connz?limit=100000", "num_connections") == kHeld; }, 10s))
      << "/connz num_connections: " << count("/connz?limit=100000", "num_connections");
  // Every held client is still registered and served.
  for (auto& c : held) EXPECT_TRUE(c.ping_pong());
}

}  // namespace
}  // namespace pylon::it

namespace pylon::it {
namespace {

// Numbered streams from several publishers to one subscriber: publisher p's n-th message on
// `<prefix>.<p>` carries "p:n:<padding>".
std::string numbered_pub(const std::string& prefix, int p, int seq, const std::string& padding) {
  std::string payload = std::to_string(p) + ":" + std::to_string(seq) + ":" + padding;
  return "PUB " + prefix + "." + std::to_string(p) + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
}

struct NumberedRead {
  std::string failure;  // empty: every message arrived once, whole, in each publisher's order
  int received = 0;
  int pongs = 0;  // PONGs read between the messages
};

// Reads `total` numbered messages (subscribed as `<prefix>.>`) from `sub`, answering the
// server's PINGs; `before_each(received)` runs before each line is read.
NumberedRead read_numbered(RawClient& sub, const std::string& prefix, int publishers, int total,
                           const std::string& padding, const std::function<void(int)>& before_each = {}) {
  NumberedRead r;
  std::vector<int> next(static_cast<size_t>(publishers), 1);
  const std::string head = "MSG " + prefix + ".";
  while (r.received < total && r.failure.empty()) {
    if (before_each) before_each(r.received);
    auto line = sub.read_line(30s);
    if (!line) {
      r.failure = "the subscriber's stream stopped after " + std::to_string(r.received) + " messages";
      break;
    }
    if (*line == "PING") {
      sub.send("PONG\r\n");
      continue;
    }
    if (*line == "PONG") {
      ++r.pongs;
      continue;
    }
    if (line->rfind(head, 0) != 0) {
      r.failure = "unexpected line: " + line->substr(0, 80);
      break;
    }
    size_t size = std::stoul(line->substr(line->rfind(' ') + 1));
    auto payload = sub.read_exact(size + 2, 30s);
    if (!payload) {
      r.failure = "a payload never arrived";
      break;
    }
    int p = std::stoi(payload->substr(0, payload->find(':')));
    int seq = std::stoi(payload->substr(payload->find(':') + 1));
    if (p < 0 || p >= publishers || payload->substr(payload->rfind(':') + 1, padding.size()) != padding ||
        payload->substr(payload->size() - 2) != "\r\n") {
      r.failure = "a corrupt payload: " + payload->substr(0, 40);
      break;
    }
    if (seq != next[static_cast<size_t>(p)]) {
      r.failure = "publisher " + std::to_string(p) + ": got " + std::to_string(seq) + " where " +
                  std::to_string(next[static_cast<size_t>(p)]) + " was due (lost or reordered)";
      break;
    }
    ++next[static_cast<size_t>(p)];
    ++r.received;
  }
  return r;
}

// A subscriber's pending output is a list of chunks (src/server/core/outbound_chunks.h), filled
// by whichever loops deliver to it and written by its own with one writev. Here a subscriber
// reads nothing while publishers on three other loops send it megabytes (hundreds of chunks,
// more than the pool keeps, so chunks come from the pool and from malloc, and go back to both
// while the churn's subscribers come and go on the same loops); then it reads. Every message
// must arrive, each publisher's in its order: a chunk written twice, out of order or lost, or
// a byte counted wrong across a seal, shows here as a gap or a parse failure.
TEST(Stress, ASubscriberLaggingByManyChunksGetsEveryMessageInOrderFromOtherLoops) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  constexpr int kPublishers = 3;
  constexpr int kPerPublisher = 20000;
  constexpr size_t kPadding = 200;  // ~230 B a MSG: about 14 MB in all, some 210 chunks of 64 KiB
  ServerProcess server(churn_server());
  ASSERT_TRUE(server.start());
  RawClient sub;
  ASSERT_TRUE(sub.connect(server.port(), 5s, /*rcvbuf=*/16 * 1024));  // small: the server's queue grows
  ASSERT_TRUE(sub.read_info());
  ASSERT_TRUE(sub.handshake());
  ASSERT_TRUE(sub.send("SUB lag.> 1\r\n"));
  ASSERT_TRUE(sub.ping_pong());

  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::vector<std::thread> publishers;
  std::atomic<int> published{0};
  const std::string padding(kPadding, 'x');
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      RawClient c;
      if (!c.connect(server.port()) || !c.read_info() || !c.handshake()) return;
      std::string batch;
      for (int seq = 1; seq <= kPerPublisher; ++seq) {
        batch += numbered_pub("lag", p, seq, padding);
        if (seq % 500 == 0) {
          if (!c.send(batch, 30s)) return;
          batch.clear();
        }
      }
      // PONG: the server has taken every PUB into the subscriber's queue.
      if (c.send(batch, 30s) && c.ping_pong(30s)) published.fetch_add(1);
    });
  }
  for (auto& t : publishers) t.join();
  ASSERT_EQ(published.load(), kPublishers) << "a publisher failed; log:\n" << server.log().substr(0, 4000);

  // Now read it all: per publisher, the sequence numbers 1..kPerPublisher, in order.
  NumberedRead got = read_numbered(sub, "lag", kPublishers, kPublishers * kPerPublisher, padding);
  std::string canary = churn.finish();
  EXPECT_EQ(got.failure, "");
  EXPECT_EQ(got.received, kPublishers * kPerPublisher);
  EXPECT_EQ(server.log().find("Slow Consumer"), std::string::npos) << server.log().substr(0, 4000);
  expect_survived(server, churn, canary);
}

// A small batch for a plaintext client of another loop is sent by the delivering loop itself
// (Connection::write_directly, under the client's outbound lock); a larger one, or one that
// comes while the owner's write is in flight, is the owner loop's to write. Here the two
// kinds alternate for one subscriber: three publishers on their own loops each send a lone
// message, pause, then a burst far over the direct write's 16 KiB, while the subscriber reads
// through a small receive buffer, stops reading now and then (so a direct send finds the
// socket full, or takes part of a batch), and pings (its PONGs are queued by its own loop).
// Every message must arrive once, in each publisher's order, while the churn's subscribers
// reset under direct sends from the flood publishers' loops. /metrics proves the direct path ran.
TEST(Stress, DirectSendsFromOtherLoopsAndTheOwnersWritesKeepEachPublishersOrder) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  constexpr int kPublishers = 3;
  constexpr int kCycles = 150;      // each: one lone message, then a burst
  constexpr int kBurst = 120;       // ~230 B a MSG: ~28 KB, over Connection::kDirectWriteMax
  constexpr size_t kPadding = 200;
  constexpr int kPerPublisher = kCycles * (1 + kBurst);
  const int http_port = pick_free_port();
  ServerProcess server(churn_server({"-m", std::to_string(http_port)}));
  ASSERT_TRUE(server.start());
  auto direct_writes = [&]() -> int64_t {
    auto r = http_get(http_port, "/metrics", 10s);
    if (!r || r->status != 200) return -1;
    const std::string name = "\npylon_direct_writes_total ";
    size_t at = r->body.find(name);
    return at == std::string::npos ? -1 : std::stoll(r->body.substr(at + name.size()));
  };
  const int64_t direct_before = direct_writes();
  ASSERT_GE(direct_before, 0) << "no pylon_direct_writes_total in /metrics";

  RawClient sub;
  ASSERT_TRUE(sub.connect(server.port(), 5s, /*rcvbuf=*/16 * 1024));
  ASSERT_TRUE(sub.read_info());
  ASSERT_TRUE(sub.handshake());
  ASSERT_TRUE(sub.send("SUB mix.> 1\r\n"));
  ASSERT_TRUE(sub.ping_pong());

  Churn churn(server.port());
  std::string why;
  ASSERT_TRUE(churn.start(&why)) << why;
  std::vector<std::thread> publishers;
  std::atomic<int> published{0};
  const std::string padding(kPadding, 'x');
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&, p] {
      RawClient c;
      if (!c.connect(server.port()) || !c.read_info() || !c.handshake()) return;
      auto pub = [&](int seq) { return numbered_pub("mix", p, seq, padding); };
      int seq = 0;
      for (int cycle = 0; cycle < kCycles; ++cycle) {
        if (!c.send(pub(++seq), 30s)) return;
        std::this_thread::sleep_for(std::chrono::microseconds(300 + 200 * p));
        std::string burst;
        for (int i = 0; i < kBurst; ++i) burst += pub(++seq);
        if (!c.send(burst, 30s)) return;
        if (cycle % 10 == 9 && !c.ping_pong(30s)) return;  // keeps the publisher near the server
      }
      if (c.ping_pong(30s)) published.fetch_add(1);
    });
  }

  int pings = 0, paused_at = -1;
  NumberedRead got = read_numbered(sub, "mix", kPublishers, kPublishers * kPerPublisher, padding, [&](int received) {
    if (received % 97 == 0 && received != paused_at) {
      paused_at = received;
      std::this_thread::sleep_for(1ms);  // the socket fills meanwhile
      if (received % 970 == 0 && sub.send("PING\r\n")) ++pings;
    }
  });
  int pongs = got.pongs;
  for (auto& t : publishers) t.join();
  std::string canary = churn.finish();
  EXPECT_EQ(published.load(), kPublishers) << "a publisher failed; log:\n" << server.log().substr(0, 4000);
  EXPECT_EQ(got.failure, "");
  EXPECT_EQ(got.received, kPublishers * kPerPublisher);
  // Every PING was answered, in the stream with the messages (the last PONGs may follow them).
  EXPECT_TRUE(wait_for([&] {
    while (auto line = sub.read_line(50ms)) {
      if (*line == "PONG") ++pongs;
    }
    return pongs == pings;
  }, 10s)) << pongs << " PONGs for " << pings << " PINGs";
  EXPECT_EQ(server.log().find("Slow Consumer"), std::string::npos) << server.log().substr(0, 4000);
  const int64_t direct_after = direct_writes();
  std::printf("direct writes: %lld\n", static_cast<long long>(direct_after - direct_before));
  EXPECT_GT(direct_after, direct_before) << "no batch was sent by the delivering loop";
  expect_survived(server, churn, canary);
}

// Auto-unsubscribe (UNSUB sid max) counts deliveries under the subscriber's outbound lock, with
// a plain increment: publishers on three loops deliver to one subscription at once, and it must
// still get exactly `max` messages, no more (a lost count would let extra ones through).
TEST(Stress, AutoUnsubscribeStopsAtExactlyMaxWhileThreeLoopsDeliver) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  constexpr int kPublishers = 3;
  constexpr int kPerPublisher = 20000;
  constexpr int kMax = 30000;  // below what is published, above what any one publisher sends
  ServerProcess server(churn_server());
  ASSERT_TRUE(server.start());
  for (int round = 0; round < 6; ++round) {  // a lost count shows in most rounds, not all
    RawClient sub;
    ASSERT_TRUE(sub.connect(server.port()));
    ASSERT_TRUE(sub.read_info());
    ASSERT_TRUE(sub.handshake());
    ASSERT_TRUE(sub.send("SUB max 7\r\nUNSUB 7 " + std::to_string(kMax) + "\r\n"));
    ASSERT_TRUE(sub.ping_pong());
    std::vector<std::thread> publishers;
    std::atomic<int> published{0}, ready{0};
    for (int p = 0; p < kPublishers; ++p) {
      publishers.emplace_back([&] {
        RawClient c;
        bool ok = c.connect(server.port()) && c.read_info() && c.handshake();
        ready.fetch_add(1);
        // All connected before any publishes: their loops deliver to the subscription at once.
        wait_for([&] { return ready.load() == kPublishers; }, 10s, 1ms);
        if (!ok) return;
        std::string batch;
        for (int i = 0; i < kPerPublisher; ++i) batch += "PUB max 2\r\nhi\r\n";
        if (c.send(batch, 30s) && c.ping_pong(30s)) published.fetch_add(1);
      });
    }
    for (auto& t : publishers) t.join();
    ASSERT_EQ(published.load(), kPublishers);
    // Everything is queued for the subscriber; a PING behind it marks the end.
    ASSERT_TRUE(sub.send("PING\r\n"));
    auto all = sub.read_until("PONG\r\n", 30s);
    ASSERT_TRUE(all.has_value()) << "no PONG after the messages";
    int msgs = 0;
    for (size_t at = all->find("MSG max 7 2\r\n"); at != std::string::npos; at = all->find("MSG max 7 2\r\n", at + 1)) ++msgs;
    EXPECT_EQ(msgs, kMax) << "round " << round;
  }
}

}  // namespace
}  // namespace pylon::it
