// A connection's own cache of match results. See match_cache.h for the validity and lifetime
// rules; docs/architecture.md ("Lifetimes") has the table.
#include "server/match_cache.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "server/account/account.h"
#include "server/core/check.h"

namespace pylon::server {

MatchCache::~MatchCache() = default;

// Every published message hashes its subject here. std::hash (libstdc++'s _Hash_bytes, out of
// line) cost about 85 instructions for a 15-byte subject, more than the rest of the probe;
// this is a multiply and a shift per 8 bytes, inlined into find(). Its spread only has to be
// good enough for at most kMaxSubjects subjects of one publisher's own choosing: a client
// that makes its own subjects collide slows only its own lookups, over that bounded table.
size_t MatchCache::SubjectHash::operator()(std::string_view s) const {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = static_cast<uint64_t>(n) * kMul;
  auto mix = [&h](uint64_t w) {
    h = (h ^ w) * kMul;
    h ^= h >> 32;
  };
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    mix(w);
  }
  if (n >= 4) {
    uint32_t a, b;  // the last 4..7 bytes as two overlapping words
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    mix(a | static_cast<uint64_t>(b) << 32);
  } else if (n > 0) {
    const auto u = [p](size_t i) { return static_cast<uint64_t>(static_cast<unsigned char>(p[i])); };
    mix(u(0) | u(n / 2) << 8 | u(n - 1) << 16);
  }
  return static_cast<size_t>(h);
}

const MatchResult& MatchCache::lookup(Account& account, std::string_view subject) {
  if (const MatchResult* r = find(account, subject)) return *r;
  return store(account, subject);
}

const MatchResult* MatchCache::find(Account& account, std::string_view subject) {
  PYLON_DCHECK_ON_LOOP(loop_);
  PYLON_DCHECK(pins_ == 0);
  // A client publishes into one account: its slot is the first, checked here without a call.
  Slot& slot = !slots_.empty() && slots_.front().account.get() == &account ? slots_.front() : slot_for(account);
  slot.used = true;
  // Read before matching (store() matches after this): a result matched afterwards is at
  // least this new (sub_index.h).
  const uint64_t generation = account.index().generation();
  if (generation != slot.generation) {
    slot.results.clear();
    slot.generation = generation;
    return nullptr;
  }
  auto it = slot.results.find(subject);
  // Hot path: no lock, no allocation, no reference count.
  return it == slot.results.end() ? nullptr : it->second.get();
}

const MatchResult& MatchCache::store(Account& account, std::string_view subject) {
  PYLON_DCHECK(pins_ == 0);
  Slot& slot = slot_for(account);  // the one find() made current
  if (slot.results.size() >= kMaxSubjects) slot.results.clear();
  auto result = account.index().match(subject);
  held();
  return *slot.results.emplace(std::string(subject), std::move(result)).first->second;
}

MatchCache::Slot& MatchCache::slot_for(Account& account) {
  for (Slot& s : slots_) {
    if (s.account.get() == &account) {
      s.used = true;
      return s;
    }
  }
  // Full: the newest account gives way, so with more accounts than slots in turn the others
  // still hit (clearing all would make every message a miss).
  if (slots_.size() >= kMaxAccounts) slots_.pop_back();
  Slot& s = slots_.emplace_back();
  s.account = account.shared_from_this();
  s.generation = account.index().generation();
  return s;
}

void MatchCache::held() {
  if (registered_) return;
  registered_ = true;
  loop_.sweep_while_held(weak_from_this());
}

void MatchCache::clear() noexcept {
  PYLON_DCHECK_ON_LOOP(loop_);
  if (pins_ > 0) {
    clear_pending_ = true;
    return;
  }
  clear_pending_ = false;
  slots_.clear();
}

bool MatchCache::sweep() {
  PYLON_DCHECK_ON_LOOP(loop_);
  PYLON_DCHECK(pins_ == 0);
  std::erase_if(slots_, [](Slot& s) {
    if (!s.used || s.account->index().generation() != s.generation) return true;
    s.used = false;
    return false;
  });
  registered_ = !slots_.empty();
  return registered_;
}

size_t MatchCache::size() const noexcept {
  size_t n = 0;
  for (const Slot& s : slots_) n += s.results.size();
  return n;
}

}  // namespace pylon::server
