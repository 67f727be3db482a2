// The subscription index: matching semantics (literal, '*', '>'), queue grouping, the
// result cache (never stale, bounded), trie pruning and concurrent use.
#include "server/sub_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace pylon::server {
namespace {

SubPtr make_sub(std::string subject, std::string queue = {}, std::string sid = {}) {
  auto s = std::make_shared<Subscription>(subject, queue, sid);
  return s;
}

// The subjects of the plain subscriptions in a result, sorted (the index keeps no order).
std::vector<std::string> plain_subjects(const MatchResult& r) {
  std::vector<std::string> out;
  for (const auto& s : r.plain) out.emplace_back(s->subject());
  std::sort(out.begin(), out.end());
  return out;
}

bool matches_subject(SubIndex& idx, const std::string& pattern, const std::string& subject) {
  auto sub = make_sub(pattern);
  idx.insert(sub);
  auto r = idx.match(subject);
  bool found = std::any_of(r->plain.begin(), r->plain.end(), [&](const SubPtr& s) { return s == sub; });
  EXPECT_TRUE(idx.remove(sub));
  return found;
}

// An independent token matcher the index is checked against.
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

bool reference_match(const std::string& pattern, const std::string& subject) {
  auto p = split(pattern), s = split(subject);
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return s.size() > i;
    if (i >= s.size()) return false;
    if (p[i] != "*" && p[i] != s[i]) return false;
  }
  return p.size() == s.size();
}

bool contains(const MatchResult& r, const SubPtr& sub) {
  if (std::find(r.plain.begin(), r.plain.end(), sub) != r.plain.end()) return true;
  for (const auto& g : r.queues) {
    if (std::find(g.begin(), g.end(), sub) != g.end()) return true;
  }
  return false;
}

// --- matching -------------------------------------------------------------------------

TEST(SubIndexMatch, LiteralSubjectMatchesOnlyItself) {
  SubIndex idx;
  auto foo_bar = make_sub("foo.bar");
  idx.insert(foo_bar);
  idx.insert(make_sub("foo.baz"));
  idx.insert(make_sub("foo"));
  idx.insert(make_sub("foo.bar.baz"));

  auto r = idx.match("foo.bar");
  ASSERT_EQ(r->plain.size(), 1u);
  EXPECT_EQ(r->plain[0], foo_bar);
  EXPECT_TRUE(r->queues.empty());
  EXPECT_TRUE(idx.match("foo.qux")->plain.empty());
  EXPECT_TRUE(idx.match("bar")->plain.empty());
}

TEST(SubIndexMatch, StarMatchesExactlyOneTokenAtAnyPosition) {
  SubIndex idx;
  EXPECT_TRUE(matches_subject(idx, "*", "foo"));
  EXPECT_FALSE(matches_subject(idx, "*", "foo.bar"));
  EXPECT_TRUE(matches_subject(idx, "*.bar", "foo.bar"));
  EXPECT_TRUE(matches_subject(idx, "foo.*", "foo.bar"));
  EXPECT_FALSE(matches_subject(idx, "foo.*", "foo"));
  EXPECT_FALSE(matches_subject(idx, "foo.*", "foo.bar.baz"));
  EXPECT_TRUE(matches_subject(idx, "foo.*.baz", "foo.bar.baz"));
  EXPECT_FALSE(matches_subject(idx, "foo.*.baz", "foo.bar.qux"));
  EXPECT_TRUE(matches_subject(idx, "*.*.*", "a.b.c"));
  EXPECT_FALSE(matches_subject(idx, "*.*.*", "a.b"));
  EXPECT_EQ(idx.node_count(), 0u);
}

TEST(SubIndexMatch, FullWildcardNeedsAtLeastOneToken) {
  SubIndex idx;
  EXPECT_TRUE(matches_subject(idx, ">", "foo"));
  EXPECT_TRUE(matches_subject(idx, ">", "foo.bar.baz"));
  EXPECT_TRUE(matches_subject(idx, "foo.>", "foo.bar"));
  EXPECT_TRUE(matches_subject(idx, "foo.>", "foo.bar.baz.qux"));
  EXPECT_FALSE(matches_subject(idx, "foo.>", "foo"));
  EXPECT_FALSE(matches_subject(idx, "foo.>", "bar.baz"));
}

TEST(SubIndexMatch, MixedWildcards) {
  SubIndex idx;
  EXPECT_TRUE(matches_subject(idx, "*.bar.>", "foo.bar.baz"));
  EXPECT_TRUE(matches_subject(idx, "*.bar.>", "foo.bar.baz.qux"));
  EXPECT_FALSE(matches_subject(idx, "*.bar.>", "foo.bar"));
  EXPECT_FALSE(matches_subject(idx, "*.bar.>", "foo.baz.qux"));
  EXPECT_TRUE(matches_subject(idx, "*.*.>", "a.b.c"));
  EXPECT_FALSE(matches_subject(idx, "*.*.>", "a.b"));
}

TEST(SubIndexMatch, EveryMatchingPatternContributes) {
  SubIndex idx;
  for (const char* p : {"foo.bar", "foo.*", "*.bar", "*.*", "foo.>", ">", "foo.bar.>", "foo", "*"}) {
    idx.insert(make_sub(p));
  }
  EXPECT_EQ(plain_subjects(*idx.match("foo.bar")),
            (std::vector<std::string>{"*.*", "*.bar", ">", "foo.*", "foo.>", "foo.bar"}));
  EXPECT_EQ(plain_subjects(*idx.match("foo")), (std::vector<std::string>{"*", ">", "foo"}));
}

TEST(SubIndexMatch, SubjectWithEmptyTokenMatchesNothingAndIsNotCached) {
  SubIndex idx;
  idx.insert(make_sub(">"));
  for (const char* s : {"", ".", "foo.", ".foo", "foo..bar"}) {
    auto r = idx.match(s);
    EXPECT_TRUE(r->plain.empty()) << s;
  }
  EXPECT_EQ(idx.cache_size(), 0u);
}

TEST(SubIndexMatch, DuplicateSubscriptionsAreEachReturned) {
  SubIndex idx;
  auto a = make_sub("foo", {}, "1");
  auto b = make_sub("foo", {}, "2");  // same subject, same owner, another SUB
  idx.insert(a);
  idx.insert(b);
  EXPECT_EQ(idx.count(), 2u);
  auto r = idx.match("foo");
  ASSERT_EQ(r->plain.size(), 2u);
  EXPECT_TRUE(contains(*r, a));
  EXPECT_TRUE(contains(*r, b));
}

TEST(SubIndexMatch, InsertingTheSameSubscriptionTwiceKeepsOneEntry) {
  SubIndex idx;
  auto a = make_sub("foo");
  idx.insert(a);
  idx.insert(a);
  EXPECT_EQ(idx.count(), 1u);
  EXPECT_EQ(idx.inserts(), 1u);
  EXPECT_EQ(idx.match("foo")->plain.size(), 1u);
}

TEST(SubIndexMatch, ManySubscribersOnOneSubjectCanAllBeRemoved) {
  // Large per-node sets switch to an indexed lookup; removal must keep it consistent.
  SubIndex idx;
  std::vector<SubPtr> subs;
  for (int i = 0; i < 1000; ++i) subs.push_back(make_sub("hot", i % 2 ? "q" : ""));
  for (const auto& s : subs) idx.insert(s);
  std::mt19937 rng(7);
  std::shuffle(subs.begin(), subs.end(), rng);
  for (size_t i = 0; i < subs.size(); ++i) {
    ASSERT_TRUE(idx.remove(subs[i])) << i;
    ASSERT_FALSE(idx.remove(subs[i])) << i;
    if (i % 97 == 0) {
      auto r = idx.match("hot");
      size_t n = r->plain.size();
      for (const auto& g : r->queues) n += g.size();
      ASSERT_EQ(n, subs.size() - i - 1);
    }
  }
  EXPECT_EQ(idx.count(), 0u);
  EXPECT_EQ(idx.node_count(), 0u);
}

// A node keeps its one subscription inline and moves to a set from the second on (memory
// at scale, docs/performance.md); its queue groups are a list. Random inserts and removals
// on a few subjects take nodes back and forth between none, one and many members, and
// unlink groups from the front, the middle and the end of a node's list: every match must
// agree with a plain model, and the trie must be empty at the end.
TEST(SubIndexNodes, RandomInsertsAndRemovalsAgreeWithAModel) {
  SubIndex idx(0);  // no result cache: every match walks the trie
  const std::vector<std::string> subjects = {"a", "a.b", "a.c", "a.b.c"};
  const std::vector<std::string> queues = {"", "", "q1", "q2", "q3"};
  std::vector<SubPtr> pool;
  for (int i = 0; i < 60; ++i) pool.push_back(make_sub(subjects[i % subjects.size()], queues[(i / 4) % queues.size()]));
  std::set<SubPtr> in;
  std::mt19937 rng(14);
  for (int step = 0; step < 4000; ++step) {
    const SubPtr& s = pool[rng() % pool.size()];
    if (in.count(s)) {
      ASSERT_TRUE(idx.remove(s)) << step;
      in.erase(s);
    } else {
      idx.insert(s);
      in.insert(s);
    }
    for (const auto& subject : subjects) {
      auto r = idx.match(subject);
      std::multiset<std::string> got_groups;
      std::set<SubPtr> got;
      for (const auto& p : r->plain) ASSERT_TRUE(got.insert(p).second) << "returned twice";
      for (const auto& g : r->queues) {
        ASSERT_FALSE(g.empty());
        got_groups.emplace(g.front()->queue());
        for (const auto& m : g) {
          ASSERT_EQ(m->queue(), g.front()->queue());
          ASSERT_TRUE(got.insert(m).second) << "returned twice";
        }
      }
      std::set<SubPtr> want;
      std::set<std::string> want_groups;
      for (const auto& x : in) {
        if (x->subject() != subject) continue;
        want.insert(x);
        if (!x->queue().empty()) want_groups.emplace(x->queue());
      }
      ASSERT_EQ(got, want) << "step " << step << ", subject " << subject;
      ASSERT_EQ(got_groups, std::multiset<std::string>(want_groups.begin(), want_groups.end()))
          << "one group per queue name, step " << step;
    }
  }
  for (const auto& s : std::vector<SubPtr>(in.begin(), in.end())) ASSERT_TRUE(idx.remove(s));
  EXPECT_EQ(idx.count(), 0u);
  EXPECT_EQ(idx.node_count(), 0u);
  EXPECT_TRUE(idx.all().empty());
}

TEST(SubIndexNodes, QueueGroupsOfOneNodeLeaveInAnyOrder) {
  SubIndex idx(0);
  auto g1 = make_sub("foo", "g1"), g2 = make_sub("foo", "g2"), g3 = make_sub("foo", "g3");
  auto plain = make_sub("foo");
  for (const auto& s : {g1, g2, g3, plain}) idx.insert(s);
  auto groups = [&] {
    std::set<std::string> names;
    auto r = idx.match("foo");
    for (const auto& g : r->queues) names.emplace(g.front()->queue());
    return names;
  };
  ASSERT_EQ(groups(), (std::set<std::string>{"g1", "g2", "g3"}));
  EXPECT_TRUE(idx.remove(g2));  // the middle of the list
  EXPECT_EQ(groups(), (std::set<std::string>{"g1", "g3"}));
  EXPECT_TRUE(idx.remove(g1));  // its head
  EXPECT_EQ(groups(), (std::set<std::string>{"g3"}));
  EXPECT_FALSE(idx.remove(g1));
  EXPECT_TRUE(idx.remove(g3));
  EXPECT_TRUE(groups().empty());
  ASSERT_EQ(idx.match("foo")->plain.size(), 1u);
  EXPECT_TRUE(idx.remove(plain));
  EXPECT_EQ(idx.node_count(), 0u);
}

// A node's only subscription sits inline whether it is plain or in a queue group; a second
// (of either kind) moves both out, and the last removal but one moves the survivor back.
TEST(SubIndexNodes, ALoneQueueSubscriptionIsStillItsOwnGroup) {
  SubIndex idx(0);
  auto worker = make_sub("jobs.eu", "a-queue-group-name-past-fifteen", "1");
  auto other = make_sub("jobs.eu", "a-queue-group-name-past-fifteen", "2");
  auto plain = make_sub("jobs.eu", "", "3");
  auto one_group = [&](std::initializer_list<SubPtr> members) {
    auto r = idx.match("jobs.eu");
    if (r->queues.size() != 1) return false;
    return std::set<SubPtr>(r->queues[0].begin(), r->queues[0].end()) == std::set<SubPtr>(members);
  };
  idx.insert(worker);
  EXPECT_TRUE(idx.match("jobs.eu")->plain.empty()) << "a queue subscription is never plain";
  EXPECT_TRUE(one_group({worker}));
  idx.insert(plain);  // one queue member and one plain: no longer one subscription
  EXPECT_TRUE(one_group({worker}));
  ASSERT_EQ(idx.match("jobs.eu")->plain.size(), 1u);
  idx.insert(other);
  EXPECT_TRUE(one_group({worker, other})) << "same queue name: one group, the name read from its members";
  EXPECT_TRUE(idx.remove(plain));
  EXPECT_TRUE(idx.remove(worker));  // the survivor goes back inline
  EXPECT_TRUE(one_group({other}));
  EXPECT_TRUE(idx.match("jobs.eu")->plain.empty());
  idx.insert(plain);
  EXPECT_TRUE(one_group({other}));
  EXPECT_TRUE(idx.remove(other));  // and now the plain one is alone
  EXPECT_TRUE(idx.match("jobs.eu")->queues.empty());
  ASSERT_EQ(idx.match("jobs.eu")->plain.size(), 1u);
  EXPECT_EQ(idx.all().size(), 1u);
  EXPECT_FALSE(idx.remove(worker));
  EXPECT_TRUE(idx.remove(plain));
  EXPECT_EQ(idx.node_count(), 0u);
}

// The trie keys literal tokens with a 16-byte string, inline up to 15 characters: tokens on
// either side of that boundary, and long ones, are each their own key.
TEST(SubIndexNodes, TokensOfAnyLengthAreDistinctKeys) {
  SubIndex idx(0);
  const std::string t15(15, 't'), t16(16, 't'), t14(14, 't'), long_token(300, 't');
  std::vector<SubPtr> subs;
  for (const auto& t : {t14, t15, t16, long_token}) {
    subs.push_back(make_sub("a." + t + ".b"));
    idx.insert(subs.back());
  }
  auto wild = make_sub("a.*.b");
  idx.insert(wild);
  for (size_t i = 0; i < subs.size(); ++i) {
    const std::string subject(subs[i]->subject());
    EXPECT_EQ(plain_subjects(*idx.match(subject)), (std::vector<std::string>{"a.*.b", subject})) << subject;
  }
  EXPECT_TRUE(idx.match("a." + std::string(17, 't') + ".b")->plain.size() == 1u) << "only the wildcard";
  for (const auto& s : subs) EXPECT_TRUE(idx.remove(s));
  EXPECT_TRUE(idx.remove(wild));
  EXPECT_EQ(idx.node_count(), 0u);
}

// --- queue groups ---------------------------------------------------------------------

TEST(SubIndexQueues, PlainAndQueueSubscriptionsAreSeparated) {
  SubIndex idx;
  auto plain = make_sub("foo");
  auto worker = make_sub("foo", "workers");
  idx.insert(plain);
  idx.insert(worker);
  auto r = idx.match("foo");
  ASSERT_EQ(r->plain.size(), 1u);
  EXPECT_EQ(r->plain[0], plain);
  ASSERT_EQ(r->queues.size(), 1u);
  ASSERT_EQ(r->queues[0].size(), 1u);
  EXPECT_EQ(r->queues[0][0], worker);
}

TEST(SubIndexQueues, OneGroupPerQueueNameAcrossMatchingPatterns) {
  SubIndex idx;
  auto w1 = make_sub("orders.new", "workers");
  auto w2 = make_sub("orders.*", "workers");
  auto w3 = make_sub("orders.>", "workers");
  auto a1 = make_sub("orders.*", "audit");
  auto a2 = make_sub(">", "audit");
  auto other = make_sub("orders.old", "workers");  // does not match
  for (const auto& s : {w1, w2, w3, a1, a2, other}) idx.insert(s);

  auto r = idx.match("orders.new");
  EXPECT_TRUE(r->plain.empty());
  ASSERT_EQ(r->queues.size(), 2u);
  std::set<SubPtr> workers, audit;
  for (const auto& g : r->queues) {
    ASSERT_FALSE(g.empty());
    auto& target = g.front()->queue() == "workers" ? workers : audit;
    for (const auto& s : g) {
      EXPECT_EQ(s->queue(), g.front()->queue()) << "a group holds one queue name only";
      target.insert(s);
    }
  }
  EXPECT_EQ(workers, (std::set<SubPtr>{w1, w2, w3}));
  EXPECT_EQ(audit, (std::set<SubPtr>{a1, a2}));
}

TEST(SubIndexQueues, RemovingTheLastMemberDropsTheGroup) {
  SubIndex idx;
  auto w = make_sub("foo", "workers");
  idx.insert(w);
  ASSERT_EQ(idx.match("foo")->queues.size(), 1u);
  EXPECT_TRUE(idx.remove(w));
  EXPECT_TRUE(idx.match("foo")->queues.empty());
}

// --- insert / remove ------------------------------------------------------------------

TEST(SubIndexRemove, RemovingAnAbsentSubscriptionReturnsFalse) {
  SubIndex idx;
  auto a = make_sub("foo.bar");
  EXPECT_FALSE(idx.remove(a));
  idx.insert(make_sub("foo.bar"));       // same subject, another object
  idx.insert(make_sub("foo.bar", "q"));  // same subject, a queue sub
  EXPECT_FALSE(idx.remove(a));
  EXPECT_FALSE(idx.remove(make_sub("foo.bar", "other-queue")));
  EXPECT_FALSE(idx.remove(make_sub("foo")));
  EXPECT_FALSE(idx.remove(make_sub("foo.bar.baz")));
  EXPECT_FALSE(idx.remove(make_sub("foo.*")));
  EXPECT_FALSE(idx.remove(nullptr));
  EXPECT_EQ(idx.count(), 2u);
  EXPECT_EQ(idx.removes(), 0u);
}

TEST(SubIndexRemove, RemoveMarksTheSubscriptionClosedAndInsertReopensIt) {
  SubIndex idx;
  auto a = make_sub("foo");
  idx.insert(a);
  EXPECT_FALSE(a->closed);
  EXPECT_TRUE(idx.remove(a));
  EXPECT_TRUE(a->closed);
  idx.insert(a);
  EXPECT_FALSE(a->closed);
}

TEST(SubIndexRemove, CountersFollowMutationsAndMatches) {
  SubIndex idx;
  auto a = make_sub("foo"), b = make_sub("foo.*");
  idx.insert(a);
  idx.insert(b);
  idx.remove(a);
  idx.match("foo.bar");
  idx.match("foo.bar");
  EXPECT_EQ(idx.inserts(), 2u);
  EXPECT_EQ(idx.removes(), 1u);
  EXPECT_EQ(idx.count(), 1u);
  EXPECT_EQ(idx.matches(), 2u);
  EXPECT_EQ(idx.cache_hits(), 1u);
}

TEST(SubIndexRemove, EmptyTrieNodesArePruned) {
  SubIndex idx;
  auto deep = make_sub("a.b.c.d");
  auto mid = make_sub("a.b");
  auto star = make_sub("a.*.c");
  auto fwc = make_sub("a.>");
  idx.insert(deep);
  EXPECT_EQ(idx.node_count(), 4u);
  idx.insert(mid);
  idx.insert(star);
  idx.insert(fwc);
  EXPECT_EQ(idx.node_count(), 7u);  // a, b, c, d, *, c, >

  EXPECT_TRUE(idx.remove(deep));
  EXPECT_EQ(idx.node_count(), 5u);  // "a.b" still holds a and b
  EXPECT_TRUE(idx.remove(star));
  EXPECT_EQ(idx.node_count(), 3u);
  EXPECT_TRUE(idx.remove(fwc));
  EXPECT_TRUE(idx.remove(mid));
  EXPECT_EQ(idx.node_count(), 0u);
}

TEST(SubIndexRemove, ChurnOfUniqueSubjectsDoesNotGrowTheTrie) {
  SubIndex idx;
  auto steady = make_sub("steady.subject");
  idx.insert(steady);
  const size_t baseline = idx.node_count();
  for (int i = 0; i < 20000; ++i) {
    std::string n = std::to_string(i);
    auto inbox = make_sub("_INBOX." + n + ".reply");
    auto wild = make_sub("svc." + n + ".*", "q");
    idx.insert(inbox);
    idx.insert(wild);
    idx.match("_INBOX." + n + ".reply");
    idx.match("svc." + n + ".x");
    ASSERT_TRUE(idx.remove(inbox));
    ASSERT_TRUE(idx.remove(wild));
  }
  EXPECT_EQ(idx.node_count(), baseline);
  EXPECT_EQ(idx.count(), 1u);
}

TEST(SubIndexAll, ReturnsEverySubscription) {
  SubIndex idx;
  std::set<SubPtr> expected;
  for (const char* p : {"a", "a.b", "a.*", "a.>", ">", "*.b.c"}) {
    for (const char* q : {"", "q1", "q2"}) {
      auto s = make_sub(p, q);
      expected.insert(s);
      idx.insert(s);
    }
  }
  auto dup = make_sub("a.b");
  expected.insert(dup);
  idx.insert(dup);
  auto all = idx.all();
  EXPECT_EQ(all.size(), expected.size());
  EXPECT_EQ(std::set<SubPtr>(all.begin(), all.end()), expected);
  EXPECT_TRUE(SubIndex().all().empty());
}

TEST(SubIndexResults, ResultHeldAfterRemovalStaysValid) {
  SubIndex idx;
  auto sub = make_sub("foo.bar", "", "sid-1");
  idx.insert(sub);
  auto held = idx.match("foo.bar");
  EXPECT_TRUE(idx.remove(sub));
  sub.reset();  // the index and this test no longer own it; the result does
  ASSERT_EQ(held->plain.size(), 1u);
  EXPECT_EQ(held->plain[0]->sid(), "sid-1");
  EXPECT_EQ(held->plain[0]->subject(), "foo.bar");
  EXPECT_TRUE(held->plain[0]->closed) << "holders must be able to see it was removed";
  EXPECT_TRUE(idx.match("foo.bar")->plain.empty());
}

// --- cache ----------------------------------------------------------------------------

TEST(SubIndexCache, RepeatedMatchIsACacheHit) {
  SubIndex idx;
  idx.insert(make_sub("foo.*"));
  auto first = idx.match("foo.bar");
  EXPECT_EQ(idx.cache_hits(), 0u);
  EXPECT_EQ(idx.cache_size(), 1u);
  auto second = idx.match("foo.bar");
  EXPECT_EQ(idx.cache_hits(), 1u);
  EXPECT_EQ(first, second) << "a hit returns the cached result itself";
}

TEST(SubIndexCache, SubjectsWithoutInterestAreCachedToo) {
  SubIndex idx;
  EXPECT_TRUE(idx.match("nobody.listens")->plain.empty());
  EXPECT_TRUE(idx.match("nobody.listens")->plain.empty());
  EXPECT_EQ(idx.cache_hits(), 1u);
}

TEST(SubIndexCache, InsertOfLiteralInvalidatesThatSubject) {
  SubIndex idx;
  EXPECT_TRUE(idx.match("foo.bar")->plain.empty());
  idx.match("foo.baz");
  auto a = make_sub("foo.bar");
  idx.insert(a);
  EXPECT_EQ(plain_subjects(*idx.match("foo.bar")), std::vector<std::string>{"foo.bar"});
  EXPECT_EQ(idx.cache_size(), 2u) << "foo.baz is untouched";
}

TEST(SubIndexCache, InsertOfWildcardInvalidatesEveryMatchingSubject) {
  SubIndex idx;
  for (const char* s : {"foo.a", "foo.b", "foo.a.b", "bar.a"}) EXPECT_TRUE(idx.match(s)->plain.empty());
  idx.insert(make_sub("foo.*"));
  EXPECT_EQ(idx.match("foo.a")->plain.size(), 1u);
  EXPECT_EQ(idx.match("foo.b")->plain.size(), 1u);
  EXPECT_TRUE(idx.match("foo.a.b")->plain.empty());
  EXPECT_TRUE(idx.match("bar.a")->plain.empty());
  idx.insert(make_sub(">", "q"));
  for (const char* s : {"foo.a", "foo.b", "foo.a.b", "bar.a"}) {
    EXPECT_EQ(idx.match(s)->queues.size(), 1u) << s;
  }
}

TEST(SubIndexCache, RemoveOfLiteralAndWildcardInvalidates) {
  SubIndex idx;
  auto lit = make_sub("foo.bar");
  auto star = make_sub("foo.*");
  auto fwc = make_sub("foo.>", "q");
  for (const auto& s : {lit, star, fwc}) idx.insert(s);
  auto r = idx.match("foo.bar");
  EXPECT_EQ(r->plain.size(), 2u);
  EXPECT_EQ(r->queues.size(), 1u);
  idx.match("foo.bar");  // cached now

  ASSERT_TRUE(idx.remove(lit));
  EXPECT_EQ(plain_subjects(*idx.match("foo.bar")), std::vector<std::string>{"foo.*"});
  ASSERT_TRUE(idx.remove(star));
  EXPECT_TRUE(idx.match("foo.bar")->plain.empty());
  EXPECT_EQ(idx.match("foo.bar")->queues.size(), 1u);
  ASSERT_TRUE(idx.remove(fwc));
  EXPECT_TRUE(idx.match("foo.bar")->queues.empty());
}

TEST(SubIndexCache, WildcardTokensInAPublishSubjectAreTakenLiterally) {
  // Non-pedantic publishers may send "foo.*"; the cache must agree with the trie for it.
  SubIndex idx;
  idx.match("foo.*");
  idx.insert(make_sub("foo.bar"));
  EXPECT_TRUE(idx.match("foo.*")->plain.empty());
  idx.insert(make_sub("foo.*"));
  EXPECT_EQ(idx.match("foo.*")->plain.size(), 1u);
}

// The random mutation tests' patterns and subjects, and what a match must return: every live
// subscription whose pattern matches, by brute force.
const std::vector<std::string> kRandomPatterns = {"a",   "b",   "a.b",   "a.c",   "a.*",   "*.b", "*",
                                                  ">",   "a.>", "*.*",   "a.b.c", "a.*.c", "*.b.>", "b.>"};
const std::vector<std::string> kRandomSubjects = {"a",     "b",     "c",     "a.b",   "a.c",
                                                  "b.b",   "a.b.c", "a.x.c", "b.b.b", "c.b.a.d"};

std::multiset<Subscription*> matched(SubIndex& idx, const std::string& subject) {
  auto r = idx.match(subject);
  std::multiset<Subscription*> got;
  for (const auto& s : r->plain) got.insert(s.get());
  for (const auto& g : r->queues) {
    for (const auto& s : g) got.insert(s.get());
  }
  return got;
}

std::multiset<Subscription*> brute_force(const std::vector<SubPtr>& live, const std::string& subject) {
  std::multiset<Subscription*> want;
  for (const auto& s : live) {
    if (reference_match(std::string(s->subject()), subject)) want.insert(s.get());
  }
  return want;
}

TEST(SubIndexCache, RandomMutationSequencesNeverLeaveAStaleResult) {
  // Matches go through the cache; after every step each result must equal a brute force.
  const auto& patterns = kRandomPatterns;
  const auto& subjects = kRandomSubjects;
  for (size_t cache_max : {size_t{0}, size_t{3}, size_t{1024}}) {
    SubIndex idx(cache_max);
    std::vector<SubPtr> live;
    std::mt19937 rng(42 + cache_max);
    for (int step = 0; step < 3000; ++step) {
      if (live.empty() || rng() % 2) {
        auto s = make_sub(patterns[rng() % patterns.size()], rng() % 3 ? "" : "q" + std::to_string(rng() % 2));
        idx.insert(s);
        live.push_back(s);
      } else {
        size_t i = rng() % live.size();
        ASSERT_TRUE(idx.remove(live[i]));
        live.erase(live.begin() + i);
      }
      for (int k = 0; k < 4; ++k) {
        const std::string& subject = subjects[rng() % subjects.size()];
        ASSERT_EQ(matched(idx, subject), brute_force(live, subject))
            << "step " << step << " subject " << subject << " cache_max " << cache_max;
      }
    }
    EXPECT_LE(idx.cache_size(), cache_max);
  }
}

// --- batches (apply: a route's read of RS+/RS-) ------------------------------------------

TEST(SubIndexBatch, ABatchAppliesInOrderWithOneGenerationBump) {
  SubIndex idx;
  auto a = make_sub("x"), b = make_sub("x"), c = make_sub("y"), a2 = make_sub("x");
  idx.insert(c);
  ASSERT_EQ(idx.match("x")->plain.size(), 0u);  // cached, so the batch must invalidate it
  const uint64_t g = idx.generation();
  // An RS- after the RS+ of the same subscription wins; a new RS+ of the subject comes back.
  std::vector<SubIndex::Change> batch = {{a, false}, {b, false}, {a, true}, {c, true}, {a2, false}, {b, true}};
  EXPECT_EQ(idx.apply(batch), 6u);
  EXPECT_EQ(idx.generation(), g + 1);
  auto r = idx.match("x");
  ASSERT_EQ(r->plain.size(), 1u);
  EXPECT_EQ(r->plain[0], a2);
  EXPECT_EQ(idx.match("y")->plain.size(), 0u);
  EXPECT_EQ(idx.count(), 1u);
  EXPECT_TRUE(a->closed.load());
  EXPECT_TRUE(b->closed.load());
  EXPECT_TRUE(c->closed.load());
  EXPECT_FALSE(a2->closed.load());
  EXPECT_EQ(idx.inserts(), 4u);  // c's insert() and three in the batch
  EXPECT_EQ(idx.removes(), 3u);
}

TEST(SubIndexBatch, ABatchThatChangesNothingLeavesTheGenerationAlone) {
  SubIndex idx;
  auto a = make_sub("x"), absent = make_sub("y");
  idx.insert(a);
  const uint64_t g = idx.generation();
  std::vector<SubIndex::Change> batch = {{a, false}, {absent, true}};
  EXPECT_EQ(idx.apply(batch), 0u);
  EXPECT_EQ(idx.generation(), g);
  EXPECT_EQ(idx.apply({}), 0u);
  EXPECT_EQ(idx.generation(), g);
}

TEST(SubIndexBatch, RandomBatchesNeverLeaveAStaleResult) {
  // As RandomMutationSequencesNeverLeaveAStaleResult, in batches of up to 40 changes: some
  // with few wildcard patterns (the cache is invalidated pattern by pattern), some with many
  // (it is dropped whole), some removing what the same batch inserted.
  const auto& patterns = kRandomPatterns;
  const auto& subjects = kRandomSubjects;
  for (size_t cache_max : {size_t{0}, size_t{3}, size_t{1024}}) {
    SubIndex idx(cache_max);
    std::vector<SubPtr> live;
    std::mt19937 rng(7 + cache_max);
    for (int step = 0; step < 400; ++step) {
      std::vector<SubIndex::Change> batch;
      const size_t n = 1 + rng() % 40;
      while (batch.size() < n) {
        if (live.empty() || rng() % 2) {
          auto s = make_sub(patterns[rng() % patterns.size()], rng() % 3 ? "" : "q" + std::to_string(rng() % 2));
          batch.push_back({s, false});
          live.push_back(s);
        } else {
          size_t i = rng() % live.size();
          batch.push_back({live[i], true});
          live.erase(live.begin() + i);
        }
      }
      const uint64_t gen = idx.generation();
      ASSERT_EQ(idx.apply(batch), n);
      ASSERT_EQ(idx.generation(), gen + 1);
      ASSERT_EQ(idx.count(), live.size());
      for (const std::string& subject : subjects) {
        ASSERT_EQ(matched(idx, subject), brute_force(live, subject))
            << "step " << step << " subject " << subject << " cache_max " << cache_max;
      }
    }
  }
}

TEST(SubIndexCache, CacheIsBoundedByCacheMax) {
  SubIndex idx(8);
  idx.insert(make_sub(">"));
  for (int i = 0; i < 1000; ++i) {
    auto r = idx.match("subject." + std::to_string(i));
    ASSERT_EQ(r->plain.size(), 1u);
    ASSERT_LE(idx.cache_size(), 8u);
  }
  EXPECT_EQ(idx.cache_size(), 8u);
}

TEST(SubIndexCache, CacheMaxZeroDisablesTheCache) {
  SubIndex idx(0);
  idx.insert(make_sub("foo"));
  idx.match("foo");
  idx.match("foo");
  EXPECT_EQ(idx.cache_size(), 0u);
  EXPECT_EQ(idx.cache_hits(), 0u);
  EXPECT_EQ(idx.match("foo")->plain.size(), 1u);
}

TEST(SubIndexCache, FanoutCountsPlainSubscriptionsAndQueueGroupsPerCachedSubject) {
  SubIndex idx;
  idx.insert(make_sub("a"));
  idx.insert(make_sub("a"));
  idx.insert(make_sub("a", "q"));
  idx.insert(make_sub(">", "q"));  // same group as above: still one
  idx.insert(make_sub("b"));
  idx.match("a");  // 2 plain + 1 group
  idx.match("b");  // 1 plain + 1 group
  idx.match("c");  // 1 group
  auto f = idx.cache_fanout();
  EXPECT_EQ(f.entries, 3u);
  EXPECT_EQ(f.max, 3u);
  EXPECT_EQ(f.total, 6u);
}

// --- concurrency ----------------------------------------------------------------------

TEST(SubIndexConcurrency, MatchersNeverSeeAStaleResultWhileAWriterMutates) {
  // The writer announces each round after its insert returned, before its remove starts
  // and after its remove returned. A sub inserted before a match starts, whose removal had
  // not started when the match ended, must be in the result; a sub removed before a match
  // starts must not be. A result computed before a mutation and stored after it would break
  // this.
  SubIndex idx(64);
  constexpr int kRounds = 2000;
  std::atomic<int> inserted_round{-1}, removing_round{-1}, removed_round{-1};
  std::vector<SubPtr> subs(kRounds);
  for (int i = 0; i < kRounds; ++i) subs[i] = make_sub(i % 2 ? "load.*" : "load.>", i % 3 ? "" : "q");
  std::atomic<bool> done{false};
  std::atomic<long> checks{0};

  auto matcher = [&](int id) {
    const std::string subjects[] = {"load.x", "load.y", "other." + std::to_string(id)};
    size_t k = 0;
    while (!done.load(std::memory_order_acquire)) {
      const int ins = inserted_round.load(std::memory_order_acquire);
      const int rem = removed_round.load(std::memory_order_acquire);
      const std::string& subject = subjects[k++ % 2];
      auto r = idx.match(subject);
      const int removing_after = removing_round.load(std::memory_order_acquire);
      if (ins > removing_after) {
        ASSERT_TRUE(contains(*r, subs[ins])) << "missing sub of round " << ins;
      }
      if (rem >= 0) {
        ASSERT_FALSE(contains(*r, subs[rem])) << "stale sub of round " << rem;
      }
      idx.match(subjects[2]);  // churn unrelated cache entries
      checks.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back(matcher, t);

  for (int i = 0; i < kRounds; ++i) {
    idx.insert(subs[i]);
    inserted_round.store(i, std::memory_order_release);
    if (i % 7 == 0) std::this_thread::yield();
    removing_round.store(i, std::memory_order_release);
    // Not an ASSERT: returning here would leave the matchers running and joinable, and
    // std::thread's destructor would abort the binary instead of reporting the failure.
    const bool removed = idx.remove(subs[i]);
    EXPECT_TRUE(removed) << "round " << i;
    if (!removed) break;
    removed_round.store(i, std::memory_order_release);
    // Also churn literal interest and unrelated wildcards.
    auto lit = make_sub("load.x");
    idx.insert(lit);
    idx.insert(make_sub("unrelated." + std::to_string(i) + ".>"));
    idx.remove(lit);
  }
  done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  EXPECT_GT(checks.load(), 0);
  EXPECT_EQ(idx.count(), static_cast<size_t>(kRounds));  // the "unrelated" ones
  EXPECT_LE(idx.cache_size(), 64u);
}

}  // namespace
}  // namespace pylon::server
