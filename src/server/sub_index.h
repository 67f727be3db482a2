// The subscription index: subject -> interested subscriptions, local and remote.
//
// A token trie (literal tokens, '*' and '>' nodes) answers "who is interested in this
// literal subject". In front of it sits a match-result cache keyed by subject, so a hot
// subject costs one hash probe. The cache is invalidated next to every mutation: an insert
// or removal drops exactly the cached subjects its pattern matches.
//
// Locking: one reader/writer lock. match() takes it shared (cache hit or trie walk) and,
// on a miss, briefly exclusive to store the result; insert()/remove() take it exclusive.
// The lock prefers writers (like Go's RWMutex in the reference): libstdc++'s
// std::shared_mutex prefers readers, and with publishers matching continuously on every
// core a SUB or UNSUB waited 5-20x longer in the concurrent unit test. A thread never takes
// the shared lock twice (that would deadlock behind a waiting writer).
// Results are immutable and shared (std::shared_ptr<const MatchResult>), so a publisher keeps
// using its result after the lock is released, even if the index changes meanwhile.
//
// A miss is computed under the shared lock, which is then dropped before the exclusive lock
// is taken to store. A mutation may slip in between; every mutation bumps `generation_`, and a
// result is stored only if the generation is unchanged, so the cache never holds a result
// older than the trie. generation() reads it without the lock: a connection's own cache of
// results (match_cache.h) is valid while the generation it was filled at is still current.
//
// The cache holds at most cache_max subjects (0 disables it). When it is full, storing a new
// subject evicts one entry picked at random (a random bucket's first entry): cheap, keeps
// hot subjects with high probability, and unlike the reference's sweep-to-half it never
// empties a large part of the cache at once.
//
// Queue weight is not expanded into the result (the reference repeats a route's queue sub
// `weight` times); the member picker reads Subscription::weight at delivery, so a weight
// change needs no cache invalidation.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <span>

#include <pthread.h>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/core/sub_names.h"

namespace pylon::server {

class Connection;  // the receiving connection (client or route); see connection.h
struct SubjectMapping;  // account/stream_import.h
class InternalSubscriber;  // router.h

// One subscription: a client's SUB, or a route's RS+ (remote interest, with queue weight).
//
// Lifetime (docs/architecture.md, "Lifetimes"): a subscription is shared. Its owner's table
// holds it while it is subscribed, the index holds it while it is in the trie, and any match
// result holds it while a publisher on any loop delivers from that result. `owner` is a strong
// reference, set before the subscription is published to the index and never changed, so
// whoever holds a subscription holds a live connection: a delivery can never reach a freed one,
// and the hot path takes no reference of its own. The cycle connection -> table -> subscription
// -> connection is broken when the connection drops the subscription from its table (UNSUB,
// auto-unsubscribe, or its close); the connection is freed when the last match result that
// still names one of its subscriptions is dropped.
//
// Memory at scale (docs/performance.md): 104 bytes, which with its make_shared control block
// fills one 128-byte malloc chunk. The subject, queue and sid are one immutable SubNames
// (inline up to 53 bytes together); what only shadows and the server's own subscribers use
// sits behind one pointer; the small members sit together at the end, with no padding holes.
struct Subscription {
  // The names are fixed here: the index, the owner's sid table and every match result read
  // them without a lock.
  Subscription(std::string_view subject, std::string_view queue, std::string_view sid)
      : names_(subject, queue, sid) {}

  // Hot path (matching, delivery): views into the subscription, valid while it lives.
  std::string_view subject() const noexcept { return names_.subject(); }
  std::string_view queue() const noexcept { return names_.queue(); }  // empty for a plain subscription
  // Client-chosen id (clients) / "<account> <subject>[ <queue>]" key (routes).
  std::string_view sid() const noexcept { return names_.sid(); }

  // A stream import's shadow of a client subscription (account/stream_import.h): in the
  // exporting account's index, delivered to `owner` under the mapped subject. Null for every
  // other subscription.
  const SubjectMapping* shadow() const noexcept { return special_ ? special_->shadow.get() : nullptr; }
  // The server's own subscriber (a service import, its responses): no connection; `remote` is
  // set too, so the client path of the router never sees it. Null for every other subscription.
  InternalSubscriber* internal() const noexcept { return special_ ? special_->internal.get() : nullptr; }
  // Each set at most once, before the subscription is inserted in an index; immutable after.
  void set_shadow(std::shared_ptr<const SubjectMapping> shadow) { special().shadow = std::move(shadow); }
  void set_internal(std::shared_ptr<InternalSubscriber> internal) { special().internal = std::move(internal); }

  std::shared_ptr<Connection> owner;  // immutable once in the index; null only in index-only tests

 private:
  struct Special {
    std::shared_ptr<const SubjectMapping> shadow;
    std::shared_ptr<InternalSubscriber> internal;
  };
  Special& special() {
    if (!special_) special_ = std::make_unique<Special>();
    return *special_;
  }

  SubNames names_;
  std::unique_ptr<Special> special_;  // null for a client's or a route's subscription

 public:
  std::atomic<int64_t> max_msgs{0};  // auto-unsubscribe after this many (0: none)
  std::atomic<int64_t> delivered{0};
  std::atomic<int32_t> weight{1};  // queue weight: 1 for a client, member count for a route
  // Removed; a holder of an old match result must skip it. SubIndex::remove() sets it,
  // SubIndex::insert() clears it.
  std::atomic<bool> closed{false};
  bool remote = false;  // owner is a route (RS+ interest), not a client; immutable
  bool leaf = false;    // owner is a leaf connection (LS+ interest; remote too); immutable
};
// With make_shared's 16-byte control block and malloc's 8-byte header: one 128-byte chunk.
static_assert(sizeof(Subscription) <= 104, "a Subscription outgrew its 128-byte malloc chunk");

using SubPtr = std::shared_ptr<Subscription>;

// Everything interested in one literal subject.
struct MatchResult {
  std::vector<SubPtr> plain;                 // each gets every message
  std::vector<std::vector<SubPtr>> queues;   // one group per entry; each message to one member
};

class SubIndex {
 public:
  explicit SubIndex(size_t cache_max = 1024);
  ~SubIndex();
  SubIndex(const SubIndex&) = delete;
  SubIndex& operator=(const SubIndex&) = delete;

  // The subject must already be valid (proto::valid_subscribe_subject).
  // Inserting a subscription object that is already in the index does nothing.
  void insert(const SubPtr& sub);
  // Returns false when the subscription was not in the index.
  bool remove(const SubPtr& sub);

  // One change of a batch (apply()): insert `sub`, or remove it.
  struct Change {
    SubPtr sub;
    bool remove = false;
  };
  // Applies `changes` in order under one exclusive lock with one generation bump: each does
  // what insert() or remove() would, and a reader sees none of the batch or all of it. For a
  // route's read of RS+/RS- (a joining node takes a million in a row: issue 14 §4), where a
  // lock, a bump and a cache probe per change cost each connection's MatchCache a refill per
  // subscription. Returns how many changes changed the index.
  size_t apply(std::span<const Change> changes);

  // All subscriptions matching a literal subject. Never null. A subject with an empty
  // token ("", "a..b", "a.") matches nothing and is not cached.
  std::shared_ptr<const MatchResult> match(std::string_view subject);

  // Bumped (release) by every insert and removal that changed the index, under the exclusive
  // lock; read with acquire, without the lock. A result matched after reading generation g
  // reflects every mutation up to g at least, so it stays right while generation() == g.
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  size_t count() const;        // subscriptions in the index
  size_t cache_size() const;   // cached subjects
  size_t cache_max() const noexcept { return cache_max_; }
  uint64_t matches() const noexcept { return matches_.load(std::memory_order_relaxed); }
  uint64_t cache_hits() const noexcept { return cache_hits_.load(std::memory_order_relaxed); }
  uint64_t inserts() const noexcept { return inserts_.load(std::memory_order_relaxed); }
  uint64_t removes() const noexcept { return removes_.load(std::memory_order_relaxed); }

  // Fanout of the cached results, as /subsz reports it (the reference's max_fanout and
  // avg_fanout = total / entries): per cached subject, plain subscriptions + queue groups.
  struct CacheFanout {
    size_t entries = 0, max = 0, total = 0;
  };
  CacheFanout cache_fanout() const;

  // Every subscription (for monitoring and for sending interest to a new route).
  std::vector<SubPtr> all() const;

  // Trie nodes currently allocated (one per distinct token per path). For tests and
  // /subsz: it returns to 0 once every subscription is removed.
  size_t node_count() const;

 private:
  struct Node;
  struct Level;
  struct Path;

  // Transparent hashing so lookups by std::string_view never build a std::string.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Cache = std::unordered_map<std::string, std::shared_ptr<const MatchResult>, StringHash,
                                   std::equal_to<>>;

  // A reader/writer lock whose waiting writer blocks new readers (glibc's writer-preferring
  // rwlock); elsewhere std::shared_mutex. Usable with std::shared_lock / std::unique_lock.
#if defined(__GLIBC__)
  class SharedMutex {
   public:
    SharedMutex() noexcept {
      pthread_rwlockattr_t attr;
      pthread_rwlockattr_init(&attr);
      pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
      pthread_rwlock_init(&rw_, &attr);
      pthread_rwlockattr_destroy(&attr);
    }
    ~SharedMutex() { pthread_rwlock_destroy(&rw_); }
    SharedMutex(const SharedMutex&) = delete;
    SharedMutex& operator=(const SharedMutex&) = delete;
    void lock() noexcept { pthread_rwlock_wrlock(&rw_); }
    bool try_lock() noexcept { return pthread_rwlock_trywrlock(&rw_) == 0; }
    void unlock() noexcept { pthread_rwlock_unlock(&rw_); }
    void lock_shared() noexcept { pthread_rwlock_rdlock(&rw_); }
    bool try_lock_shared() noexcept { return pthread_rwlock_tryrdlock(&rw_) == 0; }
    void unlock_shared() noexcept { pthread_rwlock_unlock(&rw_); }

   private:
    pthread_rwlock_t rw_;
  };
#else
  using SharedMutex = std::shared_mutex;
#endif

  // mu_ held (shared or exclusive) on entry.
  std::shared_ptr<const MatchResult> match_locked(std::string_view subject) const;
  // mu_ held exclusively on entry. The trie and count_ only: no bump, no invalidation.
  bool insert_locked(const SubPtr& sub);
  bool remove_locked(Subscription& sub);
  // mu_ held exclusively on entry.
  void invalidate_cache_locked(std::string_view pattern);
  void store_locked(std::string_view subject, std::shared_ptr<const MatchResult> result);

  mutable SharedMutex mu_;
  std::unique_ptr<Level> root_;        // guarded by mu_
  size_t count_ = 0;                   // guarded by mu_
  std::atomic<uint64_t> generation_{0};  // written under mu_ (exclusive); bumped by every mutation
  uint64_t rng_state_ = 0x9e3779b97f4a7c15ULL;  // guarded by mu_ (exclusive); eviction picks
  const size_t cache_max_;
  Cache cache_;                        // guarded by mu_
  std::atomic<uint64_t> matches_{0}, cache_hits_{0}, inserts_{0}, removes_{0};
};

}  // namespace pylon::server
