// The server's open clients by client id (cid), sharded so that accepts and closes on
// different event loops rarely meet on one lock, and so no single table ever rehashes more
// than its share of the entries.
//
// Why: with one `unordered_map` under `Server::mu_`, every accept and every close on every loop
// took that one lock, and each doubling of the table relinked every entry while holding it: at
// a million clients one accept waited for a million nodes to be relinked (docs/performance.md,
// the projection for 16 and 64 cores). Here a cid goes to shard cid % kShards; each shard has
// its own mutex and table, on a cache line of its own. A rehash relinks 1/kShards of the
// entries and blocks only the adds and removes that fall in that shard.
//
// Invariants and locking:
//  - `size()` is an atomic count of the entries (monitoring reads it with no lock);
//  - `add` checks the limit by reserving a place in the count first, so the registry never
//    holds more than `max` (two adds racing for the last place may both be refused: a limit
//    reached by a hair's breadth refuses, it never over-admits);
//  - `close()` refuses every later add. An add that passed the check did so under its shard's
//    lock, and close() takes every shard's lock after setting the flag, so once close()
//    returns, every client that was ever admitted is in the table, and a `snapshot()` taken
//    then sees it (the server's shutdown closes exactly those);
//  - a shard's lock is a leaf: nothing else is taken under it, and the entries' destructors
//    never run under it (remove moves the entry out first).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pylon::server {

template <class Client>
class ClientRegistry {
 public:
  // 64 shards: at 64 event loops, two accepts or closes meet on one lock with probability
  // 1/64; the table per shard at a million clients is about 16,000 entries.
  static constexpr size_t kShards = 64;

  // Adds `c` under `cid`; false when closed, or when `max` > 0 and `max` clients are in.
  bool add(uint64_t cid, std::shared_ptr<Client> c, size_t max) {
    if (max > 0) {
      if (size_.fetch_add(1, std::memory_order_acq_rel) >= max) {
        size_.fetch_sub(1, std::memory_order_acq_rel);
        return false;
      }
    } else {
      size_.fetch_add(1, std::memory_order_acq_rel);
    }
    Shard& s = shard(cid);
    {
      std::lock_guard lk(s.mu);
      if (!closed_.load(std::memory_order_acquire)) {
        s.clients.emplace(cid, std::move(c));
        return true;
      }
    }
    size_.fetch_sub(1, std::memory_order_acq_rel);
    return false;
  }

  // Removes the client `cid` (nothing when absent). True when this made the registry empty.
  bool remove(uint64_t cid) {
    std::shared_ptr<Client> gone;  // dropped after the shard's lock is released
    Shard& s = shard(cid);
    {
      std::lock_guard lk(s.mu);
      auto it = s.clients.find(cid);
      if (it == s.clients.end()) return false;
      gone = std::move(it->second);
      s.clients.erase(it);
    }
    return size_.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }

  size_t size() const noexcept { return size_.load(std::memory_order_acquire); }

  // Every client in, shard by shard (each shard's lock held only while its part is copied):
  // a client added or removed meanwhile may or may not be in it.
  std::vector<std::shared_ptr<Client>> snapshot() const {
    std::vector<std::shared_ptr<Client>> out;
    out.reserve(size());
    for (const Shard& s : shards_) {
      std::lock_guard lk(s.mu);
      for (const auto& [cid, c] : s.clients) out.push_back(c);
    }
    return out;
  }

  // True once close() was called: every add is refused since.
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // Refuses every add from now on (see the invariants).
  void close() {
    closed_.store(true, std::memory_order_release);
    for (Shard& s : shards_) {
      std::lock_guard lk(s.mu);  // an add that saw the flag clear has finished its insert
    }
  }

  // Drops every entry (shutdown, after the clients closed or the wait for them ran out).
  void clear() {
    for (Shard& s : shards_) {
      std::unordered_map<uint64_t, std::shared_ptr<Client>> gone;
      {
        std::lock_guard lk(s.mu);
        gone.swap(s.clients);
      }
      size_.fetch_sub(gone.size(), std::memory_order_acq_rel);
    }
  }

 private:
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<uint64_t, std::shared_ptr<Client>> clients;
  };
  Shard& shard(uint64_t cid) noexcept { return shards_[cid % kShards]; }

  std::array<Shard, kShards> shards_;
  std::atomic<size_t> size_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace pylon::server
