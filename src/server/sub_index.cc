// The subscription index: a token trie with a match-result cache in front. See sub_index.h
// for the locking and cache rules; the matching semantics follow the reference's sublist.go.
#include "server/sub_index.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <mutex>
#include <span>

#include "proto/subject.h"
#include "server/core/compact_string.h"

namespace pylon::server {

namespace {

constexpr std::string_view kPartialWildcard = "*";  // exactly one token
constexpr std::string_view kFullWildcard = ">";     // one or more tokens, last only

bool is_wildcard_token(std::string_view t) noexcept {
  return t == kPartialWildcard || t == kFullWildcard;
}

bool has_wildcard_token(std::string_view subject) noexcept {
  proto::Tokens toks(subject);
  std::string_view t;
  while (toks.next(t)) {
    if (is_wildcard_token(t)) return true;
  }
  return false;
}

// True when `pattern` (which may hold wildcards) matches `subject`, with the same rules as
// the trie walk: a '*' or '>' token in `subject` is taken literally (a pattern's '*' matches
// it like any other token). This runs for every cached subject on a wildcard insert or
// removal, so it is one pass over the bytes with no library calls (memchr per token cost
// twice as much). `p` and `s` sit at the start of a token; past the end means "no more tokens".
bool pattern_matches(std::string_view pattern, std::string_view subject) noexcept {
  const size_t pn = pattern.size(), sn = subject.size();
  size_t p = 0, s = 0;
  while (p <= pn) {
    if (s > sn) return false;  // the pattern has more tokens than the subject
    if (p < pn && (p + 1 == pn || pattern[p + 1] == '.')) {
      if (pattern[p] == '>') return true;  // and the subject has at least one token left
      if (pattern[p] == '*') {
        while (s < sn && subject[s] != '.') ++s;
        p += 2;
        s += 1;
        continue;
      }
    }
    while (p < pn && pattern[p] != '.') {
      if (s >= sn || subject[s] != pattern[p]) return false;
      ++p;
      ++s;
    }
    if (s < sn && subject[s] != '.') return false;  // the subject's token is longer
    ++p;
    ++s;
  }
  return s > sn;  // and the subject has no tokens left
}

// The subscriptions of one trie node (plain, or one queue group): O(1) add, remove and
// membership, and contiguous members so a match copies them out with no hashing.
//
// Memory at scale (docs/performance.md): a node with a single subscription keeps it in the
// node itself (Node::one); a set exists once a node has two or more, and then often holds
// one plain member beside a queue group's, so one member sits inline, with no allocation; a
// second moves both into `many_`. There small sets find members by a linear scan; past kIndexFrom members a
// pointer -> position map takes over, so a subject with 100k subscribers does not make
// removal quadratic. Removal moves the last member into the hole, so order is not preserved.
class SubSet {
 public:
  bool empty() const noexcept { return !one_ && !many_; }
  std::span<const SubPtr> items() const noexcept {
    if (many_) return many_->items;
    if (one_) return {&one_, 1};
    return {};
  }

  // False when `sub` is already a member.
  bool add(const SubPtr& sub) {
    if (!many_) {
      if (!one_) {
        one_ = sub;
        return true;
      }
      if (one_ == sub) return false;
      many_ = std::make_unique<Many>();
      many_->items.reserve(2);
      many_->items.push_back(std::move(one_));  // one_ is null from here on
    }
    return many_->add(sub);
  }

  // False when `sub` is not a member.
  bool erase(const Subscription* sub) {
    if (!many_) {
      if (!one_ || one_.get() != sub) return false;
      one_.reset();
      return true;
    }
    if (!many_->erase(sub)) return false;
    if (many_->items.size() == 1) {  // back to one member: inline again
      one_ = std::move(many_->items.front());
      many_.reset();
    }
    return true;
  }

 private:
  // Two or more members.
  struct Many {
    static constexpr size_t kIndexFrom = 16;
    static constexpr size_t kNone = static_cast<size_t>(-1);
    std::vector<SubPtr> items;
    std::unordered_map<const Subscription*, size_t> pos;  // empty while the set is small

    size_t find(const Subscription* sub) const {
      if (!pos.empty()) {
        auto it = pos.find(sub);
        return it == pos.end() ? kNone : it->second;
      }
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].get() == sub) return i;
      }
      return kNone;
    }
    bool add(const SubPtr& sub) {
      if (find(sub.get()) != kNone) return false;
      items.push_back(sub);
      if (!pos.empty()) {
        pos.emplace(sub.get(), items.size() - 1);
      } else if (items.size() > kIndexFrom) {
        for (size_t i = 0; i < items.size(); ++i) pos.emplace(items[i].get(), i);
      }
      return true;
    }
    bool erase(const Subscription* sub) {
      size_t i = find(sub);
      if (i == kNone) return false;
      if (i != items.size() - 1) {
        items[i] = std::move(items.back());
        if (!pos.empty()) pos[items[i].get()] = i;
      }
      items.pop_back();
      if (!pos.empty()) {
        pos.erase(sub);
        if (items.size() < kIndexFrom / 2) pos.clear();  // hysteresis: no rebuild ping-pong
      }
      return true;
    }
  };

  SubPtr one_;                  // the only member, while there is exactly one
  std::unique_ptr<Many> many_;  // two or more (then one_ is null)
};

// The queue groups of one node: a list, since a node has few (usually none or one), and an
// empty list costs one pointer. A group is never empty (the last member's removal unlinks
// it), so its name is its first member's queue: no copy of the name.
struct QueueGroup {
  SubSet members;
  std::unique_ptr<QueueGroup> next;

  std::string_view name() const noexcept { return members.items().front()->queue(); }
};

// The subscriptions of a node that has two or more: the plain ones, and the queue groups.
struct NodeSubs {
  SubSet plain;
  std::unique_ptr<QueueGroup> queues;

  bool add(const SubPtr& sub) {
    if (sub->queue().empty()) return plain.add(sub);
    std::unique_ptr<QueueGroup>* slot = &queues;
    for (; *slot; slot = &(*slot)->next) {
      if ((*slot)->name() == sub->queue()) return (*slot)->members.add(sub);
    }
    *slot = std::make_unique<QueueGroup>();
    return (*slot)->members.add(sub);
  }

  bool remove(const Subscription& sub) {
    if (sub.queue().empty()) return plain.erase(&sub);
    for (std::unique_ptr<QueueGroup>* slot = &queues; *slot; slot = &(*slot)->next) {
      QueueGroup& g = **slot;
      if (g.name() != sub.queue()) continue;
      if (!g.members.erase(&sub)) return false;
      if (g.members.empty()) *slot = std::move(g.next);  // unlinks and frees the group
      return true;
    }
    return false;
  }

  // The only subscription left, plain or queue; null when there are more (or none).
  SubPtr only() const {
    const auto subs = plain.items();
    if (!queues) return subs.size() == 1 ? subs.front() : nullptr;
    if (!subs.empty() || queues->next) return nullptr;
    const auto members = queues->members.items();
    return members.size() == 1 ? members.front() : nullptr;
  }
};

const std::shared_ptr<const MatchResult>& empty_result() {
  static const std::shared_ptr<const MatchResult> empty = std::make_shared<const MatchResult>();
  return empty;
}

// Builds one MatchResult from the nodes a trie walk reaches. Queue members are merged by
// group name across nodes, so a queue group subscribed on "a.*" and "a.b" is one group.
class ResultBuilder {
 public:
  // A node's subscriptions: its only one, or else its NodeSubs (either may be null).
  void add(const SubPtr& one, const NodeSubs* many) {
    if (one) {
      if (one->queue().empty()) {
        result().plain.push_back(one);
      } else {
        add_queue_members(one->queue(), {&one, 1});
      }
      return;
    }
    if (many == nullptr) return;
    if (!many->plain.empty()) {
      const auto subs = many->plain.items();
      result().plain.insert(result().plain.end(), subs.begin(), subs.end());
    }
    for (const QueueGroup* g = many->queues.get(); g != nullptr; g = g->next.get()) {
      add_queue_members(g->name(), g->members.items());
    }
  }

  // The shared empty result when nothing matched: no allocation for subjects without interest.
  std::shared_ptr<const MatchResult> finish() {
    if (!result_) return empty_result();
    return std::move(result_);
  }

 private:
  void add_queue_members(std::string_view name, std::span<const SubPtr> subs) {
    auto& groups = result().queues;
    size_t i = 0;
    while (i < groups.size() && groups[i].front()->queue() != name) ++i;
    if (i == groups.size()) groups.emplace_back();
    groups[i].insert(groups[i].end(), subs.begin(), subs.end());
  }
  MatchResult& result() {
    if (!result_) result_ = std::make_shared<MatchResult>();
    return *result_;
  }
  std::shared_ptr<MatchResult> result_;
};

}  // namespace

// One token of a subscription subject on one path: the subscriptions that end here and the
// level of tokens that follow. A node with neither is pruned by remove(). 32 bytes, stored
// in its parent level's hash node (no allocation of its own for a literal token).
//
// Memory at scale (docs/performance.md): most nodes where a subject ends hold exactly one
// subscription (a subject one client subscribed to), plain or in a queue group; it sits in
// `one`, with no allocation. A second moves both into `many`; when removals leave one, it
// moves back. Invariant: at most one of `one` and `many` is set.
struct SubIndex::Node {
  std::unique_ptr<Level> next;  // null when no subscription continues past this token
  SubPtr one;
  std::unique_ptr<NodeSubs> many;

  bool empty() const noexcept { return !one && !many && !next; }

  // False when `sub` is already here.
  bool add(const SubPtr& sub) {
    if (!many) {
      if (!one) {
        one = sub;
        return true;
      }
      if (one == sub) return false;
      many = std::make_unique<NodeSubs>();
      many->add(one);
      one.reset();
    }
    return many->add(sub);
  }

  // False when `sub` is not here.
  bool remove(const Subscription& sub) {
    if (!many) {
      if (one.get() != &sub) return false;
      one.reset();
      return true;
    }
    if (!many->remove(sub)) return false;
    if (SubPtr last = many->only()) {  // back to one: inline again
      one = std::move(last);
      many.reset();
    }
    return true;
  }

  // Calls visit(const SubPtr&) for each subscription here.
  template <typename F>
  void for_each_sub(const F& visit) const {
    if (one) visit(one);
    if (!many) return;
    for (const SubPtr& s : many->plain.items()) visit(s);
    for (const QueueGroup* g = many->queues.get(); g != nullptr; g = g->next.get()) {
      for (const SubPtr& s : g->members.items()) visit(s);
    }
  }
};

// The children of one node (or of the root): literal tokens by hash, plus at most one '*'
// and one '>' child, as in the reference. A literal child lives in its hash node, whose
// address never changes (std::unordered_map keeps references stable across rehashing).
// The token is a 16-byte CompactString (inline up to 15 characters), so the hash node is
// 56 bytes: one 64-byte malloc chunk. TokenHash is noexcept and cheap, so libstdc++ does not
// store the hash in the node.
struct SubIndex::Level {
  struct TokenHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    size_t operator()(const CompactString& s) const noexcept { return (*this)(s.view()); }
  };
  std::unordered_map<CompactString, Node, TokenHash, std::equal_to<>> literals;
  std::unique_ptr<Node> pwc;  // '*'
  std::unique_ptr<Node> fwc;  // '>'

  bool empty() const noexcept { return literals.empty() && !pwc && !fwc; }

  // The child for a subscription token ('*' and '>' are the wildcard children).
  Node* child(std::string_view token) {
    if (token == kPartialWildcard) return pwc.get();
    if (token == kFullWildcard) return fwc.get();
    return literal(token);
  }

  // The child for a token of a literal subject: wildcards are not special here.
  const Node* literal(std::string_view token) const {
    auto it = literals.find(token);  // transparent: no std::string built
    return it == literals.end() ? nullptr : &it->second;
  }
  Node* literal(std::string_view token) {
    auto it = literals.find(token);
    return it == literals.end() ? nullptr : &it->second;
  }

  Node& child_or_create(std::string_view token) {
    std::unique_ptr<Node>* slot;
    if (token == kPartialWildcard) {
      slot = &pwc;
    } else if (token == kFullWildcard) {
      slot = &fwc;
    } else {
      auto it = literals.find(token);
      if (it != literals.end()) return it->second;
      return literals.try_emplace(CompactString(token)).first->second;
    }
    if (!*slot) *slot = std::make_unique<Node>();
    return **slot;
  }

  void erase_child(std::string_view token) {
    if (token == kPartialWildcard) {
      pwc.reset();
    } else if (token == kFullWildcard) {
      fwc.reset();
    } else if (auto it = literals.find(token); it != literals.end()) {
      literals.erase(it);
    }
  }

  // The reference's matchLevel: at each level a '>' child matches all the remaining tokens,
  // a '*' child matches this token (recurse with the rest), and the literal child continues
  // the walk. `toks` is a literal subject's tokens, none empty.
  void collect(std::span<const std::string_view> toks, ResultBuilder& out) const {
    const Level* l = this;
    const Node* n = nullptr;
    const Node* star = nullptr;
    for (size_t i = 0; i < toks.size(); ++i) {
      if (l == nullptr) return;
      if (l->fwc) out.add(l->fwc->one, l->fwc->many.get());
      star = l->pwc.get();
      if (star != nullptr && star->next && i + 1 < toks.size()) {
        star->next->collect(toks.subspan(i + 1), out);
      }
      n = l->literal(toks[i]);
      l = n != nullptr ? n->next.get() : nullptr;
    }
    if (n != nullptr) out.add(n->one, n->many.get());
    if (star != nullptr) out.add(star->one, star->many.get());
  }

  // Follows `sub`'s path from this level (`token` is its next token, `rest` the ones after)
  // and removes it where the path ends; on the way back up, drops every node and level the
  // removal left empty, so churn of unique subjects does not grow the trie.
  // Returns false when `sub` was not there.
  bool remove(std::string_view token, proto::Tokens& rest, const Subscription& sub) {
    Node* n = child(token);
    if (n == nullptr) return false;
    std::string_view next_token;
    bool found;
    if (rest.next(next_token)) {
      found = n->next && n->next->remove(next_token, rest, sub);
      if (found && n->next->empty()) n->next.reset();
    } else {
      found = n->remove(sub);
    }
    if (found && n->empty()) erase_child(token);
    return found;
  }

  // Calls visit(const Node&) for every node below this level, depth first.
  template <typename F>
  void for_each_node(const F& visit) const {
    auto descend = [&](const Node& n) {
      visit(n);
      if (n.next) n.next->for_each_node(visit);
    };
    for (const auto& entry : literals) descend(entry.second);
    if (pwc) descend(*pwc);
    if (fwc) descend(*fwc);
  }
};


SubIndex::SubIndex(size_t cache_max) : root_(std::make_unique<Level>()), cache_max_(cache_max) {
  // Up to 64k subjects' buckets up front; a larger cache grows (and stays near load factor 1,
  // which the random eviction relies on) as it fills.
  cache_.reserve(std::min<size_t>(cache_max_, size_t{1} << 16));
}

SubIndex::~SubIndex() = default;

void SubIndex::insert(const SubPtr& sub) {
  assert(sub && !sub->subject().empty());
  std::unique_lock lock(mu_);
  if (!insert_locked(sub)) return;  // already in the index: nothing changed
  generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  inserts_.fetch_add(1, std::memory_order_relaxed);
  invalidate_cache_locked(sub->subject());
}

bool SubIndex::remove(const SubPtr& sub) {
  if (!sub) return false;
  std::unique_lock lock(mu_);
  if (!remove_locked(*sub)) return false;
  generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  removes_.fetch_add(1, std::memory_order_relaxed);
  invalidate_cache_locked(sub->subject());
  return true;
}

bool SubIndex::insert_locked(const SubPtr& sub) {
  Level* l = root_.get();
  Node* n = nullptr;
  proto::Tokens toks(sub->subject());
  std::string_view t;
  while (toks.next(t)) {
    if (n != nullptr) {
      if (!n->next) n->next = std::make_unique<Level>();
      l = n->next.get();
    }
    n = &l->child_or_create(t);
  }
  if (!n->add(sub)) return false;
  sub->closed.store(false, std::memory_order_relaxed);
  ++count_;
  return true;
}

bool SubIndex::remove_locked(Subscription& sub) {
  proto::Tokens toks(sub.subject());
  std::string_view first;
  toks.next(first);
  if (!root_->remove(first, toks, sub)) return false;
  // Holders of an earlier match result skip it from now on.
  sub.closed.store(true, std::memory_order_relaxed);
  --count_;
  return true;
}

size_t SubIndex::apply(std::span<const Change> changes) {
  // Past this many wildcard patterns in one batch, dropping the whole cache costs less than
  // scanning it once per pattern (a batch is a read's worth of RS+, up to hundreds).
  constexpr size_t kWildcardScans = 8;
  std::unique_lock lock(mu_);
  size_t inserted = 0, removed = 0;
  for (const Change& c : changes) {
    assert(c.sub && !c.sub->subject().empty());
    if (c.remove) {
      removed += remove_locked(*c.sub) ? 1 : 0;
    } else {
      inserted += insert_locked(c.sub) ? 1 : 0;
    }
  }
  if (inserted + removed == 0) return 0;
  generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  inserts_.fetch_add(inserted, std::memory_order_relaxed);
  removes_.fetch_add(removed, std::memory_order_relaxed);
  if (cache_.empty()) return inserted + removed;
  size_t wildcards = 0;
  for (const Change& c : changes) wildcards += has_wildcard_token(c.sub->subject()) ? 1 : 0;
  if (wildcards > kWildcardScans) {
    cache_.clear();
  } else {
    // A change that did not change the index drops its cached subjects too: harmless.
    for (const Change& c : changes) invalidate_cache_locked(c.sub->subject());
  }
  return inserted + removed;
}

// Hot path. A hit costs the shared lock, one hash probe (no allocation: transparent lookup)
// and a reference-count increment.
std::shared_ptr<const MatchResult> SubIndex::match(std::string_view subject) {
  matches_.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const MatchResult> result;
  uint64_t generation;
  {
    std::shared_lock lock(mu_);
    if (cache_max_ > 0) {
      auto it = cache_.find(subject);
      if (it != cache_.end()) {
        cache_hits_.fetch_add(1, std::memory_order_relaxed);
        return it->second;
      }
    }
    generation = generation_.load(std::memory_order_relaxed);
    result = match_locked(subject);
  }
  if (!result) return empty_result();  // not a valid subject: nothing to cache
  if (cache_max_ > 0) {
    std::unique_lock lock(mu_);
    // A mutation between the two locks may have changed the answer; store only a result
    // that is still current (the next match recomputes otherwise).
    if (generation_.load(std::memory_order_relaxed) == generation) store_locked(subject, result);
  }
  return result;
}

// Returns null for a subject with an empty token (not a valid literal subject).
// mu_ held (shared or exclusive) on entry.
std::shared_ptr<const MatchResult> SubIndex::match_locked(std::string_view subject) const {
  // Tokens on the stack for all but very long subjects: no allocation on the miss path
  // besides the result itself.
  constexpr size_t kInlineTokens = 32;
  std::array<std::string_view, kInlineTokens> inline_tokens;
  std::vector<std::string_view> long_tokens;
  size_t n = 0;
  proto::Tokens toks(subject);
  std::string_view t;
  while (toks.next(t)) {
    if (t.empty()) return nullptr;
    if (n < kInlineTokens) {
      inline_tokens[n] = t;
    } else {
      if (long_tokens.empty()) long_tokens.assign(inline_tokens.begin(), inline_tokens.end());
      long_tokens.push_back(t);
    }
    ++n;
  }
  std::span<const std::string_view> tokens =
      n <= kInlineTokens ? std::span<const std::string_view>(inline_tokens.data(), n)
                         : std::span<const std::string_view>(long_tokens);
  ResultBuilder builder;
  root_->collect(tokens, builder);
  return builder.finish();
}

// Drops every cached subject that `pattern` matches: the one key for a literal pattern, a
// scan of the (bounded) cache for a wildcard one. mu_ held exclusively on entry.
void SubIndex::invalidate_cache_locked(std::string_view pattern) {
  if (cache_.empty()) return;
  if (!has_wildcard_token(pattern)) {
    if (auto it = cache_.find(pattern); it != cache_.end()) cache_.erase(it);
    return;
  }
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (pattern_matches(pattern, it->first)) {
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
}

// mu_ held exclusively on entry.
void SubIndex::store_locked(std::string_view subject, std::shared_ptr<const MatchResult> result) {
  if (cache_.find(subject) != cache_.end()) return;  // another miss of the same generation won
  if (cache_.size() >= cache_max_) {
    // Evict one entry at random: the first entry of a random non-empty bucket. The load
    // factor is near 1 when the cache is full, so this probes about two buckets.
    rng_state_ ^= rng_state_ << 13;
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    const size_t buckets = cache_.bucket_count();
    size_t b = rng_state_ % buckets;
    while (cache_.bucket_size(b) == 0) b = (b + 1) % buckets;
    cache_.erase(cache_.find(cache_.begin(b)->first));
  }
  cache_.emplace(std::string(subject), std::move(result));
}

size_t SubIndex::count() const {
  std::shared_lock lock(mu_);
  return count_;
}

size_t SubIndex::cache_size() const {
  std::shared_lock lock(mu_);
  return cache_.size();
}

SubIndex::CacheFanout SubIndex::cache_fanout() const {
  std::shared_lock lock(mu_);
  CacheFanout f;
  for (const auto& [subject, result] : cache_) {
    size_t n = result->plain.size() + result->queues.size();
    ++f.entries;
    f.total += n;
    f.max = std::max(f.max, n);
  }
  return f;
}

std::vector<SubPtr> SubIndex::all() const {
  std::shared_lock lock(mu_);
  std::vector<SubPtr> subs;
  subs.reserve(count_);
  root_->for_each_node([&](const Node& n) { n.for_each_sub([&](const SubPtr& s) { subs.push_back(s); }); });
  return subs;
}

size_t SubIndex::node_count() const {
  std::shared_lock lock(mu_);
  size_t nodes = 0;
  root_->for_each_node([&](const Node&) { ++nodes; });
  return nodes;
}

}  // namespace pylon::server
