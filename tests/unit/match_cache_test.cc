// A connection's cache of match results (server/match_cache.h): never staler than the index,
// per account, bounded in size, and it lets go of what it holds: on clear (after a Pin), on the
// next lookup after a change, and through its loop's sweep while its owner is idle.
#include "server/match_cache.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "server/account/account.h"
#include "server/core/event_loop.h"

namespace pylon::server {
namespace {

using namespace std::chrono_literals;

// The sweep is given this many of its intervals before a test calls it late; a bound on the
// server's promise (one interval), not on speed.
constexpr int kSweepSlack = 20;

SubPtr make_sub(std::string subject) {
  auto s = std::make_shared<Subscription>(subject, "", "");
  return s;
}

// The cache belongs to one loop: every call runs there, as a connection's would.
class MatchCacheTest : public ::testing::Test {
 protected:
  template <typename Fn>
  auto on_loop(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto f = task.get_future();
    boost::asio::post(loop_.ctx(), [&task] { task(); });
    return f.get();
  }

  void SetUp() override {
    loop_.start();
    cache_ = on_loop([this] { return std::make_shared<MatchCache>(loop_); });
  }
  void TearDown() override {
    on_loop([this] {
      cache_->clear();
      cache_.reset();
      return 0;
    });
    loop_.stop();
  }

  // The result's plain subscriptions, copied out on the loop (the reference is the cache's).
  std::vector<SubPtr> plain(Account& a, const std::string& subject) {
    return on_loop([&] { return cache_->lookup(a, subject).plain; });
  }
  const MatchResult* address(Account& a, const std::string& subject) {
    return on_loop([&] { return &cache_->lookup(a, subject); });
  }

  EventLoop loop_{0};
  std::shared_ptr<MatchCache> cache_;
  std::shared_ptr<Account> a_ = std::make_shared<Account>("A");
  std::shared_ptr<Account> b_ = std::make_shared<Account>("B");
};

TEST_F(MatchCacheTest, ARepeatedSubjectIsAnsweredWithoutTheIndex) {
  auto sub = make_sub("foo.*");
  a_->index().insert(sub);
  const MatchResult* first = address(*a_, "foo.bar");
  uint64_t matches = a_->index().matches();
  EXPECT_EQ(address(*a_, "foo.bar"), first);
  EXPECT_EQ(address(*a_, "foo.bar"), first);
  EXPECT_EQ(a_->index().matches(), matches) << "a hit must not go to the index";
  ASSERT_EQ(plain(*a_, "foo.bar").size(), 1u);
}

TEST_F(MatchCacheTest, AnInsertOrRemovalInTheAccountIsSeenAtTheNextLookup) {
  EXPECT_TRUE(plain(*a_, "foo.bar").empty());
  auto sub = make_sub("foo.>");
  a_->index().insert(sub);
  ASSERT_EQ(plain(*a_, "foo.bar").size(), 1u) << "a cached empty result outlived an insert";
  a_->index().remove(sub);
  EXPECT_TRUE(plain(*a_, "foo.bar").empty()) << "a cached result outlived a removal";
}

TEST_F(MatchCacheTest, EachAccountHasItsOwnResults) {
  auto in_a = make_sub("foo");
  auto in_b = make_sub("foo");
  a_->index().insert(in_a);
  b_->index().insert(in_b);
  auto ra = plain(*a_, "foo");
  auto rb = plain(*b_, "foo");
  ASSERT_EQ(ra.size(), 1u);
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(ra[0], in_a);
  EXPECT_EQ(rb[0], in_b);
  // A change in B leaves A's results alone, and the other way round.
  const MatchResult* a_before = address(*a_, "foo");
  b_->index().insert(make_sub("bar"));
  EXPECT_EQ(address(*a_, "foo"), a_before);
  EXPECT_EQ(plain(*b_, "foo")[0], in_b);
}

TEST_F(MatchCacheTest, ClearLetsGoOfTheSubscriptionsAndTheirAccounts) {
  auto sub = make_sub("foo");
  a_->index().insert(sub);
  plain(*a_, "foo");
  std::weak_ptr<Subscription> held = sub;
  std::weak_ptr<Account> account = a_;
  a_->index().remove(sub);
  sub.reset();
  a_.reset();
  EXPECT_FALSE(held.expired()) << "the cache should hold the result until cleared";
  on_loop([this] {
    cache_->clear();
    return 0;
  });
  EXPECT_TRUE(held.expired());
  EXPECT_TRUE(account.expired());
}

TEST_F(MatchCacheTest, AClearDuringADeliveryWaitsForThePin) {
  auto sub = make_sub("foo");
  a_->index().insert(sub);
  std::weak_ptr<Subscription> held = sub;
  sub.reset();  // only the index holds it now
  bool alive_under_pin = on_loop([&] {
    const MatchResult& r = cache_->lookup(*a_, "foo");
    MatchCache::Pin pin(*cache_);
    a_->index().remove(held.lock());  // the subscriber closes...
    cache_->clear();                  // ...and the owner too, inside its own delivery
    return r.plain.size() == 1 && !held.expired();
  });
  EXPECT_TRUE(alive_under_pin) << "the result was freed under the Pin";
  EXPECT_TRUE(held.expired()) << "the clear was not done when the Pin went";
}

TEST_F(MatchCacheTest, AFullAccountStartsAfresh) {
  for (size_t i = 0; i < MatchCache::kMaxSubjects * 3; ++i) {
    std::string subject = "s." + std::to_string(i);
    on_loop([&] { return &cache_->lookup(*a_, subject); });
    EXPECT_LE(on_loop([&] { return cache_->size(); }), MatchCache::kMaxSubjects);
  }
  EXPECT_GT(on_loop([&] { return cache_->size(); }), 0u);
}

TEST_F(MatchCacheTest, MoreAccountsThanItKeepsStillHitInTheFirstOnes) {
  std::vector<std::shared_ptr<Account>> accounts;
  for (size_t i = 0; i < MatchCache::kMaxAccounts + 4; ++i) {
    accounts.push_back(std::make_shared<Account>("X" + std::to_string(i)));
    accounts.back()->index().insert(make_sub("foo"));
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& acc : accounts) address(*acc, "foo");
  }
  uint64_t matches = accounts[0]->index().matches();
  address(*accounts[0], "foo");
  EXPECT_EQ(accounts[0]->index().matches(), matches) << "the first account's results were dropped";
  EXPECT_LE(on_loop([this] { return cache_->size(); }), MatchCache::kMaxAccounts);
}

TEST_F(MatchCacheTest, ASweepDropsStaleResultsAtOnceAndUnusedAccountsAfterAnInterval) {
  auto sub = make_sub("foo");
  a_->index().insert(sub);
  plain(*a_, "foo");
  plain(*b_, "foo");
  // Unchanged and just used: kept; then unused for a whole interval: dropped.
  EXPECT_TRUE(on_loop([this] { return cache_->sweep(); }));
  EXPECT_EQ(on_loop([this] { return cache_->size(); }), 2u);
  plain(*a_, "foo");  // A used again, B not
  EXPECT_TRUE(on_loop([this] { return cache_->sweep(); }));
  EXPECT_EQ(on_loop([this] { return cache_->size(); }), 1u);
  // A changed: its results go at the next sweep, used or not; then nothing is left.
  std::weak_ptr<Subscription> held = sub;
  a_->index().remove(sub);
  sub.reset();
  EXPECT_FALSE(on_loop([this] { return cache_->sweep(); }));
  EXPECT_TRUE(held.expired());
  EXPECT_EQ(on_loop([this] { return cache_->size(); }), 0u);
}

TEST_F(MatchCacheTest, TheLoopSweepsAnIdleOwnersCache) {
  auto sub = make_sub("foo");
  a_->index().insert(sub);
  plain(*a_, "foo");  // the owner publishes once, then stays idle
  std::weak_ptr<Subscription> held = sub;
  a_->index().remove(sub);  // the subscriber goes
  sub.reset();
  const auto deadline = std::chrono::steady_clock::now() + kSweepSlack * EventLoop::kSweepInterval;
  while (!held.expired() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(held.expired()) << "an idle cache kept a removed subscription past " << kSweepSlack
                              << " sweep intervals";
}

}  // namespace
}  // namespace pylon::server
