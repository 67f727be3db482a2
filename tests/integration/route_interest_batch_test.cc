// A route's interest arrives in bursts and goes into the index a read's batch at a time
// (RouteConn::apply_pending, SubIndex::apply; docs/architecture.md, "Threading"), while clients
// on the server's other event loops publish, subscribe and come and go. What must hold whatever
// the batches are: once the server has answered the peer's PING that follows a burst, every
// message published afterwards reaches the peer exactly when one of its live RS+ patterns
// matches the subject (an RS- after an RS+ of the same subject in one burst wins, an RS+ after
// an RS- brings it back), and local subscribers keep getting every message meanwhile.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "route_peer.h"

namespace pylon::it {
namespace {

constexpr auto kBurstsFor = 4s;  // the test is bounded by time, at least kMinRounds rounds
constexpr int kMinRounds = 10;
// What the peer and the local subscriber read before a round's PONG includes every flood message
// queued for them since the last round: under a sanitizer on a loaded machine that takes long.
constexpr auto kDrain = 60s;
constexpr int kSubjects = 1200;  // rb.<k>.x; a burst changes about half of them: several batches
constexpr int kWildcardEvery = 40;  // rb.<k>.* for every kWildcardEvery-th k
constexpr int kEventLoops = 4;

std::string literal(int k) { return "rb." + std::to_string(k) + ".x"; }
std::string wildcard(int k) { return "rb." + std::to_string(k) + ".*"; }
// The flood's subjects: under the same tokens, matched by the wildcards (so a batch that changes
// one invalidates the flood's cached results too), not by the literals the rounds count.
std::string flood(int k) { return "rb." + std::to_string(k) + ".f"; }

// Which of the peer's patterns are live in a round: a mix that changes about half each round.
bool literal_live(int k, int round) { return (k * 7 + round * 13) % 5 < 2; }
bool wildcard_live(int k, int round) { return (k / kWildcardEvery + round) % 2 == 0; }

// The burst that takes the peer from `have` to the round's patterns. Some entries go through a
// detour inside the same burst (RS+ then RS-, RS- then RS+), so the batches hold both changes
// of one subject in order.
std::string burst_for(int round, std::set<std::string>& have) {
  std::string out;
  auto step = [&](const std::string& p, bool want, int k) {
    const bool had = have.count(p) > 0;
    const std::string add = "RS+ $G " + p + "\r\n", del = "RS- $G " + p + "\r\n";
    const int detour = (k + round) % 6;
    if (want && !had) {
      out += detour == 0 ? add + del + add : add;
    } else if (!want && had) {
      out += detour == 1 ? del + add + del : del;
    } else if (want && had && detour == 2) {
      out += del + add;
    } else if (!want && !had && detour == 3) {
      out += add + del;
    }
    if (want) {
      have.insert(p);
    } else {
      have.erase(p);
    }
  };
  for (int k = 0; k < kSubjects; ++k) {
    step(literal(k), literal_live(k, round), k);
    if (k % kWildcardEvery == 0) step(wildcard(k), wildcard_live(k, round), k);
  }
  return out;
}

// The payloads of the messages among `lines` (a MSG/RMSG line, then its payload line) that
// were published in `round` ("<round>.<k>"), as the k's in arrival order.
std::vector<int> round_payloads(const std::vector<std::string>& lines, int round) {
  std::vector<int> ks;
  const std::string prefix = std::to_string(round) + ".";
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].rfind("MSG ", 0) != 0 && lines[i].rfind("RMSG ", 0) != 0) continue;
    const std::string& payload = lines[++i];
    if (payload.rfind(prefix, 0) == 0) ks.push_back(std::stoi(payload.substr(prefix.size())));
  }
  return ks;
}

void reset_close(RawClient& c) {
  if (!c.connected()) return;
  linger l{1, 0};
  ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  c.close();
}

TEST(Stress, RouteInterestInBatchesWhileOtherLoopsPublishAndSubscribe) {
  SKIP_IF_REFERENCE("--event_loops is Pylon's");
  const int route_port = pick_free_port();
  ServerProcess server(with_args({"--event_loops", std::to_string(kEventLoops), "--cluster_name", "batch",
                                  "--cluster", "nats://127.0.0.1:" + std::to_string(route_port)}));
  ASSERT_TRUE(server.start());

  RoutePeer peer;
  ASSERT_TRUE(peer.dial(route_port));
  ASSERT_TRUE(peer.handshake(peer_id("BATCH"), "batch"));
  ASSERT_TRUE(peer.conn().ping_pong(10s));

  // A local subscriber that must get every message, and the publisher whose messages count.
  RawClient local, pub;
  ASSERT_TRUE(local.connect(server.port()) && local.read_info() && local.handshake());
  // rb.*.x: the rounds' messages, not the flood's, which a reader slowed by a sanitizer could
  // not keep up with (the flood is as fast as the server).
  ASSERT_TRUE(local.send("SUB rb.*.x 1\r\n") && local.ping_pong(10s));
  ASSERT_TRUE(pub.connect(server.port()) && pub.read_info() && pub.handshake());

  // Meanwhile, on the other loops: subscribers on the same subjects come and go (their SUB and
  // UNSUB move the index and invalidate the publishers' caches too), and a flood publisher
  // publishes under the same tokens without pause (flood(k); its payload "f" is not counted).
  std::atomic<bool> stop{false};
  std::atomic<int> churn_cycles{0};
  std::vector<std::thread> threads;
  StopAndJoin join_on_exit{stop, threads};  // a failed ASSERT returns early
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t + 1));
      while (!stop.load()) {
        RawClient c;
        if (!c.connect(server.port(), 2s) || !c.read_info(2s)) continue;
        const int k = static_cast<int>(rng() % kSubjects);
        c.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB rb.> 1\r\nSUB " + literal(k) +
               " q 2\r\nSUB " + wildcard(k) + " 3\r\nPING\r\n");
        if (c.read_until("PONG\r\n", 2s)) churn_cycles.fetch_add(1);
        if (rng() % 2) c.send("UNSUB 2\r\nUNSUB 3\r\n");
        reset_close(c);
      }
    });
  }
  threads.emplace_back([&] {
    RawClient c;
    if (!c.connect(server.port()) || !c.read_info() || !c.handshake()) return;
    for (int n = 0; !stop.load(); ++n) {
      std::string batch;
      for (int i = 0; i < 50; ++i) batch += "PUB " + flood((n * 50 + i) % kSubjects) + " 1\r\nf\r\n";
      if (!c.send(batch) || !c.ping_pong(10s)) return;
    }
  });

  std::set<std::string> have;  // the peer's live patterns, as the server must see them
  const auto end = Clock::now() + kBurstsFor;
  int round = 0;
  for (; round < kMinRounds || Clock::now() < end; ++round) {
    // The burst, in one write, then the PING whose PONG says the server has read all of it.
    std::vector<std::string> lines;
    ASSERT_TRUE(peer.conn().send(burst_for(round, have), 10s));
    ASSERT_TRUE(peer.conn().ping_pong(10s, &lines)) << "round " << round;
    std::string pubs;
    for (int k = 0; k < kSubjects; ++k) {
      std::string payload = std::to_string(round) + "." + std::to_string(k);
      pubs += "PUB " + literal(k) + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
    }
    ASSERT_TRUE(pub.send(pubs, 10s));
    // PONG: the server has routed every PUB, so each RMSG is queued before the peer's PONG.
    ASSERT_TRUE(pub.ping_pong(10s)) << "round " << round;

    lines.clear();
    ASSERT_TRUE(peer.conn().ping_pong(kDrain, &lines)) << "round " << round;
    std::vector<int> got = round_payloads(lines, round);
    std::multiset<int> got_set(got.begin(), got.end());
    std::multiset<int> want;
    for (int k = 0; k < kSubjects; ++k) {
      const bool by_wildcard = k % kWildcardEvery == 0 && have.count(wildcard(k)) > 0;
      if (have.count(literal(k)) > 0 || by_wildcard) want.insert(k);
    }
    ASSERT_EQ(got_set, want) << "round " << round << ": the peer got " << got.size() << " messages where "
                             << want.size() << " were due (a message for a removed interest, or one "
                             << "missing for a live one)";

    lines.clear();
    ASSERT_TRUE(local.ping_pong(kDrain, &lines)) << "round " << round;
    std::vector<int> local_got = round_payloads(lines, round);
    std::vector<int> all(kSubjects);
    for (int k = 0; k < kSubjects; ++k) all[static_cast<size_t>(k)] = k;
    ASSERT_EQ(local_got, all) << "round " << round << ": the local subscriber lost or reordered messages";
  }
  stop = true;
  for (auto& t : threads) t.join();
  threads.clear();
  std::printf("route interest: %d bursts checked, %d local subscriber cycles meanwhile\n", round,
              churn_cycles.load());
  EXPECT_GE(churn_cycles.load(), 10) << "too few local subscribers came and went to prove anything";
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.log().find("Unexpected exception"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace pylon::it
