// A route's remote interest by sid: an open-addressing hash table (linear probing, the hash
// kept in each slot, deletion by backward shift, so no tombstones).
//
// Why not std::unordered_set: a node joining a cluster takes a million RS+ in a row (issue 14
// §4), each a lookup that misses and then an insert. A node-based table pays per entry a heap
// node (a 64-byte chunk, and the heap's growth under it) and, per probe, the bucket, the node
// and its neighbours: three random cache lines. Here an entry is its slot (the hash and the
// value, 32 bytes for a route: two slots a cache line), a probe reads consecutive slots and
// compares hashes before it looks at a key, and growth moves slots without allocating per entry.
//
// `Value` is default-constructible (an empty slot holds a default one) and movable;
// `KeyOf(const Value&)` returns its key as a std::string_view, which must stay put while the
// value is in the table (for a route: the subscription's sid, inside the subscription).
// The caller hashes a key once and passes the hash to every call (std::hash<string_view>).
// Not thread-safe: its owner locks around it (RouteConn::subs_mu_).
//
// Load: at most 3/4 of the slots are used (then the table doubles), so a lookup that misses
// reads a few slots on average; the capacity is a power of two, the slot the hash's low bits.
// When removals leave fewer than 1/8 used, it shrinks to about half full, and when the last
// entry goes it frees its slots: a route whose peer once held a million subscriptions does
// not keep their 64 MiB after they are gone. (Growing at 3/4 and shrinking at 1/8 means a run
// of inserts and removals around one size never rehashes back and forth.)
//
// Memory: a slot array of 2 MiB or more (65,536 route entries) is mapped on its own, aligned
// to 2 MiB and marked MADV_HUGEPAGE, so the kernel may back it with transparent huge pages
// (with THP in "madvise" mode, Debian's default). On the VM this was measured on, a 4 KiB page
// fault cost about 16 µs, and faulting in fresh heap was a third of a joining node's CPU
// (docs/performance.md); a million entries' 64 MiB array is 32 faults instead of 16,384.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <utility>

#include <sys/mman.h>

namespace pylon::server {

template <typename Value, typename KeyOf>
class FlatSidTable {
 public:
  FlatSidTable() = default;
  ~FlatSidTable() { release(slots_, capacity()); }
  FlatSidTable(const FlatSidTable&) = delete;
  FlatSidTable& operator=(const FlatSidTable&) = delete;
  FlatSidTable(FlatSidTable&& o) noexcept { swap(o); }
  FlatSidTable& operator=(FlatSidTable&& o) noexcept {
    FlatSidTable tmp(std::move(o));
    swap(tmp);
    return *this;
  }

  void swap(FlatSidTable& o) noexcept {
    std::swap(slots_, o.slots_);
    std::swap(mask_, o.mask_);
    std::swap(size_, o.size_);
  }

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  size_t capacity() const noexcept { return slots_ != nullptr ? mask_ + 1 : 0; }

  // The value whose key is `key` (hashed to `hash`), or null. Valid until the next change.
  Value* find(std::string_view key, size_t hash) noexcept {
    if (size_ == 0) return nullptr;
    const size_t h = stored(hash);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.hash == 0) return nullptr;
      if (s.hash == h && KeyOf{}(s.value) == key) return &s.value;
    }
  }
  const Value* find(std::string_view key, size_t hash) const noexcept {
    return const_cast<FlatSidTable*>(this)->find(key, hash);
  }

  // Adds `value`, whose key hashes to `hash` and is not in the table (the caller looked).
  Value& insert_new(size_t hash, Value value) {
    if ((size_ + 1) * 4 > capacity() * 3) grow();
    const size_t h = stored(hash);
    size_t i = h & mask_;
    while (slots_[i].hash != 0) i = (i + 1) & mask_;
    slots_[i].hash = h;
    slots_[i].value = std::move(value);
    ++size_;
    return slots_[i].value;
  }

  // Removes the value whose key is `key` and hands it back; false when there is none.
  bool extract(std::string_view key, size_t hash, Value& out) {
    if (size_ == 0) return false;
    const size_t h = stored(hash);
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.hash == 0) return false;
      if (s.hash == h && KeyOf{}(s.value) == key) break;
    }
    out = std::move(slots_[i].value);
    erase_slot(i);
    if (size_ == 0) {
      release(slots_, capacity());
      slots_ = nullptr;
      mask_ = 0;
    } else if (capacity() > kMinCapacity && size_ * 8 < capacity()) {
      size_t cap = kMinCapacity;
      while (cap < size_ * 2) cap *= 2;
      rehash(cap);
    }
    return true;
  }

  // Calls f(value) for every value, in slot order.
  template <typename F>
  void for_each(F&& f) const {
    if (slots_ == nullptr) return;
    for (size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].hash != 0) f(slots_[i].value);
    }
  }

 private:
  struct Slot {
    size_t hash = 0;  // 0: empty; else stored(hash of the value's key)
    Value value{};
  };

  // 0 marks an empty slot, so a key hashing to 0 is stored as 1 (it probes from slot 1 too).
  static size_t stored(size_t hash) noexcept { return hash != 0 ? hash : 1; }

  void grow() { rehash(capacity() == 0 ? kMinCapacity : capacity() * 2); }

  // Moves every entry into a new array of `cap` slots (a power of two, room for them all).
  void rehash(size_t cap) {
    const size_t old_cap = capacity();
    Slot* old = slots_;
    slots_ = allocate(cap);
    mask_ = cap - 1;
    for (size_t j = 0; j < old_cap; ++j) {
      if (old[j].hash == 0) continue;
      size_t i = old[j].hash & mask_;
      while (slots_[i].hash != 0) i = (i + 1) & mask_;
      slots_[i].hash = old[j].hash;
      slots_[i].value = std::move(old[j].value);
    }
    release(old, old_cap);
  }

  static constexpr size_t kHugePage = size_t{2} << 20;
  static bool mapped(size_t n) noexcept { return n * sizeof(Slot) >= kHugePage; }
  static size_t mapped_bytes(size_t n) noexcept { return (n * sizeof(Slot) + kHugePage - 1) & ~(kHugePage - 1); }

  // n value-initialized (empty) slots.
  static Slot* allocate(size_t n) {
    void* mem;
    if (!mapped(n)) {
      mem = ::operator new(n * sizeof(Slot), std::align_val_t{alignof(Slot)});
    } else {
      // Over-map by a huge page and trim both ends, so the array starts on a 2 MiB boundary.
      const size_t bytes = mapped_bytes(n);
      void* raw = ::mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (raw == MAP_FAILED) throw std::bad_alloc();
      const auto start = reinterpret_cast<uintptr_t>(raw);
      const uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
      if (aligned > start) ::munmap(raw, aligned - start);
      const uintptr_t end = start + bytes + kHugePage;
      if (end > aligned + bytes) ::munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
      mem = reinterpret_cast<void*>(aligned);
      ::madvise(mem, bytes, MADV_HUGEPAGE);  // advice only: without THP the pages are 4 KiB
    }
    Slot* slots = static_cast<Slot*>(mem);
    for (size_t i = 0; i < n; ++i) new (&slots[i]) Slot();
    return slots;
  }
  static void release(Slot* slots, size_t n) noexcept {
    if (slots == nullptr) return;
    for (size_t i = 0; i < n; ++i) slots[i].~Slot();
    if (mapped(n)) {
      ::munmap(slots, mapped_bytes(n));
    } else {
      ::operator delete(slots, std::align_val_t{alignof(Slot)});
    }
  }

  // Backward shift: the entries after slot `i` in its run move up into the hole when their
  // home slot does not lie (cyclically) between the hole and themselves, so every entry stays
  // reachable from its home slot with no empty slot in between, and no tombstone is left.
  void erase_slot(size_t i) {
    size_t hole = i;
    for (size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      Slot& s = slots_[j];
      if (s.hash == 0) break;
      const size_t home = s.hash & mask_;
      // Cyclically: the entry may move into the hole only if the hole lies on its probe
      // path, home .. j, i.e. it is no farther back from j than the entry's home is.
      if (((j - home) & mask_) >= ((j - hole) & mask_)) {
        slots_[hole].hash = s.hash;
        slots_[hole].value = std::move(s.value);
        hole = j;
      }
    }
    slots_[hole].hash = 0;
    slots_[hole].value = Value{};
    --size_;
  }

  static constexpr size_t kMinCapacity = 16;
  Slot* slots_ = nullptr;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace pylon::server
