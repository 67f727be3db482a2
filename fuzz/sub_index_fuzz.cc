// Subject validation and SubIndex (src/server/sub_index.*) against a naive matcher: the fuzzer
// picks a sequence of SUB (insert), UNSUB (remove) and PUB (match) over a small alphabet of
// tokens, and every match must return exactly the live subscriptions that a brute-force walk
// over all of them with proto::subject_matches selects, plain ones and queue groups apart,
// whether it comes from the trie or from the cache. At the end, removing everything must
// leave no trie nodes behind.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "proto/subject.h"
#include "server/sub_index.h"

namespace {

using pylon::server::SubIndex;
using pylon::server::SubPtr;
using pylon::server::Subscription;

// A subject from a few tokens, so that inserts, removes and matches meet. Sometimes a raw
// string, to exercise validation and the "matches nothing" subjects ("a..b", "").
std::string make_subject(FuzzedDataProvider& fdp, bool wildcards) {
  static const char* const kTokens[] = {"a", "b", "foo", "bar", "*", ">", "", "a*", "$G", "_INBOX"};
  if (fdp.ConsumeIntegralInRange<int>(0, 15) == 0) return fdp.ConsumeRandomLengthString(24);
  const int n = fdp.ConsumeIntegralInRange<int>(1, 5);
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += '.';
    const int t = fdp.ConsumeIntegralInRange<int>(0, wildcards ? 9 : 3);
    s += kTokens[t];
  }
  return s;
}

// Two results agree when they hold the same subscriptions: plain ones as a set, queue groups
// as a set of (queue name -> set of members).
using Groups = std::map<std::string, std::set<Subscription*>>;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  // A tiny cache half of the time, so eviction runs too.
  SubIndex index(fdp.ConsumeBool() ? 4 : 1024);
  std::vector<SubPtr> live;
  while (fdp.remaining_bytes() > 0) {
    switch (fdp.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: {  // SUB [queue]
        const std::string subject = make_subject(fdp, true);
        const std::string queue = fdp.ConsumeBool() ? (fdp.ConsumeBool() ? "q1" : "q2") : "";
        // The server inserts only subjects it validated; the index promises nothing else.
        if (!pylon::proto::valid_subscribe_subject(subject, false)) break;
        auto sub = std::make_shared<Subscription>(subject, queue, "");
        index.insert(sub);
        live.push_back(sub);
        break;
      }
      case 1: {  // UNSUB
        if (live.empty()) break;
        const size_t k = fdp.ConsumeIntegralInRange<size_t>(0, live.size() - 1);
        if (!index.remove(live[k])) std::abort();
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
        break;
      }
      case 2: {  // inserting one already in the index does nothing
        if (live.empty()) break;
        const size_t k = fdp.ConsumeIntegralInRange<size_t>(0, live.size() - 1);
        index.insert(live[k]);
        break;
      }
      default: {  // PUB: match
        const std::string subject = make_subject(fdp, false);
        // match() takes literal subjects; one with an empty token is promised to match nothing.
        const bool literal_ok = pylon::proto::valid_publish_subject(subject, true);
        const bool empty_token = subject.empty() || subject.front() == '.' || subject.back() == '.' ||
                                 subject.find("..") != std::string::npos;
        if (!literal_ok && !empty_token) break;
        const auto got = index.match(subject);
        if (!got) std::abort();
        std::set<Subscription*> plain_want, plain_got;
        Groups groups_want, groups_got;
        for (const auto& s : live) {
          if (!literal_ok || !pylon::proto::subject_matches(s->subject(), subject)) continue;
          if (s->queue().empty()) plain_want.insert(s.get()); else groups_want[std::string(s->queue())].insert(s.get());
        }
        for (const auto& s : got->plain) plain_got.insert(s.get());
        for (const auto& g : got->queues) {
          if (g.empty()) std::abort();  // an empty group would be picked from and find no one
          for (const auto& s : g) {
            if (s->queue() != g.front()->queue()) std::abort();  // one group, one queue name
            groups_got[std::string(s->queue())].insert(s.get());
          }
        }
        if (got->plain.size() != plain_got.size()) std::abort();  // a subscription twice
        if (plain_got != plain_want || groups_got != groups_want) {
          std::fprintf(stderr, "match(\"%s\") differs from the naive matcher: %zu/%zu plain, %zu/%zu groups\n",
                       subject.c_str(), plain_got.size(), plain_want.size(), groups_got.size(), groups_want.size());
          for (const auto& s : live) std::fprintf(stderr, "  live: \"%.*s\" queue \"%.*s\"\n", static_cast<int>(s->subject().size()),
                                   s->subject().data(), static_cast<int>(s->queue().size()), s->queue().data());
          std::abort();
        }
        break;
      }
    }
  }
  if (index.count() != live.size()) std::abort();
  for (const auto& s : live) {
    if (!index.remove(s)) std::abort();
    if (index.remove(s)) std::abort();
  }
  if (index.count() != 0 || index.node_count() != 0) {
    std::fprintf(stderr, "empty index keeps %zu subscriptions, %zu trie nodes\n", index.count(), index.node_count());
    std::abort();
  }
  return 0;
}
