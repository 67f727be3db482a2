// A connection's own cache of match results. See match_cache.h for the validity and lifetime
// rules; docs/architecture.md ("Lifetimes") has the table.
#include "server/match_cache.h"

#include <algorithm>

#include "server/account/account.h"
#include "server/core/check.h"

namespace pylon::server {

MatchCache::~MatchCache() = default;

const MatchResult& MatchCache::lookup(Account& account, std::string_view subject) {
  if (const MatchResult* r = find(account, subject)) return *r;
  return store(account, subject);
}

const MatchResult* MatchCache::find(Account& account, std::string_view subject) {
  PYLON_DCHECK_ON_LOOP(loop_);
  PYLON_DCHECK(pins_ == 0);
  Slot& slot = slot_for(account);
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
