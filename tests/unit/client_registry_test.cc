// The sharded client registry (src/server/client/client_registry.h): the limit, close() and
// its promise to shutdown, and exact counts under concurrent adds and removes.
#include "server/client/client_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace pylon::server {
namespace {

struct FakeClient {
  uint64_t cid;
};
using Registry = ClientRegistry<FakeClient>;

std::shared_ptr<FakeClient> make(uint64_t cid) { return std::make_shared<FakeClient>(FakeClient{cid}); }

TEST(ClientRegistry, RefusesBeyondTheLimitAndAdmitsAgainAfterARemove) {
  Registry r;
  for (uint64_t cid = 1; cid <= 3; ++cid) EXPECT_TRUE(r.add(cid, make(cid), 3));
  EXPECT_FALSE(r.add(4, make(4), 3));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.remove(2));  // not the last one
  EXPECT_TRUE(r.add(4, make(4), 3));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.remove(99));  // absent: nothing changes
  EXPECT_EQ(r.size(), 3u);
  EXPECT_FALSE(r.remove(1));
  EXPECT_FALSE(r.remove(3));
  EXPECT_TRUE(r.remove(4));  // the last one: empty now
  EXPECT_EQ(r.size(), 0u);
}

TEST(ClientRegistry, AfterCloseNothingIsAdmittedAndTheSnapshotHasEveryClientAdmittedBefore) {
  Registry r;
  constexpr int kThreads = 4;
  std::atomic<bool> go{false};
  std::vector<std::vector<uint64_t>> admitted(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (uint64_t n = 0; n < 200000; ++n) {
        uint64_t cid = n * kThreads + t + 1;
        if (r.add(cid, make(cid), 0)) admitted[t].push_back(cid);
        else break;  // closed
      }
    });
  }
  go = true;
  while (r.size() < 1000) std::this_thread::yield();
  r.close();
  auto snap = r.snapshot();  // taken after close(): must hold every admitted client
  for (auto& th : threads) th.join();
  std::set<uint64_t> in;
  for (auto& c : snap) in.insert(c->cid);
  size_t total = 0;
  for (auto& a : admitted) {
    total += a.size();
    for (uint64_t cid : a) ASSERT_TRUE(in.count(cid)) << "client " << cid << " admitted but not in the snapshot";
  }
  EXPECT_EQ(in.size(), total);
  EXPECT_EQ(r.size(), total);
  EXPECT_FALSE(r.add(1u << 30, make(1u << 30), 0));
  r.clear();
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(r.snapshot().empty());
}

TEST(ClientRegistry, CountsStayExactUnderConcurrentAddsRemovesAndSnapshots) {
  Registry r;
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 50000;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      auto snap = r.snapshot();
      std::set<uint64_t> seen;
      for (auto& c : snap) ASSERT_TRUE(seen.insert(c->cid).second) << "a client twice in one snapshot";
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread adds its cids and removes every other one: kPerThread / 2 stay.
      for (uint64_t n = 0; n < kPerThread; ++n) {
        uint64_t cid = n * kThreads + t + 1;
        ASSERT_TRUE(r.add(cid, make(cid), 0));
        if (n % 2 == 1) r.remove(cid);
      }
    });
  }
  for (auto& th : threads) th.join();
  done = true;
  reader.join();
  EXPECT_EQ(r.size(), kThreads * kPerThread / 2);
  EXPECT_EQ(r.snapshot().size(), kThreads * kPerThread / 2);
}

}  // namespace
}  // namespace pylon::server
