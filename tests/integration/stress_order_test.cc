// Stress, the ordering tests: numbered streams from publishers on several event loops to one
// subscriber, which must get every message once, in each publisher's order, while the churn of
// stress_support.h runs (a subscriber lagging by many chunks, direct sends from other loops,
// auto-unsubscribe counted across loops).
#include "stress_support.h"

namespace pylon::it {
namespace {

// Numbered streams from several publishers to one subscriber: publisher p's n-th message on
// `<prefix>.<p>` carries "p:n:<padding>".
std::string numbered_pub(const std::string& prefix, int p, int seq, const std::string& padding) {
  std::string payload = std::to_string(p) + ":" + std::to_string(seq) + ":" + padding;
  return "PUB " + prefix + "." + std::to_string(p) + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
}

// Connects `sub` with a 16 KiB receive buffer (a subscriber that reads slowly: the server
// queues for it, and a send to it finds its socket full) and subscribes it to `subject`,
// confirmed by a PING.
bool subscribe_through_small_buffer(RawClient& sub, int port, const std::string& subject) {
  return sub.connect(port, 5s, /*rcvbuf=*/16 * 1024) && sub.read_info() && sub.handshake() &&
         sub.send("SUB " + subject + " 1\r\n") && sub.ping_pong();
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
  ASSERT_TRUE(subscribe_through_small_buffer(sub, server.port(), "lag.>"));  // the server's queue grows

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
  ASSERT_TRUE(subscribe_through_small_buffer(sub, server.port(), "mix.>"));

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
