#include "server/router.h"

#include <cstdint>
#include <random>
#include <vector>

#include "proto/parser.h"
#include "proto/writer.h"
#include "server/account/account.h"
#include "server/client/client_conn.h"
#include "server/core/check.h"
#include "server/core/event_loop.h"
#include "server/leafnode/leaf_conn.h"
#include "server/route/route_conn.h"
#include "server/server.h"

namespace pylon::server {

namespace {

// A small, fast per-thread generator for picking queue members (no lock, no syscalls).
uint64_t next_random() {
  thread_local uint64_t state = [] {
    std::random_device rd;
    uint64_t s = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    return s ? s : 0x9E3779B97F4A7C15ULL;
  }();
  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

// Every raw Connection* below comes from a Subscription in a match result the caller holds:
// the subscription holds its owner (Subscription::owner), so the pointer stays valid until
// route_message returns, on whichever loop runs it, whatever the owner's own loop does meanwhile.
bool is_client(const Subscription& s) { return !s.remote; }
ClientConn* client_of(const Subscription& s) { return static_cast<ClientConn*>(s.owner.get()); }
RouteConn* route_of(const Subscription& s) { return static_cast<RouteConn*>(s.owner.get()); }
LeafConn* leaf_of(const Subscription& s) { return static_cast<LeafConn*>(s.owner.get()); }
// A route takes messages from its registration until it starts closing: a closing route may
// wait out the write deadline flushing to a peer that is gone (a stale route), and anything
// sent its way then is lost, a queue group's message included, where another member would
// have taken it.
bool takes_routed(const RouteConn* r) { return r->registered() && !r->closing(); }
bool takes_routed(const LeafConn* l) { return l->registered() && !l->closing(); }

// Delivers to one local client subscription; false when it did not take the message. `msg`
// is formatted once, at the first client it reaches, for all of them.
bool deliver_local(EventLoop& loop, const Origin& origin, Subscription& sub, proto::ClientMsg& msg) {
  if (sub.closed.load(std::memory_order_relaxed)) return false;
  ClientConn* client = client_of(sub);
  PYLON_DCHECK(client != nullptr && client->kind() == Connection::Kind::kClient);
  if (client == origin.conn && !origin.echo) return false;
  if (!client->deliver(sub, msg)) return false;
  LoopCounters::bump(loop.counters().out_msgs, 1);
  LoopCounters::bump(loop.counters().out_bytes, msg.payload().size());
  loop.touch(client);
  return true;
}

// Tries local client members of a queue group, starting at a random one.
bool deliver_to_local_member(EventLoop& loop, const Origin& origin, const std::vector<SubPtr>& group,
                             proto::ClientMsg& msg) {
  size_t n = group.size();
  size_t start = static_cast<size_t>(next_random() % n);
  for (size_t i = 0; i < n; ++i) {
    Subscription& s = *group[(start + i) % n];
    if (is_client(s) && deliver_local(loop, origin, s, msg)) return true;
  }
  return false;
}

// One outgoing copy per route or leaf connection, with the queue groups it was chosen for.
struct RouteTarget {
  Connection* conn;
  bool leaf;
  std::vector<std::string_view> queues;
};

RouteTarget& target_for(std::vector<RouteTarget>& targets, Connection* c, bool leaf) {
  for (auto& t : targets) {
    if (t.conn == c) return t;
  }
  targets.push_back(RouteTarget{c, leaf, {}});
  return targets.back();
}

// Which remote interest (routes', leafs') a message may go to, by where it came from: the
// reference's rules in processMsgResults.
struct Reach {
  bool routes = true;              // false: it came from a route (one hop), or from our hub
  bool solicited_leafs = true;     // false: it came from a route (our hubs hear it from its node)
  const Connection* from = nullptr;  // never back where it came from
};

// A remote subscription that can take the message under `reach`: its connection, else null.
Connection* remote_target(const Subscription& s, const Reach& reach) {
  if (s.closed.load(std::memory_order_relaxed) || s.owner.get() == reach.from) return nullptr;
  if (s.leaf) {
    LeafConn* l = leaf_of(s);
    if (!takes_routed(l) || (!reach.solicited_leafs && l->solicited())) return nullptr;
    return l;
  }
  if (!reach.routes) return nullptr;
  RouteConn* r = route_of(s);
  return takes_routed(r) ? r : nullptr;
}

// No local member of `group` took the message: one remote member (route or leaf) gets it,
// picked by the peers' queue weights (member counts).
void pick_remote_member(std::vector<RouteTarget>& targets, const std::vector<SubPtr>& group, const Reach& reach) {
  int64_t total = 0;
  for (const auto& s : group) {
    if (!is_client(*s) && !s->internal() && remote_target(*s, reach)) total += s->weight.load(std::memory_order_relaxed);
  }
  if (total <= 0) return;
  int64_t pick = static_cast<int64_t>(next_random() % static_cast<uint64_t>(total));
  for (const auto& s : group) {
    if (is_client(*s) || s->internal()) continue;
    Connection* c = remote_target(*s, reach);
    if (c == nullptr) continue;
    pick -= s->weight.load(std::memory_order_relaxed);
    if (pick < 0) {
      target_for(targets, c, s->leaf).queues.push_back(s->queue());
      return;
    }
  }
}

bool send_to_targets(Account& account, EventLoop& loop, std::vector<RouteTarget>& targets, const Message& msg) {
  bool delivered = false;
  for (auto& t : targets) {
    bool ok = t.leaf ? static_cast<LeafConn*>(t.conn)->send_message(msg.subject, msg.reply, msg.header_len,
                                                                    msg.payload, t.queues)
                     : static_cast<RouteConn*>(t.conn)->send_message(account.name(), msg.subject, msg.reply,
                                                                     msg.header_len, msg.payload, t.queues);
    if (ok) {
      loop.touch(t.conn);
      delivered = true;
    }
  }
  return delivered;
}

// Whether `group` is one of the space-separated `queues` the sender chose us for.
bool listed(const std::vector<SubPtr>& group, std::string_view queues) {
  std::string_view name = group.front()->queue();
  std::string_view rest = queues, q;
  while (proto::next_queue(rest, q)) {
    if (q == name) return true;
  }
  return false;
}

// The one delivery every source shares: local clients, internal subscribers, and one copy per
// route or leaf connection `reach` allows. Queue groups: every group when `only_queues` is
// null (a client's message), else only those it lists (a route's or leaf's message: the
// sender chose us for them); a local member first, else a remote one by weight.
bool deliver_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop, const Origin& origin,
                     const Message& msg, const Reach& reach, bool from_route, const std::string_view* only_queues) {
  if (result.plain.empty() && result.queues.empty()) return false;  // no interest: nothing to set up
  bool delivered = false;
  std::vector<RouteTarget> targets;  // allocates only when a route or leaf is interested
  // Formatted at the first client it reaches, once for all (unless it can reach only one).
  proto::ClientMsg client_msg(msg.subject, msg.reply, msg.header_len, msg.payload,
                              result.plain.size() + result.queues.size());
  for (const auto& sub : result.plain) {
    if (is_client(*sub)) {
      delivered |= deliver_local(loop, origin, *sub, client_msg);
    } else if (sub->internal()) {
      if (!sub->closed.load(std::memory_order_relaxed)) {
        delivered |= sub->internal()->deliver(server, loop, origin, msg, from_route);
      }
    } else if (Connection* c = remote_target(*sub, reach)) {
      target_for(targets, c, sub->leaf);
    }
  }
  if (only_queues == nullptr || !only_queues->empty()) {
    for (const auto& group : result.queues) {
      if (group.empty() || (only_queues != nullptr && !listed(group, *only_queues))) continue;
      if (deliver_to_local_member(loop, origin, group, client_msg)) {
        delivered = true;
        continue;
      }
      pick_remote_member(targets, group, reach);
    }
  }
  if (targets.empty()) return delivered;
  return send_to_targets(account, loop, targets, msg) || delivered;
}

}  // namespace

bool route_message(Server& server, Account& account, EventLoop& loop, const Origin& origin, const Message& msg) {
  auto result = account.index().match(msg.subject);
  return route_message(server, account, *result, loop, origin, msg);
}

bool route_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop,
                   const Origin& origin, const Message& msg) {
  // No interest (publish-only traffic): answered here, before deliver_message's frame.
  if (result.plain.empty() && result.queues.empty()) return false;
  return deliver_message(server, account, result, loop, origin, msg, Reach{}, /*from_route=*/false, nullptr);
}

bool route_inbound_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop,
                           RouteConn* from, const Message& msg, std::string_view queues) {
  // One hop across the cluster; but the leafs that connected to us hear it from us.
  const Reach reach{.routes = false, .solicited_leafs = false, .from = from};
  return deliver_message(server, account, result, loop, Origin{from, true}, msg, reach, /*from_route=*/true, &queues);
}

bool route_leaf_message(Server& server, Account& account, const MatchResult& result, EventLoop& loop, LeafConn* from,
                        const Message& msg, std::string_view queues) {
  // A message from our hub is for this side only: the hub's cluster has it. One from a leaf of
  // ours goes to the whole cluster (its interest is ours there) and to our other leafs. Our
  // service imports apply to it, as to a client's (another server's message, not a route's).
  const Reach reach{.routes = !from->solicited(), .solicited_leafs = true, .from = from};
  return deliver_message(server, account, result, loop, Origin{from, true}, msg, reach, /*from_route=*/false, &queues);
}

}  // namespace pylon::server
