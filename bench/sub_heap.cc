// sub_heap: the heap one subscription holds, by site (docs/performance.md, memory at scale).
// Counts malloc chunks (usable size + malloc's 8-byte header) through a replaced global
// operator new while making subscriptions (std::make_shared<Subscription>) and while
// inserting them into a SubIndex, for subjects shaped as bench/scale_clients makes them:
// scale.<client>.<n> (plain) and scale.q.<client>.<n> in the queue group "workers", sids
// 1..n. Exact for this process's allocator; no timing, so the machine's load does not move it.
// (The owner's sid table is not counted here: it lives in ClientConn.)
//
// Usage: sub_heap [--clients 500] [--per-client 100]
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "server/sub_index.h"

namespace {
long g_held = 0;
bool g_counting = false;
}  // namespace

// These replace the global operator new/delete, so malloc/free underneath them are the match.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(size_t n) {
  void* p = std::malloc(n != 0 ? n : 1);
  if (p == nullptr) throw std::bad_alloc();
  if (g_counting) g_held += static_cast<long>(malloc_usable_size(p) + 8);
  return p;
}
void operator delete(void* p) noexcept {
  if (p != nullptr && g_counting) g_held -= static_cast<long>(malloc_usable_size(p) + 8);
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void* operator new[](size_t n) { return operator new(n); }
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

int main(int argc, char** argv) {
  using pylon::server::SubIndex;
  using pylon::server::SubPtr;
  using pylon::server::Subscription;
  int clients = 500, per_client = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--clients") == 0) clients = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--per-client") == 0) per_client = std::atoi(argv[i + 1]);
  }
  if (clients <= 0 || per_client <= 0) {
    std::fprintf(stderr, "usage: sub_heap [--clients N] [--per-client N]\n");
    return 2;
  }
  std::printf("sizeof(Subscription) %zu B; %d clients x %d subjects\n", sizeof(Subscription), clients, per_client);
  for (const bool queue : {false, true}) {
    SubIndex index(0);  // no result cache: only the trie
    std::vector<SubPtr> subs;
    subs.reserve(static_cast<size_t>(clients) * per_client);
    g_counting = true;
    long start = g_held;
    for (int c = 0; c < clients; ++c) {
      for (int n = 0; n < per_client; ++n) {
        const std::string subject =
            (queue ? "scale.q." : "scale.") + std::to_string(10000 + c) + "." + std::to_string(n);
        subs.push_back(std::make_shared<Subscription>(subject, queue ? "workers" : "", std::to_string(n + 1)));
      }
    }
    const long made = g_held - start;
    start = g_held;
    for (const auto& s : subs) index.insert(s);
    const long indexed = g_held - start;
    g_counting = false;
    const double k = static_cast<double>(subs.size());
    std::printf("%-6s per subscription: Subscription %.1f B, index %.1f B, sum %.1f B\n", queue ? "queue" : "plain",
                made / k, indexed / k, (made + indexed) / k);
  }
  return 0;
}
