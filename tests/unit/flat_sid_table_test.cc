// FlatSidTable (src/server/route/interest_table.h), a route's remote interest by sid: random
// inserts, lookups and removals checked step by step against std::unordered_map, with a good
// hash and with hashes squeezed into a few values (long probe runs that wrap around the end of
// the slots, which is where backward-shift deletion can go wrong), and hash 0 (the empty mark).
#include "server/route/interest_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace pylon::server {
namespace {

struct Entry {
  std::string sid;
  int value = 0;
};
struct SidOf {
  std::string_view operator()(const Entry& e) const noexcept { return e.sid; }
};
using Table = FlatSidTable<Entry, SidOf>;

// Every key of `model` is found with its value, the sizes agree, and for_each visits exactly
// the model's entries once.
void expect_same(const Table& table, const std::unordered_map<std::string, int>& model,
                 const std::function<size_t(std::string_view)>& hash) {
  ASSERT_EQ(table.size(), model.size());
  for (const auto& [k, v] : model) {
    const Entry* e = table.find(k, hash(k));
    ASSERT_NE(e, nullptr) << k;
    EXPECT_EQ(e->value, v) << k;
  }
  std::unordered_map<std::string, int> seen;
  table.for_each([&](const Entry& e) { EXPECT_TRUE(seen.emplace(e.sid, e.value).second) << e.sid; });
  EXPECT_EQ(seen, model);
}

void random_against_model(const std::function<size_t(std::string_view)>& hash, uint32_t seed, int steps,
                          int key_space) {
  std::mt19937 rng(seed);
  Table table;
  std::unordered_map<std::string, int> model;
  for (int step = 0; step < steps; ++step) {
    std::string k = "$G subj." + std::to_string(rng() % key_space);
    if (rng() % 7 == 0) k += " workers";
    const size_t h = hash(k);
    switch (rng() % 3) {
      case 0:
      case 1: {  // RS+: a new key goes in; a known one is only looked up (as on_rs_sub)
        Entry* e = table.find(k, h);
        auto it = model.find(k);
        ASSERT_EQ(e != nullptr, it != model.end()) << "step " << step << " " << k;
        if (e == nullptr) {
          table.insert_new(h, Entry{k, step});
          model.emplace(k, step);
        } else {
          EXPECT_EQ(e->value, it->second);
        }
        break;
      }
      default: {  // RS-
        Entry out;
        bool removed = table.extract(k, h, out);
        ASSERT_EQ(removed, model.erase(k) == 1) << "step " << step << " " << k;
        if (removed) {
          EXPECT_EQ(out.sid, k);
        }
        ASSERT_EQ(table.find(k, h), nullptr) << "step " << step << " " << k;
      }
    }
    if (step % 997 == 0) expect_same(table, model, hash);
  }
  expect_same(table, model, hash);
  // Drain it: every removal leaves the rest reachable.
  std::vector<std::string> keys;
  for (const auto& kv : model) keys.push_back(kv.first);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (size_t i = 0; i < keys.size(); ++i) {
    Entry out;
    ASSERT_TRUE(table.extract(keys[i], hash(keys[i]), out)) << keys[i];
    model.erase(keys[i]);
    if (i % 101 == 0) expect_same(table, model, hash);
  }
  EXPECT_TRUE(table.empty());
  expect_same(table, model, hash);
}

size_t good_hash(std::string_view s) { return std::hash<std::string_view>{}(s); }

TEST(FlatSidTable, RandomChangesMatchUnorderedMap) {
  for (uint32_t seed : {1u, 2u, 3u}) random_against_model(good_hash, seed, 60000, 5000);
}

TEST(FlatSidTable, RandomChangesMatchUnorderedMapWithFewDistinctHashes) {
  // 8 distinct hashes, spread over the slots' high end so runs wrap past the last slot.
  auto squeezed = [](std::string_view s) -> size_t { return ~size_t{0} - (good_hash(s) % 8) * 3; };
  for (uint32_t seed : {4u, 5u}) random_against_model(squeezed, seed, 20000, 600);
}

TEST(FlatSidTable, HashZeroIsAKeyLikeAnyOther) {
  auto zero_or_one = [](std::string_view s) -> size_t { return good_hash(s) % 2; };
  random_against_model(zero_or_one, 6, 5000, 300);
}

TEST(FlatSidTable, GrowsKeepingEveryEntryAndHoldsAtMostThreeQuarters) {
  Table table;
  EXPECT_EQ(table.capacity(), 0u);  // a route with no interest allocates nothing
  EXPECT_EQ(table.find("x", good_hash("x")), nullptr);
  std::unordered_map<std::string, int> model;
  for (int i = 0; i < 100000; ++i) {
    std::string k = "$G scale." + std::to_string(i);
    table.insert_new(good_hash(k), Entry{k, i});
    model.emplace(k, i);
    ASSERT_LE(table.size() * 4, table.capacity() * 3);
  }
  expect_same(table, model, good_hash);
  Table moved(std::move(table));
  EXPECT_TRUE(table.empty());
  expect_same(moved, model, good_hash);
}

TEST(FlatSidTable, ShrinksAsEntriesGoAndFreesItsSlotsWithTheLast) {
  Table table;
  std::unordered_map<std::string, int> model;
  constexpr int kMany = 200000;
  for (int i = 0; i < kMany; ++i) {
    std::string k = "$G burst." + std::to_string(i);
    table.insert_new(good_hash(k), Entry{k, i});
    model.emplace(k, i);
  }
  const size_t full = table.capacity();
  ASSERT_GE(full, static_cast<size_t>(kMany));
  // Remove all but 100, checking the rest stay reachable as the table shrinks under them.
  for (int i = 100; i < kMany; ++i) {
    std::string k = "$G burst." + std::to_string(i);
    Entry out;
    ASSERT_TRUE(table.extract(k, good_hash(k), out)) << k;
    model.erase(k);
    ASSERT_LE(table.size() * 4, table.capacity() * 3);
    if (table.capacity() > 16) {
      ASSERT_GE(table.size() * 8, table.capacity() / 2) << "shrank too late at " << i;
    }
    if (i % 9973 == 0) expect_same(table, model, good_hash);
  }
  expect_same(table, model, good_hash);
  EXPECT_LT(table.capacity(), 8u * 100) << "100 entries in a table of " << table.capacity() << " (it held " << full << ")";
  // Inserts and removals around one size do not rehash back and forth: the capacity holds.
  const size_t settled = table.capacity();
  for (int round = 0; round < 1000; ++round) {
    std::string k = "$G churn." + std::to_string(round);
    table.insert_new(good_hash(k), Entry{k, round});
    Entry out;
    ASSERT_TRUE(table.extract(k, good_hash(k), out));
    ASSERT_EQ(table.capacity(), settled) << "round " << round;
  }
  // The last entry out frees the slots.
  for (int i = 0; i < 100; ++i) {
    std::string k = "$G burst." + std::to_string(i);
    Entry out;
    ASSERT_TRUE(table.extract(k, good_hash(k), out)) << k;
  }
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.capacity(), 0u);
  EXPECT_EQ(table.find("$G burst.1", good_hash("$G burst.1")), nullptr);
  // And it grows again from nothing.
  table.insert_new(good_hash("again"), Entry{"again", 1});
  ASSERT_NE(table.find("again", good_hash("again")), nullptr);
}

}  // namespace
}  // namespace pylon::server
