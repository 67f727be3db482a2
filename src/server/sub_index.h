// The subscription index: subject -> interested subscriptions, local and remote.
//
// A token trie (literal tokens, '*' and '>' nodes) answers "who is interested in this
// literal subject". In front of it sits a match-result cache keyed by subject, so a hot
// subject costs one hash probe. The cache is invalidated next to every mutation: an insert
// or removal drops exactly the cached subjects its pattern matches.
//
// Locking: one std::shared_mutex. match() takes it shared (cache hit or trie walk) and,
// on a miss, briefly exclusive to store the result; insert()/remove() take it exclusive.
// Results are immutable and shared (std::shared_ptr<const MatchResult>), so a publisher keeps
// using its result after the lock is released, even if the index changes meanwhile.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pylon::server {

class Subscriber;  // a connection that receives messages (client or route); see subscription.h

// One subscription: a client's SUB, or a route's RS+ (remote interest, with queue weight).
struct Subscription {
  Subscriber* owner = nullptr;  // the connection; outlives the subscription's presence in the index
  std::shared_ptr<void> owner_ref;  // keeps the owner alive while a match result holds this sub
  std::string subject;
  std::string queue;            // empty for a plain subscription
  std::string sid;              // client-chosen id (clients) / "<account> <subject>[ <queue>]" key (routes)
  std::atomic<int32_t> weight{1};    // queue weight: 1 for a client, member count for a route
  std::atomic<int64_t> max_msgs{0};  // auto-unsubscribe after this many (0: none)
  std::atomic<int64_t> delivered{0};
  std::atomic<bool> closed{false};   // removed; a holder of an old match result must skip it
};

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
  void insert(const SubPtr& sub);
  // Returns false when the subscription was not in the index.
  bool remove(const SubPtr& sub);

  // All subscriptions matching a literal subject. Never null.
  std::shared_ptr<const MatchResult> match(std::string_view subject);

  size_t count() const;        // subscriptions in the index
  size_t cache_size() const;   // cached subjects
  uint64_t matches() const noexcept { return matches_.load(std::memory_order_relaxed); }
  uint64_t cache_hits() const noexcept { return cache_hits_.load(std::memory_order_relaxed); }
  uint64_t inserts() const noexcept { return inserts_.load(std::memory_order_relaxed); }
  uint64_t removes() const noexcept { return removes_.load(std::memory_order_relaxed); }

  // Every subscription (for monitoring and for sending interest to a new route).
  std::vector<SubPtr> all() const;

 private:
  struct Node;
  struct Level;
  std::shared_ptr<const MatchResult> match_locked(std::string_view subject) const;

  mutable std::shared_mutex mu_;
  std::unique_ptr<Level> root_;
  size_t count_ = 0;
  size_t cache_max_;
  std::unordered_map<std::string, std::shared_ptr<const MatchResult>> cache_;
  std::atomic<uint64_t> matches_{0}, cache_hits_{0}, inserts_{0}, removes_{0};
};

}  // namespace pylon::server
