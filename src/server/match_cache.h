// A connection's own cache of match results (the reference's per-client `c.in.results` and,
// for routes, `c.in.pacache`): the publish path's first stop, in front of the account's
// SubIndex and its lock.
//
// Hot path: a hit costs one atomic load (the index's generation, acquire), one hash probe and
// no lock, no allocation and no reference count: the result is used by reference while this
// cache holds it. Only the owning connection's loop touches the cache, so it needs no lock of
// its own. Before, every published message took the index's shared lock and copied a
// shared_ptr, two locked instructions on cache lines every publishing loop shares.
//
// Validity: each account's results are kept with the index generation read before they were
// matched (SubIndex::generation). Any insert or removal in that account bumps it; the next
// lookup in the account then drops all of the account's results and matches afresh. So a
// result is never older than the index was when the generation last changed, which is what the
// shared index cache guarantees too.
//
// Lifetimes (docs/architecture.md, "Lifetimes"): a cached result holds its subscriptions, and
// they hold their connections, so what this cache holds must be bounded in time and size:
//  - its owner clears it on close (on_closed), which breaks the cycle of a connection whose
//    cache names its own subscription; a clear while a result is being delivered from
//    (a Pin is alive: the owner closed inside its own delivery) waits until the Pin goes;
//  - a lookup drops an account's results whose generation is old (a removal happened);
//  - an idle owner is swept by its loop every EventLoop::kSweepInterval: results whose
//    generation is old and accounts not used since the previous sweep are dropped. So a
//    closed subscriber is kept by idle publishers' caches for at most one sweep interval
//    after its removal, and an idle publisher's cache is empty after two;
//  - at most kMaxSubjects results per account (a full account is cleared and refilled: no
//    pathological eviction, and a subject flood costs one clear per kMaxSubjects messages)
//    and kMaxAccounts accounts (a route publishes into many; a client into its own; past it
//    the newest account's results make way for the next);
//  - each account is held strongly while its results are cached, so the index the generation
//    is read from cannot go while it is compared; an account a reload unregistered goes once
//    the sweep found it unused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/core/event_loop.h"
#include "server/sub_index.h"

namespace pylon::server {

class Account;

class MatchCache final : public Sweepable, public std::enable_shared_from_this<MatchCache> {
 public:
  static constexpr size_t kMaxSubjects = 128;  // per account; the reference keeps 512 per client
  static constexpr size_t kMaxAccounts = 16;

  // Keeps results from being dropped while they are delivered from: a clear() meanwhile (the
  // owner closed during its own delivery) is done when the Pin goes. No lookup while pinned:
  // a delivery that publishes again (a service import) matches in the index itself.
  class Pin {
   public:
    explicit Pin(MatchCache& c) noexcept : cache_(c) { ++cache_.pins_; }
    ~Pin() {
      if (--cache_.pins_ == 0 && cache_.clear_pending_) cache_.clear();
    }
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

   private:
    MatchCache& cache_;
  };

  // `loop`: the owner's loop, which sweeps this cache while it holds anything. Owned by a
  // shared_ptr (the loop's sweep list holds it weakly).
  explicit MatchCache(EventLoop& loop) noexcept : loop_(loop) {}
  ~MatchCache() override;
  MatchCache(const MatchCache&) = delete;
  MatchCache& operator=(const MatchCache&) = delete;

  // Owner's loop, not while pinned. The subscriptions interested in `subject` in `account`.
  // The reference stays valid until the next lookup, clear() or sweep(); pin the cache while
  // delivering from it. `account` must be owned by a shared_ptr (the registry's accounts are).
  const MatchResult& lookup(Account& account, std::string_view subject);
  // The same, split for a caller that checks a subject only when it is not cached yet (a
  // client: only valid subjects are stored, so a hit needs no check): find() answers from the
  // cache or returns null; then store(), with no other call between, matches and keeps.
  const MatchResult* find(Account& account, std::string_view subject);
  const MatchResult& store(Account& account, std::string_view subject);

  // Owner's loop. Drops every result (deferred while pinned).
  void clear() noexcept;
  // EventLoop's sweep (owner's loop): drops stale and unused accounts; true while any is left.
  bool sweep() override;

  // For tests and monitoring: subjects cached now, over every account.
  size_t size() const noexcept;

 private:
  // The hot path's hash (match_cache.cc): inline, a word at a time. Not noexcept on purpose:
  // libstdc++ then keeps each node's hash, so a probe compares hashes before subjects.
  struct SubjectHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  using Results = std::unordered_map<std::string, std::shared_ptr<const MatchResult>, SubjectHash, std::equal_to<>>;
  struct Slot {
    std::shared_ptr<Account> account;
    uint64_t generation = 0;  // the account index's generation the results are current for
    bool used = true;         // looked up since the last sweep
    Results results;
  };

  Slot& slot_for(Account& account);
  // Registers with the loop's sweep when going from holding nothing to holding something.
  void held();

  EventLoop& loop_;
  std::vector<Slot> slots_;  // few: a client has one; the first is the most used
  int pins_ = 0;
  bool clear_pending_ = false;
  bool registered_ = false;  // in loop_'s sweep list
};

}  // namespace pylon::server
