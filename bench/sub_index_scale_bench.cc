// The subscription index at 1,000,000 subscriptions (issue 14 §3): how fast it takes
// subscriptions (insert, and insert + remove churn while it is that full) and how fast it
// matches (cache miss: a trie walk; cache hit), with the index as scripts/scale.sh fills a
// server: distinct literal subjects "scale.<client>.<n>" over 15,000 clients, half of them
// in the queue group "workers" ("scale.q.<client>.<n>"), plus a few wildcards.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "server/sub_index.h"

namespace {

using pylon::server::SubIndex;
using pylon::server::SubPtr;
using pylon::server::Subscription;

constexpr int kSubs = 1000000;
constexpr int kClients = 15000;

SubPtr make_sub(std::string subject, std::string queue = {}) {
  auto s = std::make_shared<Subscription>(subject, queue, "");
  return s;
}

std::string literal(int k) {
  const int client = k % kClients, n = k / kClients;
  return (k % 2 ? "scale.q." : "scale.") + std::to_string(client) + "." + std::to_string(n);
}

struct Full {
  SubIndex idx;
  std::vector<SubPtr> keep;
  Full() {
    keep.reserve(kSubs + 20);
    for (int k = 0; k < kSubs; ++k) keep.push_back(make_sub(literal(k), k % 2 ? "workers" : ""));
    for (int i = 0; i < 10; ++i) keep.push_back(make_sub("scale.*." + std::to_string(i)));
    keep.push_back(make_sub("scale.>", "audit"));
    for (const auto& s : keep) idx.insert(s);
  }
};

Full& full() {
  static Full* f = new Full;  // built once (a few seconds), shared by the benchmarks
  return *f;
}

// SUBs per second into an index that grows to 1M: each iteration inserts 1M and removes
// them again (outside the timing), so every insert lands in an index of 0..1M.
void BM_Insert1M(benchmark::State& state) {
  std::vector<SubPtr> subs;
  subs.reserve(kSubs);
  for (int k = 0; k < kSubs; ++k) subs.push_back(make_sub(literal(k), k % 2 ? "workers" : ""));
  for (auto _ : state) {
    SubIndex idx;
    for (const auto& s : subs) idx.insert(s);
    benchmark::DoNotOptimize(idx.count());
    state.PauseTiming();
    for (const auto& s : subs) idx.remove(s);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kSubs);
}
BENCHMARK(BM_Insert1M)->Unit(benchmark::kMillisecond)->Iterations(2);

// A subscriber comes and goes while the index holds 1M: one insert + one remove.
void BM_ChurnAt1M(benchmark::State& state) {
  Full& f = full();
  int k = 0;
  for (auto _ : state) {
    auto s = make_sub("scale.churn." + std::to_string(k++ % 1000));
    f.idx.insert(s);
    f.idx.remove(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChurnAt1M);

// Publishing to ever new subjects: every match misses the cache and walks the trie (one
// literal, one '*' and the '>' subscription match), and stores its result.
void BM_MatchMissAt1M(benchmark::State& state) {
  Full& f = full();
  int k = 0;
  for (auto _ : state) {
    auto r = f.idx.match(literal(k));
    k = (k + 7919) % kSubs;  // a stride larger than the cache: each subject is new to it
    benchmark::DoNotOptimize(r.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchMissAt1M);

// Publishing to one subject again and again: the cache answers.
void BM_MatchHitAt1M(benchmark::State& state) {
  Full& f = full();
  const std::string subject = literal(4242);
  f.idx.match(subject);
  for (auto _ : state) {
    auto r = f.idx.match(subject);
    benchmark::DoNotOptimize(r.get());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchHitAt1M);

}  // namespace
