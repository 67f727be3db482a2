// Subscription index micro-benchmarks: the publish hot path (cache hit), the miss path
// (trie walk, and walk + store with eviction), subscription churn, and churn while other
// threads publish (writer progress under read load). main() comes from benchmark_main.
#include <benchmark/benchmark.h>

#include <atomic>
#include <string>
#include <vector>

#include "server/sub_index.h"

namespace {

using pylon::server::SubIndex;
using pylon::server::SubPtr;
using pylon::server::Subscription;

SubPtr make_sub(std::string subject, std::string queue = {}) {
  auto s = std::make_shared<Subscription>(subject, queue, "");
  return s;
}

// 10k subscriptions shaped like a service mesh: literal "svc.<a>.<b>" subjects, a few
// wildcards per service and some queue groups. "svc.42.3" matches 1 literal, 1 '*' and
// the '>' subscriptions.
constexpr int kSubs = 10000;

void fill(SubIndex& idx, std::vector<SubPtr>& keep) {
  for (int i = 0; i < kSubs - 110; ++i) {
    keep.push_back(make_sub("svc." + std::to_string(i % 1000) + "." + std::to_string(i / 1000)));
  }
  for (int i = 0; i < 100; ++i) keep.push_back(make_sub("svc.*." + std::to_string(i), "workers"));
  for (int i = 0; i < 10; ++i) keep.push_back(make_sub("svc.>", i % 2 ? "audit" : ""));
  for (const auto& s : keep) idx.insert(s);
}

struct Fixture {
  SubIndex idx;
  std::vector<SubPtr> keep;
  explicit Fixture(size_t cache_max) : idx(cache_max) { fill(idx, keep); }
};

// The publish hot path: a subject already in the cache.
void BM_MatchCacheHit(benchmark::State& state) {
  static Fixture* f = new Fixture(1024);  // shared by the threads of a multi-threaded run
  const std::string subject = "svc.42.3";
  f->idx.match(subject);
  for (auto _ : state) {
    auto r = f->idx.match(subject);
    benchmark::DoNotOptimize(r.get());
  }
  if (state.thread_index() == 0) {
    auto r = f->idx.match(subject);
    size_t subs = r->plain.size();
    for (const auto& g : r->queues) subs += g.size();
    state.counters["subs_in_result"] = static_cast<double>(subs);
  }
}
BENCHMARK(BM_MatchCacheHit)->Threads(1)->Threads(2)->UseRealTime();

// Miss path without the cache: tokenise, walk the trie, build the result.
void BM_MatchTrieWalk(benchmark::State& state) {
  Fixture f(0);
  const std::string subject = "svc.42.3";
  for (auto _ : state) {
    auto r = f.idx.match(subject);
    benchmark::DoNotOptimize(r.get());
  }
}
BENCHMARK(BM_MatchTrieWalk);

// Miss path with the cache: every subject is new, so each match walks, stores and evicts.
void BM_MatchMissAndStore(benchmark::State& state) {
  Fixture f(1024);
  std::vector<std::string> subjects;
  for (int i = 0; i < 100000; ++i) subjects.push_back("svc." + std::to_string(i % 1000) + ".x" + std::to_string(i));
  size_t k = 0;
  for (auto _ : state) {
    auto r = f.idx.match(subjects[k]);
    benchmark::DoNotOptimize(r.get());
    if (++k == subjects.size()) k = 0;
  }
}
BENCHMARK(BM_MatchMissAndStore);

// A subject nobody listens to (a publish with no interest): misses once, then hits.
void BM_MatchNoInterestHit(benchmark::State& state) {
  Fixture f(1024);
  const std::string subject = "nobody.listens.here";
  for (auto _ : state) {
    auto r = f.idx.match(subject);
    benchmark::DoNotOptimize(r.get());
  }
}
BENCHMARK(BM_MatchNoInterestHit);

// Request/reply churn: a unique literal inbox subscribed and unsubscribed, with 10k subs
// and a full cache.
void BM_InsertRemoveLiteral(benchmark::State& state) {
  Fixture f(1024);
  for (int i = 0; i < 1024; ++i) f.idx.match("svc." + std::to_string(i % 1000) + "." + std::to_string(i / 1000));
  std::vector<SubPtr> inboxes;
  for (int i = 0; i < 4096; ++i) inboxes.push_back(make_sub("_INBOX.abcdefgh." + std::to_string(i)));
  size_t k = 0;
  for (auto _ : state) {
    f.idx.insert(inboxes[k]);
    f.idx.remove(inboxes[k]);
    if (++k == inboxes.size()) k = 0;
  }
}
BENCHMARK(BM_InsertRemoveLiteral);

// Wildcard churn: each insert and remove scans the full cache (1024 subjects).
void BM_InsertRemoveWildcard(benchmark::State& state) {
  Fixture f(1024);
  for (int i = 0; i < 1024; ++i) f.idx.match("svc." + std::to_string(i % 1000) + "." + std::to_string(i / 1000));
  auto sub = make_sub("svc.7.*");
  for (auto _ : state) {
    f.idx.insert(sub);
    f.idx.remove(sub);
  }
}
BENCHMARK(BM_InsertRemoveWildcard);

// Churn while other threads publish on a hot subject. Thread 0 subscribes and unsubscribes;
// the others match. All threads run the same number of iterations, so the real time per
// iteration shows whether the writer keeps progressing under read load.
void BM_InsertRemoveUnderMatchLoad(benchmark::State& state) {
  static Fixture* f = new Fixture(1024);
  static std::vector<SubPtr>* inboxes = [] {
    auto* v = new std::vector<SubPtr>;
    for (int i = 0; i < 4096; ++i) v->push_back(make_sub("_INBOX.abcdefgh." + std::to_string(i)));
    return v;
  }();
  const std::string subject = "svc.42.3";
  size_t k = 0;
  for (auto _ : state) {
    if (state.thread_index() == 0) {
      auto& sub = (*inboxes)[k];
      f->idx.insert(sub);
      f->idx.remove(sub);
      if (++k == inboxes->size()) k = 0;
    } else {
      auto r = f->idx.match(subject);
      benchmark::DoNotOptimize(r.get());
    }
  }
}
BENCHMARK(BM_InsertRemoveUnderMatchLoad)->Threads(2)->Threads(3)->UseRealTime();

}  // namespace
